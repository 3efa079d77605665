/**
 * The parts of the AWS adapters that need no server: the shared build poller (with a fake
 * sleep), the deterministic source bundle, grants read back from policy documents, and the
 * error sentences.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { failureOf } from "../pipeline/lib/adapters/aws/codebuild-builder.ts";
import { toPipelineError } from "../pipeline/lib/adapters/aws/errors.ts";
import { grantsFromPolicy } from "../pipeline/lib/adapters/aws/layer-policy.ts";
import { eventLines } from "../pipeline/lib/adapters/aws/logs-tail.ts";
import { BatchPoller } from "../pipeline/lib/adapters/aws/poller.ts";
import { createSourceBundle } from "../pipeline/lib/adapters/aws/source-bundle.ts";
import { readZip } from "./support/aws/unzip.ts";

describe("BatchPoller", () => {
  test("one fetch per tick for every watched id, delays growing to the maximum", async () => {
    const delays: number[] = [];
    const fetched: string[][] = [];
    let tick = 0;
    const poller = new BatchPoller<number>(
      async (ids) => {
        fetched.push([...ids]);
        tick++;
        return new Map(ids.map((id) => [id, tick]));
      },
      { initialDelayMs: 100, maxDelayMs: 300, factor: 2 },
      async (ms) => {
        delays.push(ms);
      },
    );
    const done = (until: number) => async (t: number | undefined) => (t ?? 0) >= until;
    await Promise.all([poller.watch("a", done(2)), poller.watch("b", done(4)), poller.watch("c", done(5))]);
    assert.deepEqual(fetched, [["a", "b", "c"], ["a", "b", "c"], ["b", "c"], ["b", "c"], ["c"]]);
    assert.deepEqual(delays, [100, 200, 300, 300, 300]);
    assert.equal(poller.watching, 0);
  });

  test("more than 100 ids take several calls per tick", async () => {
    const sizes: number[] = [];
    const poller = new BatchPoller<boolean>(
      async (ids) => {
        sizes.push(ids.length);
        return new Map(ids.map((id) => [id, true]));
      },
      { initialDelayMs: 1, maxDelayMs: 1, factor: 1 },
      async () => {},
    );
    await Promise.all(Array.from({ length: 230 }, (_, i) => poller.watch(`b${i}`, async () => true)));
    assert.deepEqual(sizes, [100, 100, 30]);
  });

  test("a failing fetch rejects the builds it was for", async () => {
    const poller = new BatchPoller<boolean>(
      async () => {
        throw new Error("BatchGetBuilds failed");
      },
      { initialDelayMs: 1, maxDelayMs: 1, factor: 1 },
      async () => {},
    );
    await assert.rejects(poller.watch("x", async () => true), /BatchGetBuilds failed/);
  });
});

describe("source bundle", () => {
  test("same files, same digest and bytes, whatever the line ends; modes kept; only the three folders", async () => {
    const make = async (eol: string) => {
      const root = await mkdtemp(join(tmpdir(), "bundle-"));
      for (const dir of ["r-compile/layer", "runtime", "buildspecs", "pipeline"]) await mkdir(join(root, dir), { recursive: true });
      await writeFile(join(root, "r-compile/layer/build.sh"), `set -e${eol}echo hi${eol}`);
      await writeFile(join(root, "runtime/bootstrap"), `#!/bin/sh${eol}`);
      await chmod(join(root, "runtime/bootstrap"), 0o775);
      await writeFile(join(root, "buildspecs/layer.yml"), `version: 0.2${eol}`);
      await writeFile(join(root, "pipeline/not-shipped.ts"), "x");
      const bundle = await createSourceBundle(root);
      await rm(root, { recursive: true, force: true });
      return bundle;
    };
    const unix = await make("\n");
    const windows = await make("\r\n");
    assert.equal(unix.digest, windows.digest);
    assert.deepEqual(unix.zip, windows.zip);
    assert.equal(unix.objectKey, `sources/${unix.digest}.zip`);
    const entries = readZip(unix.zip);
    assert.deepEqual(entries.map((e) => e.path), ["buildspecs/layer.yml", "r-compile/layer/build.sh", "runtime/bootstrap"]);
    assert.equal(entries.find((e) => e.path === "runtime/bootstrap")?.mode, 0o755);
    assert.equal(entries.find((e) => e.path === "buildspecs/layer.yml")?.mode, 0o644);
    assert.equal(entries[1]?.content.toString(), "set -e\necho hi\n");
  });
});

describe("layer version policies", () => {
  test("accounts (id or ARN), organizations and public; other statements left out", () => {
    const policy = JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        { Sid: "a", Effect: "Allow", Principal: { AWS: "arn:aws:iam::111122223333:root" }, Action: "lambda:GetLayerVersion" },
        { Sid: "b", Effect: "Allow", Principal: { AWS: "444455556666" }, Action: "lambda:GetLayerVersion" },
        { Sid: "c", Effect: "Allow", Principal: "*", Action: "lambda:GetLayerVersion", Condition: { StringEquals: { "aws:PrincipalOrgID": "o-abc" } } },
        { Sid: "d", Effect: "Allow", Principal: "*", Action: "lambda:GetLayerVersion" },
        { Sid: "e", Effect: "Allow", Principal: "*", Action: "lambda:GetLayerVersion", Condition: { IpAddress: { "aws:SourceIp": "1.2.3.4" } } },
        { Sid: "f", Effect: "Deny", Principal: "*", Action: "lambda:GetLayerVersion" },
      ],
    });
    assert.deepEqual(grantsFromPolicy(policy), [
      { kind: "account", account: "111122223333" },
      { kind: "account", account: "444455556666" },
      { kind: "organization", organization: "o-abc" },
      { kind: "public" },
    ]);
    assert.deepEqual(grantsFromPolicy(undefined), []);
    assert.throws(() => grantsFromPolicy("{"), /not valid JSON/);
  });
});

describe("errors and outcomes", () => {
  test("SDK errors become one sentence with status and cause kept", () => {
    const sdk = Object.assign(new Error("UnknownError"), { name: "Unknown", $metadata: { httpStatusCode: 503, attempts: 8, requestId: "R1" } });
    const error = toPipelineError(sdk, { service: "S3", operation: "HeadObject", resource: "s3://b/k", region: "us-east-1" });
    assert.equal(error.message, "S3 HeadObject on s3://b/k in us-east-1 failed with HTTP 503 after 8 attempts: AWS had an internal error; try again.");
    assert.equal(error.cause, sdk);
    const network = toPipelineError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" }), { service: "Lambda", operation: "ListLayers", region: "eu-west-1" });
    assert.match(network.message, /^Cannot reach Lambda for ListLayers in eu-west-1 \(ECONNREFUSED.*check the network, or AWS_ENDPOINT_URL\* if set\.$/);
  });

  test("a build that timed out names the phase", () => {
    const outcome = failureOf(
      {
        id: "p:1",
        buildStatus: "TIMED_OUT",
        phases: [
          { phaseType: "INSTALL", phaseStatus: "SUCCEEDED" },
          { phaseType: "BUILD", phaseStatus: "TIMED_OUT", contexts: [{ statusCode: "BUILD_TIMED_OUT", message: "Build has timed out. " }] },
        ],
        logs: { deepLink: "https://console.aws.amazon.com/x" },
      },
      ["last"],
    );
    assert.deepEqual(outcome, {
      status: "failed",
      phase: "BUILD",
      message: "CodeBuild build p:1 timed out in phase BUILD: BUILD_TIMED_OUT: Build has timed out.",
      logTail: ["last"],
      link: "https://console.aws.amazon.com/x",
    });
  });

  test("log events become lines", () => {
    assert.deepEqual(eventLines("one\n"), ["one"]);
    assert.deepEqual(eventLines("a\r\nb\n"), ["a", "b"]);
    assert.deepEqual(eventLines(""), []);
  });
});
