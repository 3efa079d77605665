/**
 * The plan as a pull-request comment or job summary: the summary first, deletions called out,
 * every action in a collapsible block. The first line is a marker so a comment can be found
 * and updated in place.
 */
import type { Plan } from "../plan/types.ts";
import { MARKERS, VERBS, groups, stateLine, summaryLine, target } from "./common.ts";
import { packageChangeLines } from "./package-changes.ts";

export const COMMENT_MARKER = "<!-- r-lambda-layers:plan -->";

function cell(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("|", "\\|").replaceAll("\n", " ");
}

export function renderMarkdown(plan: Plan): string {
  const lines: string[] = [COMMENT_MARKER, "### r-lambda-layers plan", ""];
  lines.push(`**${summaryLine(plan.summary)}**`);
  lines.push("");
  lines.push(`Compared \`${plan.manifest}\` with ${stateLine(plan)}${plan.pruning ? ", pruning old versions" : ""}.`);

  const deletions = plan.actions.filter((a) => a.kind === "prune");
  if (deletions.length) {
    const versions = deletions.reduce((n, a) => n + (a.kind === "prune" ? a.versions.length : 0), 0);
    lines.push("");
    lines.push(`> [!WARNING]`);
    lines.push(`> This plan deletes ${versions} published layer version${versions === 1 ? "" : "s"}:`);
    for (const a of deletions) lines.push(`> - ${cell(target(a))} (${cell(a.reason)})`);
  }

  if (plan.warnings.length) {
    lines.push("");
    for (const w of plan.warnings) lines.push(`- :warning: ${cell(w)}`);
  }

  lines.push(...packageChangeLines(plan));
  lines.push("");
  if (plan.actions.length === 0) {
    lines.push("No changes: what is published matches the manifest.");
    return `${lines.join("\n")}\n`;
  }
  lines.push(`<details><summary>${plan.actions.length} action${plan.actions.length === 1 ? "" : "s"}</summary>`);
  lines.push("");
  for (const group of groups(plan)) {
    lines.push(`#### ${group.title}`);
    lines.push("");
    lines.push("| | action | target | reason |");
    lines.push("|---|---|---|---|");
    for (const a of group.actions) {
      lines.push(`| \`${MARKERS[a.change]}\` | ${VERBS[a.kind]} | ${cell(target(a))} | ${cell(a.reason)} |`);
    }
    lines.push("");
  }
  lines.push("</details>");
  return `${lines.join("\n")}\n`;
}
