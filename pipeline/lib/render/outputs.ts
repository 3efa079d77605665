/** The outputs index for people: a table in the terminal, a markdown table in a job summary. */
import type { OutputsIndex } from "../ports.ts";

export function renderOutputsText(index: OutputsIndex): string {
  if (index.layers.length === 0) return "Nothing is published yet.\n";
  const rows = index.layers.map((e) => [e.layer, e.r, e.arch, e.region, e.arn, e.unzippedBytes === undefined ? "" : `${(e.unzippedBytes / 1e6).toFixed(1)} MB`]);
  const head = ["layer", "R", "arch", "region", "ARN", "unzipped"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join("  ").trimEnd();
  return `${[line(head), ...rows.map(line)].join("\n")}\n`;
}

export function renderOutputsMarkdown(index: OutputsIndex): string {
  const lines = ["### Published layers", ""];
  if (index.layers.length === 0) return `${lines.join("\n")}Nothing is published yet.\n`;
  lines.push("| layer | R | arch | region | ARN |", "|---|---|---|---|---|");
  for (const e of index.layers) lines.push(`| ${e.layer} | ${e.r} | ${e.arch} | ${e.region} | \`${e.arn}\` |`);
  return `${lines.join("\n")}\n`;
}
