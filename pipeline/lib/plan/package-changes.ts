/**
 * Version changes between two locked builds of a layer: `gbm 2.1.8 → 2.1.9`, `+RcppArmadillo
 * 0.12.8.4`, `-foo 1.0`. Pure; used by the reasons and carried on build actions for the renderers.
 */
import type { LayerBuildInputs } from "../keys/inputs.ts";

export interface PackageChange {
  readonly name: string;
  /** Absent for a package the layer did not have. */
  readonly from?: string;
  /** Absent for a package the layer no longer has. */
  readonly to?: string;
}

const byName = (a: PackageChange, b: PackageChange) => a.name.toLowerCase().localeCompare(b.name.toLowerCase(), "en") || (a.name < b.name ? -1 : 1);

/** Changes between two layers' locked packages; undefined unless both are locked. */
export function lockedChanges(before: LayerBuildInputs, after: LayerBuildInputs): PackageChange[] | undefined {
  if (!before.locked || !after.locked) return undefined;
  const old = new Map(before.locked.map((p) => [p.name, p]));
  const now = new Map(after.locked.map((p) => [p.name, p]));
  const changed: PackageChange[] = [];
  const added: PackageChange[] = [];
  const removed: PackageChange[] = [];
  for (const [name, p] of now) {
    const was = old.get(name);
    if (!was) added.push({ name, to: p.version });
    else if (was.version !== p.version || was.checksum !== p.checksum) changed.push({ name, from: was.version, to: p.version });
  }
  for (const [name, p] of old) if (!now.has(name)) removed.push({ name, from: p.version });
  return [...changed.sort(byName), ...added.sort(byName), ...removed.sort(byName)];
}

export function describePackageChange(c: PackageChange): string {
  if (c.from === undefined) return `+${c.name} ${c.to ?? ""}`;
  if (c.to === undefined) return `-${c.name} ${c.from}`;
  return c.from === c.to ? `${c.name} ${c.to} (checksum changed)` : `${c.name} ${c.from} → ${c.to}`;
}

export const describePackageChanges = (changes: readonly PackageChange[]) => changes.map(describePackageChange).join(", ");
