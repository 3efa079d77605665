/** What a current lock entry puts into a layer's build inputs: its packages in install order. */
import { entryId, installOrder } from "./current.ts";
import type { LockStatus } from "./current.ts";

/** One locked package as a build key covers it. */
export interface LockedInput {
  readonly name: string;
  readonly version: string;
  readonly checksum: string;
}

export function lockedInputs(status: LockStatus | undefined, layer: string, rVersion: string): LockedInput[] | undefined {
  const entry = status?.current.get(entryId(layer, rVersion));
  if (!entry) return undefined;
  return installOrder(entry).map((name) => {
    const p = entry.packages[name];
    return { name, version: p?.version ?? "", checksum: p?.checksum ?? "" };
  });
}
