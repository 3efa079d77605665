/**
 * The plan as a pull-request comment or job summary: the summary first, then one matrix per
 * layer that changes (R version × architecture by region), deletions called out, every action in
 * a collapsible block. The first line is a marker so a comment can be found and updated in place.
 *
 * Nothing from the manifest or the state can leave its place: table cells and list items are
 * escaped (no `|`, no line break, no HTML), and free text goes in a code block whose fence is
 * longer than any run of backticks in it.
 */
import type { Plan } from "../plan/types.ts";
import { MARKERS, VERBS, groups, parameterLine, stateLine, summaryLine, target } from "./common.ts";
import { cellText, layerMatrices, legend, rowLabel } from "./matrix.ts";
import type { LayerMatrix, PublicationSpot } from "./matrix.ts";
import { packageChangeLines } from "./package-changes.ts";

export const COMMENT_MARKER = "<!-- r-lambda-layers:plan -->";

/** Text for one table cell or list item: stays on its line and in its cell, and is never HTML. */
export function cell(text: string): string {
  return text
    .replaceAll("\\", "\\\\")
    .replaceAll("|", "\\|")
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replace(/\r\n|[\r\n\u2028\u2029]/g, " ");
}

/** Text shown as it is: a fenced code block whose fence no run of backticks in the text can close. */
export function codeBlock(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  const body = text.endsWith("\n") ? text : `${text}\n`;
  return `${fence}text\n${body}${fence}`;
}

export interface MarkdownOptions {
  /** Every publication the manifest asks for (`publicationSpots(graph)`), so unchanged cells show. */
  readonly spots?: readonly PublicationSpot[];
}

/** The matrices as markdown tables, with their legend. */
export function matrixMarkdown(matrices: readonly LayerMatrix[]): string[] {
  const lines: string[] = [];
  for (const m of matrices) {
    lines.push(`#### layer ${cell(m.layer)}`);
    lines.push("");
    lines.push(`| R, arch | ${m.regions.map(cell).join(" | ")} |`);
    lines.push(`|---|${m.regions.map(() => "---").join("|")}|`);
    for (const row of m.rows) {
      lines.push(`| ${cell(rowLabel(row))} | ${m.regions.map((region) => cellText(row.cells.get(region))).join(" | ")} |`);
    }
    lines.push("");
  }
  if (matrices.length) {
    lines.push(`<sub>${legend(matrices).map((l) => cell(l).replace(/^(\S+)/, "`$1`")).join(" · ")}</sub>`);
    lines.push("");
  }
  return lines;
}

/** Layers of the manifest with no matrix: nothing changes for them. */
export function unchangedLayers(matrices: readonly LayerMatrix[], spots: readonly PublicationSpot[] | undefined): string[] {
  const shown = new Set(matrices.map((m) => m.layer));
  return [...new Set((spots ?? []).map((s) => s.layer))].filter((l) => !shown.has(l));
}

export function renderMarkdown(plan: Plan, options: MarkdownOptions = {}): string {
  const lines: string[] = [COMMENT_MARKER, "### r-lambda-layers plan", ""];
  lines.push(`**${summaryLine(plan.summary)}**`);
  const parameters = parameterLine(plan);
  if (parameters) lines.push("", `Parameters: ${parameters}.`);
  lines.push("");
  lines.push(`Compared \`${cell(plan.manifest).replaceAll("`", "'")}\` with ${cell(stateLine(plan))}${plan.pruning ? ", pruning old versions" : ""}.`);

  const compiles = plan.actions.filter((a) => a.kind === "compile-r");
  const matrices = layerMatrices(plan, options.spots);
  if (compiles.length || matrices.length) lines.push("");
  if (compiles.length) {
    lines.push(`R to compile: ${compiles.map((a) => cell(target(a))).join(", ")}.`);
    lines.push("");
  }
  lines.push(...matrixMarkdown(matrices));
  const quiet = unchangedLayers(matrices, options.spots);
  if (quiet.length) lines.push(`Unchanged: ${quiet.map((l) => `layer ${cell(l)}`).join(", ")}.`);
  if (lines.at(-1) === "") lines.pop();

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
    lines.push(`#### ${cell(group.title)}`);
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
