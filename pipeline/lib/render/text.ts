/** The plan as a person reads it in a terminal or a CI log. Colour only when asked for. */
import type { Change, Plan } from "../plan/types.ts";
import { MARKERS, VERBS, groups, parameterLine, stateLine, summaryLine, target } from "./common.ts";
import { cellText, layerMatrices, legend, rowLabel } from "./matrix.ts";
import type { PublicationSpot } from "./matrix.ts";

export interface TextOptions {
  readonly colour: boolean;
  /**
   * Columns of the terminal. The plan leads with one matrix per layer (R version and
   * architecture by region) when it fits in this width; without a width, no matrix.
   */
  readonly width?: number;
  /** Every publication the manifest asks for (`publicationSpots(graph)`), so unchanged cells show. */
  readonly spots?: readonly PublicationSpot[];
}

/** The matrices as aligned text, or nothing when a line would be wider than `width`. */
export function matrixText(plan: Plan, width: number, spots?: readonly PublicationSpot[]): string[] {
  const matrices = layerMatrices(plan, spots);
  const lines: string[] = [];
  for (const m of matrices) {
    const table = [["R, arch", ...m.regions], ...m.rows.map((row) => [rowLabel(row), ...m.regions.map((r) => cellText(row.cells.get(r)))])];
    const widths = table[0]!.map((_, i) => Math.max(...table.map((t) => t[i]!.length)));
    lines.push(`layer ${m.layer}`);
    for (const t of table) lines.push(`  ${t.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`.trimEnd());
    lines.push("");
  }
  if (matrices.length) lines.push("Legend:", ...legend(matrices).map((l) => `  ${l}`), "");
  return lines.every((l) => [...l].length <= width) ? lines : [];
}

const COLOURS: Readonly<Record<Change, string>> = { create: "\x1b[32m", update: "\x1b[33m", delete: "\x1b[31m" };
const BOLD = "\x1b[1m";
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";

export function renderText(plan: Plan, options: TextOptions): string {
  const paint = (code: string, text: string) => (options.colour ? `${code}${text}${RESET}` : text);
  const lines: string[] = [];
  lines.push(`Plan for ${plan.manifest}, compared with ${stateLine(plan)}${plan.pruning ? " (pruning)" : ""}`);
  lines.push("");
  if (options.width !== undefined) lines.push(...matrixText(plan, options.width, options.spots));

  if (plan.actions.length === 0) {
    lines.push(paint(BOLD, "No changes: what is published matches the manifest."));
  }
  for (const group of groups(plan)) {
    lines.push(paint(BOLD, group.title));
    const rows = group.actions.map((a) => ({
      change: a.change,
      verb: VERBS[a.kind],
      target: target(a),
      reason: a.reason,
    }));
    const verbWidth = Math.max(...rows.map((r) => r.verb.length));
    const targetWidth = Math.max(...rows.map((r) => r.target.length));
    for (const row of rows) {
      const head = `  ${MARKERS[row.change]} ${row.verb.padEnd(verbWidth)}  ${row.target.padEnd(targetWidth)}`;
      lines.push(`${paint(COLOURS[row.change], head)}  ${paint(DIM, row.reason)}`);
    }
    lines.push("");
  }

  if (plan.warnings.length) {
    lines.push(paint(BOLD, "Warnings"));
    for (const w of plan.warnings) lines.push(`  ${paint(COLOURS.update, "!")} ${w}`);
    lines.push("");
  }
  lines.push(`${paint(BOLD, "Plan:")} ${summaryLine(plan.summary)}.`);
  const parameters = parameterLine(plan);
  if (parameters) lines.push(`${paint(BOLD, "Parameters:")} ${parameters}.`);
  return `${lines.join("\n")}\n`;
}
