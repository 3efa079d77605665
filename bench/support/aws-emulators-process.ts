/**
 * The AWS emulators in a process of their own, seeded with a fully published generated manifest
 * (versions, grants, and the outputs index a reconcile writes), so a benchmark measures the
 * client's time and not the emulators' CPU. Prints one JSON line with
 * the endpoint environment; then answers `calls` / `reset` lines on stdin with JSON lines.
 */
import { createInterface } from "node:readline";
import { computeBuildGraph } from "../../pipeline/lib/keys/graph.ts";
import { readSourceDigests } from "../../pipeline/lib/keys/sources.ts";
import { parseManifest } from "../../pipeline/lib/manifest/load.ts";
import { PARAMETER_OWNER_TAG, bucketName, parameterName, versionDescription } from "../../pipeline/lib/naming.ts";
import { desiredGrants } from "../../pipeline/lib/grants.ts";
import { grantId } from "../../pipeline/lib/grants.ts";
import type { OutputsEntry, OutputsIndex } from "../../pipeline/lib/ports.ts";
import { startAwsEmulators } from "../../test/support/aws/stack.ts";
import { generatedManifest } from "./generate.ts";

const [layers, rVersions, regionCount, latency] = process.argv.slice(2).map(Number);
const REGIONS = ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1", "sa-east-1"].slice(0, regionCount);
const manifest = parseManifest(generatedManifest(layers ?? 50, rVersions ?? 4, regionCount ?? 6), "bench.yaml");
const graph = computeBuildGraph(manifest, await readSourceDigests());
const emu = await startAwsEmulators({ regions: REGIONS, bucketTemplate: "bench-layers-{region}", project: "bench" });
for (const b of graph.layerBuilds) {
  for (const region of b.layer.regions) {
    const v = emu.lambda.seed(region, b.layerName, { description: versionDescription({ key: b.key, rVersion: b.rVersion, arch: b.arch, owner: graph.owner }), architectures: [b.arch] });
    for (const grant of desiredGrants(b.layer.share)) {
      if (grant.kind !== "account") continue;
      v.statements.push({
        Sid: grantId(grant),
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${grant.account}:root` },
        Action: "lambda:GetLayerVersion",
        Resource: `arn:aws:lambda:${region}:123456789012:layer:${b.layerName}:${v.version}`,
      });
    }
  }
}
// The current ARN of every layer in Parameter Store, as the reconcile that published them leaves it.
for (const b of graph.layerBuilds) {
  for (const region of b.layer.regions) {
    const v = emu.lambda.versions(region, b.layerName).at(-1);
    if (!v || !graph.parameterPrefix) continue;
    emu.ssm.seed(region, parameterName(graph.parameterPrefix, b.layer.name, b.rVersion, b.arch), `arn:aws:lambda:${region}:123456789012:layer:${b.layerName}:${v.version}`, {
      [PARAMETER_OWNER_TAG]: graph.owner,
    });
  }
}
const entries: OutputsEntry[] = [];
for (const b of graph.layerBuilds) {
  for (const region of b.layer.regions) {
    const v = emu.lambda.versions(region, b.layerName).at(-1);
    if (!v) continue;
    entries.push({
      layer: b.layer.name,
      layerName: b.layerName,
      r: b.rVersion,
      arch: b.arch,
      region,
      arn: `arn:aws:lambda:${region}:123456789012:layer:${b.layerName}:${v.version}`,
      version: v.version,
      key: b.key,
      grants: desiredGrants(b.layer.share),
    });
  }
}
const index: OutputsIndex = { version: 1, generatedAt: new Date(0).toISOString(), layers: entries };
emu.s3.putObject(bucketName("bench-layers-{region}", manifest.builder.region), "outputs/index.json", JSON.stringify(index), "application/json");
emu.setFaults({ latencyMs: latency ?? 50 });
process.stdout.write(`${JSON.stringify(emu.env)}\n`);
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  if (line === "calls") process.stdout.write(`${JSON.stringify(emu.calls())}\n`);
  if (line === "reset") {
    emu.resetCalls();
    process.stdout.write("{}\n");
  }
});
lines.on("close", () => void emu.close().then(() => process.exit(0)));
