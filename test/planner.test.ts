import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import type { SourceDigests } from "../pipeline/lib/keys/sources.ts";
import { plan } from "../pipeline/lib/plan/planner.ts";
import type { Plan } from "../pipeline/lib/plan/types.ts";
import { observe } from "../pipeline/lib/plan/observe.ts";
import { BASE_YAML, DIGESTS, edit, manifestFrom } from "./support/manifests.ts";
import { memoryBackend } from "./support/memory-backend.ts";
import { publishVersion, seedReconciled, storeArtifact } from "./support/seed.ts";

const NOW = new Date("2026-11-25T12:00:00Z");

async function planFor(
  yaml: string,
  backend: ReturnType<typeof memoryBackend>,
  options: { prune?: boolean; digests?: SourceDigests } = {},
): Promise<Plan> {
  const manifest = manifestFrom(yaml);
  const graph = computeBuildGraph(manifest, options.digests ?? DIGESTS);
  const observed = await observe(graph, backend, { prune: options.prune ?? false });
  return plan({ manifestFile: "layers.yaml", graph, observed, now: NOW, prune: options.prune ?? false });
}

async function reconciled(yaml = BASE_YAML, digests: SourceDigests = DIGESTS) {
  const backend = memoryBackend();
  await seedReconciled(backend, computeBuildGraph(manifestFrom(yaml), digests));
  return backend;
}

const ids = (p: Plan) => p.actions.map((a) => a.id).sort();
const byId = (p: Plan, id: string) => {
  const action = p.actions.find((a) => a.id === id);
  assert.ok(action, `no action ${id} in ${ids(p).join(", ")}`);
  return action;
};

/** Every publication of a layer in its regions, for exact-set assertions. */
function publishes(layer: string, r: string[], arches: string[], regions: string[]): string[] {
  return r.flatMap((v) => arches.flatMap((a) => regions.map((g) => `publish:${layer}:${v}:${a}:${g}`)));
}

describe("planner on a fresh state", () => {
  test("compiles each R version per architecture in use, builds every layer, publishes every region", async () => {
    const p = await planFor(BASE_YAML, memoryBackend());
    const expected = [
      ...["4.4.1", "4.3.3"].flatMap((r) => ["x86_64", "arm64"].map((a) => `compile-r:${r}:${a}`)),
      ...["runtime", "stats"].flatMap((l) =>
        ["4.4.1", "4.3.3"].flatMap((r) => ["x86_64", "arm64"].map((a) => `build-layer:${l}:${r}:${a}`)),
      ),
      "build-layer:solo:4.4.1:x86_64",
      ...publishes("runtime", ["4.4.1", "4.3.3"], ["x86_64", "arm64"], ["us-east-1", "eu-west-1"]),
      ...publishes("stats", ["4.4.1", "4.3.3"], ["x86_64", "arm64"], ["us-east-1", "eu-west-1"]),
      "publish:solo:4.4.1:x86_64:eu-west-1",
    ].sort();
    assert.deepEqual(ids(p), expected);
    assert.deepEqual(p.summary, { build: 13, publish: 17, grant: 0, prune: 0, unchanged: 0 });
    assert.equal(byId(p, "build-layer:runtime:4.4.1:x86_64").reason, "not yet built");
    assert.equal(byId(p, "publish:solo:4.4.1:x86_64:eu-west-1").reason, "not yet published in eu-west-1");
  });

  test("wires dependencies: R build → runtime layer → stacked layer → publish", async () => {
    const p = await planFor(BASE_YAML, memoryBackend());
    assert.deepEqual(byId(p, "build-layer:runtime:4.4.1:arm64").dependsOn, ["compile-r:4.4.1:arm64"]);
    assert.deepEqual(byId(p, "build-layer:stats:4.4.1:arm64").dependsOn, [
      "compile-r:4.4.1:arm64",
      "build-layer:runtime:4.4.1:arm64",
    ]);
    assert.deepEqual(byId(p, "publish:stats:4.4.1:arm64:eu-west-1").dependsOn, ["build-layer:stats:4.4.1:arm64"]);
    // Every dependency names an action in the plan, and comes before it.
    const order = new Map(p.actions.map((a, i) => [a.id, i]));
    for (const a of p.actions) {
      for (const d of a.dependsOn) {
        assert.ok(order.has(d), `${a.id} depends on missing ${d}`);
        assert.ok((order.get(d) as number) < (order.get(a.id) as number), `${d} should come before ${a.id}`);
      }
    }
  });

  test("published names follow r-<layer>-<version> with an arm64 suffix", async () => {
    const p = await planFor(BASE_YAML, memoryBackend());
    const names = new Set(p.actions.flatMap((a) => ("layerName" in a ? [a.layerName] : [])));
    assert.ok(names.has("r-runtime-4_4_1"));
    assert.ok(names.has("r-runtime-4_4_1-arm64"));
    assert.ok(names.has("r-solo-4_4_1"));
    assert.ok(!names.has("r-solo-4_4_1-arm64"));
  });
});

describe("planner on a reconciled state: manifest edits plan exactly what changed", () => {
  test("no edit: nothing to do, every publication unchanged", async () => {
    const p = await planFor(BASE_YAML, await reconciled());
    assert.deepEqual(ids(p), []);
    assert.deepEqual(p.summary, { build: 0, publish: 0, grant: 0, prune: 0, unchanged: 17 });
  });

  test("adding a package to one layer rebuilds and republishes only that layer", async () => {
    const yaml = edit(BASE_YAML, "packages: [data.table]", "packages: [data.table, gbm]");
    const p = await planFor(yaml, await reconciled());
    assert.deepEqual(ids(p), ["build-layer:solo:4.4.1:x86_64", "publish:solo:4.4.1:x86_64:eu-west-1"]);
    assert.equal(byId(p, "build-layer:solo:4.4.1:x86_64").reason, "inputs changed (packages changed: +gbm)");
    assert.equal(byId(p, "build-layer:solo:4.4.1:x86_64").change, "update");
    const publish = byId(p, "publish:solo:4.4.1:x86_64:eu-west-1");
    assert.equal(publish.change, "update");
    assert.equal(publish.reason, "published version 1 carries another key (packages changed: +gbm)");
  });

  test("removing a package and changing the repository are both explained", async () => {
    const yaml = edit(
      BASE_YAML,
      "packages: [data.table]",
      "packages: [Rcpp]\n    repository: https://packagemanager.posit.co/cran/2025-01-01",
    );
    const p = await planFor(yaml, await reconciled());
    assert.match(
      byId(p, "build-layer:solo:4.4.1:x86_64").reason,
      /packages changed: \+Rcpp -data\.table; repository changed: .*2024-11-01 → .*2025-01-01/,
    );
  });

  test("adding a region publishes there without building anything", async () => {
    const yaml = edit(BASE_YAML, "regions: [eu-west-1]", "regions: [eu-west-1, ap-south-1]");
    const p = await planFor(yaml, await reconciled());
    assert.deepEqual(ids(p), ["publish:solo:4.4.1:x86_64:ap-south-1"]);
    assert.deepEqual(byId(p, "publish:solo:4.4.1:x86_64:ap-south-1").dependsOn, []);
  });

  test("bumping an R version compiles that R and builds only the layers on it", async () => {
    const yaml = edit(BASE_YAML, `versions: ["4.4.1", "4.3.3"]`, `versions: ["4.4.1", "4.3.4"]`);
    const p = await planFor(yaml, await reconciled());
    assert.deepEqual(
      ids(p),
      [
        "compile-r:4.3.4:x86_64",
        "compile-r:4.3.4:arm64",
        ...["runtime", "stats"].flatMap((l) => ["x86_64", "arm64"].map((a) => `build-layer:${l}:4.3.4:${a}`)),
        ...publishes("runtime", ["4.3.4"], ["x86_64", "arm64"], ["us-east-1", "eu-west-1"]),
        ...publishes("stats", ["4.3.4"], ["x86_64", "arm64"], ["us-east-1", "eu-west-1"]),
      ].sort(),
    );
    // 4.4.1 layers stay as they are; the 4.3.3 names are left alone unless pruning.
    assert.equal(p.summary.unchanged, 9);
  });

  test("changing the runtime layer's packages rebuilds it and the layers stacked on it", async () => {
    const yaml = edit(BASE_YAML, "packages: [jsonlite, httr]", "packages: [jsonlite, httr, yaml]");
    const p = await planFor(yaml, await reconciled());
    const builds = ids(p).filter((id) => id.startsWith("build-layer"));
    // Package layers stack on the runtime layer by default: what it provides, they do not repeat.
    assert.deepEqual(
      builds,
      [
        ...["runtime", "stats"].flatMap((l) => ["4.4.1", "4.3.3"].flatMap((r) => ["x86_64", "arm64"].map((a) => `build-layer:${l}:${r}:${a}`))),
        "build-layer:solo:4.4.1:x86_64",
      ].sort(),
    );
    assert.match(byId(p, "build-layer:stats:4.4.1:x86_64").reason, /stacked layer changed: runtime/);
    assert.equal(p.actions.filter((a) => a.kind === "compile-r").length, 0);
  });

  test("changing the arm64 build image recompiles R for arm64 only", async () => {
    const yaml = edit(BASE_YAML, "build-provided.al2023:arm", "build-provided.al2023:arm2");
    const p = await planFor(yaml, await reconciled());
    const compiles = ids(p).filter((id) => id.startsWith("compile-r"));
    assert.deepEqual(compiles, ["compile-r:4.3.3:arm64", "compile-r:4.4.1:arm64"]);
    assert.ok(ids(p).every((id) => !id.includes("x86_64")));
    assert.match(byId(p, "build-layer:runtime:4.4.1:arm64").reason, /R build changed/);
  });

  test("changing the layer build scripts rebuilds every layer but compiles no R", async () => {
    const p = await planFor(BASE_YAML, await reconciled(), { digests: { ...DIGESTS, layerBuild: "d".repeat(64) } });
    assert.equal(p.actions.filter((a) => a.kind === "compile-r").length, 0);
    assert.equal(p.actions.filter((a) => a.kind === "build-layer").length, 9);
    assert.match(byId(p, "build-layer:solo:4.4.1:x86_64").reason, /layer build scripts changed/);
  });

  test("changing runtime files rebuilds the runtime layer (and what stacks on it) only", async () => {
    const p = await planFor(BASE_YAML, await reconciled(), { digests: { ...DIGESTS, runtime: "e".repeat(64) } });
    assert.deepEqual(
      [...new Set(p.actions.filter((a) => a.kind === "build-layer").map((a) => (a.kind === "build-layer" ? a.layer : "")))].sort(),
      ["runtime", "solo", "stats"],
    );
    assert.match(byId(p, "build-layer:runtime:4.4.1:x86_64").reason, /runtime files changed/);
  });
});

describe("planner: artifacts are a cache", () => {
  test("a built but unpublished layer is published without rebuilding", async () => {
    const backend = memoryBackend();
    const graph = computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS);
    for (const b of graph.layerBuilds) {
      await storeArtifact(backend, { kind: "layer", key: b.key }, b.inputs);
    }
    const p = await planFor(BASE_YAML, backend);
    assert.equal(p.summary.build, 0);
    assert.equal(p.summary.publish, 17);
  });

  test("a published layer whose zip expired is not rebuilt", async () => {
    const backend = await reconciled();
    backend.artifacts.records.clear();
    const p = await planFor(BASE_YAML, backend);
    assert.deepEqual(ids(p), []);
  });

  test("a missing layer whose R build exists compiles nothing", async () => {
    const backend = memoryBackend();
    const graph = computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS);
    for (const b of graph.rBuilds) {
      await storeArtifact(backend, { kind: "r", key: b.key }, b.inputs);
    }
    const p = await planFor(BASE_YAML, backend);
    assert.equal(p.actions.filter((a) => a.kind === "compile-r").length, 0);
    assert.deepEqual(byId(p, "build-layer:runtime:4.4.1:x86_64").dependsOn, []);
  });
});

describe("planner: drift and foreign versions", () => {
  test("a version published by hand (no key) is replaced", async () => {
    const backend = await reconciled();
    await publishVersion(backend, "eu-west-1", "r-solo-4_4_1", { description: "uploaded by hand" });
    const p = await planFor(BASE_YAML, backend);
    assert.deepEqual(ids(p), ["publish:solo:4.4.1:x86_64:eu-west-1"]);
    assert.match(byId(p, "publish:solo:4.4.1:x86_64:eu-west-1").reason, /version 2 carries no build key/);
  });

  test("a rollback by hand to an older key is corrected", async () => {
    const backend = await reconciled();
    await publishVersion(backend, "eu-west-1", "r-solo-4_4_1", { key: "f".repeat(64) });
    const p = await planFor(BASE_YAML, backend);
    assert.deepEqual(ids(p), ["publish:solo:4.4.1:x86_64:eu-west-1"]);
    assert.equal(byId(p, "publish:solo:4.4.1:x86_64:eu-west-1").change, "update");
  });

  test("layers of other tools in the account are ignored", async () => {
    const backend = await reconciled();
    await publishVersion(backend, "us-east-1", "someone-elses-layer", { description: "numpy" });
    const p = await planFor(BASE_YAML, backend, { prune: true });
    assert.deepEqual(ids(p), []);
  });
});

describe("planner: sharing", () => {
  const SHARED = edit(BASE_YAML, "  retain: 2\n", `  retain: 2\n  share:\n    accounts: ["111111111111"]\n    organization: o-abcdefghij\n`);

  test("a new version gets every grant, after it is published", async () => {
    const p = await planFor(SHARED, memoryBackend());
    const grant = byId(p, "grant:solo:4.4.1:x86_64:eu-west-1");
    assert.equal(grant.kind, "grant");
    assert.deepEqual(grant.dependsOn, ["publish:solo:4.4.1:x86_64:eu-west-1"]);
    if (grant.kind === "grant") {
      assert.deepEqual(grant.add, [
        { kind: "account", account: "111111111111" },
        { kind: "organization", organization: "o-abcdefghij" },
      ]);
    }
    assert.equal(p.summary.grant, 17);
  });

  test("sharing added to a published layer grants on the current versions only", async () => {
    const p = await planFor(SHARED, await reconciled());
    assert.equal(p.summary.publish, 0);
    assert.equal(p.summary.grant, 17);
    const grant = byId(p, "grant:runtime:4.4.1:x86_64:us-east-1");
    assert.equal(grant.kind === "grant" && grant.version, 1);
    assert.match(grant.reason, /version 1 lacks account 111111111111, organization o-abcdefghij/);
  });

  test("a grant removed by hand is restored; a grant no longer listed is revoked", async () => {
    const backend = await reconciled(SHARED);
    await backend.layers.removeGrant("eu-west-1", "r-solo-4_4_1", 1, { kind: "organization", organization: "o-abcdefghij" });
    await backend.layers.addGrant("us-east-1", "r-runtime-4_4_1", 1, { kind: "public" });
    const p = await planFor(SHARED, backend);
    assert.deepEqual(ids(p), ["grant:runtime:4.4.1:x86_64:us-east-1", "grant:solo:4.4.1:x86_64:eu-west-1"]);
    const restored = byId(p, "grant:solo:4.4.1:x86_64:eu-west-1");
    const revoked = byId(p, "grant:runtime:4.4.1:x86_64:us-east-1");
    assert.ok(restored.kind === "grant" && revoked.kind === "grant");
    assert.deepEqual(restored.add, [{ kind: "organization", organization: "o-abcdefghij" }]);
    assert.deepEqual(revoked.remove, [{ kind: "public" }]);
    assert.deepEqual(revoked.add, []);
  });
});

describe("planner: pruning", () => {
  async function withHistory(versions: number) {
    const backend = memoryBackend();
    const graph = computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS);
    // Older versions with other keys, then the current one.
    for (let i = 1; i < versions; i++) {
      await publishVersion(backend, "eu-west-1", "r-solo-4_4_1", { key: String(i).repeat(64) });
    }
    await seedReconciled(backend, graph);
    return backend;
  }

  test("versions beyond retention are pruned only with --prune", async () => {
    const backend = await withHistory(4);
    assert.deepEqual(ids(await planFor(BASE_YAML, backend)), []);
    const p = await planFor(BASE_YAML, backend, { prune: true });
    assert.deepEqual(ids(p), ["prune:r-solo-4_4_1:eu-west-1"]);
    const prune = byId(p, "prune:r-solo-4_4_1:eu-west-1");
    assert.ok(prune.kind === "prune");
    assert.deepEqual(prune.versions, [2, 1]);
    assert.equal(p.summary.prune, 1);
  });

  test("lowering retention prunes more; a planned publish counts as one kept version", async () => {
    const backend = await withHistory(3);
    const lowered = edit(BASE_YAML, "    regions: [eu-west-1]\n", "    regions: [eu-west-1]\n    retain: 1\n");
    const p1 = await planFor(lowered, backend, { prune: true });
    const prune1 = byId(p1, "prune:r-solo-4_4_1:eu-west-1");
    assert.ok(prune1.kind === "prune");
    assert.deepEqual(prune1.versions, [2, 1]);

    const changed = edit(lowered, "packages: [data.table]", "packages: [data.table, gbm]");
    const p2 = await planFor(changed, backend, { prune: true });
    const prune2 = byId(p2, "prune:r-solo-4_4_1:eu-west-1");
    assert.ok(prune2.kind === "prune");
    assert.deepEqual(prune2.versions, [3, 2, 1]);
    assert.deepEqual(prune2.dependsOn, ["publish:solo:4.4.1:x86_64:eu-west-1"], "never delete before the new version exists");
  });

  test("a layer removed from the manifest is pruned everywhere, only with --prune", async () => {
    const backend = await reconciled();
    const without = BASE_YAML.replace(/ {2}- name: solo[\s\S]*$/, "");
    assert.deepEqual(ids(await planFor(without, backend)), []);
    const p = await planFor(without, backend, { prune: true });
    assert.deepEqual(ids(p), ["prune:r-solo-4_4_1:eu-west-1"]);
    assert.equal(byId(p, "prune:r-solo-4_4_1:eu-west-1").reason, "no longer in the manifest");
  });
});

describe("planner purity", () => {
  test("the same inputs give the same plan, and the clock only stamps it", async () => {
    const backend = await reconciled();
    const manifest = manifestFrom(edit(BASE_YAML, "packages: [data.table]", "packages: [data.table, gbm]"));
    const graph = computeBuildGraph(manifest, DIGESTS);
    const observed = await observe(graph, backend, { prune: true });
    const a = plan({ manifestFile: "layers.yaml", graph, observed, now: NOW, prune: true });
    const b = plan({ manifestFile: "layers.yaml", graph, observed, now: new Date("2030-01-01T00:00:00Z"), prune: true });
    assert.deepEqual({ ...a, generatedAt: "" }, { ...b, generatedAt: "" });
    assert.equal(a.generatedAt, "2026-11-25T12:00:00.000Z");
  });
});
