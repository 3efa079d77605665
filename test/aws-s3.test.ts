/**
 * The S3 adapters (artifact store, lock) through the real SDK against the S3 emulator:
 * existence is "not found" or an error, never a silent false; copies go to the region's
 * bucket; the lock admits exactly one holder.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { S3ArtifactStore } from "../pipeline/lib/adapters/aws/s3-artifacts.ts";
import { S3Clients } from "../pipeline/lib/adapters/aws/s3-objects.ts";
import { S3StateLock } from "../pipeline/lib/adapters/aws/s3-lock.ts";
import { LOCK_KEY } from "../pipeline/lib/naming.ts";
import { AwsError } from "../pipeline/lib/adapters/aws/errors.ts";
import { PipelineError } from "../pipeline/lib/errors.ts";
import { artifactObjectKey, artifactRecordKey } from "../pipeline/lib/naming.ts";
import type { BuildRecord } from "../pipeline/lib/keys/inputs.ts";
import type { LockInfo } from "../pipeline/lib/ports.ts";
import { S3Emulator } from "./support/aws/s3.ts";
import { guardNetwork } from "./support/aws/guard.ts";
import { TEST_RETRY, fakeKey, layerInputs, useEmulatorCredentials } from "./support/aws/setup.ts";

const guard = guardNetwork();
const s3 = new S3Emulator();
let clients: S3Clients;
let store: S3ArtifactStore;
const BUCKET = "r-layers-us-east-1";

function record(key: string): BuildRecord {
  return { version: 1, key, inputs: layerInputs("tidy") };
}

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<PipelineError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PipelineError, `expected a PipelineError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return error;
  }
  assert.fail(`expected a rejection matching ${pattern}`);
}

before(async () => {
  await s3.start();
  useEmulatorCredentials({ AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_EC2_METADATA_DISABLED: "true", AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" });
  clients = new S3Clients({ env: { AWS_ENDPOINT_URL_S3: s3.url }, retryTuning: TEST_RETRY });
  store = new S3ArtifactStore({ clients, bucketTemplate: "r-layers-{region}", region: "us-east-1" });
});

after(async () => {
  clients.destroy();
  await s3.close();
  guard.restore();
  assert.deepEqual(guard.refused, [], "nothing may leave 127.0.0.1");
});

beforeEach(() => {
  for (const name of ["r-layers-us-east-1", "r-layers-eu-west-1", "r-layers-ap-south-1"]) s3.deleteBucket(name);
  s3.createBucket("r-layers-us-east-1", "us-east-1");
  s3.createBucket("r-layers-eu-west-1", "eu-west-1");
  s3.allowAll();
  s3.faults.reset();
  s3.rejectedKeys.clear();
  s3.calls.reset();
});

describe("S3 artifact store", () => {
  test("storeUrl is the builder region's bucket", () => {
    assert.equal(store.storeUrl, `s3://${BUCKET}`);
  });

  test("has: false only when the record or the zip is not there", async () => {
    const key = fakeKey("a1");
    assert.equal(await store.has({ kind: "layer", key }), false);
    s3.putObject(BUCKET, artifactRecordKey("layer", key), "{}");
    assert.equal(await store.has({ kind: "layer", key }), false, "a record without its zip is incomplete");
    s3.putObject(BUCKET, artifactObjectKey("layer", key), "zip");
    assert.equal(await store.has({ kind: "layer", key }), true);
    assert.equal(await store.has({ kind: "r", key }), false, "kinds have separate keys");
  });

  test("has: AccessDenied throws a typed error naming the action, never returns false", async () => {
    const key = fakeKey("a2");
    s3.denyAccess(BUCKET, "artifacts/");
    const error = await rejects(store.has({ kind: "layer", key }), /Access denied to S3 HeadObject on s3:\/\/r-layers-us-east-1\/artifacts\/layers\/.*s3:GetObject/);
    assert.equal(error.code, "AWS_ACCESS_DENIED");
    assert.ok(error instanceof AwsError);
    assert.equal(error.status, 403);
    assert.equal(error.awsCode, "AccessDenied", "the HEAD's bare 403 is explained by a one-byte GET");
  });

  test("has: a bucket in another region (301) throws, naming the bucket's region", async () => {
    s3.deleteBucket(BUCKET);
    s3.createBucket(BUCKET, "eu-central-1");
    await rejects(store.has({ kind: "layer", key: fakeKey("a3") }), /bucket is in eu-central-1/);
  });

  test("has: a missing bucket throws saying infra/ creates it", async () => {
    s3.deleteBucket(BUCKET);
    // A bucket is checked once per process (per S3Clients); new clients see it gone.
    const freshClients = new S3Clients({ env: { AWS_ENDPOINT_URL_S3: s3.url }, retryTuning: TEST_RETRY });
    const fresh = new S3ArtifactStore({ clients: freshClients, bucketTemplate: "r-layers-{region}", region: "us-east-1" });
    await rejects(fresh.has({ kind: "layer", key: fakeKey("a4") }), /The S3 bucket r-layers-us-east-1 does not exist in us-east-1: create it with the infra\/ stack/);
    freshClients.destroy();
  });

  test("has: 5xx after all retries throws; a few 5xx are retried away", async () => {
    const key = fakeKey("a5");
    s3.putObject(BUCKET, artifactRecordKey("layer", key), "{}");
    s3.putObject(BUCKET, artifactObjectKey("layer", key), "zip");
    s3.faults.set({ errorRate: 1 });
    const error = await rejects(store.has({ kind: "layer", key }), /failed with HTTP 500 after 8 attempts/);
    assert.equal((error as AwsError).status, 500);
    s3.faults.set({ errorRate: 0.3, random: mulberry(7) });
    for (let i = 0; i < 10; i++) assert.equal(await store.has({ kind: "layer", key }), true);
    s3.faults.set({ random: Math.random });
  });

  test("records: write needs the zip, read returns what was written, absent is undefined", async () => {
    const key = fakeKey("b1");
    assert.equal(await store.readRecord({ kind: "layer", key }), undefined);
    await rejects(store.writeRecord({ kind: "layer", key }, record(key)), /its zip is not at s3:\/\/r-layers-us-east-1\/artifacts\/layers\//);
    s3.putObject(BUCKET, artifactObjectKey("layer", key), "zip");
    await store.writeRecord({ kind: "layer", key }, record(key));
    assert.deepEqual(await store.readRecord({ kind: "layer", key }), record(key));
    assert.equal(s3.getObject(BUCKET, artifactRecordKey("layer", key))?.contentType, "application/json");
    assert.equal(await store.has({ kind: "layer", key }), true);
  });

  test("records: a corrupt record is an error, not a missing one", async () => {
    const key = fakeKey("b2");
    s3.putObject(BUCKET, artifactRecordKey("layer", key), "{not json");
    await rejects(store.readRecord({ kind: "layer", key }), /is not valid JSON/);
  });

  test("copyToRegion copies into the region's bucket once, and not at all for the builder region", async () => {
    const key = fakeKey("c1");
    s3.putObject(BUCKET, artifactObjectKey("layer", key), "zip-bytes");
    assert.deepEqual(await store.copyToRegion({ kind: "layer", key }, "us-east-1"), { bucket: BUCKET, objectKey: artifactObjectKey("layer", key) });
    assert.equal(s3.calls.count("CopyObject"), 0);
    const [first, second] = await Promise.all([
      store.copyToRegion({ kind: "layer", key }, "eu-west-1"),
      store.copyToRegion({ kind: "layer", key }, "eu-west-1"),
    ]);
    assert.deepEqual(first, { bucket: "r-layers-eu-west-1", objectKey: artifactObjectKey("layer", key) });
    assert.deepEqual(second, first);
    assert.equal(s3.getObject("r-layers-eu-west-1", artifactObjectKey("layer", key))?.body.toString(), "zip-bytes");
    assert.equal(s3.calls.count("CopyObject"), 1);
  });

  test("copyToRegion skips the copy when the region's bucket has the zip (a re-run)", async () => {
    const key = fakeKey("c2");
    s3.putObject(BUCKET, artifactObjectKey("layer", key), "zip");
    s3.putObject("r-layers-eu-west-1", artifactObjectKey("layer", key), "zip");
    const fresh = new S3ArtifactStore({ clients, bucketTemplate: "r-layers-{region}", region: "us-east-1" });
    await fresh.copyToRegion({ kind: "layer", key }, "eu-west-1");
    assert.equal(s3.calls.count("CopyObject"), 0);
    assert.equal(s3.calls.count("HeadObject"), 1);
  });

  test("copyToRegion to a region without a bucket says so", async () => {
    const key = fakeKey("c3");
    s3.putObject(BUCKET, artifactObjectKey("layer", key), "zip");
    await rejects(store.copyToRegion({ kind: "layer", key }, "ap-south-1"), /The S3 bucket r-layers-ap-south-1 does not exist in ap-south-1/);
  });

  test("outputs round-trip at outputs/index.json", async () => {
    assert.equal(await store.readOutputs(), undefined);
    const index = { version: 1 as const, generatedAt: "2026-01-01T00:00:00.000Z", layers: [] };
    await store.writeOutputs(index);
    assert.deepEqual(await store.readOutputs(), index);
    assert.ok(s3.getObject(BUCKET, "outputs/index.json"));
  });

  test("expired credentials: one sentence saying what to do", async () => {
    s3.rejectedKeys.set("test", "expired");
    const error = await rejects(store.has({ kind: "layer", key: fakeKey("d1") }), /^No valid AWS credentials \(S3 answered ExpiredToken\): run `aws sso login`/);
    assert.equal(error.code, "AWS_CREDENTIALS");
    assert.doesNotMatch(error.message, /\n/);
  });
});

function lockInfo(id: string): LockInfo {
  return { id, holder: `runner ${id}`, createdAt: "2026-01-01T00:00:00.000Z", expiresAt: "2026-01-01T01:00:00.000Z", commit: "abc123" };
}

describe("S3 state lock", () => {
  test("acquire, read, release; a stranger's release leaves it", async () => {
    const lock = new S3StateLock(clients.bucket(BUCKET, "us-east-1"));
    assert.deepEqual(await lock.acquire(lockInfo("one")), { acquired: true });
    assert.deepEqual(await lock.read(), lockInfo("one"));
    await lock.release("someone-else");
    assert.deepEqual(await lock.read(), lockInfo("one"));
    await lock.release("one");
    assert.equal(await lock.read(), undefined);
    assert.equal(s3.getObject(BUCKET, LOCK_KEY), undefined);
  });

  test("two concurrent acquirers: exactly one wins, the other sees the holder", async () => {
    const a = new S3StateLock(new S3Clients({ env: { AWS_ENDPOINT_URL_S3: s3.url } }).bucket(BUCKET, "us-east-1"));
    const b = new S3StateLock(new S3Clients({ env: { AWS_ENDPOINT_URL_S3: s3.url } }).bucket(BUCKET, "us-east-1"));
    const [ra, rb] = await Promise.all([a.acquire(lockInfo("a")), b.acquire(lockInfo("b"))]);
    const winners = [ra, rb].filter((r) => r.acquired);
    assert.equal(winners.length, 1);
    const loser = ra.acquired ? rb : ra;
    assert.equal(loser.acquired, false);
    const winnerId = ra.acquired ? "a" : "b";
    if (!loser.acquired) assert.deepEqual(loser.holder, lockInfo(winnerId));
    assert.equal(s3.calls.count("PutObject"), 2);
    await (ra.acquired ? a : b).release(winnerId);
  });

  test("many concurrent acquirers: one holder, the rest report it", async () => {
    const locks = Array.from({ length: 8 }, () => new S3StateLock(clients.bucket(BUCKET, "us-east-1")));
    const results = await Promise.all(locks.map((l, i) => l.acquire(lockInfo(`n${i}`))));
    const winners = results.flatMap((r, i) => (r.acquired ? [`n${i}`] : []));
    assert.equal(winners.length, 1);
    for (const r of results) if (!r.acquired) assert.equal(r.holder.id, winners[0]);
    await locks[0]!.forceRelease(winners[0]!);
  });

  test("409 ConditionalRequestConflict is retried", async () => {
    const lock = new S3StateLock(clients.bucket(BUCKET, "us-east-1"), { sleep: async () => {} });
    s3.conflictNext(2);
    assert.deepEqual(await lock.acquire(lockInfo("retry")), { acquired: true });
    assert.equal(s3.calls.count("PutObject"), 3);
    await lock.release("retry");
  });

  test("a lost response to our own lock write still counts as acquired", async () => {
    const lock = new S3StateLock(clients.bucket(BUCKET, "us-east-1"));
    s3.faults.lostResponses = 1; // written, then answered 500: the SDK's retry meets our own lock
    assert.deepEqual(await lock.acquire(lockInfo("lost")), { acquired: true });
    assert.equal(s3.calls.count("PutObject"), 2);
    await lock.release("lost");
  });

  test("forceRelease deletes only the named lock", async () => {
    const lock = new S3StateLock(clients.bucket(BUCKET, "us-east-1"));
    assert.deepEqual(await lock.forceRelease("ghost"), { outcome: "absent" });
    await lock.acquire(lockInfo("stuck"));
    assert.deepEqual(await lock.forceRelease("other"), { outcome: "held-by-other", holder: lockInfo("stuck") });
    assert.deepEqual(await lock.forceRelease("stuck"), { outcome: "released", lock: lockInfo("stuck") });
    assert.equal(await lock.read(), undefined);
  });

  test("release uses If-Match: a lock replaced after our read is not deleted", async () => {
    const lock = new S3StateLock(clients.bucket(BUCKET, "us-east-1"));
    await lock.acquire(lockInfo("mine"));
    const original = s3.getObject(BUCKET, LOCK_KEY)!;
    // Someone force-unlocks and re-locks between our GET and our DELETE: the DELETE's If-Match fails.
    s3.putObject(BUCKET, LOCK_KEY, `${JSON.stringify(lockInfo("theirs"))}\n`, "application/json");
    const bucket = clients.bucket(BUCKET, "us-east-1");
    assert.equal(await bucket.delete(LOCK_KEY, original.etag), "changed");
    await lock.release("mine");
    assert.equal((await lock.read())?.id, "theirs");
    await lock.release("theirs");
  });

  test("a denied lock write fails loudly", async () => {
    s3.denyAccess(BUCKET, "locks/");
    const lock = new S3StateLock(clients.bucket(BUCKET, "us-east-1"));
    await rejects(lock.acquire(lockInfo("x")), /Access denied to S3 PutObject on s3:\/\/r-layers-us-east-1\/locks\/reconcile.json/);
  });
});

/** A small seeded generator, so fault patterns repeat from run to run. */
function mulberry(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
