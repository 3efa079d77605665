/** The outputs index for people: a table in the terminal, a markdown table in a job summary. */
import type { OutputsIndex } from "../ports.ts";

/** The parameter column shows only when some entry has a parameter (they are on, and the backend keeps them). */
const hasParameters = (index: OutputsIndex) => index.layers.some((e) => e.parameter !== undefined);

export function renderOutputsText(index: OutputsIndex): string {
  if (index.layers.length === 0) return "Nothing is published yet.\n";
  const withParameters = hasParameters(index);
  const rows = index.layers.map((e) => [
    e.layer,
    e.r,
    e.arch,
    e.region,
    e.arn,
    ...(withParameters ? [e.parameter ?? ""] : []),
    e.unzippedBytes === undefined ? "" : `${(e.unzippedBytes / 1e6).toFixed(1)} MB`,
  ]);
  const head = ["layer", "R", "arch", "region", "ARN", ...(withParameters ? ["parameter"] : []), "unzipped"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join("  ").trimEnd();
  return `${[line(head), ...rows.map(line)].join("\n")}\n`;
}

export function renderOutputsMarkdown(index: OutputsIndex): string {
  const lines = ["### Published layers", ""];
  if (index.layers.length === 0) return `${lines.join("\n")}Nothing is published yet.\n`;
  if (hasParameters(index)) {
    lines.push("| layer | R | arch | region | ARN | parameter |", "|---|---|---|---|---|---|");
    for (const e of index.layers) lines.push(`| ${e.layer} | ${e.r} | ${e.arch} | ${e.region} | \`${e.arn}\` | ${e.parameter ? `\`${e.parameter}\`` : ""} |`);
  } else {
    lines.push("| layer | R | arch | region | ARN |", "|---|---|---|---|---|");
    for (const e of index.layers) lines.push(`| ${e.layer} | ${e.r} | ${e.arch} | ${e.region} | \`${e.arn}\` |`);
  }
  return `${lines.join("\n")}\n`;
}
