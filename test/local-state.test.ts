import { TEST_OWNER } from "./support/seed.ts";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { StateError } from "../pipeline/lib/errors.ts";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { versionDescription } from "../pipeline/lib/naming.ts";
import { LocalArtifactStore, LocalPublishedLayers, LocalStateLock } from "../pipeline/lib/adapters/local/state.ts";
import { observe } from "../pipeline/lib/plan/observe.ts";
import { BASE_YAML, DIGESTS, manifestFrom } from "./support/manifests.ts";
import { memoryBackend } from "./support/memory-backend.ts";
import { seedReconciled } from "./support/seed.ts";

const temps: string[] = [];
after(async () => Promise.all(temps.map((t) => rm(t, { recursive: true, force: true }))));
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "rll-state-"));
  temps.push(dir);
  return dir;
}

const KEY = "ab".repeat(32);
const request = (description: string) => ({
  region: "eu-west-1",
  layerName: "r-solo-4_4_1",
  description,
  content: { bucket: "b", objectKey: "k" },
  architecture: "x86_64" as const,
  compatibleRuntimes: ["provided.al2023"],
});

describe("local published layers", () => {
  test("versions only grow and are not reused after a delete, as in Lambda", async () => {
    const layers = new LocalPublishedLayers(await tempDir(), () => new Date("2026-01-01T00:00:00Z"));
    const v1 = await layers.publish(request("by hand"));
    const v2 = await layers.publish(request(versionDescription({ owner: TEST_OWNER, key: KEY, rVersion: "4.4.1", arch: "x86_64" })));
    assert.deepEqual([v1.version, v2.version], [1, 2]);
    assert.equal(v1.key, undefined);
    assert.equal(v2.key, KEY);
    assert.equal(v2.arn, "arn:aws:lambda:eu-west-1:000000000000:layer:r-solo-4_4_1:2");
    await layers.deleteVersion("eu-west-1", "r-solo-4_4_1", 2);
    const v3 = await layers.publish(request("again"));
    assert.equal(v3.version, 3);
    assert.deepEqual((await layers.listVersions("eu-west-1", "r-solo-4_4_1")).map((v) => v.version), [3, 1]);
    assert.deepEqual((await layers.listLatest("eu-west-1")).map((v) => [v.layerName, v.version]), [["r-solo-4_4_1", 3]]);
    assert.deepEqual(await layers.listLatest("us-east-1"), []);
  });

  test("grants belong to one version and are idempotent", async () => {
    const layers = new LocalPublishedLayers(await tempDir());
    await layers.publish(request("one"));
    await layers.publish(request("two"));
    await layers.addGrant("eu-west-1", "r-solo-4_4_1", 2, { kind: "account", account: "111111111111" });
    await layers.addGrant("eu-west-1", "r-solo-4_4_1", 2, { kind: "account", account: "111111111111" });
    assert.deepEqual(await layers.readGrants("eu-west-1", "r-solo-4_4_1", 2), [{ kind: "account", account: "111111111111" }]);
    assert.deepEqual(await layers.readGrants("eu-west-1", "r-solo-4_4_1", 1), []);
    await layers.removeGrant("eu-west-1", "r-solo-4_4_1", 2, { kind: "account", account: "111111111111" });
    assert.deepEqual(await layers.readGrants("eu-west-1", "r-solo-4_4_1", 2), []);
    await assert.rejects(layers.readGrants("eu-west-1", "r-solo-4_4_1", 9), StateError);
  });

  test("a corrupt file is a StateError naming the file, never an empty state", async () => {
    const root = await tempDir();
    await mkdir(join(root, "published", "eu-west-1"), { recursive: true });
    await writeFile(join(root, "published", "eu-west-1", "r-solo-4_4_1.json"), "{");
    await assert.rejects(new LocalPublishedLayers(root).listLatest("eu-west-1"), (e: unknown) => {
      assert.ok(e instanceof StateError);
      assert.match(e.message, /r-solo-4_4_1\.json is not valid JSON/);
      return true;
    });
  });

  test("an unreadable state folder is an error, not 'nothing published'", async () => {
    const root = await tempDir();
    await writeFile(join(root, "published"), "not a folder");
    await assert.rejects(new LocalPublishedLayers(root).listLatest("eu-west-1"), StateError);
  });
});

describe("local artifact store", () => {
  test("a zip's digest is the SHA-256 of its bytes as they are now (a replaced zip shows), absent when missing; discard forgets it", async () => {
    const root = await tempDir();
    const store = new LocalArtifactStore(root);
    const ref = { kind: "layer" as const, key: KEY };
    assert.equal(await store.zipDigest(ref), undefined);
    const zip = store.path(`artifacts/layers/${KEY}.zip`);
    await mkdir(join(zip, ".."), { recursive: true });
    await writeFile(zip, "zip bytes");
    assert.equal(await store.zipDigest(ref), createHash("sha256").update("zip bytes").digest("hex"));
    await writeFile(zip, "not a zip");
    assert.equal(await store.zipDigest(ref), createHash("sha256").update("not a zip").digest("hex"));
    await store.writeRecord(ref, { version: 1, key: KEY, inputs: { kind: "r", rVersion: "4.4.1", arch: "x86_64", image: "i", scripts: "s" } });
    assert.equal(await store.has(ref), true);
    await store.discard(ref);
    assert.equal(await store.has(ref), false, "no longer counts as built");
  });

  test("an artifact exists once the build wrote its zip and the record marked it complete", async () => {
    const root = await tempDir();
    const store = new LocalArtifactStore(root);
    assert.equal(store.storeUrl, pathToFileURL(root).href);
    const ref = { kind: "layer" as const, key: KEY };
    const record = { version: 1 as const, key: KEY, inputs: { kind: "r" as const, rVersion: "4.4.1", arch: "x86_64" as const, image: "i", scripts: "s" } };
    await assert.rejects(store.writeRecord(ref, record), /its zip is not in/);
    assert.equal(await store.has(ref), false);
    await mkdir(join(root, "artifacts", "layers"), { recursive: true });
    await writeFile(join(root, "artifacts", "layers", `${KEY}.zip`), "zip bytes");
    assert.equal(await store.has(ref), false, "a zip without its record is an unfinished build");
    await store.writeRecord(ref, record);
    assert.equal(await store.has(ref), true);
    assert.deepEqual(await store.readRecord(ref), record);
    await rm(join(root, "artifacts", "layers", `${KEY}.zip`));
    assert.equal(await store.has(ref), false, "a record without its zip is not an artifact");
  });

  test("outputs index round-trips", async () => {
    const store = new LocalArtifactStore(await tempDir());
    assert.equal(await store.readOutputs(), undefined);
    const index = { version: 1 as const, generatedAt: "2026-11-25T00:00:00.000Z", layers: [] };
    await store.writeOutputs(index);
    assert.deepEqual(await store.readOutputs(), index);
  });
});

describe("observe", () => {
  test("reads one listing per region, grants only for current versions, versions only when pruning", async () => {
    const backend = memoryBackend();
    const graph = computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS);
    await seedReconciled(backend, graph);
    backend.log.calls.length = 0;

    await observe(graph, backend, { prune: false });
    assert.equal(backend.log.count("layers.listLatest"), 2, "one per region, not per layer");
    assert.equal(backend.log.count("layers.readGrants"), 17);
    assert.equal(backend.log.count("layers.listVersions"), 0);
    assert.equal(backend.log.count("artifacts.has"), 0, "nothing to publish: no artifact is needed, none is asked about");
    assert.equal(backend.log.count("artifacts.readRecord"), 0, "records are read only to explain changed keys");

    backend.log.calls.length = 0;
    await observe(graph, backend, { prune: true });
    assert.equal(backend.log.count("layers.listVersions"), 17);

    // One changed layer: its new artifact is missing, so what it is built from is asked about too
    // (its R build and the runtime layer it stacks on); nothing else.
    backend.log.calls.length = 0;
    const changed = computeBuildGraph(manifestFrom(BASE_YAML.replace("packages: [data.table]", "packages: [data.table, gbm]")), DIGESTS);
    await observe(changed, backend, { prune: false });
    assert.equal(backend.log.count("artifacts.has"), 3);
    assert.equal(backend.log.count("artifacts.readRecord"), 1, "the old key's record, to explain the change");
  });

  test("on a fresh state the walk goes down from each layer to what it is built from, asking once per artifact", async () => {
    const backend = memoryBackend();
    const graph = computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS);
    const observed = await observe(graph, backend, { prune: false });
    assert.equal(backend.log.count("artifacts.has"), 4 + 9);
    assert.equal(observed.artifacts.size, 13);
    assert.ok([...observed.artifacts.values()].every((present) => present === false));
  });

  test("the local backend and the in-memory fake observe the same state", async () => {
    const graph = computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS);
    const root = await tempDir();
    const local = { description: { backend: "local" as const, location: root }, artifacts: new LocalArtifactStore(join(root, "s")), layers: new LocalPublishedLayers(join(root, "s")) };
    const memory = memoryBackend();
    await seedReconciled(local, graph);
    await seedReconciled(memory, graph);
    const a = await observe(graph, local, { prune: true });
    const b = await observe(graph, memory, { prune: true });
    const shape = (o: typeof a) => ({
      artifacts: [...o.artifacts].sort(),
      published: [...o.published]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([r, m]) => [
          r,
          [...m]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([n, s]) => [n, s.latest.version, s.latest.key, s.grants, s.versions?.map((v) => v.version)]),
        ]),
    });
    assert.deepEqual(shape(a), shape(b));
  });
});

describe("local state lock", () => {
  const info = (id: string) => ({ id, holder: `ci@${id}`, createdAt: "2026-11-25T00:00:00.000Z", expiresAt: "2026-11-25T01:00:00.000Z" });

  test("one holder at a time; release only by the holder", async () => {
    const root = await tempDir();
    const a = new LocalStateLock(root);
    const b = new LocalStateLock(root);
    assert.deepEqual(await a.acquire(info("one")), { acquired: true });
    assert.deepEqual(await b.acquire(info("two")), { acquired: false, holder: info("one") });
    await b.release("two");
    assert.deepEqual(await a.read(), info("one"), "a non-holder's release changes nothing");
    await a.release("one");
    assert.equal(await a.read(), undefined);
    assert.deepEqual(await b.acquire(info("two")), { acquired: true });
  });

  test("racing acquirers: exactly one wins", async () => {
    const root = await tempDir();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => new LocalStateLock(root).acquire(info(`r${i}`))));
    assert.equal(results.filter((r) => r.acquired).length, 1);
  });
});
