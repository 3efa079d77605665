/** `outputs --packages`: each published layer version with the R packages and versions it carries. */
import type { OutputsIndex } from "../ports.ts";

export function renderOutputsPackages(index: OutputsIndex): string {
  if (index.layers.length === 0) return "Nothing is published yet.\n";
  const blocks = index.layers.map((e) => {
    const head = `${e.layerName}:${e.version} (${e.layer}, R ${e.r}, ${e.arch}, ${e.region})`;
    if (!e.packages) return `${head}\n  (packages not recorded: built before the outputs index listed them)`;
    if (e.packages.length === 0) return `${head}\n  (no R packages)`;
    const width = Math.max(...e.packages.map((p) => p.name.length));
    return [head, ...e.packages.map((p) => `  ${p.name.padEnd(width)}  ${p.version}`)].join("\n");
  });
  return `${blocks.join("\n\n")}\n`;
}
