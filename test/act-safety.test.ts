/**
 * Issue 15's reproductions: what a reconcile acts on (exact pruning, only this pipeline's
 * versions, attributes that republish), and state faults that must end in one clear sentence.
 */
import { PipelineError } from "../pipeline/lib/errors.ts";
import { isOlderCommit } from "../pipeline/lib/cli/reconcile-command.ts";
import { planInMemory, reconcileInMemory } from "./support/reconcile.ts";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { LocalPublishedLayers } from "../pipeline/lib/adapters/local/state.ts";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { LAYER_RUNTIMES } from "../pipeline/lib/lambda.ts";
import { pipelineOwner, versionDescription } from "../pipeline/lib/naming.ts";
import { hasChanges } from "../pipeline/lib/render/common.ts";
import { runEntry } from "./support/cli.ts";
import { BASE_YAML, DIGESTS, edit, manifestFrom } from "./support/manifests.ts";
import { memoryBackend } from "./support/memory-backend.ts";

type Memory = ReturnType<typeof memoryBackend>;
const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "rll-safety-"));
  dirs.push(dir);
  return dir;
};
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const reconcile = (yaml: string, backend: Memory, options: { prune?: boolean } = {}) => reconcileInMemory(yaml, backend, options);
const planOf = planInMemory;

const SOLO_ELSEWHERE = edit(BASE_YAML, "    regions: [eu-west-1]\n", "    regions: [ap-south-1]\n");
const WITHOUT_SOLO = SOLO_ELSEWHERE.slice(0, SOLO_ELSEWHERE.indexOf("  - name: solo"));

describe("pruning acts on what was published, not only on what is declared", () => {
  test("a layer removed from the manifest, in a region nothing else targets, is pruned with --prune", async () => {
    const backend = memoryBackend();
    assert.equal((await reconcile(SOLO_ELSEWHERE, backend)).status, 0);
    assert.equal((await backend.layers.listLatest("ap-south-1")).length, 1);
    const p = await planOf(WITHOUT_SOLO, backend, true);
    const prunes = p.actions.filter((a) => a.kind === "prune").map((a) => a.id);
    assert.deepEqual(prunes, ["prune:r-solo-4_4_1:ap-south-1"]);
    assert.equal((await reconcile(WITHOUT_SOLO, backend, { prune: true })).status, 0);
    assert.deepEqual(await backend.layers.listLatest("ap-south-1"), []);
  });

  test("a region dropped from a layer is pruned there, and only there", async () => {
    const backend = memoryBackend();
    await reconcile(BASE_YAML, backend);
    const fewer = edit(BASE_YAML, "  regions: [us-east-1, eu-west-1]\n", "  regions: [us-east-1]\n");
    const p = await planOf(fewer, backend, true);
    const prunes = p.actions.filter((a) => a.kind === "prune").map((a) => (a.kind === "prune" ? a.region : ""));
    assert.ok(prunes.length > 0 && prunes.every((r) => r === "eu-west-1"), prunes.join(","));
  });

  test("never touches versions published by hand or by another copy of the pipeline, whatever their name", async () => {
    const backend = memoryBackend();
    await reconcile(SOLO_ELSEWHERE, backend);
    const graph = computeBuildGraph(manifestFrom(SOLO_ELSEWHERE), DIGESTS);
    const key = graph.layerBuilds.find((b) => b.layerName === "r-solo-4_4_1")?.key as string;
    const other = pipelineOwner("staging-r-layers-{region}");
    await backend.layers.publish({ region: "ap-south-1", layerName: "r-other-4_4_1", description: versionDescription({ key, rVersion: "4.4.1", arch: "x86_64", owner: other }), content: { bucket: "b", objectKey: "k" }, architecture: "x86_64", compatibleRuntimes: LAYER_RUNTIMES });
    await backend.layers.publish({ region: "ap-south-1", layerName: "r-byhand-4_4_1", description: "made by hand", content: { bucket: "b", objectKey: "k" }, architecture: "x86_64", compatibleRuntimes: LAYER_RUNTIMES });
    // A hand-made version on top of one of our layers: our older versions may go, the hand-made one stays.
    await backend.layers.publish({ region: "ap-south-1", layerName: "r-solo-4_4_1", description: "hot fix by hand", content: { bucket: "b", objectKey: "k" }, architecture: "x86_64", compatibleRuntimes: LAYER_RUNTIMES });
    assert.equal((await reconcile(WITHOUT_SOLO, backend, { prune: true })).status, 0);
    const left = (await backend.layers.listLatest("ap-south-1")).map((v) => v.layerName).sort();
    assert.deepEqual(left, ["r-byhand-4_4_1", "r-other-4_4_1", "r-solo-4_4_1"]);
    assert.deepEqual((await backend.layers.listVersions("ap-south-1", "r-solo-4_4_1")).map((v) => v.description), ["hot fix by hand"]);
  });
});

describe("publication attributes", () => {
  test("a license or description change republishes without a rebuild and says why", async () => {
    const backend = memoryBackend();
    await reconcile(BASE_YAML, backend);
    const licensed = edit(BASE_YAML, "    packages: [data.table]\n", "    packages: [data.table]\n    license: MIT\n    description: fast tables\n");
    const p = await planOf(licensed, backend, false);
    assert.equal(p.summary.build, 0);
    const publishes = p.actions.filter((a) => a.kind === "publish");
    assert.equal(publishes.length, 1);
    assert.match(publishes[0]?.reason ?? "", /description, license changed \(republished without a rebuild\)/);
    assert.equal((await reconcile(licensed, backend)).status, 0);
    const latest = await backend.layers.getLatest("eu-west-1", "r-solo-4_4_1");
    assert.equal(latest?.license, "MIT");
    assert.match(latest?.description ?? "", /; fast tables$/);
    assert.equal((await planOf(licensed, backend, false)).actions.length, 0);
  });
});

describe("local state under concurrent steps", () => {
  test("grant and prune of one layer at once: both land, 20 runs out of 20", async () => {
    const yaml = edit(edit(BASE_YAML, "  retain: 2\n", '  retain: 1\n  share: {accounts: ["111111111111", "222222222222"]}\n'), "    packages: [data.table]\n", "    packages: [data.table, Rcpp]\n");
    for (let run = 0; run < 20; run++) {
      const root = await tempDir();
      const layers = new LocalPublishedLayers(root);
      const description = (key: string) => versionDescription({ key, rVersion: "4.4.1", arch: "x86_64", owner: pipelineOwner("acme-r-layers-{region}") });
      await layers.publish({ region: "eu-west-1", layerName: "r-solo-4_4_1", description: description("1".repeat(64)), content: { bucket: "b", objectKey: "k" }, architecture: "x86_64", compatibleRuntimes: LAYER_RUNTIMES });
      const v = await layers.publish({ region: "eu-west-1", layerName: "r-solo-4_4_1", description: description("2".repeat(64)), content: { bucket: "b", objectKey: "k" }, architecture: "x86_64", compatibleRuntimes: LAYER_RUNTIMES });
      await Promise.all([
        layers.addGrant("eu-west-1", "r-solo-4_4_1", v.version, { kind: "account", account: "111111111111" }),
        layers.deleteVersion("eu-west-1", "r-solo-4_4_1", 1),
        layers.addGrant("eu-west-1", "r-solo-4_4_1", v.version, { kind: "account", account: "222222222222" }),
      ]);
      assert.deepEqual((await layers.listVersions("eu-west-1", "r-solo-4_4_1")).map((x) => x.version), [2], `run ${run}`);
      assert.equal((await layers.readGrants("eu-west-1", "r-solo-4_4_1", 2)).length, 2, `run ${run}`);
      const files = await readdir(join(root, "published", "eu-west-1"));
      assert.deepEqual(files, ["r-solo-4_4_1.json"], "no temporary files left");
    }
    assert.ok(yaml.length > 0);
  });
});

describe("state faults end in one clear sentence", () => {
  const MANIFEST = BASE_YAML;
  async function workdir(): Promise<string> {
    const dir = await tempDir();
    await writeFile(join(dir, "layers.yaml"), MANIFEST);
    return dir;
  }

  for (const [label, body] of [["null", "null"], ["0", "0"], ["{}", "{}"], ["an empty file", ""], ["not JSON", "{not json"]] as const) {
    test(`a lock holding ${label}: LOCKED naming an id that --force-unlock removes`, async () => {
      const dir = await workdir();
      await mkdir(join(dir, ".layers"), { recursive: true });
      await writeFile(join(dir, ".layers", "lock.json"), body);
      const locked = await runEntry("reconcile.ts", ["--manifest", join(dir, "layers.yaml")], { cwd: dir });
      assert.equal(locked.status, 1, locked.stderr);
      const id = /--force-unlock (unreadable-[0-9a-f]{12})/.exec(locked.stderr)?.[1];
      assert.ok(id, locked.stderr);
      assert.doesNotMatch(locked.stderr, /INTERNAL| {4}at /);
      const unlocked = await runEntry("reconcile.ts", ["--manifest", join(dir, "layers.yaml"), "--force-unlock", id], { cwd: dir });
      assert.equal(unlocked.status, 0, unlocked.stderr);
      assert.deepEqual(await readdir(join(dir, ".layers")), []);
    });
  }

  test("an empty --force-unlock (an unset variable) is a usage error, not a full reconcile", async () => {
    const dir = await workdir();
    const result = await runEntry("reconcile.ts", ["--manifest", join(dir, "layers.yaml"), "--force-unlock", ""], { cwd: dir });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /error\[USAGE\]: --force-unlock needs the lock's id/);
    assert.doesNotMatch(result.stdout, /Plan for/);
  });

  for (const [label, body] of [["null", "null"], ["no lastVersion", '{"versions": []}'], ["a string", '"x"']] as const) {
    test(`a published-versions file holding ${label} is STATE_UNREADABLE naming it, never "not published"`, async () => {
      const dir = await workdir();
      await mkdir(join(dir, ".layers", "published", "eu-west-1"), { recursive: true });
      const file = join(dir, ".layers", "published", "eu-west-1", "r-solo-4_4_1.json");
      await writeFile(file, body);
      const result = await runEntry("plan.ts", ["--manifest", join(dir, "layers.yaml")], { cwd: dir });
      assert.equal(result.status, 1);
      assert.match(result.stderr, /^error\[STATE_UNREADABLE\]: .*r-solo-4_4_1\.json is not a valid record/m);
      assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    });
  }

  test("--state naming a file is a typed error, not a stack trace", async () => {
    const dir = await workdir();
    await writeFile(join(dir, "state-file"), "x");
    const result = await runEntry("reconcile.ts", ["--manifest", join(dir, "layers.yaml"), "--state", join(dir, "state-file")], { cwd: dir });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /^error\[STATE_UNREADABLE\]: cannot .*state-file.*--state must name a folder/m);
    assert.doesNotMatch(result.stderr, /INTERNAL| {4}at /);
  });
});

describe("artifacts are verified before they are published", () => {
  test("a zip replaced since its build fails its publication, names the object, and is rebuilt next time", async () => {
    const backend = memoryBackend();
    assert.equal((await reconcile(BASE_YAML, backend)).status, 0);
    const graph = computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS);
    const solo = graph.layerBuilds.find((b) => b.layerName === "r-solo-4_4_1");
    assert.ok(solo && backend.artifacts.records.get(`layer:${solo.key}`)?.sha256, "the build's digest is recorded");
    backend.artifacts.corrupted.add(solo.key);
    const moved = edit(BASE_YAML, "    regions: [eu-west-1]\n", "    regions: [eu-west-1, us-east-1]\n");
    const result = await reconcile(moved, backend);
    assert.equal(result.status, 1);
    assert.match(result.out, new RegExp(`✖ publish r-solo-4_4_1 → us-east-1 failed.*artifacts/layers/${solo.key}\\.zip does not match the SHA-256 recorded`));
    assert.equal((await backend.layers.listLatest("us-east-1")).some((v) => v.layerName === "r-solo-4_4_1"), false, "nothing published from it");
    const next = await planOf(moved, backend, false);
    assert.ok(next.actions.some((a) => a.kind === "build-layer" && a.key === solo.key), "it no longer counts as built");
  });
});

describe("orphans without --prune", () => {
  test("a plan without --prune reports a removed layer as a drift (detailed exit code 2), and deletes nothing", async () => {
    const backend = memoryBackend();
    await reconcile(SOLO_ELSEWHERE, backend);
    const p = await planOf(WITHOUT_SOLO, backend, false);
    assert.equal(p.actions.length, 0);
    assert.deepEqual(p.orphaned, [{ layerName: "r-solo-4_4_1", region: "ap-south-1" }]);
    assert.ok(p.warnings.some((w) => /r-solo-4_4_1 in ap-south-1 is no longer in the manifest; a reconcile with --prune deletes it/.test(w)));
    assert.equal(hasChanges(p), true);
  });
});

describe("no stale applies", () => {
  test("a reconcile from a commit older than the last applied one refuses and does nothing; --allow-older-commit applies it", async () => {
    const backend = memoryBackend();
    assert.equal((await reconcileInMemory(BASE_YAML, backend, { commit: "b".repeat(40) })).status, 0);
    const changed = edit(BASE_YAML, "    packages: [data.table]\n", "    packages: [data.table, Rcpp]\n");
    const publishes = backend.log.count("layers.publish");
    const older = async (commit: string, last: string) => commit === "a".repeat(40) && last === "b".repeat(40);
    const refused = await reconcileInMemory(changed, backend, { commit: "a".repeat(40), olderCommit: older });
    assert.equal(refused.status, 1);
    assert.equal(refused.error?.code, "STALE_COMMIT");
    assert.match(refused.out, /older than the commit the state was last reconciled from \(bbbbbbbbbbbb\).*Nothing was done.*--allow-older-commit/s);
    assert.equal(refused.builder.requests.length, 0);
    assert.equal(backend.log.count("layers.publish"), publishes);
    const allowed = await reconcileInMemory(changed, backend, { commit: "a".repeat(40), olderCommit: "allow" });
    assert.equal(allowed.status, 0, allowed.out);
  });

  test("ancestry comes from git: an ancestor is older, a descendant is not, and unknown history says to fetch it", async () => {
    const repo = await tempDir();
    const git = (...args: string[]) => execFileSync("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", ...args], { encoding: "utf8" }).trim();
    git("init", "-q");
    git("commit", "-q", "--allow-empty", "-m", "one");
    const one = git("rev-parse", "HEAD");
    git("commit", "-q", "--allow-empty", "-m", "two");
    const two = git("rev-parse", "HEAD");
    assert.equal(await isOlderCommit(one, two, repo), true);
    assert.equal(await isOlderCommit(two, one, repo), false);
    assert.equal(await isOlderCommit(two, two, repo), false);
    await assert.rejects(isOlderCommit(two, "c".repeat(40), repo), (e: unknown) => e instanceof PipelineError && e.code === "STALE_COMMIT" && /fetch-depth: 0/.test(e.message));
  });
});
