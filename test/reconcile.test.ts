import assert from "node:assert/strict";
import { reconcileInMemory } from "./support/reconcile.ts";
import { describe, test } from "node:test";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import type { Opened } from "../pipeline/lib/cli/workspace.ts";
import { runReconcile } from "../pipeline/lib/cli/reconcile-command.ts";
import { PipelineError } from "../pipeline/lib/errors.ts";
import { execute } from "../pipeline/lib/execute/executor.ts";
import type { StepRunner } from "../pipeline/lib/execute/executor.ts";
import { createStepRunner } from "../pipeline/lib/execute/steps.ts";
import { plan } from "../pipeline/lib/plan/planner.ts";
import type { Action } from "../pipeline/lib/plan/types.ts";
import { observe } from "../pipeline/lib/plan/observe.ts";
import { BASE_YAML, DIGESTS, edit, manifestFrom } from "./support/manifests.ts";
import { publishVersion } from "./support/seed.ts";
import { memoryBackend } from "./support/memory-backend.ts";
import { FakeBuilder } from "./support/fake-builder.ts";
import { LocalStateLock } from "../pipeline/lib/adapters/local/state.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

type Memory = ReturnType<typeof memoryBackend>;

function opened(yaml: string, backend: Memory, builder: FakeBuilder, lockDir: string): Opened {
  const manifest = manifestFrom(yaml);
  return {
    manifestFile: "layers.yaml",
    manifest,
    graph: computeBuildGraph(manifest, DIGESTS),
    workspace: { backend, builder, lock: new LocalStateLock(lockDir), close: () => undefined },
  };
}

const reconcile = (yaml: string, backend: Memory, builder = new FakeBuilder(), options: { prune?: boolean } = {}) =>
  reconcileInMemory(yaml, backend, { ...options, builder });

/** Every (layer name, region) with its versions' keys: what "published state" means for convergence. */
async function publishedState(backend: Memory, yaml = BASE_YAML) {
  const graph = computeBuildGraph(manifestFrom(yaml), DIGESTS);
  const rows: string[] = [];
  for (const b of graph.layerBuilds) {
    for (const region of b.layer.regions) {
      const versions = await backend.layers.listVersions(region, b.layerName);
      rows.push(`${b.layerName}@${region}: ${versions.map((v) => `${v.version}=${v.key === b.key ? "current" : (v.key ?? "none").slice(0, 6)}`).join(",")}`);
    }
  }
  return rows;
}

describe("reconcile (core, with fakes of the ports)", () => {
  test("initial reconcile builds and publishes everything; the second does nothing", async () => {
    const backend = memoryBackend();
    const first = await reconcile(BASE_YAML, backend);
    assert.equal(first.status, 0, first.out);
    assert.equal(first.builder.requests.length, 13);
    assert.equal(backend.log.count("layers.publish"), 17);
    assert.match(first.out, /Reconcile: 30 succeeded, 0 failed, 0 skipped/);
    assert.match(first.out, /Published layers \(17\):/);
    assert.equal(backend.artifacts.outputs?.layers.length, 17);
    assert.equal(backend.artifacts.outputs?.commit, "0123456789abcdef0123");
    const runtime = backend.artifacts.outputs?.layers.find((l) => l.layerName === "r-runtime-4_4_1-arm64" && l.region === "eu-west-1");
    assert.deepEqual(runtime && [runtime.arn, runtime.unzippedBytes], ["arn:aws:lambda:eu-west-1:123456789012:layer:r-runtime-4_4_1-arm64:1", 3000000]);

    backend.log.calls.length = 0;
    const second = await reconcile(BASE_YAML, backend);
    assert.equal(second.status, 0);
    assert.equal(second.builder.requests.length, 0);
    const writes = backend.log.calls.filter((c) =>
      /^(layers\.(publish|addGrant|removeGrant|deleteVersion)|artifacts\.(writeRecord|copyToRegion))$/.test(c),
    );
    assert.deepEqual(writes, [], "a no-op reconcile makes no writes but the outputs index");
    assert.equal(backend.log.count("artifacts.readRecord"), 0, "sizes come from the last index, not from every build record");
    assert.match(second.out, /No changes/);
  });

  test("editing one layer's packages rebuilds and republishes exactly that layer", async () => {
    const backend = memoryBackend();
    await reconcile(BASE_YAML, backend);
    const yaml = edit(BASE_YAML, "packages: [data.table]", "packages: [data.table, gbm]");
    backend.log.calls.length = 0;
    const r = await reconcile(yaml, backend);
    assert.equal(r.status, 0);
    assert.deepEqual(r.builder.built(), ["build-layer:solo:4.4.1:x86_64"]);
    assert.equal(backend.log.count("layers.publish"), 1);
    assert.deepEqual((await backend.layers.listVersions("eu-west-1", "r-solo-4_4_1")).map((v) => v.version), [2, 1]);
  });

  test("adding a region copies and publishes without building", async () => {
    const backend = memoryBackend();
    await reconcile(BASE_YAML, backend);
    backend.log.calls.length = 0;
    const r = await reconcile(edit(BASE_YAML, "regions: [eu-west-1]", "regions: [eu-west-1, ap-south-1]"), backend);
    assert.equal(r.builder.requests.length, 0);
    assert.deepEqual(
      backend.log.calls.filter((c) => c === "artifacts.copyToRegion" || c === "layers.publish"),
      ["artifacts.copyToRegion", "layers.publish"],
    );
  });

  test("a failed build leaves independent layers published, nothing dependent, and exits non-zero with the log tail", async () => {
    const backend = memoryBackend();
    const builder = new FakeBuilder({ fail: (req) => req.actionId === "build-layer:runtime:4.3.3:arm64" });
    const r = await reconcile(BASE_YAML, backend, builder);
    assert.equal(r.status, 1);
    assert.equal(r.error?.code, "RECONCILE_FAILED");
    assert.match(r.error?.message ?? "", /1 action failed \(build-layer:runtime:4\.3\.3:arm64\); 5 skipped/);
    assert.match(r.out, /✖ build r-runtime-4_3_3-arm64 \(R 4\.3\.3, arm64\) failed in phase BUILD after \d+s: phase BUILD failed/);
    assert.match(r.out, /│ Error: package 'gbm' had non-zero exit status/);
    assert.match(r.out, /full log: https:\/\/console\.example\/build\/1/);
    assert.match(r.out, /- skipped build r-stats-4_3_3-arm64 \(R 4\.3\.3, arm64\): build-layer:runtime:4\.3\.3:arm64 failed/);
    // Independent: everything but runtime 4.3.3 arm64 and stats 4.3.3 arm64 (stacked on it) is published.
    const state = await publishedState(backend);
    const missing = state.filter((row) => row.endsWith(": "));
    assert.deepEqual(missing, [
      "r-runtime-4_3_3-arm64@us-east-1: ",
      "r-runtime-4_3_3-arm64@eu-west-1: ",
      "r-stats-4_3_3-arm64@us-east-1: ",
      "r-stats-4_3_3-arm64@eu-west-1: ",
    ]);
    // The next run builds only what failed and what depends on it.
    const again = await reconcile(BASE_YAML, backend);
    assert.equal(again.status, 0);
    assert.deepEqual(again.builder.built(), ["build-layer:runtime:4.3.3:arm64", "build-layer:stats:4.3.3:arm64"]);
  });

  test("builds run at most `parallelism` at a time", async () => {
    const backend = memoryBackend();
    const builder = new FakeBuilder({ delayMs: 20 });
    await reconcile(edit(BASE_YAML, "  region: us-east-1\n  images", "  region: us-east-1\n  parallelism: 2\n  images"), backend, builder);
    assert.equal(builder.maxInFlight, 2);
  });

  test("lowering retention prunes only with --prune", async () => {
    const backend = memoryBackend();
    await reconcile(BASE_YAML, backend);
    for (const pkgs of ["data.table, gbm", "data.table, gbm, Rcpp"]) {
      await reconcile(edit(BASE_YAML, "packages: [data.table]", `packages: [${pkgs}]`), backend);
    }
    const yaml = edit(BASE_YAML, "packages: [data.table]", "packages: [data.table, gbm, Rcpp]\n    retain: 1");
    await reconcile(yaml, backend);
    assert.equal((await backend.layers.listVersions("eu-west-1", "r-solo-4_4_1")).length, 3);
    const pruned = await reconcile(yaml, backend, new FakeBuilder(), { prune: true });
    assert.equal(pruned.status, 0);
    assert.deepEqual((await backend.layers.listVersions("eu-west-1", "r-solo-4_4_1")).map((v) => v.version), [3]);
  });

  test("a crash at any step boundary, then a re-run, converges with no duplicate versions", async () => {
    const reference = memoryBackend();
    await reconcile(BASE_YAML, reference);
    const expected = await publishedState(reference);

    const manifest = manifestFrom(BASE_YAML);
    const graph = computeBuildGraph(manifest, DIGESTS);
    const total = 30;
    for (let crashAfter = 0; crashAfter < total; crashAfter++) {
      const backend = memoryBackend();
      // Run the plan, stopping dead after `crashAfter` steps have completed (as a kill would).
      const observed = await observe(graph, backend, { prune: false });
      const p = plan({ manifestFile: "layers.yaml", graph, observed, now: new Date(0), prune: false });
      const steps = createStepRunner({ manifest, graph, backend, builder: new FakeBuilder() });
      let done = 0;
      const crashing: StepRunner = async (action: Action, log, signal) => {
        if (done >= crashAfter) throw new Error("killed");
        const note = await steps(action, log, signal);
        done++;
        return note;
      };
      await execute(p.actions, crashing, { buildConcurrency: 1, apiConcurrency: 1, onEvent: () => undefined });
      const rerun = await reconcile(BASE_YAML, backend);
      assert.equal(rerun.status, 0, `crash after ${crashAfter}: ${rerun.out}`);
      assert.deepEqual(await publishedState(backend), expected, `crash after ${crashAfter} steps`);
    }
  });

  test("a publish that already happened (crash before the state was read again) is not repeated", async () => {
    const backend = memoryBackend();
    const manifest = manifestFrom(BASE_YAML);
    const graph = computeBuildGraph(manifest, DIGESTS);
    const p = plan({ manifestFile: "layers.yaml", graph, observed: await observe(graph, backend, { prune: false }), now: new Date(0), prune: false });
    const steps = createStepRunner({ manifest, graph, backend, builder: new FakeBuilder() });
    // Execute the same plan twice, as a re-run with a stale plan would.
    await execute(p.actions, steps, { buildConcurrency: 2, apiConcurrency: 2, onEvent: () => undefined });
    await execute(p.actions, steps, { buildConcurrency: 2, apiConcurrency: 2, onEvent: () => undefined });
    assert.equal(backend.log.count("layers.publish"), 17);
  });
});

describe("one reconcile at a time", () => {
  test("two concurrent reconciles: exactly one acts, the other names the holder", async () => {
    const backend = memoryBackend();
    const lockDir = await mkdtemp(join(tmpdir(), "rll-lock-"));
    const slow = new FakeBuilder({ delayMs: 30 });
    const run = (builder: FakeBuilder, env: NodeJS.ProcessEnv) =>
      runReconcile(opened(BASE_YAML, backend, builder, lockDir), {
        prune: false,
        apiConcurrency: 4,
        lockTimeoutSeconds: 0,
        colour: false,
        commit: undefined,
        io: { stdout: () => undefined, now: () => new Date(), env, isTty: false },
      }).then(
        () => "ok",
        (e: unknown) => e,
      );
    const first = run(slow, { GITHUB_ACTIONS: "true", GITHUB_RUN_ID: "101", GITHUB_REPOSITORY: "acme/layers", GITHUB_ACTOR: "alice" });
    await new Promise((r) => setTimeout(r, 5));
    const other = new FakeBuilder();
    const second = await run(other, {});
    assert.equal(await first, "ok");
    assert.ok(second instanceof PipelineError);
    assert.equal(second.code, "LOCKED");
    assert.match(second.message, /another reconcile is running \(GitHub Actions run 101 \(acme\/layers, alice\) since .*\)/);
    assert.equal(other.requests.length, 0, "the second reconcile did nothing");
    assert.equal(backend.log.count("layers.publish"), 17);
    // The lock is released at the end, even by the run that held it.
    assert.equal(await new LocalStateLock(lockDir).read(), undefined);
    await rm(lockDir, { recursive: true, force: true });
  });

  test("the lock is released when the reconcile fails", async () => {
    const backend = memoryBackend();
    const lockDir = await mkdtemp(join(tmpdir(), "rll-lock-"));
    const failing = new FakeBuilder({ fail: () => true });
    await assert.rejects(
      runReconcile(opened(BASE_YAML, backend, failing, lockDir), {
        prune: false,
        apiConcurrency: 4,
        lockTimeoutSeconds: 0,
        colour: false,
        commit: undefined,
        io: { stdout: () => undefined, now: () => new Date(), env: {}, isTty: false },
      }),
      (e: unknown) => e instanceof PipelineError && e.code === "RECONCILE_FAILED",
    );
    assert.equal(await new LocalStateLock(lockDir).read(), undefined);
    await rm(lockDir, { recursive: true, force: true });
  });
});

describe("grants recorded by the last reconcile", () => {
  test("a plan trusts the recorded grants; --refresh-grants and every reconcile read the live policies", async () => {
    const shared = edit(BASE_YAML, "  retain: 2\n", `  retain: 2\n  share:\n    accounts: ["111111111111"]\n`);
    const backend = memoryBackend();
    await reconcile(shared, backend);
    assert.ok(backend.artifacts.outputs?.layers.every((l) => l.grants?.length === 1), "the index records each version's grants");

    const graph = computeBuildGraph(manifestFrom(shared), DIGESTS);
    backend.log.calls.length = 0;
    const trusted = plan({ manifestFile: "layers.yaml", graph, observed: await observe(graph, backend, { prune: false }), now: new Date(0), prune: false });
    assert.equal(backend.log.count("layers.readGrants"), 0, "no policy read for versions the index vouches for");
    assert.equal(trusted.actions.length, 0);

    // Someone removes a grant by hand: only a live read sees it; a reconcile restores it.
    await backend.layers.removeGrant("eu-west-1", "r-solo-4_4_1", 1, { kind: "account", account: "111111111111" });
    const stale = plan({ manifestFile: "layers.yaml", graph, observed: await observe(graph, backend, { prune: false }), now: new Date(0), prune: false });
    assert.equal(stale.actions.length, 0);
    backend.log.calls.length = 0;
    const live = plan({ manifestFile: "layers.yaml", graph, observed: await observe(graph, backend, { prune: false, refreshGrants: true }), now: new Date(0), prune: false });
    assert.equal(backend.log.count("layers.readGrants"), 17);
    assert.deepEqual(live.actions.map((a) => a.id), ["grant:solo:4.4.1:x86_64:eu-west-1"]);
    const repaired = await reconcile(shared, backend);
    assert.match(repaired.out, /✔ grant r-solo-4_4_1 in eu-west-1 v1/);
    assert.deepEqual(await backend.layers.readGrants("eu-west-1", "r-solo-4_4_1", 1), [{ kind: "account", account: "111111111111" }]);
  });

  test("a version the index does not vouch for (published since, or its grants failed) is read live", async () => {
    const shared = edit(BASE_YAML, "  retain: 2\n", `  retain: 2\n  share:\n    accounts: ["111111111111"]\n`);
    const backend = memoryBackend();
    await reconcile(shared, backend);
    await publishVersion(backend, "eu-west-1", "r-solo-4_4_1", { description: "by hand" });
    const graph = computeBuildGraph(manifestFrom(shared), DIGESTS);
    backend.log.calls.length = 0;
    await observe(graph, backend, { prune: false });
    assert.equal(backend.log.count("layers.readGrants"), 0, "the hand-published head carries no key: it is republished, not granted");

    // A failed grant step leaves that publication's grants unrecorded.
    const failing = memoryBackend();
    const addGrant = failing.layers.addGrant.bind(failing.layers);
    failing.layers.addGrant = async (region, name, version, grant) => {
      if (region === "us-east-1" && name === "r-runtime-4_4_1") throw new Error("AccessDenied");
      return addGrant(region, name, version, grant);
    };
    const r = await reconcile(shared, failing);
    assert.equal(r.status, 1);
    const entry = failing.artifacts.outputs?.layers.find((l) => l.region === "us-east-1" && l.layerName === "r-runtime-4_4_1");
    assert.ok(entry && entry.grants === undefined, "no grants recorded where the grant step failed");
    failing.log.calls.length = 0;
    await observe(graph, failing, { prune: false });
    assert.equal(failing.log.count("layers.readGrants"), 1, "only that version's policy is read");
  });
});
