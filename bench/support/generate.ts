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

/**
 * A generated PACKAGES index of `count` packages, shaped like CRAN: the last 200 are
 * foundations that import nothing, the 1,800 before them import up to 3 foundations, and every
 * other package imports up to 4 of those 2,000 (so a closure has tens of packages, as on CRAN);
 * version constraints, R requirements, base imports and Suggests are sprinkled in. Every name in
 * `required` is among them (first).
 */
export function generatedPackagesIndex(count: number, required: readonly string[]): string {
  const names = [...new Set(required)];
  for (let i = 0; names.length < count; i++) names.push(`gen${i}pkg`);
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const pick = (from: number, to: number) => names[from + Math.floor(random() * (to - from))] as string;
  const n = names.length;
  const records: string[] = [];
  for (let i = 0; i < n; i++) {
    const deps = new Set<string>();
    if (i < n - 2000) for (let k = Math.floor(random() * 5); k > 0; k--) deps.add(pick(n - 2000, n));
    else if (i < n - 200) for (let k = Math.floor(random() * 4); k > 0; k--) deps.add(pick(n - 200, n));
    const imports = [...deps].map((d, k) => (k === 0 ? `${d} (>= 0.1)` : d));
    records.push(
      [
        `Package: ${names[i]}`,
        `Version: ${1 + (i % 7)}.${i % 13}.${i % 5}`,
        `Depends: R (>= 3.5.0)${i % 3 === 0 ? ", methods" : ""}`,
        ...(imports.length ? [`Imports: ${imports.join(", ")}${i % 4 === 0 ? ", stats, utils" : ""}`] : []),
        ...(i % 10 === 0 ? [`Suggests: testthat, knitr`] : []),
        "License: GPL-3",
        `MD5sum: ${(i * 2654435761).toString(16).padStart(8, "0").slice(-8).repeat(4)}`,
        "NeedsCompilation: no",
      ].join("\n"),
    );
  }
  return `${records.join("\n\n")}\n`;
}
