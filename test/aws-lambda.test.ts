/**
 * PublishedLayers over Lambda, through the real SDK against the Lambda emulator: listings are
 * paginated per region (calls independent of how many layers), versions only grow, grants
 * round-trip, and throttling is ridden out by the SDK's adaptive retries.
 */
import { TEST_OWNER } from "./support/seed.ts";
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { LambdaPublishedLayers } from "../pipeline/lib/adapters/aws/lambda-layers.ts";
import { LAYER_RUNTIMES } from "../pipeline/lib/lambda.ts";

const LAYER_RUNTIME = LAYER_RUNTIMES[0] as string;
import { PipelineError } from "../pipeline/lib/errors.ts";
import { versionDescription } from "../pipeline/lib/naming.ts";
import type { Grant, PublishRequest } from "../pipeline/lib/ports.ts";
import { LambdaEmulator } from "./support/aws/lambda.ts";
import { S3Emulator } from "./support/aws/s3.ts";
import { guardNetwork } from "./support/aws/guard.ts";
import { TEST_RETRY, fakeKey, useEmulatorCredentials } from "./support/aws/setup.ts";

const guard = guardNetwork();
const s3 = new S3Emulator();
const lambda = new LambdaEmulator({ s3 });
let layers: LambdaPublishedLayers;

function request(layerName: string, key: string, region = "us-east-1", fields: Partial<PublishRequest> = {}): PublishRequest {
  return {
    region,
    layerName,
    description: versionDescription({ owner: TEST_OWNER, key, rVersion: "4.4.1", arch: "x86_64", commit: "0123456789abcdef" }),
    content: { bucket: `r-layers-${region}`, objectKey: "artifacts/layers/x.zip" },
    architecture: "x86_64",
    license: "GPL-2.0-or-later",
    compatibleRuntimes: [LAYER_RUNTIME],
    ...fields,
  };
}

before(async () => {
  await s3.start();
  await lambda.start();
  useEmulatorCredentials({ AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_EC2_METADATA_DISABLED: "true", AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" });
  layers = new LambdaPublishedLayers({ env: { AWS_ENDPOINT_URL_LAMBDA: lambda.url }, retryTuning: TEST_RETRY });
  for (const region of ["us-east-1", "eu-west-1"]) {
    s3.createBucket(`r-layers-${region}`, region);
    s3.putObject(`r-layers-${region}`, "artifacts/layers/x.zip", "zip");
  }
});

after(async () => {
  layers.destroy();
  await lambda.close();
  await s3.close();
  guard.restore();
  assert.deepEqual(guard.refused, []);
});

beforeEach(() => {
  lambda.calls.reset();
  lambda.faults.reset();
  lambda.allowAll();
});

describe("Lambda published layers", () => {
  test("listLatest: one paginated sequence per region, calls independent of the layer count", async () => {
    const key = fakeKey("ll");
    for (let i = 0; i < 120; i++) {
      const name = `r-pkg${String(i).padStart(3, "0")}-4_4_1`;
      lambda.seed("ap-northeast-1", name, { description: "other version" });
      lambda.seed("ap-northeast-1", name, { description: versionDescription({ owner: TEST_OWNER, key, rVersion: "4.4.1", arch: "x86_64" }) });
    }
    lambda.seed("ap-northeast-1", "someone-elses-layer", { description: "not ours" });
    const heads = await layers.listLatest("ap-northeast-1");
    assert.equal(heads.length, 121);
    assert.equal(lambda.calls.count("ListLayers"), 3, "121 layers at 50 a page");
    assert.equal(lambda.calls.total(), 3, "no call per layer");
    const first = heads.find((h) => h.layerName === "r-pkg000-4_4_1")!;
    assert.equal(first.version, 2, "the latest version, with its description");
    assert.equal(first.key, key);
    assert.equal(first.arn, "arn:aws:lambda:ap-northeast-1:123456789012:layer:r-pkg000-4_4_1:2");
    assert.deepEqual(first.architectures, ["x86_64"]);
    assert.equal(heads.find((h) => h.layerName === "someone-elses-layer")!.key, undefined);

    lambda.calls.reset();
    assert.deepEqual(await layers.listLatest("sa-east-1"), []);
    assert.equal(lambda.calls.count("ListLayers"), 1);
  });

  test("publish: numbers grow and are never reused after a delete", async () => {
    const a = await layers.publish(request("r-runtime-4_4_1", fakeKey("p1")));
    const b = await layers.publish(request("r-runtime-4_4_1", fakeKey("p2")));
    assert.deepEqual([a.version, b.version], [1, 2]);
    assert.equal(b.key, fakeKey("p2"));
    assert.equal(b.arn, "arn:aws:lambda:us-east-1:123456789012:layer:r-runtime-4_4_1:2");
    await layers.deleteVersion("us-east-1", "r-runtime-4_4_1", 2);
    await layers.deleteVersion("us-east-1", "r-runtime-4_4_1", 2); // deleting again is not an error
    const c = await layers.publish(request("r-runtime-4_4_1", fakeKey("p3")));
    assert.equal(c.version, 3);
    const stored = lambda.versions("us-east-1", "r-runtime-4_4_1").at(-1)!;
    assert.deepEqual(stored.runtimes, [LAYER_RUNTIME]);
    assert.deepEqual(stored.architectures, ["x86_64"]);
    assert.equal(stored.license, "GPL-2.0-or-later");
    assert.deepEqual(stored.content, { bucket: "r-layers-us-east-1", key: "artifacts/layers/x.zip" });
  });

  test("listVersions (paginated, newest first) and getLatest (one call)", async () => {
    for (let i = 0; i < 55; i++) await layers.publish(request("r-many-4_4_1", fakeKey(`v${i}`), "eu-west-1"));
    await layers.deleteVersion("eu-west-1", "r-many-4_4_1", 55);
    lambda.calls.reset();
    const versions = await layers.listVersions("eu-west-1", "r-many-4_4_1");
    assert.equal(versions.length, 54);
    assert.deepEqual(versions.slice(0, 3).map((v) => v.version), [54, 53, 52]);
    assert.equal(lambda.calls.count("ListLayerVersions"), 2);
    lambda.calls.reset();
    const latest = await layers.getLatest("eu-west-1", "r-many-4_4_1");
    assert.equal(latest?.version, 54);
    assert.equal(latest?.key, fakeKey("v53"));
    assert.equal(lambda.calls.count("ListLayerVersions"), 1);
    assert.equal(await layers.getLatest("eu-west-1", "r-never-published"), undefined);
    assert.deepEqual(await layers.listVersions("eu-west-1", "r-never-published"), []);
  });

  test("grants round-trip: accounts, an organization, public; adding twice is fine", async () => {
    const v = await layers.publish(request("r-shared-4_4_1", fakeKey("g")));
    assert.deepEqual(await layers.readGrants("us-east-1", "r-shared-4_4_1", v.version), [], "no policy yet");
    const grants: Grant[] = [
      { kind: "account", account: "111122223333" },
      { kind: "account", account: "444455556666" },
      { kind: "organization", organization: "o-a1b2c3d4e5" },
      { kind: "public" },
    ];
    for (const g of grants) await layers.addGrant("us-east-1", "r-shared-4_4_1", v.version, g);
    for (const g of grants) await layers.addGrant("us-east-1", "r-shared-4_4_1", v.version, g);
    assert.deepEqual(await layers.readGrants("us-east-1", "r-shared-4_4_1", v.version), grants);
    const statements = lambda.versions("us-east-1", "r-shared-4_4_1")[0]!.statements;
    assert.deepEqual(statements.map((s) => s.Sid), ["account-111122223333", "account-444455556666", "org-o-a1b2c3d4e5", "public"]);
    assert.ok(statements.every((s) => s.Action === "lambda:GetLayerVersion"));

    await layers.removeGrant("us-east-1", "r-shared-4_4_1", v.version, { kind: "public" });
    await layers.removeGrant("us-east-1", "r-shared-4_4_1", v.version, { kind: "public" });
    assert.deepEqual(await layers.readGrants("us-east-1", "r-shared-4_4_1", v.version), grants.slice(0, 3));

    const next = await layers.publish(request("r-shared-4_4_1", fakeKey("g2")));
    assert.deepEqual(await layers.readGrants("us-east-1", "r-shared-4_4_1", next.version), [], "grants belong to one version");
  });

  test("publish is not repeated when its response is lost: one version per key", async () => {
    const name = "r-lost-4_4_1";
    lambda.faults.lostResponses = 1;
    const v = await layers.publish(request(name, fakeKey("lost")));
    assert.equal(v.version, 1);
    assert.equal(v.key, fakeKey("lost"));
    assert.equal(lambda.versions("us-east-1", name).length, 1, "the version made by the lost request is the result");
    assert.equal(lambda.calls.count("PublishLayerVersion"), 1);
    assert.equal(lambda.calls.count("ListLayerVersions"), 1, "checked before sending again");

    lambda.calls.reset();
    lambda.faults.failNext = 1;
    const w = await layers.publish(request(name, fakeKey("lost2")));
    assert.equal(w.version, 2, "a 5xx before anything happened is sent again");
    assert.equal(lambda.versions("us-east-1", name).length, 2);
    assert.equal(lambda.calls.count("PublishLayerVersion"), 2);
  });

  test("publishing from a bucket in another region fails with Lambda's S3 error", async () => {
    const error = await layers
      .publish(request("r-x-4_4_1", fakeKey("x"), "eu-west-1", { content: { bucket: "r-layers-us-east-1", objectKey: "artifacts/layers/x.zip" } }))
      .then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof PipelineError);
    assert.match(error.message, /PublishLayerVersion on layer r-x-4_4_1 in eu-west-1 .*PermanentRedirect.*The bucket is in this region: us-east-1/);
    const missing = await layers
      .publish(request("r-x-4_4_1", fakeKey("x"), "us-east-1", { content: { bucket: "r-layers-us-east-1", objectKey: "artifacts/layers/missing.zip" } }))
      .then(() => undefined, (e: unknown) => e);
    assert.match((missing as Error).message, /NoSuchKey/);
    assert.deepEqual(lambda.versions("eu-west-1", "r-x-4_4_1"), []);
  });

  test("access denied names the action", async () => {
    lambda.denyAccess("ListLayers");
    await assert.rejects(layers.listLatest("us-east-1"), (e: unknown) => {
      assert.ok(e instanceof PipelineError);
      assert.equal(e.code, "AWS_ACCESS_DENIED");
      assert.match(e.message, /^Access denied to Lambda ListLayers in us-east-1 .*lambda:ListLayers/);
      return true;
    });
  });

  test("with 30% of calls throttled every operation still succeeds", async () => {
    lambda.faults.set({ throttleRate: 0.3 });
    const name = "r-throttled-4_4_1";
    const versions = [];
    for (let i = 0; i < 6; i++) versions.push((await layers.publish(request(name, fakeKey(`t${i}`)))).version);
    assert.deepEqual(versions, [1, 2, 3, 4, 5, 6]);
    await Promise.all([1, 2, 3].map((v) => layers.addGrant("us-east-1", name, v, { kind: "account", account: "111122223333" })));
    const reads = await Promise.all([
      layers.listLatest("us-east-1"),
      layers.listVersions("us-east-1", name),
      layers.getLatest("us-east-1", name),
      layers.readGrants("us-east-1", name, 1),
    ]);
    assert.equal(reads[1].length, 6);
    assert.equal(reads[2]?.version, 6);
    assert.deepEqual(reads[3], [{ kind: "account", account: "111122223333" }]);
    await layers.removeGrant("us-east-1", name, 1, { kind: "account", account: "111122223333" });
    await layers.deleteVersion("us-east-1", name, 1);
    assert.ok(lambda.faults.injected > 0, "some calls were throttled");
  });
});
