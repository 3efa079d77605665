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
