/** What differs between two lock files, per layer and R version, in words. Pure. */
import type { LockEntry, LockFile } from "./format.ts";

export interface EntryDifference {
  readonly layer: string;
  readonly rVersion: string;
  readonly text: string;
}

function entryChanges(before: LockEntry, after: LockEntry): string[] {
  const out: string[] = [];
  const changed: string[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  for (const [name, p] of Object.entries(after.packages)) {
    const was = before.packages[name];
    if (!was) added.push(`+${name} ${p.version}`);
    else if (was.version !== p.version) changed.push(`${name} ${was.version} → ${p.version}`);
    else if (was.checksum !== p.checksum) changed.push(`${name} ${p.version} (checksum changed)`);
  }
  for (const [name, p] of Object.entries(before.packages)) if (!after.packages[name]) removed.push(`-${name} ${p.version}`);
  const pkgs = [...changed, ...added, ...removed];
  if (pkgs.length) out.push(pkgs.join(", "));
  if (before.repository !== after.repository) out.push(`repository ${before.repository} → ${after.repository}`);
  if (before.requested.join(" ") !== after.requested.join(" ")) out.push(`requested [${before.requested.join(", ")}] → [${after.requested.join(", ")}]`);
  if (before.stacksOn.join(" ") !== after.stacksOn.join(" ")) out.push(`stacks on [${before.stacksOn.join(", ")}] → [${after.stacksOn.join(", ")}]`);
  return out;
}

const count = (e: LockEntry) => {
  const n = Object.keys(e.packages).length;
  return `${n} package${n === 1 ? "" : "s"}`;
};

export function diffLocks(before: LockFile | undefined, after: LockFile): EntryDifference[] {
  const out: EntryDifference[] = [];
  const layers = [...new Set([...Object.keys(before?.layers ?? {}), ...Object.keys(after.layers)])].sort();
  for (const layer of layers) {
    const old = before?.layers[layer] ?? {};
    const now = after.layers[layer] ?? {};
    for (const rVersion of [...new Set([...Object.keys(old), ...Object.keys(now)])].sort()) {
      const a = old[rVersion];
      const b = now[rVersion];
      if (!a && b) out.push({ layer, rVersion, text: `new entry (${count(b)}: ${Object.entries(b.packages).map(([n, p]) => `${n} ${p.version}`).join(", ") || "none"})` });
      else if (a && !b) out.push({ layer, rVersion, text: "entry removed (no longer in the manifest)" });
      else if (a && b) {
        const changes = entryChanges(a, b);
        if (changes.length) out.push({ layer, rVersion, text: changes.join("; ") });
      }
    }
  }
  return out;
}

export const describeDifference = (d: EntryDifference) => `${d.layer} (R ${d.rVersion}): ${d.text}`;
