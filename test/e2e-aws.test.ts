/**
 * The CLI as a user runs it, as separate processes, with the real SDK pointed at emulators of
 * Lambda, S3, CodeBuild and CloudWatch Logs. Builds in the CodeBuild emulator are fake (they
 * write a small zip where the buildspec would), so every scenario runs in seconds.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import { runEntry } from "./support/cli.ts";
import type { CliResult } from "./support/cli.ts";
import { startAwsEmulators } from "./support/aws/stack.ts";
import type { AwsEmulators } from "./support/aws/stack.ts";
import { fakeExecutor } from "./support/aws/executors.ts";
import { edit } from "./support/manifests.ts";

const MANIFEST = `version: 1
r:
  versions: ["4.4.1"]
defaults:
  regions: [us-east-1, eu-west-1]
  repository: https://packagemanager.posit.co/cran/2024-11-01
  retain: 2
  share:
    accounts: ["111111111111"]
artifacts:
  bucket: r-layers-{region}
# Parameter Store has its own end-to-end test (e2e-parameters.test.ts); these count Lambda's steps.
outputs:
  parameters: false
builder:
  project: r-lambda-layers
  region: us-east-1
  parallelism: 2
  timeoutMinutes: 10
layers:
  - name: runtime
    type: runtime
    packages: [jsonlite]
  - name: stats
    packages: [survival]
  - name: extra
    packages: [data.table]
    regions: [us-east-1]
`;

let work: string;
let manifest: string;
let emu: AwsEmulators;
let failLayer: string | undefined;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "rll-e2e-"));
  manifest = join(work, "layers.yaml");
});
after(async () => rm(work, { recursive: true, force: true }));
beforeEach(async () => {
  failLayer = undefined;
  emu = await startAwsEmulators({
    regions: ["us-east-1", "eu-west-1", "ap-south-1"],
    executor: (s3) => fakeExecutor({ s3, phaseMs: 5, failIn: (env) => (failLayer !== undefined && env.LAYER_NAME === failLayer ? "BUILD" : undefined) }),
  });
  await writeFile(manifest, MANIFEST);
});
afterEach(async () => emu.close());

// The manifest's repository cannot be reached here, so there is no layers.lock: reconciles publish unpinned.
const cli = (entry: string, args: string[] = []) =>
  runEntry(entry, ["--manifest", manifest, "--backend", "aws", ...(entry === "reconcile.ts" ? ["--unlocked"] : []), ...args], { cwd: work, env: emu.env });

const WRITES = /^(lambda\.(PublishLayerVersion|AddLayerVersionPermission|RemoveLayerVersionPermission|DeleteLayerVersion)|codebuild\.StartBuild|s3\.(CopyObject))$/;
function writes(): Record<string, number> {
  return Object.fromEntries(Object.entries(emu.calls()).filter(([op]) => WRITES.test(op)));
}

/** Every managed layer name per region with its versions: the published state. */
function published(): string[] {
  const rows: string[] = [];
  for (const region of ["us-east-1", "eu-west-1", "ap-south-1"]) {
    for (const name of emu.lambda.layerNames(region).sort()) {
      const versions = emu.lambda.versions(region, name);
      rows.push(`${region} ${name}: ${versions.map((v) => `${v.version}:${/key=([0-9a-f]{8})/.exec(v.description ?? "")?.[1]}:${v.statements.length}`).join(" ")}`);
    }
  }
  return rows;
}

async function ok(r: Promise<CliResult>): Promise<CliResult> {
  const result = await r;
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  return result;
}

describe("reconcile against AWS (emulated)", () => {
  test("the first reconcile builds and publishes everything; the second does nothing", async () => {
    const plan = await cli("plan.ts", ["--detailed-exitcode"]);
    assert.equal(plan.status, 2, plan.stderr);
    assert.match(plan.stdout, /Plan: 4 to build, 5 to publish, 5 to grant, 0 to prune, 0 unchanged\./);

    const first = await ok(cli("reconcile.ts"));
    assert.match(first.stdout, /Reconcile: 14 succeeded, 0 failed, 0 skipped/);
    assert.match(first.stdout, /│ r-runtime-4_4_1 │ build runtime line 1/, "build logs stream from CloudWatch Logs");
    assert.deepEqual(writes(), { "codebuild.StartBuild": 4, "s3.CopyObject": 2, "lambda.PublishLayerVersion": 5, "lambda.AddLayerVersionPermission": 5 });
    const state = published();
    const wanted: [string, string][] = [
      ["us-east-1", "r-extra-4_4_1"],
      ["us-east-1", "r-runtime-4_4_1"],
      ["us-east-1", "r-stats-4_4_1"],
      ["eu-west-1", "r-runtime-4_4_1"],
      ["eu-west-1", "r-stats-4_4_1"],
    ];
    assert.equal(state.length, wanted.length, state.join("\n"));
    wanted.forEach(([region, name], i) => assert.match(state[i] ?? "", new RegExp(`^${region} ${name}: 1:[0-9a-f]{8}:1$`), "one version, one grant"));
    const index = JSON.parse(emu.s3.getObject("r-layers-us-east-1", "outputs/index.json")?.body.toString() ?? "{}") as { layers: { arn: string }[] };
    assert.equal(index.layers.length, 5);
    assert.ok(index.layers.every((l) => /^arn:aws:lambda:(us-east-1|eu-west-1):123456789012:layer:r-\w+-4_4_1:1$/.test(l.arn)));

    emu.resetCalls();
    const second = await ok(cli("reconcile.ts"));
    assert.match(second.stdout, /No changes/);
    assert.deepEqual(writes(), {}, "no build, no publish, no API writes");
    const listCalls = emu.calls()["lambda.ListLayers"];
    assert.equal(listCalls, 4, "one ListLayers per region to plan, one per region for the outputs");

    const outputs = await ok(cli("outputs.ts", ["--layer", "stats"]));
    assert.match(outputs.stdout, /stats +4\.4\.1 +x86_64 +eu-west-1 +arn:aws:lambda:eu-west-1:123456789012:layer:r-stats-4_4_1:1/);
  });

  test("one layer's packages, a new region, an R bump, retention: each does exactly its part", async () => {
    await ok(cli("reconcile.ts"));

    emu.resetCalls();
    await writeFile(manifest, edit(MANIFEST, "packages: [data.table]", "packages: [data.table, Rcpp]"));
    await ok(cli("reconcile.ts"));
    assert.deepEqual(writes(), { "codebuild.StartBuild": 1, "lambda.PublishLayerVersion": 1, "lambda.AddLayerVersionPermission": 1 });
    assert.deepEqual(emu.lambda.versions("us-east-1", "r-extra-4_4_1").map((v) => v.version), [1, 2]);

    emu.resetCalls();
    await writeFile(manifest, edit(edit(MANIFEST, "packages: [data.table]", "packages: [data.table, Rcpp]"), "regions: [us-east-1]\n", "regions: [us-east-1, ap-south-1]\n"));
    await ok(cli("reconcile.ts"));
    assert.deepEqual(writes(), { "s3.CopyObject": 1, "lambda.PublishLayerVersion": 1, "lambda.AddLayerVersionPermission": 1 }, "copied and published, not rebuilt");

    emu.resetCalls();
    const bumped = edit(MANIFEST, `versions: ["4.4.1"]`, `versions: ["4.4.2"]`);
    await writeFile(manifest, bumped);
    const r = await ok(cli("reconcile.ts"));
    assert.equal(writes()["codebuild.StartBuild"], 4, "R and the three layers built on it");
    assert.match(r.stdout, /\+ compile +R 4\.4\.2 \(x86_64\)/);

    // Lower retention: nothing deleted without --prune, old names and versions deleted with it.
    await writeFile(manifest, edit(bumped, "retain: 2", "retain: 1"));
    emu.resetCalls();
    await ok(cli("reconcile.ts"));
    assert.equal(writes()["lambda.DeleteLayerVersion"], undefined);
    const pruned = await ok(cli("reconcile.ts", ["--prune"]));
    assert.match(pruned.stdout, /- prune +r-extra-4_4_1 in us-east-1: versions 2, 1 +no longer in the manifest/);
    assert.deepEqual(emu.lambda.versions("us-east-1", "r-extra-4_4_1"), []);
    assert.equal(emu.lambda.versions("us-east-1", "r-extra-4_4_2").length, 1);
  });

  test("a failed build: independent layers published, dependents not, exit 1 with the failing log", async () => {
    failLayer = "stats";
    const r = await cli("reconcile.ts");
    assert.equal(r.status, 1);
    assert.match(r.stdout, /✖ build r-stats-4_4_1 \(R 4\.4\.1, x86_64\) failed in phase BUILD/);
    assert.match(r.stdout, /│ \[Container\] Command did not exit successfully bash r-compile\/layer\/build-layer\.sh exit status 1/);
    assert.match(r.stdout, /full log: https:\/\/console\.aws\.amazon\.com\//);
    assert.match(r.stderr, /^error\[RECONCILE_FAILED\]: 1 action failed \(build-layer:stats:4\.4\.1:x86_64\); 4 skipped/);
    assert.equal(emu.lambda.versions("us-east-1", "r-extra-4_4_1").length, 1);
    assert.equal(emu.lambda.versions("eu-west-1", "r-runtime-4_4_1").length, 1);
    assert.deepEqual(emu.lambda.versions("us-east-1", "r-stats-4_4_1"), []);
  });

  test("with 30% of calls throttled, a reconcile reaches the same published state", async () => {
    emu.setFaults({ throttleRate: 0.3 });
    await ok(cli("reconcile.ts"));
    emu.setFaults({ throttleRate: 0 });
    const state = published();
    assert.equal(state.length, 5);
    for (const row of state) assert.match(row, /: 1:[0-9a-f]{8}:1$/, "one version each, with its grant");
  });

  test("two concurrent reconciles: exactly one acts, the other names the holder", async () => {
    await emu.close();
    emu = await startAwsEmulators({ regions: ["us-east-1", "eu-west-1"], executor: (s3) => fakeExecutor({ s3, phaseMs: 400 }) });
    const [a, b] = await Promise.all([cli("reconcile.ts"), new Promise((r) => setTimeout(r, 300)).then(() => cli("reconcile.ts"))]);
    const results = [a, b];
    assert.equal(results.filter((r) => r.status === 0).length, 1, results.map((r) => r.stderr).join("\n"));
    const loser = results.find((r) => r.status !== 0);
    assert.match(loser?.stderr ?? "", /^error\[LOCKED\]: another reconcile is running \(\S+@\S+ \(pid \d+\) since /);
    assert.equal(emu.calls()["codebuild.StartBuild"], 4, "only one reconcile started builds");
  });
});
