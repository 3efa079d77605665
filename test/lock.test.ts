/**
 * layers.lock through the command line, against CRAN-like package indexes served over HTTPS on
 * the loopback: resolution (transitive, stacked, base and Suggests left out), problems at the
 * layer's line, --check, --upgrade, and what the lock does to build keys and the plan.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalArtifactStore, LocalPublishedLayers } from "../pipeline/lib/adapters/local/state.ts";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { readSourceDigests } from "../pipeline/lib/keys/sources.ts";
import { lockStatus } from "../pipeline/lib/lock/current.ts";
import { readLockFile } from "../pipeline/lib/lock/file.ts";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { WORLD, writeSnapshot } from "./support/lock/index.ts";
import type { FakePackage } from "./support/lock/index.ts";
import { serveFolder, withCertificate } from "./support/lock/repo-server.ts";
import type { RepoServer } from "./support/lock/repo-server.ts";
import { runPipeline } from "./support/lock/cli.ts";
import { seedReconciled } from "./support/seed.ts";

let root: string;
let server: RepoServer;
let cert: Awaited<ReturnType<typeof withCertificate>>;
let env: NodeJS.ProcessEnv;

const manifestText = (repo: string, extra = "") => `version: 1
r:
  versions: ["4.4.1"]
defaults:
  architectures: [x86_64]
  regions: [us-east-1]
  repository: ${repo}
artifacts:
  bucket: lock-test-{region}
builder:
  project: lock-test
  region: us-east-1
layers:
  - name: runtime
    type: runtime
    packages: [jsonlite]
  - name: stats
    packages: [gbm, survival]
  - name: solo
    packages: [RcppArmadillo]
${extra}`;

async function workdir(yaml: string): Promise<{ dir: string; manifest: string; lock: string }> {
  const dir = await mkdtemp(join(root, "work-"));
  await writeFile(join(dir, "layers.yaml"), yaml);
  return { dir, manifest: join(dir, "layers.yaml"), lock: join(dir, "layers.lock") };
}

const lock = (manifest: string, ...args: string[]) => runPipeline("lock.ts", ["--manifest", manifest, ...args], { env });
const plan = (manifest: string, ...args: string[]) => runPipeline("plan.ts", ["--manifest", manifest, ...args], { env });

/** Each layer build's key, from the JSON plan against an empty state. */
async function keys(manifest: string, dir: string): Promise<Record<string, string>> {
  const r = await plan(manifest, "--format", "json", "--state", join(dir, "no-state"));
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { actions: { kind: string; layer?: string; key: string }[] };
  return Object.fromEntries(doc.actions.filter((a) => a.kind === "build-layer").map((a) => [a.layer as string, a.key]));
}

const bump = (packages: readonly FakePackage[], name: string, version: string) => packages.map((p) => (p.name === name ? { ...p, version } : p));

before(async () => {
  root = await mkdtemp(join(tmpdir(), "rll-lock-"));
  cert = await withCertificate();
  server = await serveFolder(join(root, "cran"), cert);
  env = { NODE_EXTRA_CA_CERTS: cert.certFile };
  await writeSnapshot(join(root, "cran"), "2024-11-01", WORLD);
  await writeSnapshot(join(root, "cran"), "2024-12-01", WORLD);
});
after(async () => {
  await server.close();
  await cert.dispose();
  await rm(root, { recursive: true, force: true });
});

describe("npm run lock", () => {
  test("locks every layer's packages with their transitive hard dependencies, minus base packages, Suggests and what stacked layers provide", async () => {
    const w = await workdir(manifestText(`${server.url}/2024-11-01`));
    const first = await lock(w.manifest);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^Wrote .*layers\.lock:\n/);
    const file = await readLockFile(w.lock);
    const locked = (layer: string) => Object.entries(file?.layers[layer]?.["4.4.1"]?.packages ?? {}).map(([n, p]) => `${n} ${p.version}`);
    // The runtime layer gets rjson (the runtime's own package) besides what it asks for.
    assert.deepEqual(locked("runtime"), ["jsonlite 1.8.9", "rjson 0.2.23"]);
    // gbm → survival → Matrix → lattice; gbm's Suggests (knitr) and base packages (splines, grid…) are not locked.
    assert.deepEqual(locked("stats"), ["Matrix 1.7-1", "gbm 2.1.8", "lattice 0.22-6", "survival 3.7-0"]);
    // LinkingTo counts (Rcpp is needed to compile RcppArmadillo).
    assert.deepEqual(locked("solo"), ["Rcpp 1.0.13", "RcppArmadillo 14.0.2-1"]);
    const entry = file?.layers.stats?.["4.4.1"];
    assert.equal(entry?.repository, `${server.url}/2024-11-01`);
    assert.deepEqual(entry?.stacksOn, ["runtime"]);
    assert.match(entry?.packages.gbm?.checksum ?? "", /^md5:[0-9a-f]{32}$/);
    assert.deepEqual(entry?.packages.gbm?.requires, ["lattice", "survival"]);

    const text = await readFile(w.lock, "utf8");
    assert.match(text, /^ {8}gbm: \{version: "2\.1\.8", checksum: "md5:[0-9a-f]{32}", requires: \["lattice", "survival"\]\}$/m);
    const again = await lock(w.manifest);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /layers\.lock is up to date \(3 entries\)/);
    assert.equal(await readFile(w.lock, "utf8"), text, "the same inputs give the same bytes");
    const check = await lock(w.manifest, "--check");
    assert.equal(check.status, 0, check.stderr);
    assert.match(check.stdout, /matches/);
  });

  test("a package stacked layers provide is not locked again", async () => {
    const w = await workdir(manifestText(`${server.url}/2024-11-01`, "  - name: top\n    packages: [gbm, data.table]\n    stacksOn: [stats]\n"));
    const r = await lock(w.manifest);
    assert.equal(r.status, 0, r.stderr);
    const file = await readLockFile(w.lock);
    assert.deepEqual(Object.keys(file?.layers.top?.["4.4.1"]?.packages ?? {}), ["data.table"]);
  });

  test("a package that needs a newer R is a manifest problem at the layer's line", async () => {
    const w = await workdir(manifestText(`${server.url}/2024-11-01`, "  - name: future\n    packages: [needsnew]\n"));
    const r = await lock(w.manifest);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /layers\.yaml:21:5: layers\[3\]: layer future, R 4\.4\.1: needsnew 1\.0 needs R >= 9\.9\.0; this layer builds for R 4\.4\.1\n/);
    assert.match(r.stderr, /error\[MANIFEST_INVALID\]: 1 problem in the manifest \(found resolving packages\); nothing was done/);
    await assert.rejects(readFile(w.lock), /ENOENT/, "nothing is written");
  });

  test("a package missing from the repository is a manifest problem at the layer's line, naming who needs it", async () => {
    await writeSnapshot(join(root, "cran"), "broken", WORLD.filter((p) => p.name !== "lattice"));
    const w = await workdir(manifestText(`${server.url}/broken`, "  - name: ghost\n    packages: [nosuchpkg]\n"));
    const r = await lock(w.manifest);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /layers\.yaml:17:5: layers\[1\]: layer stats, R 4\.4\.1: package lattice \(required by gbm\) is not in the repository https:\/\/127\.0\.0\.1:\d+\/broken/);
    assert.match(r.stderr, /layers\.yaml:21:5: layers\[3\]: layer ghost, R 4\.4\.1: package nosuchpkg is not in the repository/);
  });

  test("--check fails on a lock the manifest moved away from, saying what differs", async () => {
    const w = await workdir(manifestText(`${server.url}/2024-11-01`));
    assert.equal((await lock(w.manifest)).status, 0);
    await writeFile(w.manifest, manifestText(`${server.url}/2024-11-01`).replace("packages: [RcppArmadillo]", "packages: [RcppArmadillo, data.table]"));
    const stale = await lock(w.manifest, "--check");
    assert.equal(stale.status, 1);
    assert.match(stale.stderr, /^error\[LOCKFILE_STALE\]: .*layers\.lock does not match .*layers\.yaml:\n {2}solo \(R 4\.4\.1\): \+data\.table 1\.16\.2; requested \[RcppArmadillo\] → \[RcppArmadillo, data\.table\]\nrun npm run lock and commit layers\.lock/);
    const missing = await lock((await workdir(manifestText(`${server.url}/2024-11-01`))).manifest, "--check");
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /there is no .*layers\.lock: run npm run lock and commit it/);
  });

  test("a snapshot moved to a date with the same versions changes no key", async () => {
    const w = await workdir(manifestText(`${server.url}/2024-11-01`));
    const unpinned = await keys(w.manifest, w.dir);
    assert.equal((await lock(w.manifest)).status, 0);
    const before = await keys(w.manifest, w.dir);
    assert.notDeepEqual(before, unpinned, "locked packages enter the keys");
    await writeFile(w.manifest, manifestText(`${server.url}/2024-12-01`));
    const moved = await lock(w.manifest);
    assert.equal(moved.status, 0, moved.stderr);
    assert.match(moved.stdout, /stats \(R 4\.4\.1\): repository https:\/\/127\.0\.0\.1:\d+\/2024-11-01 → https:\/\/127\.0\.0\.1:\d+\/2024-12-01/);
    assert.deepEqual(await keys(w.manifest, w.dir), before);
  });

  test("--upgrade PACKAGE moves one package: exactly the layers holding it get new keys, and the plan says which version changed", async () => {
    await writeSnapshot(join(root, "cran"), "latest", WORLD);
    const w = await workdir(manifestText(`${server.url}/latest`, "  - name: top\n    packages: [data.table]\n    stacksOn: [stats]\n"));
    assert.equal((await lock(w.manifest)).status, 0);
    const before = await keys(w.manifest, w.dir);
    // What a reconcile of this lock leaves behind: everything built and published.
    const state = join(w.dir, ".layers");
    const manifest = parseManifest(await readFile(w.manifest, "utf8"), w.manifest);
    const graph = computeBuildGraph(manifest, await readSourceDigests(), lockStatus(manifest, await readLockFile(w.lock)));
    await seedReconciled({ description: { backend: "local", location: state }, artifacts: new LocalArtifactStore(state), layers: new LocalPublishedLayers(state) }, graph);

    await writeSnapshot(join(root, "cran"), "latest", [...bump(WORLD, "gbm", "2.1.9"), { name: "RcppArmadillo", version: "14.2.0-1", imports: "Rcpp" }]);
    const kept = await lock(w.manifest);
    assert.match(kept.stdout, /is up to date/, "without --upgrade, nothing moves");
    const up = await lock(w.manifest, "--upgrade", "gbm");
    assert.equal(up.status, 0, up.stderr);
    assert.equal(up.stdout.split("\n").slice(1).join("\n"), "  stats (R 4.4.1): gbm 2.1.8 → 2.1.9\n");
    const after = await keys(w.manifest, w.dir);
    assert.notEqual(after.stats, before.stats);
    assert.notEqual(after.top, before.top, "a layer stacked on it is rebuilt too");
    assert.equal(after.runtime, before.runtime);
    assert.equal(after.solo, before.solo, "RcppArmadillo was not asked to move");

    const text = await plan(w.manifest);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /~ build +r-stats-4_4_1 \(R 4\.4\.1, x86_64\) +inputs changed \(packages changed: gbm 2\.1\.8 → 2\.1\.9\)/);
    assert.match(text.stdout, /Plan: 2 to build, 2 to publish, 0 to grant, 0 to prune, 2 unchanged\./);
    const json = JSON.parse((await plan(w.manifest, "--format", "json")).stdout) as { actions: { id: string; packageChanges?: unknown }[] };
    assert.deepEqual(
      json.actions.filter((a) => a.id.startsWith("build-layer:")).map((a) => [a.id, a.packageChanges]),
      [
        ["build-layer:stats:4.4.1:x86_64", [{ name: "gbm", from: "2.1.8", to: "2.1.9" }]],
        ["build-layer:top:4.4.1:x86_64", undefined],
      ],
    );
    const md = await plan(w.manifest, "--format", "markdown");
    assert.match(md.stdout, /\*\*Package changes\*\*\n\n- `stats`\n {2}- R 4\.4\.1 x86_64: gbm 2\.1\.8 → 2\.1\.9\n/);

    const all = await lock(w.manifest, "--upgrade");
    assert.match(all.stdout, /solo \(R 4\.4\.1\): RcppArmadillo 14\.0\.2-1 → 14\.2\.0-1/);
    const unknown = await lock(w.manifest, "--upgrade", "nosuch");
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /locks no package named nosuch/);
  });
});

describe("plan and reconcile without a lock", () => {
  test("the plan warns once that versions are not pinned (on stderr for JSON, whose document is unchanged)", async () => {
    const w = await workdir(manifestText(`${server.url}/2024-11-01`));
    const text = await plan(w.manifest);
    assert.equal(text.status, 0, text.stderr);
    assert.equal(text.stdout.match(/versions are not pinned/g)?.length, 1);
    assert.match(text.stdout, /! versions are not pinned: there is no .*layers\.lock; run npm run lock/);
    const json = await plan(w.manifest, "--format", "json");
    const warnings = (JSON.parse(json.stdout) as { warnings: string[] }).warnings;
    assert.deepEqual(warnings.filter((w) => /pinned: there is no/.test(w)), [], "the lock note is not part of the JSON plan");
    assert.match(json.stderr, /^warning: versions are not pinned/);
    assert.equal((await lock(w.manifest)).status, 0);
    assert.doesNotMatch((await plan(w.manifest)).stdout, /not pinned/);
  });

  test("reconcile refuses to publish a layer the lock does not pin, before doing anything", async () => {
    const w = await workdir(manifestText(`${server.url}/2024-11-01`));
    const r = await runPipeline("reconcile.ts", ["--manifest", w.manifest], { env });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error\[LOCKFILE_STALE\]: refusing to publish runtime \(R 4\.4\.1\), stats \(R 4\.4\.1\), solo \(R 4\.4\.1\): there is no .*layers\.lock.*pass --unlocked/);
    assert.doesNotMatch(r.stdout, /Reconcile:/, "nothing was carried out");
  });
});
