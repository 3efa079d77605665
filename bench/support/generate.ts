/** Generated manifests for benchmarks: many layers, versions, architectures and regions. */
export function generatedManifest(layers: number, rVersions: number, regions: number): string {
  const versions = Array.from({ length: rVersions }, (_, i) => `"4.${4 - Math.floor(i / 3)}.${i % 3}"`);
  const regionCodes = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"].slice(0, regions);
  const lines = [
    "version: 1",
    `r: {versions: [${versions.join(", ")}]}`,
    "defaults:",
    "  architectures: [x86_64, arm64]",
    `  regions: [${regionCodes.join(", ")}]`,
    "  repository: https://packagemanager.posit.co/cran/2024-11-01",
    "  retain: 3",
    '  share: {accounts: ["111111111111", "222222222222"]}',
    'artifacts: {bucket: "bench-layers-{region}"}',
    "builder: {project: bench, region: us-east-1}",
    "layers:",
    "  - name: runtime",
    "    type: runtime",
    "    packages: [jsonlite, httr, aws.s3, logging, yaml]",
  ];
  for (let i = 1; i < layers; i++) {
    lines.push(`  - name: layer-${i}`);
    lines.push(`    packages: [pkg${i}a, pkg${i}b, pkg${i}c, data.table, Rcpp]`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * A manifest with `packages` R package names (about 10 bytes each: 100,000 make about 1 MB), in
 * lists of `perLayer` (flow style), each list in its own layer.
 */
export function packageHeavyManifest(packages: number, perLayer: number): string {
  const lines = [
    "version: 1",
    'r: {versions: ["4.4.1", "4.3.3"]}',
    "defaults:",
    "  architectures: [x86_64, arm64]",
    "  regions: [us-east-1, eu-west-1]",
    "  repository: https://packagemanager.posit.co/cran/2024-11-01",
    'artifacts: {bucket: "bench-layers-{region}"}',
    "builder: {project: bench, region: us-east-1}",
    "layers:",
    "  - name: runtime",
    "    type: runtime",
    "    packages: [jsonlite, httr]",
  ];
  for (let layer = 0; layer * perLayer < packages; layer++) {
    const names = Array.from({ length: Math.min(perLayer, packages - layer * perLayer) }, (_, i) => `pkg${(layer * perLayer + i).toString(36)}.x`);
    lines.push(`  - name: layer-${layer}`, `    packages: [${names.join(", ")}]`);
  }
  return `${lines.join("\n")}\n`;
}

/**
 * A manifest of about `bytes` bytes dense with anchors and aliases: each layer anchors its own
 * package and lists the packages of the eight layers before it by alias.
 */
export function aliasHeavyManifest(bytes: number): string {
  const lines = [
    "version: 1",
    'r: {versions: ["4.4.1"]}',
    "defaults: {regions: [us-east-1], repository: https://packagemanager.posit.co/cran/2024-11-01}",
    'artifacts: {bucket: "bench-layers-{region}"}',
    "builder: {project: bench, region: us-east-1}",
    "layers:",
    "  - name: runtime",
    "    type: runtime",
  ];
  let size = lines.join("\n").length;
  for (let i = 0; size < bytes; i++) {
    const aliases = Array.from({ length: Math.min(i, 8) }, (_, k) => `*a${i - k - 1}`);
    const layer = [`  - name: l${i}`, `    packages: [&a${i} p${i}x${aliases.map((a) => `, ${a}`).join("")}]`];
    lines.push(...layer);
    size += layer.join("\n").length + 1;
  }
  return `${lines.join("\n")}\n`;
}
