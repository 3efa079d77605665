/** Human explanations of why a build key changed, from the inputs recorded for the old key. */
import type { BuildInputs } from "../keys/inputs.ts";
import { describePackageChanges, lockedChanges } from "./package-changes.ts";

function listDiff(label: string, before: readonly string[], after: readonly string[]): string | undefined {
  const added = after.filter((x) => !before.includes(x)).map((x) => `+${x}`);
  const removed = before.filter((x) => !after.includes(x)).map((x) => `-${x}`);
  const changes = [...added, ...removed];
  return changes.length ? `${label} changed: ${changes.join(" ")}` : undefined;
}

/** "packages changed: +gbm; repository changed"; undefined when nothing recorded explains it. */
export function explainChange(before: BuildInputs, after: BuildInputs): string | undefined {
  const parts: (string | undefined)[] = [];
  if (before.kind === "r" && after.kind === "r") {
    if (before.rVersion !== after.rVersion) parts.push(`R ${before.rVersion} → ${after.rVersion}`);
    if (before.image !== after.image) parts.push(`build image changed: ${before.image} → ${after.image}`);
    if (before.scripts !== after.scripts) parts.push("R build scripts changed");
  } else if (before.kind === "layer" && after.kind === "layer") {
    const locked = lockedChanges(before, after);
    if (locked) {
      if (locked.length) parts.push(`packages changed: ${describePackageChanges(locked)}`);
    } else {
      parts.push(listDiff("packages", before.packages, after.packages));
      if (before.locked === undefined && after.locked !== undefined) parts.push("packages now pinned by the lock file");
      if (before.locked !== undefined && after.locked === undefined) parts.push("packages no longer pinned by the lock file");
    }
    parts.push(listDiff("system libraries", before.systemLibraries, after.systemLibraries));
    if (before.repository !== after.repository && !locked) parts.push(`repository changed: ${before.repository} → ${after.repository}`);
    if (before.rBuildKey !== after.rBuildKey) parts.push("R build changed");
    const stackedBefore = new Map(before.stacks.map((s) => [s.layer, s.key]));
    const changedStacks = after.stacks.filter((s) => stackedBefore.get(s.layer) !== s.key).map((s) => s.layer);
    if (changedStacks.length) parts.push(`stacked layer changed: ${changedStacks.join(", ")}`);
    if (before.scripts !== after.scripts) parts.push("layer build scripts changed");
    if (before.runtimeFiles !== after.runtimeFiles) parts.push("runtime files changed");
  }
  const found = parts.filter((p): p is string => p !== undefined);
  return found.length ? found.join("; ") : undefined;
}
