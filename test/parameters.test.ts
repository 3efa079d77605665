/**
 * Parameter Store parameters with each publication's current ARN, through the core with fakes of
 * the ports: the manifest setting and its rules, what observe reads, what the pure planner
 * decides (written only when the value changes, after the publish and grants of a new version,
 * deleted with a pruned layer, never touched when not ours), and what a reconcile leaves.
 */
import { planInMemory, reconcileInMemory } from "./support/reconcile.ts";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ManifestError } from "../pipeline/lib/errors.ts";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { PARAMETER_OWNER_TAG, parameterName } from "../pipeline/lib/naming.ts";
import type { ParameterAction, Plan } from "../pipeline/lib/plan/types.ts";
import { renderOutputsMarkdown, renderOutputsText } from "../pipeline/lib/render/outputs.ts";
import { renderText } from "../pipeline/lib/render/text.ts";
import { BASE_YAML, DIGESTS, edit, manifestFrom } from "./support/manifests.ts";
import { memoryBackend } from "./support/memory-backend.ts";
import type { MemoryLayerParameters } from "./support/memory-backend.ts";
import { TEST_OWNER } from "./support/seed.ts";

type Memory = ReturnType<typeof memoryBackend> & { parameters: MemoryLayerParameters };
const withParameters = (): Memory => memoryBackend({ parameters: true });

const planOf = planInMemory;
const reconcile = (yaml: string, backend: Memory, options: { prune?: boolean } = {}) => reconcileInMemory(yaml, backend, options);

const parameterActions = (p: Plan) => p.actions.filter((a): a is ParameterAction => a.kind === "parameter");
const RUNTIME = "/r-lambda-layers/runtime/4.4.1/x86_64";
const SOLO = "/r-lambda-layers/solo/4.4.1/x86_64";

function problemsOf(yaml: string): string[] {
  try {
    parseManifest(yaml, "layers.yaml");
    return [];
  } catch (error) {
    if (error instanceof ManifestError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
}

describe("the manifest setting", () => {
  test("on by default under /r-lambda-layers; a prefix of one's own; false turns it off", () => {
    assert.deepEqual(manifestFrom(BASE_YAML).outputs, { parameters: { prefix: "/r-lambda-layers" } });
    const own = edit(BASE_YAML, "builder:\n", "outputs:\n  parameters:\n    prefix: /acme/r/layers\nbuilder:\n");
    assert.deepEqual(manifestFrom(own).outputs, { parameters: { prefix: "/acme/r/layers" } });
    assert.equal(computeBuildGraph(manifestFrom(own), DIGESTS).parameterPrefix, "/acme/r/layers");
    const off = edit(BASE_YAML, "builder:\n", "outputs:\n  parameters: false\nbuilder:\n");
    assert.deepEqual(manifestFrom(off).outputs, { parameters: false });
    assert.equal(computeBuildGraph(manifestFrom(off), DIGESTS).parameterPrefix, undefined);
    assert.equal(parameterName("/r-lambda-layers", "runtime", "4.4.1", "arm64"), "/r-lambda-layers/runtime/4.4.1/arm64");
  });

  test("names Parameter Store would refuse are problems at the prefix", () => {
    const withPrefix = (prefix: string) => edit(BASE_YAML, "builder:\n", `outputs:\n  parameters:\n    prefix: ${JSON.stringify(prefix)}\nbuilder:\n`);
    assert.deepEqual(problemsOf(withPrefix("/r-lambda-layers")), []);
    assert.match(problemsOf(withPrefix("r-lambda-layers")).join("\n"), /^outputs\.parameters\.prefix: "r-lambda-layers" is not a Parameter Store path such as \/r-lambda-layers$/);
    assert.match(problemsOf(withPrefix("/layers/")).join("\n"), /outputs\.parameters\.prefix: "\/layers\/" is not a Parameter Store path/);
    assert.match(problemsOf(withPrefix("/SSM/layers")).join("\n"), /^outputs\.parameters\.prefix: Parameter Store reserves names that begin with "aws" or "ssm" \(any case\); choose another first segment than "SSM"$/);
    assert.match(problemsOf(withPrefix("/a/b/c/d/e/f/g/h/i/j/k/l/m")).join("\n"), /parameter name "\/a\/b\/c\/d\/e\/f\/g\/h\/i\/j\/k\/l\/m\/runtime\/4\.4\.1\/x86_64" would be 16 levels deep; Parameter Store allows 15/);
    const long = edit(withPrefix(`/${"p".repeat(899)}`), "  - name: solo", `  - name: ${"s".repeat(120)}`);
    assert.match(problemsOf(long).join("\n"), /^outputs\.parameters\.prefix: parameter name "\/p{899}\/s{120}\/4\.4\.1\/x86_64" would be 1034 characters; Parameter Store allows 1011$/m);
    assert.match(problemsOf(edit(BASE_YAML, "builder:\n", "outputs:\n  parameters: yes please\nbuilder:\n")).join("\n"), /^outputs\.parameters: expected a mapping or true or false, got a string/);
  });
});

describe("planning parameters", () => {
  test("a first plan writes each publication's parameter after its publish and grants", async () => {
    const yaml = edit(BASE_YAML, "  retain: 2\n", "  retain: 2\n  share:\n    accounts: [\"111111111111\"]\n");
    const p = await planOf(yaml, withParameters());
    const params = parameterActions(p);
    assert.equal(params.length, 17, "one per layer build and region");
    assert.equal(p.summary.parameters, 17);
    const runtime = params.find((a) => a.id === "parameter:runtime:4.4.1:x86_64:us-east-1");
    assert.deepEqual(runtime && { ...runtime }, {
      kind: "parameter",
      id: "parameter:runtime:4.4.1:x86_64:us-east-1",
      dependsOn: ["publish:runtime:4.4.1:x86_64:us-east-1", "grant:runtime:4.4.1:x86_64:us-east-1"],
      change: "create",
      region: "us-east-1",
      name: RUNTIME,
      layer: "runtime",
      layerName: "r-runtime-4_4_1",
      r: "4.4.1",
      arch: "x86_64",
      key: runtime?.key,
      reason: "points to the version the publish creates",
    });
    const text = renderText(p, { colour: false });
    assert.match(text, /\+ parameter {2}\/r-lambda-layers\/runtime\/4\.4\.1\/x86_64 in us-east-1 +points to the version the publish creates/);
    assert.match(text, /^Plan: 13 to build, 17 to publish, 17 to grant, 0 to prune, 0 unchanged\.\nParameters: 17 to write, 0 to delete\.$/m);
  });

  test("after a reconcile nothing is written again; one listing per layer and region, no tags read", async () => {
    const backend = withParameters();
    assert.equal((await reconcile(BASE_YAML, backend)).status, 0);
    assert.equal(backend.log.count("parameters.put"), 17);
    const runtime = backend.parameters.regions.get("us-east-1")?.get(RUNTIME);
    assert.deepEqual(runtime, { value: "arn:aws:lambda:us-east-1:123456789012:layer:r-runtime-4_4_1:1", tags: { [PARAMETER_OWNER_TAG]: TEST_OWNER } });
    const index = backend.artifacts.outputs;
    assert.equal(index?.layers.find((e) => e.layer === "runtime" && e.region === "us-east-1" && e.arch === "x86_64" && e.r === "4.4.1")?.parameter, RUNTIME);

    backend.log.calls.length = 0;
    const again = await planOf(BASE_YAML, backend);
    assert.deepEqual(again.actions, []);
    assert.equal(again.summary.parameters, 0);
    assert.equal(backend.log.count("parameters.list"), 5, "one listing per layer and region it is published in (runtime and stats in 2, solo in 1)");
    assert.equal(backend.log.count("parameters.readOwner"), 0);
    const second = await reconcile(BASE_YAML, backend);
    assert.match(second.out, /No changes/);
    assert.equal(backend.log.count("parameters.put"), 0);
  });

  test("a package change updates exactly that layer's parameters, to the version it publishes", async () => {
    const backend = withParameters();
    await reconcile(BASE_YAML, backend);
    const changed = edit(BASE_YAML, "packages: [data.table]", "packages: [data.table, gbm]");
    const p = await planOf(changed, backend);
    assert.deepEqual(
      parameterActions(p).map((a) => [a.id, a.change, a.dependsOn, a.reason, a.value]),
      [["parameter:solo:4.4.1:x86_64:eu-west-1", "update", ["publish:solo:4.4.1:x86_64:eu-west-1"], "points to the version the publish creates (now version 1)", undefined]],
    );
    assert.equal(backend.log.count("parameters.readOwner"), 1, "the owner of the one parameter it changes");
    backend.log.calls.length = 0;
    assert.equal((await reconcile(changed, backend)).status, 0);
    assert.equal(backend.log.count("parameters.put"), 1);
    assert.equal(backend.parameters.regions.get("eu-west-1")?.get(SOLO)?.value, "arn:aws:lambda:eu-west-1:123456789012:layer:r-solo-4_4_1:2");
  });

  test("a parameter changed by hand is set back to the current ARN, with the value in the plan", async () => {
    const backend = withParameters();
    await reconcile(BASE_YAML, backend);
    backend.parameters.seed("eu-west-1", SOLO, "arn:aws:lambda:eu-west-1:123456789012:layer:r-solo-4_4_1:7", { [PARAMETER_OWNER_TAG]: TEST_OWNER });
    const p = await planOf(BASE_YAML, backend);
    assert.deepEqual(
      parameterActions(p).map((a) => [a.change, a.name, a.dependsOn, a.value, a.reason]),
      [["update", SOLO, [], "arn:aws:lambda:eu-west-1:123456789012:layer:r-solo-4_4_1:1", "points to version 1 (now version 7)"]],
    );
    assert.equal((await reconcile(BASE_YAML, backend)).status, 0);
    assert.equal(backend.parameters.regions.get("eu-west-1")?.get(SOLO)?.value, "arn:aws:lambda:eu-west-1:123456789012:layer:r-solo-4_4_1:1");
  });

  test("a parameter that is not the pipeline's is never touched: the plan warns instead", async () => {
    const backend = withParameters();
    backend.parameters.seed("eu-west-1", SOLO, "made by hand");
    backend.parameters.seed("us-east-1", RUNTIME, "another copy", { [PARAMETER_OWNER_TAG]: "staging-r-layers-{region}" });
    const p = await planOf(BASE_YAML, backend);
    const names = parameterActions(p).map((a) => `${a.region} ${a.name}`);
    assert.equal(names.length, 15);
    assert.ok(!names.includes(`eu-west-1 ${SOLO}`) && !names.includes(`us-east-1 ${RUNTIME}`));
    assert.deepEqual(p.warnings, [
      `parameter ${RUNTIME} in us-east-1 belongs to another owner (${PARAMETER_OWNER_TAG}=staging-r-layers-{region}), so it is left as it is (it holds "another copy"; it would point to the version this plan publishes): delete it, or tag it ${PARAMETER_OWNER_TAG}=${TEST_OWNER}, for this pipeline to manage it`,
      `parameter ${SOLO} in eu-west-1 has no ${PARAMETER_OWNER_TAG} tag, so it is left as it is (it holds "made by hand"; it would point to the version this plan publishes): delete it, or tag it ${PARAMETER_OWNER_TAG}=${TEST_OWNER}, for this pipeline to manage it`,
    ]);
    assert.equal((await reconcile(BASE_YAML, backend)).status, 0);
    assert.equal(backend.parameters.regions.get("eu-west-1")?.get(SOLO)?.value, "made by hand");
    assert.equal(backend.parameters.regions.get("us-east-1")?.get(RUNTIME)?.value, "another copy");
  });

  test("--prune deletes the parameters of a removed layer (and only with --prune); foreign ones stay", async () => {
    const backend = withParameters();
    await reconcile(BASE_YAML, backend);
    backend.parameters.seed("eu-west-1", "/r-lambda-layers/notes/readme", "by hand");
    const without = BASE_YAML.slice(0, BASE_YAML.indexOf("  - name: solo"));
    assert.deepEqual(parameterActions(await planOf(without, backend)), [], "nothing deleted without --prune");
    const p = await planOf(without, backend, true);
    assert.deepEqual(
      parameterActions(p).map((a) => [a.id, a.change, a.reason]),
      [[`parameter:eu-west-1:${SOLO}`, "delete", "layer pruned: no longer in the manifest (now version 1)"]],
    );
    assert.match(p.warnings.join("\n"), /parameter \/r-lambda-layers\/notes\/readme in eu-west-1 has no r-lambda-layers:owner tag, so it is left as it is \(it holds "by hand"; it would be deleted\)/);
    assert.equal((await reconcile(without, backend, { prune: true })).status, 0);
    assert.equal(backend.parameters.regions.get("eu-west-1")?.has(SOLO), false);
    assert.equal(backend.parameters.regions.get("eu-west-1")?.get("/r-lambda-layers/notes/readme")?.value, "by hand");
    assert.equal(backend.parameters.regions.get("us-east-1")?.size, 8, "the other layers' parameters stay");
  });

  test("with parameters off, nothing is read or written", async () => {
    const backend = withParameters();
    const off = edit(BASE_YAML, "builder:\n", "outputs:\n  parameters: false\nbuilder:\n");
    const p = await planOf(off, backend);
    assert.equal(parameterActions(p).length, 0);
    assert.equal(p.summary.parameters, undefined);
    assert.equal((await reconcile(off, backend)).status, 0);
    assert.equal(backend.log.count("parameters.list") + backend.log.count("parameters.put"), 0);
    assert.ok(backend.artifacts.outputs?.layers.every((e) => e.parameter === undefined));
  });
});

describe("outputs", () => {
  test("the tables name each ARN's parameter when there are parameters, and keep their old shape without", async () => {
    const backend = withParameters();
    await reconcile(BASE_YAML, backend);
    const index = backend.artifacts.outputs;
    assert.ok(index);
    const text = renderOutputsText(index);
    assert.match(text, /^layer +R +arch +region +ARN +parameter +unzipped$/m);
    assert.match(text, /^runtime +4\.4\.1 +x86_64 +us-east-1 +arn:aws:lambda:us-east-1:123456789012:layer:r-runtime-4_4_1:1 +\/r-lambda-layers\/runtime\/4\.4\.1\/x86_64 /m);
    assert.match(renderOutputsMarkdown(index), /^\| runtime \| 4\.4\.1 \| x86_64 \| us-east-1 \| `arn:aws:lambda:us-east-1:123456789012:layer:r-runtime-4_4_1:1` \| `\/r-lambda-layers\/runtime\/4\.4\.1\/x86_64` \|$/m);
    const plain = { ...index, layers: index.layers.map(({ parameter: _, ...e }) => e) };
    assert.match(renderOutputsText(plain), /^layer +R +arch +region +ARN +unzipped$/m);
    assert.match(renderOutputsMarkdown(plain), /^\| layer \| R \| arch \| region \| ARN \|$/m);
  });
});
