import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { readSourceDigests } from "../pipeline/lib/keys/sources.ts";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { LocalArtifactStore, LocalPublishedLayers, LocalStateLock } from "../pipeline/lib/adapters/local/state.ts";
import { parseReconcileArgs } from "../pipeline/lib/cli/reconcile-command.ts";
import { runEntry } from "./support/cli.ts";
import { BASE_YAML } from "./support/manifests.ts";
import { seedReconciled } from "./support/seed.ts";

let work: string;
let manifest: string;
let state: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "rll-reconcile-cli-"));
  manifest = join(work, "layers.yaml");
  state = join(work, ".layers");
  await writeFile(manifest, BASE_YAML);
  const graph = computeBuildGraph(parseManifest(BASE_YAML, manifest), await readSourceDigests());
  await seedReconciled({ description: { backend: "local", location: state }, artifacts: new LocalArtifactStore(state), layers: new LocalPublishedLayers(state) }, graph);
});
after(async () => rm(work, { recursive: true, force: true }));

describe("tsx pipeline/reconcile.ts and outputs.ts (local backend)", () => {
  test("a reconcile of an up-to-date state does nothing, writes the outputs index and prints the ARNs", async () => {
    const r = await runEntry("reconcile.ts", ["--manifest", manifest]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /No changes: what is published matches the manifest\./);
    assert.match(r.stdout, /Published layers \(17\):\nlayer +R +arch +region +ARN/);
    assert.match(r.stdout, /arn:aws:lambda:eu-west-1:000000000000:layer:r-solo-4_4_1:1/);
    const index = JSON.parse(await readFile(join(state, "outputs", "index.json"), "utf8")) as { layers: unknown[]; commit?: string };
    assert.equal(index.layers.length, 17);
    assert.match(index.commit ?? "", /^[0-9a-f]{40}$/, "the commit the run came from");
  });

  test("outputs prints the index, filtered, as text, JSON and markdown", async () => {
    const text = await runEntry("outputs.ts", ["--manifest", manifest, "--layer", "solo"]);
    assert.equal(text.status, 0, text.stderr);
    assert.deepEqual(text.stdout.trim().split("\n").length, 2);
    assert.match(text.stdout, /^solo +4\.4\.1 +x86_64 +eu-west-1 +arn:aws:lambda:eu-west-1:000000000000:layer:r-solo-4_4_1:1/m);
    const json = await runEntry("outputs.ts", ["--manifest", manifest, "--region", "us-east-1", "--format", "json"]);
    const doc = JSON.parse(json.stdout) as { version: number; layers: { region: string }[] };
    assert.equal(doc.version, 1);
    assert.equal(doc.layers.length, 8);
    assert.ok(doc.layers.every((l) => l.region === "us-east-1"));
    const md = await runEntry("outputs.ts", ["--manifest", manifest, "--format", "markdown", "--layer", "solo"]);
    assert.match(md.stdout, /^### Published layers\n\n\| layer \| R \| arch \| region \| ARN \|/);
  });

  test("outputs before any reconcile says what to do", async () => {
    const r = await runEntry("outputs.ts", ["--manifest", manifest, "--state", join(work, "empty")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error\[STATE_UNREADABLE\]: no outputs index in .*empty: nothing has been reconciled there yet/);
  });

  test("a held lock stops a reconcile with the holder's name; --force-unlock ID removes it", async () => {
    const lock = new LocalStateLock(state);
    const info = { id: "5f0c", holder: "bob@laptop (pid 4242)", createdAt: "2026-11-25T10:00:00.000Z", expiresAt: "2026-11-25T12:00:00.000Z" };
    assert.deepEqual(await lock.acquire(info), { acquired: true });

    const blocked = await runEntry("reconcile.ts", ["--manifest", manifest]);
    assert.equal(blocked.status, 1);
    assert.match(blocked.stderr, /^error\[LOCKED\]: another reconcile holds the lock \(bob@laptop \(pid 4242\) since 2026-11-25T10:00:00\.000Z\) and its lock expired at 2026-11-25T12:00:00\.000Z: if that run is gone, remove the lock with: npm run reconcile -- --force-unlock 5f0c\n$/);

    const wrong = await runEntry("reconcile.ts", ["--manifest", manifest, "--force-unlock", "nope"]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /held by bob@laptop \(pid 4242\) with id 5f0c, not nope; nothing was removed/);
    assert.deepEqual(await lock.read(), info);

    const unlocked = await runEntry("reconcile.ts", ["--manifest", manifest, "--force-unlock", "5f0c"]);
    assert.equal(unlocked.status, 0, unlocked.stderr);
    assert.equal(unlocked.stdout, "Removed the lock 5f0c held by bob@laptop (pid 4242) since 2026-11-25T10:00:00.000Z.\n");
    assert.equal(await lock.read(), undefined);
  });

  test("bad flags are usage errors", async () => {
    const r = await runEntry("reconcile.ts", ["--lock-timeout", "soon"]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'error[USAGE]: --lock-timeout must be a whole number, not "soon"\n');
  });

  test("--build-env passes only where R's source comes from", () => {
    const options = parseReconcileArgs(["--build-env", "R_SOURCE_TARBALL=/srv/R-4.4.1.tar.gz", "--build-env", "R_SOURCE_SHA256=ab"], {}, false);
    assert.deepEqual(options.buildEnv, { R_SOURCE_TARBALL: "/srv/R-4.4.1.tar.gz", R_SOURCE_SHA256: "ab" });
    assert.throws(() => parseReconcileArgs(["--build-env", "PATH=/evil"], {}, false), /--build-env takes NAME=VALUE with NAME one of R_SOURCE_TARBALL, R_SOURCE_URL, R_SOURCE_SHA256, not "PATH=\/evil"/);
    assert.throws(() => parseReconcileArgs(["--build-env", "R_SOURCE_URL"], {}, false), /--build-env takes NAME=VALUE/);
  });
});
