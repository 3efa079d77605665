/**
 * One set of scenarios for the state ports, run against every implementation: the in-memory
 * fakes the core's tests use, the local folder backend, and the AWS adapters over the emulators.
 * A fake that drifts from the real thing fails here, not in a test that trusted it.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createAwsBackend } from "../pipeline/lib/adapters/aws/backend.ts";
import { LocalPublishedLayers, LocalStateLock } from "../pipeline/lib/adapters/local/state.ts";
import { LAYER_RUNTIMES } from "../pipeline/lib/lambda.ts";
import { versionDescription } from "../pipeline/lib/naming.ts";
import type { LockInfo, PublishedLayers, StateLock } from "../pipeline/lib/ports.ts";
import { startAwsEmulators } from "./support/aws/stack.ts";
import type { AwsEmulators } from "./support/aws/stack.ts";
import { TEST_RETRY, testManifest, useEmulatorCredentials } from "./support/aws/setup.ts";
import { MemoryPublishedLayers, MemoryStateLock } from "./support/memory-backend.ts";
import { TEST_OWNER } from "./support/seed.ts";

interface Implementation {
  readonly name: string;
  readonly layers: PublishedLayers;
  readonly lock: StateLock;
  /** Puts raw bytes where the lock lives (a killed run, a full disk, a hand edit). */
  plantLock(raw: string): Promise<void>;
  /** A layer bucket/object the region's Lambda accepts as content. */
  readonly content: (region: string) => { bucket: string; objectKey: string };
  close(): Promise<void>;
}

const REGION = "eu-west-1";
const KEYS = ["1", "2", "3"].map((c) => c.repeat(64));
const description = (key: string) => versionDescription({ key, rVersion: "4.4.1", arch: "x86_64", owner: TEST_OWNER });
const lockInfo = (id: string, expiresAt = "2999-01-01T00:00:00.000Z"): LockInfo => ({ id, holder: `holder ${id}`, createdAt: "2026-01-01T00:00:00.000Z", expiresAt });

const dirs: string[] = [];
async function memory(): Promise<Implementation> {
  const lock = new MemoryStateLock();
  return {
    name: "in-memory fakes",
    layers: new MemoryPublishedLayers(),
    lock,
    plantLock: async (raw) => void (lock.raw = raw),
    content: () => ({ bucket: "b", objectKey: "k.zip" }),
    close: async () => undefined,
  };
}
async function local(): Promise<Implementation> {
  const root = await mkdtemp(join(tmpdir(), "rll-conformance-"));
  dirs.push(root);
  return {
    name: "local folder",
    layers: new LocalPublishedLayers(root),
    lock: new LocalStateLock(root),
    plantLock: async (raw) => {
      await mkdir(root, { recursive: true });
      await writeFile(join(root, "lock.json"), raw);
    },
    content: () => ({ bucket: root, objectKey: "k.zip" }),
    close: async () => undefined,
  };
}
let emu: AwsEmulators | undefined;
async function aws(): Promise<Implementation> {
  emu = await startAwsEmulators({ regions: [REGION] });
  useEmulatorCredentials(emu.env);
  const backend = createAwsBackend({ manifest: testManifest({ regions: [REGION] }), toolRoot: ".", env: emu.env, retryTuning: TEST_RETRY });
  const bucket = `r-layers-${REGION}`;
  emu.s3.putObject(bucket, "k.zip", "zip");
  const e = emu;
  return {
    name: "AWS adapters over the emulators",
    layers: backend.backend.layers,
    lock: backend.lock,
    plantLock: async (raw) => void e.s3.putObject("r-layers-us-east-1", "locks/reconcile.json", raw),
    content: () => ({ bucket, objectKey: "k.zip" }),
    close: async () => {
      backend.close();
      await e.close();
    },
  };
}

after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

for (const make of [memory, local, aws]) {
  describe(`ports: ${make.name}`, () => {
    let impl: Implementation;
    before(async () => {
      impl = await make();
    });
    after(async () => impl.close());

    const publish = (layerName: string, key: string | undefined) =>
      impl.layers.publish({
        region: REGION,
        layerName,
        description: key ? description(key) : "made by hand",
        content: impl.content(REGION),
        architecture: "x86_64",
        license: "MIT",
        compatibleRuntimes: LAYER_RUNTIMES,
      });

    test(`${make.name}: publish, list the latest, list versions newest first, with key, owner, license and runtimes`, async () => {
      const v1 = await publish("r-conf-4_4_1", KEYS[0]);
      const v2 = await publish("r-conf-4_4_1", KEYS[1]);
      assert.deepEqual([v1.version, v2.version], [1, 2]);
      const latest = (await impl.layers.listLatest(REGION)).find((v) => v.layerName === "r-conf-4_4_1");
      assert.equal(latest?.version, 2);
      assert.equal(latest?.key, KEYS[1]);
      assert.equal(latest?.owner, TEST_OWNER);
      assert.equal(latest?.license, "MIT");
      assert.deepEqual(latest?.compatibleRuntimes, [...LAYER_RUNTIMES]);
      assert.match(latest?.arn ?? "", new RegExp(`^arn:aws:lambda:${REGION}:\\d{12}:layer:r-conf-4_4_1:2$`));
      assert.deepEqual((await impl.layers.listVersions(REGION, "r-conf-4_4_1")).map((v) => v.version), [2, 1]);
      assert.equal((await impl.layers.getLatest(REGION, "r-conf-4_4_1"))?.version, 2);
      assert.equal(await impl.layers.getLatest(REGION, "r-none-4_4_1"), undefined);
      const byHand = await publish("r-hand-4_4_1", undefined);
      assert.equal(byHand.key, undefined, "a version without our description carries no key");
    });

    test(`${make.name}: grants are added once, read back, and revoked; version numbers are never reused`, async () => {
      const account = { kind: "account", account: "111111111111" } as const;
      const org = { kind: "organization", organization: "o-abcdef1234" } as const;
      await impl.layers.addGrant(REGION, "r-conf-4_4_1", 2, account);
      await impl.layers.addGrant(REGION, "r-conf-4_4_1", 2, account);
      await impl.layers.addGrant(REGION, "r-conf-4_4_1", 2, org);
      const read = await impl.layers.readGrants(REGION, "r-conf-4_4_1", 2);
      assert.equal(read.length, 2);
      await impl.layers.removeGrant(REGION, "r-conf-4_4_1", 2, account);
      assert.deepEqual(await impl.layers.readGrants(REGION, "r-conf-4_4_1", 2), [org]);
      await impl.layers.deleteVersion(REGION, "r-conf-4_4_1", 2);
      await impl.layers.deleteVersion(REGION, "r-conf-4_4_1", 2);
      const v3 = await publish("r-conf-4_4_1", KEYS[2]);
      assert.equal(v3.version, 3, "a deleted version's number is not reused");
      assert.deepEqual((await impl.layers.listVersions(REGION, "r-conf-4_4_1")).map((v) => v.version), [3, 1]);
    });

    test(`${make.name}: a grant and a prune of one layer at once both land`, async () => {
      await publish("r-race-4_4_1", KEYS[0]);
      const v = await publish("r-race-4_4_1", KEYS[1]);
      await Promise.all([
        impl.layers.addGrant(REGION, "r-race-4_4_1", v.version, { kind: "account", account: "111111111111" }),
        impl.layers.deleteVersion(REGION, "r-race-4_4_1", 1),
        impl.layers.addGrant(REGION, "r-race-4_4_1", v.version, { kind: "account", account: "222222222222" }),
      ]);
      assert.deepEqual((await impl.layers.listVersions(REGION, "r-race-4_4_1")).map((x) => x.version), [v.version]);
      assert.equal((await impl.layers.readGrants(REGION, "r-race-4_4_1", v.version)).length, 2);
    });

    test(`${make.name}: the lock is held by one at a time, released only by its holder, never taken over when expired`, async () => {
      assert.equal(await impl.lock.read(), undefined);
      assert.deepEqual(await impl.lock.acquire(lockInfo("a")), { acquired: true });
      const second = await impl.lock.acquire(lockInfo("b"));
      assert.equal(second.acquired, false);
      assert.equal(!second.acquired && second.holder.id, "a");
      await impl.lock.release("b");
      assert.equal((await impl.lock.read())?.id, "a", "another id releases nothing");
      await impl.lock.release("a");
      assert.equal(await impl.lock.read(), undefined);
      assert.deepEqual(await impl.lock.acquire(lockInfo("old", "2000-01-01T00:00:00.000Z")), { acquired: true });
      const late = await impl.lock.acquire(lockInfo("c"));
      assert.equal(late.acquired, false, "an expired lock is not taken over");
      await impl.lock.release("old");
    });

    for (const raw of ["null", "0", "{}", "", "{not json"]) {
      test(`${make.name}: a lock holding ${JSON.stringify(raw)} still holds, and is released by the id it is reported with`, async () => {
        await impl.plantLock(raw);
        const holder = await impl.lock.read();
        assert.ok(holder?.unreadable, "reported as unreadable");
        assert.match(holder.id, /^unreadable-[0-9a-f]{12}$/);
        const attempt = await impl.lock.acquire(lockInfo("d"));
        assert.equal(attempt.acquired, false);
        await impl.lock.release(holder.id);
        assert.equal(await impl.lock.read(), undefined);
      });
    }
  });
}
