/**
 * Which lock entries still describe the manifest, without asking any repository: an entry is
 * current when it was resolved from the layer's repository, packages and stacked layers as the
 * manifest has them now, its stacked layers' entries are current, and it is closed: every
 * package it or its requested list needs is locked in it or provided below, it repeats nothing
 * provided below, and it locks nothing that nothing needs. Pure.
 */
import type { Layer, Manifest } from "../manifest/types.ts";
import { BASE_PACKAGES, stackOrder } from "../manifest/resolve.ts";
import type { LockEntry, LockFile } from "./format.ts";

export interface LockStatus {
  /** Current entries by `layer/rVersion`. */
  readonly current: ReadonlyMap<string, LockEntry>;
  /** Why each other layer and R version has no current entry, in manifest order. */
  readonly stale: readonly { readonly layer: string; readonly rVersion: string; readonly why: string }[];
}

export const entryId = (layer: string, rVersion: string) => `${layer}/${rVersion}`;

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);


/** What the layers below provide, from their entries (base packages included). */
export function providedBelow(layer: Layer, rVersion: string, provides: ReadonlyMap<string, ReadonlySet<string>>): Set<string> {
  const out = new Set(BASE_PACKAGES);
  for (const name of layer.stacksOn) for (const p of provides.get(entryId(name, rVersion)) ?? []) out.add(p);
  return out;
}

/** undefined when the entry is closed over `provided`, else why not. */
export function closureProblem(entry: LockEntry, provided: ReadonlySet<string>): string | undefined {
  const locked = new Set(Object.keys(entry.packages));
  const repeated = [...locked].filter((p) => provided.has(p));
  if (repeated.length) return `it locks ${repeated.join(", ")}, which the layers below provide`;
  const reached = new Set<string>();
  const queue = entry.requested.filter((p) => !provided.has(p));
  while (queue.length) {
    const p = queue.pop() as string;
    if (reached.has(p)) continue;
    const pkg = entry.packages[p];
    if (!pkg) return `${p} is needed but not locked`;
    reached.add(p);
    for (const d of pkg.requires) if (!provided.has(d) && !reached.has(d)) queue.push(d);
  }
  const extra = [...locked].filter((p) => !reached.has(p));
  if (extra.length) return `it locks ${extra.join(", ")}, which nothing needs`;
  return undefined;
}

export function lockStatus(manifest: Manifest, lock: LockFile | undefined): LockStatus {
  const current = new Map<string, LockEntry>();
  const stale: { layer: string; rVersion: string; why: string }[] = [];
  const provides = new Map<string, Set<string>>();
  for (const layer of stackOrder(manifest.layers)) {
    for (const rVersion of layer.rVersions) {
      const id = entryId(layer.name, rVersion);
      const entry = lock?.layers[layer.name]?.[rVersion];
      const provided = providedBelow(layer, rVersion, provides);
      const why = !entry
        ? "not in the lock file"
        : entry.repository !== layer.repository
          ? `locked from ${entry.repository}, the manifest says ${layer.repository}`
          : !sameList(entry.requested, layer.packages)
            ? `locked for [${entry.requested.join(", ")}], the manifest asks for [${layer.packages.join(", ")}]`
            : !sameList(entry.stacksOn, layer.stacksOn)
              ? "it stacks on other layers now"
              : layer.stacksOn.find((below) => !current.has(entryId(below, rVersion))) !== undefined
                ? "a layer it stacks on has no current entry"
                : closureProblem(entry, provided);
      if (entry && why === undefined) {
        current.set(id, entry);
        provides.set(id, new Set([...provided, ...Object.keys(entry.packages)]));
      } else {
        stale.push({ layer: layer.name, rVersion, why: why ?? "" });
        provides.set(id, new Set([...provided, ...layer.packages]));
      }
    }
  }
  return { current, stale };
}

/** Locked packages in the order they install: each after what it requires, ties by name. */
export function installOrder(entry: LockEntry): string[] {
  const names = Object.keys(entry.packages).sort();
  const done = new Set<string>();
  const out: string[] = [];
  const visiting = new Set<string>();
  const visit = (p: string) => {
    if (done.has(p) || visiting.has(p) || !entry.packages[p]) return;
    visiting.add(p);
    for (const d of entry.packages[p].requires) visit(d);
    visiting.delete(p);
    done.add(p);
    out.push(p);
  };
  names.forEach(visit);
  return out;
}
