/**
 * The AWS backend as a whole, through the real SDK against all four emulators: client
 * configuration (endpoints, retries), routing each call to its region, the cost of reading a
 * large state, a full build-and-publish flow under 30% throttling, and credentials problems as
 * one sentence.
 */
import { TEST_OWNER } from "./support/seed.ts";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { createAwsBackend } from "../pipeline/lib/adapters/aws/backend.ts";
import { DEFAULT_MAX_ATTEMPTS, RETRY_TUNING_VARIABLE, clientConfig, endpointOverride, retryTuningFromEnv } from "../pipeline/lib/adapters/aws/clients.ts";
import { PipelineError } from "../pipeline/lib/errors.ts";
import { artifactObjectKey, publishedLayerName, versionDescription } from "../pipeline/lib/naming.ts";
import { REPO } from "./support/cli.ts";
import { guardNetwork } from "./support/aws/guard.ts";
import { FAST_POLL, TEST_RETRY, fakeKey, layerInputs, testManifest, useEmulatorCredentials } from "./support/aws/setup.ts";
import { startAwsEmulators } from "./support/aws/stack.ts";
import type { AwsEmulators } from "./support/aws/stack.ts";

const REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1"];
const guard = guardNetwork();
let aws: AwsEmulators;

before(async () => {
  aws = await startAwsEmulators({ regions: REGIONS });
  useEmulatorCredentials(aws.env);
});

after(async () => {
  await aws.close();
  guard.restore();
  assert.deepEqual(guard.refused, [], "no connection or lookup beyond 127.0.0.1");
});

beforeEach(() => {
  aws.resetCalls();
  aws.setFaults({ throttleRate: 0, errorRate: 0, latencyMs: 0 });
  for (const e of aws.all) e.rejectedKeys.clear();
});

describe("client configuration", () => {
  test("endpoint overrides: the service's variable, then AWS_ENDPOINT_URL; none means AWS", () => {
    assert.equal(endpointOverride("lambda", { AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:1", AWS_ENDPOINT_URL: "http://127.0.0.1:2" }), "http://127.0.0.1:1");
    assert.equal(endpointOverride("logs", { AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: "http://127.0.0.1:3" }), "http://127.0.0.1:3");
    assert.equal(endpointOverride("codebuild", { AWS_ENDPOINT_URL: "http://127.0.0.1:2" }), "http://127.0.0.1:2");
    assert.equal(endpointOverride("s3", {}), undefined);
    assert.equal(endpointOverride("s3", { AWS_ENDPOINT_URL_S3: "http://127.0.0.1:4", AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" }), undefined);
  });

  test("adaptive retries with eight attempts; path-style S3 only with an override", () => {
    const plain = clientConfig("s3", "eu-west-1", { env: {} });
    assert.equal(plain.region, "eu-west-1");
    assert.equal(plain.retryMode, "adaptive");
    assert.equal(plain.maxAttempts, DEFAULT_MAX_ATTEMPTS);
    assert.equal(plain.endpoint, undefined);
    assert.equal(plain.forcePathStyle, undefined);
    assert.equal(plain.credentials, undefined, "the SDK's default chain");
    const local = clientConfig("s3", "eu-west-1", { env: { AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9", AWS_MAX_ATTEMPTS: "3" } });
    assert.equal(local.forcePathStyle, true);
    assert.equal(local.maxAttempts, 3);
    assert.equal(clientConfig("lambda", "eu-west-1", { env: { AWS_ENDPOINT_URL: "http://127.0.0.1:9" } }).forcePathStyle, undefined);
    assert.equal(clientConfig("lambda", "eu-west-1", { env: {}, maxAttempts: 5 }).maxAttempts, 5);
  });

  test("retry tuning for emulators comes from the environment, and a bad value is an error", () => {
    assert.deepEqual(retryTuningFromEnv({ [RETRY_TUNING_VARIABLE]: "delayScale=0.02,minFillRate=200" }), { delayScale: 0.02, minFillRate: 200 });
    assert.equal(retryTuningFromEnv({}), undefined);
    assert.throws(() => retryTuningFromEnv({ [RETRY_TUNING_VARIABLE]: "fast" }), /R_LAMBDA_LAYERS_RETRY_TUNING=fast is not valid/);
    assert.ok(clientConfig("lambda", "us-east-1", { env: { [RETRY_TUNING_VARIABLE]: "delayScale=0.5,minFillRate=2" } }).retryStrategy);
    assert.equal(clientConfig("lambda", "us-east-1", { env: {} }).retryStrategy, undefined, "the SDK's own adaptive strategy");
  });

  test("every endpoint the tests use is on 127.0.0.1", () => {
    for (const [name, value] of Object.entries(aws.env).filter(([n]) => n.startsWith("AWS_ENDPOINT_URL"))) {
      assert.equal(new URL(value).hostname, "127.0.0.1", name);
    }
  });
});

describe("AWS backend", () => {
  test("describes itself by account and regions, and routes each call to its region", async () => {
    const { backend, close } = createAwsBackend({ manifest: testManifest({ regions: ["eu-west-1", "sa-east-1"] }), toolRoot: REPO, env: aws.env, retryTuning: TEST_RETRY });
    assert.deepEqual(backend.description, { backend: "aws", location: "123456789012 eu-west-1,sa-east-1,us-east-1" });
    aws.s3.createBucket("r-layers-sa-east-1", "sa-east-1");
    const key = fakeKey("route");
    aws.s3.putObject("r-layers-us-east-1", artifactObjectKey("layer", key), "zip");
    const location = await backend.artifacts.copyToRegion({ kind: "layer", key }, "sa-east-1");
    const published = await backend.layers.publish({
      region: "sa-east-1",
      layerName: "r-route-4_4_1",
      description: versionDescription({ owner: TEST_OWNER, key, rVersion: "4.4.1", arch: "x86_64" }),
      content: location,
      architecture: "x86_64",
      compatibleRuntimes: ["provided.al2023"],
    });
    assert.equal(published.arn, "arn:aws:lambda:sa-east-1:123456789012:layer:r-route-4_4_1:1");
    assert.deepEqual(location, { bucket: "r-layers-sa-east-1", objectKey: artifactObjectKey("layer", key) });
    assert.deepEqual(aws.lambda.layerNames("sa-east-1"), ["r-route-4_4_1"]);
    assert.deepEqual(aws.lambda.layerNames("us-east-1"), []);
    close();
  });

  test("reading 50 layers x 4 R x 2 arch in 6 regions with 50 ms latency: list calls per region, not per layer", async () => {
    const key = fakeKey("bench");
    for (const region of REGIONS) {
      for (let l = 0; l < 50; l++) {
        for (const r of ["4.2.3", "4.3.3", "4.4.1", "4.5.0"]) {
          for (const arch of ["x86_64", "arm64"] as const) {
            aws.lambda.seed(region, publishedLayerName(`pkg${l}`, r, arch), { description: versionDescription({ owner: TEST_OWNER, key, rVersion: r, arch }), architectures: [arch] });
          }
        }
      }
    }
    const { backend, close } = createAwsBackend({ manifest: testManifest(), toolRoot: REPO, env: aws.env, retryTuning: TEST_RETRY });
    aws.resetCalls();
    aws.setFaults({ latencyMs: 50 });
    const started = performance.now();
    const heads = await Promise.all(REGIONS.map((region) => backend.layers.listLatest(region)));
    const elapsed = performance.now() - started;
    close();
    assert.deepEqual(heads.map((h) => h.length), REGIONS.map(() => 400));
    assert.deepEqual(aws.calls(), { "lambda.ListLayers": 6 * 8 }, "8 pages of 50 per region, nothing else");
    console.log(`# ListLayers for 2,400 layers in 6 regions at 50 ms latency: ${aws.lambda.calls.count("ListLayers")} calls, ${Math.round(elapsed)} ms`);
    // About 1 s on an idle 2-core machine (8 sequential pages of 50 ms per region); the bound
    // leaves room for a busy CI machine. The call count above is the property that matters.
    assert.ok(elapsed < 5000, `${Math.round(elapsed)} ms`);
  });

  test("with 30% of calls to every service throttled, a build-and-publish flow completes", async () => {
    const { backend, lock, builder, close } = createAwsBackend({
      manifest: testManifest({ regions: ["eu-central-1"] }),
      toolRoot: REPO,
      env: aws.env,
      retryTuning: TEST_RETRY,
      poll: FAST_POLL,
    });
    aws.setFaults({ throttleRate: 0.3 });
    const key = fakeKey("throttled");
    const lockInfo = { id: "run-1", holder: "test", createdAt: "2026-01-01T00:00:00Z", expiresAt: "2026-01-01T01:00:00Z" };
    assert.deepEqual(await lock.acquire(lockInfo), { acquired: true });
    assert.equal(await backend.artifacts.has({ kind: "layer", key }), false);
    const outcome = await builder.run(
      { actionId: "build-layer:throttled:4.4.1:x86_64", key, inputs: layerInputs("throttled"), image: "img", timeoutMinutes: 30 },
      () => {},
    );
    assert.equal(outcome.status, "succeeded");
    await backend.artifacts.writeRecord({ kind: "layer", key }, { version: 1, key, inputs: layerInputs("throttled") });
    assert.equal(await backend.artifacts.has({ kind: "layer", key }), true);
    const versions = [];
    for (const region of ["us-east-1", "eu-central-1"]) {
      const content = await backend.artifacts.copyToRegion({ kind: "layer", key }, region);
      const name = publishedLayerName("throttled", "4.4.1", "x86_64");
      assert.equal(await backend.layers.getLatest(region, name), undefined);
      const v = await backend.layers.publish({ region, layerName: name, description: versionDescription({ owner: TEST_OWNER, key, rVersion: "4.4.1", arch: "x86_64" }), content, architecture: "x86_64", compatibleRuntimes: ["provided.al2023"] });
      await backend.layers.addGrant(region, name, v.version, { kind: "organization", organization: "o-abcdef1234" });
      assert.deepEqual(await backend.layers.readGrants(region, name, v.version), [{ kind: "organization", organization: "o-abcdef1234" }]);
      versions.push(v.version);
    }
    assert.deepEqual(versions, [1, 1], "exactly one version per region: throttled calls never ran twice");
    await backend.artifacts.writeOutputs({ version: 1, generatedAt: "2026-01-01T00:00:00Z", layers: [] });
    assert.ok(await backend.artifacts.readOutputs());
    await lock.release("run-1");
    assert.equal(await lock.read(), undefined);
    close();
    const injected = aws.all.reduce((n, e) => n + e.faults.injected, 0);
    assert.ok(injected > 5, `${injected} throttled responses`);
  });

  test("the production retry settings (no tuning) also ride out throttling", async () => {
    const { [RETRY_TUNING_VARIABLE]: _tuning, ...productionEnv } = aws.env;
    const { backend, close } = createAwsBackend({ manifest: testManifest(), toolRoot: REPO, env: productionEnv });
    // Each draw below 0.3 throttles one request: here the first one.
    aws.lambda.faults.set({ throttleRate: 0.3, random: sequence([0.1, 0.9, 0.9, 0.9, 0.9]) });
    const started = performance.now();
    for (const region of ["us-east-1", "eu-west-1"]) await backend.layers.getLatest(region, "r-none-4_4_1");
    close();
    aws.lambda.faults.set({ random: Math.random });
    assert.equal(aws.lambda.calls.count("ListLayerVersions"), 3, "1 throttled, 2 answered");
    console.log(`# 2 calls, 1 throttled response, the SDK's default adaptive retry: ${Math.round(performance.now() - started)} ms`);
  });
});

describe("unreachable endpoints", () => {
  test("a closed port is retried, then named with what to check", async () => {
    const { backend, close } = createAwsBackend({
      manifest: testManifest(),
      toolRoot: REPO,
      env: { ...aws.env, AWS_ENDPOINT_URL_LAMBDA: "http://127.0.0.1:9" },
      retryTuning: TEST_RETRY,
      maxAttempts: 3,
    });
    await assert.rejects(backend.layers.listLatest("eu-west-1"), (e: unknown) => {
      assert.ok(e instanceof PipelineError);
      assert.match(e.message, /^Cannot reach Lambda for ListLayers in eu-west-1 \(ECONNREFUSED.*\): check the network, or AWS_ENDPOINT_URL\* if set\.$/);
      return true;
    });
    close();
  });
});

describe("credentials", () => {
  test("rejected or expired keys: one sentence per service, no stack trace", async () => {
    const { backend, builder, close } = createAwsBackend({ manifest: testManifest(), toolRoot: REPO, env: aws.env, retryTuning: TEST_RETRY, poll: FAST_POLL });
    aws.lambda.rejectedKeys.set("test", "invalid");
    aws.s3.rejectedKeys.set("test", "expired");
    aws.codebuild.rejectedKeys.set("test", "expired");
    const messages: string[] = [];
    for (const run of [
      () => backend.layers.listLatest("us-east-1"),
      () => backend.artifacts.readOutputs(),
      () => builder.run({ actionId: "a", key: fakeKey("cred"), inputs: layerInputs("cred"), image: "img", timeoutMinutes: 30 }, () => {}),
    ]) {
      const error = await run().then(() => undefined, (e: unknown) => e);
      assert.ok(error instanceof PipelineError, String(error));
      assert.equal(error.code, "AWS_CREDENTIALS");
      messages.push(error.message);
    }
    close();
    assert.match(messages[0]!, /^No valid AWS credentials \(Lambda answered UnrecognizedClientException\): run `aws sso login` or set AWS_PROFILE .*id-token: write.*\(see README\)\.$/);
    assert.match(messages[1]!, /^No valid AWS credentials \(S3 answered ExpiredToken\)/);
    assert.match(messages[2]!, /^No valid AWS credentials \(S3 answered ExpiredToken\)/, "the source upload comes first");
    for (const m of messages) assert.doesNotMatch(m, /\n|\bat \//);
  });

  test("no credentials anywhere: the default chain's failure becomes the sentence (separate process)", async () => {
    const home = await mkdtemp(join(tmpdir(), "aws-nocreds-"));
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (value !== undefined && !name.startsWith("AWS_")) env[name] = value;
    }
    Object.assign(env, {
      HOME: home,
      AWS_ENDPOINT_URL_LAMBDA: aws.lambda.url,
      AWS_ENDPOINT_URL_S3: aws.s3.url,
      AWS_ACCESS_KEY_ID: "",
      AWS_SECRET_ACCESS_KEY: "",
      AWS_CONFIG_FILE: join(home, "config"),
      AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
    });
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", join(REPO, "test/support/aws/credentials-probe.ts")], { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (err += d.toString()));
      child.on("error", reject);
      child.on("close", (status) => (status === 0 ? resolve(out) : reject(new Error(`probe exited ${status}: ${err}`))));
    });
    await rm(home, { recursive: true, force: true });
    const lines = output.trim().split("\n");
    assert.equal(lines.length, 2, output);
    for (const line of lines) {
      assert.match(line, /^(lambda|s3): No valid AWS credentials \(none found by the SDK's default chain\): run `aws sso login` or set AWS_PROFILE/);
    }
    assert.equal(aws.lambda.calls.total() + aws.s3.calls.total(), 0, "nothing was sent unsigned");
  });
});

/** A fault pattern that repeats exactly: each call takes the next value. */
function sequence(values: readonly number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}
