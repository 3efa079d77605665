/** The markdown plan's list of package version changes, per layer (from the build actions). */
import { describePackageChanges } from "../plan/package-changes.ts";
import type { Plan } from "../plan/types.ts";

export function packageChangeLines(plan: Plan): string[] {
  const perLayer = new Map<string, Map<string, string[]>>();
  for (const a of plan.actions) {
    if (a.kind !== "build-layer" || !a.packageChanges?.length) continue;
    const text = describePackageChanges(a.packageChanges);
    const byText = perLayer.get(a.layer) ?? new Map<string, string[]>();
    perLayer.set(a.layer, byText);
    const builds = byText.get(text) ?? [];
    byText.set(text, builds);
    builds.push(`R ${a.r} ${a.arch}`);
  }
  if (perLayer.size === 0) return [];
  const lines = ["", "**Package changes**", ""];
  for (const [layer, byText] of perLayer) {
    lines.push(`- \`${layer}\``);
    for (const [text, builds] of byText) lines.push(`  - ${builds.join(", ")}: ${text.replaceAll("|", "\\|")}`);
  }
  return lines;
}
