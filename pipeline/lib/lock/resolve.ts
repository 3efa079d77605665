/**
 * Resolution: the manifest, each repository's PACKAGES index and the previous lock in, the new
 * lock out. Pure and deterministic (the same inputs give the same lock, whatever the order of
 * the index), so `--check` can resolve again and compare.
 *
 * - keep (`npm run lock`): an entry that is still current stays as it is; one the manifest
 *   changed is resolved again, keeping the locked version of every package it had already
 *   locked from the same repository, so only what the change needs moves.
 * - upgrade (`--upgrade [PACKAGE…]`): the named packages (all, when none are named) move to
 *   the repository's current versions; everything else is kept as above.
 *
 * A package missing from the repository, one that needs a newer R than the layer builds for, or
 * a dependency cycle is a problem of the layer, reported with its index in `manifest.layers`.
 */
import type { Layer, Manifest } from "../manifest/types.ts";
import { BASE_PACKAGES, stackOrder } from "../manifest/resolve.ts";
import { entryId, lockStatus, providedBelow } from "./current.ts";
import type { LockEntry, LockFile, LockedPackage } from "./format.ts";
import { LOCK_FILE_VERSION } from "./format.ts";
import type { IndexedPackage, PackagesIndex } from "./packages-index.ts";
import { describeConstraint, satisfies } from "./versions.ts";

export type ResolveMode = { readonly kind: "keep" } | { readonly kind: "upgrade"; readonly packages?: ReadonlySet<string> };

export interface ResolveProblem {
  /** Index of the layer in `manifest.layers` (and in the manifest's `layers:` list). */
  readonly layerIndex: number;
  readonly layer: string;
  readonly rVersion: string;
  readonly message: string;
}

export interface ResolveInput {
  readonly manifest: Manifest;
  /** Repository URL (as the manifest has it) → its index. */
  readonly indexes: ReadonlyMap<string, PackagesIndex>;
  readonly previous?: LockFile;
  readonly mode: ResolveMode;
}

export interface ResolveResult {
  readonly lock: LockFile;
  readonly problems: readonly ResolveProblem[];
}

/** The repositories a resolution reads: every layer's, or only those of entries that cannot be kept. */
export function repositoriesToRead(manifest: Manifest, previous: LockFile | undefined, mode: ResolveMode): string[] {
  const status = lockStatus(manifest, previous);
  const needed = new Set<string>();
  for (const layer of manifest.layers) {
    if (layer.packages.length === 0) continue;
    if (mode.kind === "upgrade" || layer.rVersions.some((v) => !status.current.has(entryId(layer.name, v)))) needed.add(layer.repository);
  }
  return [...needed].sort();
}

function fromIndex(p: IndexedPackage): LockedPackage {
  return { version: p.version, checksum: p.checksum ?? "", requires: p.requires.filter((d) => !BASE_PACKAGES.has(d)) };
}

const upgrading = (mode: ResolveMode, name: string) => mode.kind === "upgrade" && (mode.packages === undefined || mode.packages.has(name));

export function resolveLock(input: ResolveInput): ResolveResult {
  const { manifest, indexes, previous, mode } = input;
  const status = lockStatus(manifest, previous);
  const problems: ResolveProblem[] = [];
  const layers: Record<string, Record<string, LockEntry>> = {};
  const provides = new Map<string, Set<string>>();
  const indexOf = new Map(manifest.layers.map((l, i) => [l.name, i]));

  for (const layer of stackOrder(manifest.layers)) {
    const layerIndex = indexOf.get(layer.name) ?? 0;
    for (const rVersion of layer.rVersions) {
      const id = entryId(layer.name, rVersion);
      const provided = providedBelow(layer, rVersion, provides);
      const old = previous?.layers[layer.name]?.[rVersion];
      const below = layer.stacksOn.map((n) => layers[n]?.[rVersion]);
      const belowUnchanged = layer.stacksOn.every((n, i) => JSON.stringify(below[i]) === JSON.stringify(previous?.layers[n]?.[rVersion]));
      let entry: LockEntry | undefined;
      if (old && status.current.has(id) && belowUnchanged && !Object.keys(old.packages).some((p) => upgrading(mode, p))) {
        entry = old;
      } else {
        const index = indexes.get(layer.repository);
        if (!index) {
          problems.push({ layerIndex, layer: layer.name, rVersion, message: `the package index of ${layer.repository} was not read` });
        } else {
          const kept = old && old.repository === layer.repository ? old.packages : {};
          const result = resolveEntry(layer, rVersion, index, provided, kept, mode);
          for (const message of result.problems) problems.push({ layerIndex, layer: layer.name, rVersion, message });
          if (result.problems.length === 0) entry = result.entry;
        }
      }
      if (entry) {
        (layers[layer.name] ??= {})[rVersion] = entry;
        provides.set(id, new Set([...provided, ...Object.keys(entry.packages)]));
      } else {
        provides.set(id, new Set([...provided, ...layer.packages]));
      }
    }
  }
  return { lock: { version: LOCK_FILE_VERSION, layers: sortLayers(layers) }, problems };
}

function sortLayers(layers: Record<string, Record<string, LockEntry>>): LockFile["layers"] {
  const out: Record<string, Record<string, LockEntry>> = {};
  for (const name of Object.keys(layers).sort()) {
    const versions = layers[name] as Record<string, LockEntry>;
    out[name] = Object.fromEntries(Object.keys(versions).sort().map((v) => [v, versions[v] as LockEntry]));
  }
  return out;
}

function resolveEntry(
  layer: Layer,
  rVersion: string,
  index: PackagesIndex,
  provided: ReadonlySet<string>,
  kept: Readonly<Record<string, LockedPackage>>,
  mode: ResolveMode,
): { entry: LockEntry; problems: string[] } {
  // Kept versions whose dependents now ask for more are moved to the index's version, and the
  // resolution runs again; each round moves at least one package, so this ends.
  const moved = new Set<string>();
  for (;;) {
    const problems: string[] = [];
    const packages = new Map<string, LockedPackage>();
    const fromKept = new Set<string>();
    const requiredBy = new Map<string, string>();
    const queue = layer.packages.filter((p) => !provided.has(p)).sort().reverse();
    while (queue.length) {
      const name = queue.pop() as string;
      if (packages.has(name)) continue;
      const keep = kept[name];
      const indexed = index.get(name);
      let chosen: LockedPackage;
      if (keep && !moved.has(name) && !upgrading(mode, name)) {
        chosen = keep;
        fromKept.add(name);
      } else if (indexed) {
        const needsR = indexed.rConstraints.filter((c) => !satisfies(rVersion, c));
        if (needsR.length) {
          problems.push(`${name} ${indexed.version}${via(requiredBy, name)} needs R ${needsR.map(describeConstraint).join(", ")}; this layer builds for R ${rVersion}`);
          continue;
        }
        if (!indexed.checksum) {
          problems.push(`${name} ${indexed.version}${via(requiredBy, name)}: the repository publishes no checksum (MD5sum) for it`);
          continue;
        }
        chosen = fromIndex(indexed);
      } else {
        problems.push(`package ${name}${via(requiredBy, name)} is not in the repository ${layer.repository}`);
        continue;
      }
      packages.set(name, chosen);
      const deps = chosen.requires.filter((d) => !provided.has(d) && !packages.has(d)).sort().reverse();
      for (const d of deps) {
        if (!requiredBy.has(d)) requiredBy.set(d, name);
        queue.push(d);
      }
    }

    // Version constraints a dependent puts on a kept package (`Rcpp (>= 1.0.12)`).
    let again = false;
    for (const [name] of packages) {
      const constraints = index.get(name)?.constraints;
      if (!constraints || fromKept.has(name)) continue;
      for (const [dep, cs] of constraints) {
        const have = packages.get(dep);
        if (!have) continue;
        const bad = cs.filter((c) => !satisfies(have.version, c));
        if (!bad.length) continue;
        if (fromKept.has(dep) && !moved.has(dep)) {
          moved.add(dep);
          again = true;
        } else {
          problems.push(`${name} needs ${dep} ${bad.map(describeConstraint).join(", ")}; the repository has ${dep} ${have.version}`);
        }
      }
    }
    if (again) continue;

    const cycle = findCycle(packages);
    if (cycle) problems.push(`dependency cycle: ${cycle.join(" → ")}`);
    const sorted = Object.fromEntries([...packages.keys()].sort().map((n) => [n, packages.get(n) as LockedPackage]));
    return {
      entry: { repository: layer.repository, requested: [...layer.packages], stacksOn: [...layer.stacksOn], packages: sorted },
      problems: [...new Set(problems)],
    };
  }
}

const via = (requiredBy: ReadonlyMap<string, string>, name: string) => {
  const chain: string[] = [];
  for (let p = requiredBy.get(name); p !== undefined && chain.length < 20; p = requiredBy.get(p)) chain.push(p);
  return chain.length ? ` (required by ${chain.join(" ← ")})` : "";
};

function findCycle(packages: ReadonlyMap<string, LockedPackage>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (p: string): string[] | undefined => {
    const s = state.get(p);
    if (s === "done") return undefined;
    if (s === "open") return [...stack.slice(stack.indexOf(p)), p];
    state.set(p, "open");
    stack.push(p);
    for (const d of packages.get(p)?.requires ?? []) {
      if (!packages.has(d)) continue;
      const found = visit(d);
      if (found) return found;
    }
    stack.pop();
    state.set(p, "done");
    return undefined;
  };
  for (const p of [...packages.keys()].sort()) {
    const found = visit(p);
    if (found) return found;
  }
  return undefined;
}
