/**
 * Parameter Store end to end: the CLI as a user runs it, as separate processes, with the real SDK
 * pointed at the emulators (Lambda, S3, CodeBuild, Logs, SSM). The first reconcile writes each
 * publication's parameter; a reconcile with nothing to do writes none; a package change rewrites
 * exactly that layer's parameters; pruning a removed layer deletes its parameters; a parameter
 * that is not the pipeline's is never touched. The guide's snippets name parameters this run wrote.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PARAMETER_OWNER_TAG } from "../pipeline/lib/naming.ts";
import { runEntry } from "./support/cli.ts";
import type { CliResult } from "./support/cli.ts";
import { startAwsEmulators } from "./support/aws/stack.ts";
import type { AwsEmulators } from "./support/aws/stack.ts";
import { guideSnippets, parameterNamesIn } from "./support/guide.ts";
import { edit } from "./support/manifests.ts";

const MANIFEST = `version: 1
r:
  versions: ["4.4.1"]
defaults:
  regions: [us-east-1, eu-west-1]
  repository: https://packagemanager.posit.co/cran/2024-11-01
artifacts:
  bucket: r-layers-{region}
builder:
  project: r-lambda-layers
  region: us-east-1
layers:
  - name: runtime
    type: runtime
  - name: stats
    packages: [survival]
  - name: extra
    packages: [data.table]
    regions: [us-east-1]
`;
const OWNER = "r-layers-{region}";
const HAND_MADE = "/r-lambda-layers/stats/4.4.1/x86_64";

let work: string;
let manifest: string;
let emu: AwsEmulators;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "rll-e2e-ssm-"));
  manifest = join(work, "layers.yaml");
  emu = await startAwsEmulators({ regions: ["us-east-1", "eu-west-1"] });
});
after(async () => {
  await emu.close();
  await rm(work, { recursive: true, force: true });
});

// The repository cannot be reached here, so there is no layers.lock: reconciles publish unpinned.
const cli = async (entry: string, args: string[] = []): Promise<CliResult> => {
  const r = await runEntry(entry, ["--manifest", manifest, "--backend", "aws", ...(entry === "reconcile.ts" ? ["--unlocked"] : []), ...args], { cwd: work, env: emu.env });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  return r;
};

const SSM_WRITES = ["PutParameter", "DeleteParameter", "AddTagsToResource"];
function ssmWrites(): Record<string, number> {
  return Object.fromEntries(SSM_WRITES.map((op) => [op, emu.ssm.calls.count(op)]).filter(([, n]) => n !== 0));
}

/** Every parameter the emulator holds: `region name = value (version, owner)`. */
function parameters(): string[] {
  return ["us-east-1", "eu-west-1"].flatMap((region) =>
    emu.ssm.names(region).map((name) => {
      const p = emu.ssm.parameter(region, name)!;
      return `${region} ${name} = ${p.value.replace(/^arn:aws:lambda:[^:]+:123456789012:layer:/, "")} (v${p.version}, ${p.tags.get(PARAMETER_OWNER_TAG) ?? "untagged"})`;
    }),
  );
}

describe("Parameter Store against AWS (emulated)", () => {
  test("written on the first reconcile, untouched by a no-op one, rewritten for a package change, deleted with a pruned layer; a hand-made parameter is never touched", async () => {
    await writeFile(manifest, MANIFEST);
    emu.ssm.seed("eu-west-1", HAND_MADE, "made by hand");

    const plan = await runEntry("plan.ts", ["--manifest", manifest, "--backend", "aws"], { cwd: work, env: emu.env });
    assert.equal(plan.status, 0, plan.stderr);
    assert.match(plan.stdout, /^ {2}\+ parameter +\/r-lambda-layers\/runtime\/4\.4\.1\/x86_64 in us-east-1 +points to the version the publish creates$/m);
    assert.match(plan.stdout, /^Parameters: 4 to write, 0 to delete\.$/m);
    assert.match(plan.stdout, /parameter \/r-lambda-layers\/stats\/4\.4\.1\/x86_64 in eu-west-1 has no r-lambda-layers:owner tag, so it is left as it is/);

    emu.resetCalls();
    const first = await cli("reconcile.ts");
    assert.match(first.stdout, /Reconcile: 13 succeeded, 0 failed, 0 skipped/);
    assert.deepEqual(ssmWrites(), { PutParameter: 4 });
    assert.deepEqual(parameters(), [
      `us-east-1 /r-lambda-layers/extra/4.4.1/x86_64 = r-extra-4_4_1:1 (v1, ${OWNER})`,
      `us-east-1 /r-lambda-layers/runtime/4.4.1/x86_64 = r-runtime-4_4_1:1 (v1, ${OWNER})`,
      `us-east-1 /r-lambda-layers/stats/4.4.1/x86_64 = r-stats-4_4_1:1 (v1, ${OWNER})`,
      `eu-west-1 /r-lambda-layers/runtime/4.4.1/x86_64 = r-runtime-4_4_1:1 (v1, ${OWNER})`,
      "eu-west-1 /r-lambda-layers/stats/4.4.1/x86_64 = made by hand (v1, untagged)",
    ]);
    // Each parameter holds the ARN the outputs index lists beside its name.
    const index = JSON.parse(emu.s3.getObject("r-layers-us-east-1", "outputs/index.json")?.body.toString() ?? "{}") as { layers: { region: string; arn: string; parameter?: string }[] };
    assert.equal(index.layers.length, 5);
    for (const e of index.layers) {
      if (e.region === "eu-west-1" && e.arn.includes(":r-stats-")) {
        assert.equal(e.parameter, undefined, "the hand-made parameter does not hold this ARN, so the index does not name it");
        continue;
      }
      assert.ok(e.parameter, `${e.arn} has its parameter named`);
      assert.equal(emu.ssm.parameter(e.region, e.parameter)?.value, e.arn);
    }
    const outputs = await cli("outputs.ts", ["--layer", "runtime", "--region", "us-east-1"]);
    assert.match(outputs.stdout, /^runtime +4\.4\.1 +x86_64 +us-east-1 +arn:aws:lambda:us-east-1:123456789012:layer:r-runtime-4_4_1:1 +\/r-lambda-layers\/runtime\/4\.4\.1\/x86_64/m);

    // The guide's snippets read parameters this run wrote (and the pipeline owns).
    const snippets = await guideSnippets();
    const written = new Set(emu.ssm.names("us-east-1").filter((n) => emu.ssm.parameter("us-east-1", n)?.tags.get(PARAMETER_OWNER_TAG) === OWNER));
    for (const [tool, snippet] of Object.entries(snippets)) {
      for (const name of parameterNamesIn(snippet)) assert.ok(written.has(name), `${tool}: ${name} was not written`);
    }

    emu.resetCalls();
    const second = await cli("reconcile.ts");
    assert.match(second.stdout, /No changes: what is published matches the manifest\./);
    assert.deepEqual(ssmWrites(), {}, "no SSM write");
    assert.equal(emu.ssm.calls.count("GetParametersByPath"), 7, "to plan, one listing per layer and region (runtime and stats in 2, extra in 1); for the outputs, one per region");
    assert.equal(emu.ssm.calls.count("ListTagsForResource"), 1, "the owner of the hand-made one, whose value differs");

    emu.resetCalls();
    const changed = edit(MANIFEST, "packages: [data.table]", "packages: [data.table, Rcpp]");
    await writeFile(manifest, changed);
    await cli("reconcile.ts");
    assert.deepEqual(ssmWrites(), { PutParameter: 1 });
    assert.equal(emu.ssm.parameter("us-east-1", "/r-lambda-layers/extra/4.4.1/x86_64")?.value, "arn:aws:lambda:us-east-1:123456789012:layer:r-extra-4_4_1:2");
    assert.deepEqual(
      parameters().filter((p) => !p.includes("/extra/")),
      [
        `us-east-1 /r-lambda-layers/runtime/4.4.1/x86_64 = r-runtime-4_4_1:1 (v1, ${OWNER})`,
        `us-east-1 /r-lambda-layers/stats/4.4.1/x86_64 = r-stats-4_4_1:1 (v1, ${OWNER})`,
        `eu-west-1 /r-lambda-layers/runtime/4.4.1/x86_64 = r-runtime-4_4_1:1 (v1, ${OWNER})`,
        "eu-west-1 /r-lambda-layers/stats/4.4.1/x86_64 = made by hand (v1, untagged)",
      ],
      "every other parameter as it was",
    );

    emu.resetCalls();
    const removed = changed.slice(0, changed.indexOf("  - name: extra"));
    await writeFile(manifest, removed);
    await cli("reconcile.ts");
    assert.deepEqual(ssmWrites(), {}, "without --prune nothing is deleted");
    const pruned = await cli("reconcile.ts", ["--prune"]);
    assert.match(pruned.stdout, /^ {2}- parameter +\/r-lambda-layers\/extra\/4\.4\.1\/x86_64 in us-east-1 +layer pruned: no longer in the manifest \(now version 2\)$/m);
    assert.deepEqual(ssmWrites(), { DeleteParameter: 1 });
    assert.deepEqual(parameters(), [
      `us-east-1 /r-lambda-layers/runtime/4.4.1/x86_64 = r-runtime-4_4_1:1 (v1, ${OWNER})`,
      `us-east-1 /r-lambda-layers/stats/4.4.1/x86_64 = r-stats-4_4_1:1 (v1, ${OWNER})`,
      `eu-west-1 /r-lambda-layers/runtime/4.4.1/x86_64 = r-runtime-4_4_1:1 (v1, ${OWNER})`,
      "eu-west-1 /r-lambda-layers/stats/4.4.1/x86_64 = made by hand (v1, untagged)",
    ]);
  });
});
