/** A reconcile publishes only what layers.lock pins, unless told `--unlocked`. */
import { PipelineError } from "../errors.ts";
import { entryId } from "../lock/current.ts";
import type { LockView } from "../lock/file.ts";
import type { Plan } from "../plan/types.ts";

/** Throws LOCKFILE_STALE naming every layer and R version the plan would publish without a current lock entry. */
export function requirePinned(plan: Plan, lock: LockView): void {
  const unpinned = new Set<string>();
  for (const a of plan.actions) {
    if (a.kind !== "publish") continue;
    if (!lock.status.current.has(entryId(a.layer, a.r))) unpinned.add(`${a.layer} (R ${a.r})`);
  }
  if (unpinned.size === 0) return;
  const why = lock.present ? `${lock.file} has no current entry for them` : `there is no ${lock.file}`;
  throw new PipelineError(
    "LOCKFILE_STALE",
    `refusing to publish ${[...unpinned].join(", ")}: ${why}, so their package versions are not pinned. Run npm run lock (and commit ${lock.file}), or pass --unlocked to publish whatever the repository serves now. Nothing was done.`,
  );
}
