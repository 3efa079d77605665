/**
 * The CodeBuild builder through the real SDK against the CodeBuild, CloudWatch Logs and S3
 * emulators: what StartBuild is sent, logs streamed line by line, a failure's phase, log tail
 * and link, one BatchGetBuilds per tick for all running builds, and real buildspecs run by the
 * local build runner inside the emulator.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { createAwsBackend } from "../pipeline/lib/adapters/aws/backend.ts";
import type { AwsBackend } from "../pipeline/lib/adapters/aws/backend.ts";
import { idempotencyToken } from "../pipeline/lib/adapters/aws/codebuild-builder.ts";
import { buildMarkerKey } from "../pipeline/lib/naming.ts";
import { PipelineError } from "../pipeline/lib/errors.ts";
import { artifactObjectKey } from "../pipeline/lib/naming.ts";
import type { BuildRequest } from "../pipeline/lib/ports.ts";
import { REPO } from "./support/cli.ts";
import type { BuildExecutor } from "./support/aws/codebuild.ts";
import { fakeExecutor, runnerExecutor } from "./support/aws/executors.ts";
import { guardNetwork } from "./support/aws/guard.ts";
import { FAST_POLL, TEST_RETRY, fakeKey, layerInputs, testManifest, useEmulatorCredentials } from "./support/aws/setup.ts";
import { startAwsEmulators } from "./support/aws/stack.ts";
import type { AwsEmulators } from "./support/aws/stack.ts";

const guard = guardNetwork();
let aws: AwsEmulators;
let executor: BuildExecutor;
let backend: AwsBackend;

function buildRequest(layer: string, arch: "x86_64" | "arm64" = "x86_64"): BuildRequest {
  return {
    actionId: `build-layer:${layer}:4.4.1:${arch}`,
    key: fakeKey(layer),
    inputs: layerInputs(layer, arch),
    image: `public.ecr.aws/sam/build-provided.al2023:latest-${arch}`,
    timeoutMinutes: 30,
  };
}

function newBackend(toolRoot = REPO, sleep?: (ms: number) => Promise<void>): AwsBackend {
  return createAwsBackend({
    manifest: testManifest(),
    toolRoot,
    env: aws.env,
    retryTuning: TEST_RETRY,
    poll: FAST_POLL,
    commit: "0123456789abcdef",
    ...(sleep ? { sleep } : {}),
  });
}

before(async () => {
  // Each test picks how builds run; the emulator asks at every build.
  aws = await startAwsEmulators({ executor: () => (ctx) => executor(ctx) });
  useEmulatorCredentials(aws.env);
  executor = fakeExecutor({ s3: aws.s3 });
  backend = newBackend();
});

after(async () => {
  backend.close();
  await aws.close();
  guard.restore();
  assert.deepEqual(guard.refused, []);
});

beforeEach(() => {
  aws.resetCalls();
  aws.setFaults({ throttleRate: 0, errorRate: 0, latencyMs: 0 });
  executor = fakeExecutor({ s3: aws.s3 });
});

describe("CodeBuild builder", () => {
  test("a succeeding build: StartBuild overrides, log lines in order, exported variables and metadata", async () => {
    const lines: string[] = [];
    const request = buildRequest("tidy", "arm64");
    const outcome = await backend.builder.run(request, (line) => lines.push(line));
    assert.equal(outcome.status, "succeeded");
    if (outcome.status !== "succeeded") return;
    assert.match(outcome.exported.ARTIFACT_SHA256 ?? "", /^[0-9a-f]{64}$/);
    assert.equal(outcome.metadata?.buildKey, request.key);

    const build = aws.codebuild.allBuilds().at(-1)!;
    assert.equal(build.projectName, "r-lambda-layers");
    assert.equal(build.environment.type, "ARM_CONTAINER");
    assert.equal(build.environment.image, request.image);
    assert.equal(build.environment.computeType, "BUILD_GENERAL1_SMALL");
    assert.equal(build.timeoutInMinutes, 30);
    assert.equal(build.source.type, "S3");
    assert.match(build.source.location, /^r-layers-us-east-1\/sources\/[0-9a-f]{64}\.zip$/);
    assert.equal(build.source.buildspec, await readFile(join(REPO, "buildspecs/layer.yml"), "utf8"));
    const env = Object.fromEntries(build.environment.environmentVariables.map((v) => [v.name, v.value]));
    assert.equal(env.ARTIFACT_STORE, "s3://r-layers-us-east-1");
    assert.equal(env.ARTIFACT_KEY, artifactObjectKey("layer", request.key));
    assert.equal(env.LAYER_NAME, "tidy");
    assert.equal(env.ARCH, "arm64");
    assert.ok(build.environment.environmentVariables.every((v) => v.type === "PLAINTEXT"));
    assert.deepEqual(build.phases.map((p) => p.phaseType), ["SUBMITTED", "QUEUED", "PROVISIONING", "DOWNLOAD_SOURCE", "INSTALL", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS", "FINALIZING", "COMPLETED"]);

    const logged = aws.logs.events("us-east-1", "/aws/codebuild/r-lambda-layers", build.logs.streamName!).map((l) => l.replace(/\n$/, ""));
    assert.deepEqual(lines, logged, "every line of the stream, once, in order");
    assert.ok(lines.some((l) => l === "build tidy line 3"));
  });

  test("StartBuild carries an idempotency token from the action and key", async () => {
    const request = buildRequest("token");
    const token = idempotencyToken(request.actionId, request.key, { image: "a" });
    assert.match(token, /^[0-9a-f]{64}$/);
    assert.equal(token, idempotencyToken(request.actionId, request.key, { image: "a" }));
    assert.notEqual(token, idempotencyToken(request.actionId, fakeKey("other"), { image: "a" }));
    assert.notEqual(token, idempotencyToken(request.actionId, request.key, { image: "b" }));
    // A StartBuild whose response was lost is sent again by the SDK: CodeBuild returns the same build.
    aws.codebuild.faults.lostResponses = 2;
    const outcome = await backend.builder.run(request, () => {});
    const started = aws.codebuild.allBuilds().filter((b) => b.environment.environmentVariables.some((v) => v.name === "LAYER_NAME" && v.value === "token"));
    assert.equal(started.length, 1, "one build, however often StartBuild was sent");
    assert.equal(aws.codebuild.calls.count("StartBuild"), 3);
    assert.equal(outcome.status, "succeeded");
  });

  test("a failing build: the failing phase, the last 30 log lines and the console link", async () => {
    executor = fakeExecutor({ s3: aws.s3, linesPerPhase: 25, failIn: (env) => (env.LAYER_NAME === "broken" ? "BUILD" : undefined) });
    const lines: string[] = [];
    const outcome = await backend.builder.run(buildRequest("broken"), (line) => lines.push(line));
    assert.equal(outcome.status, "failed");
    if (outcome.status !== "failed") return;
    assert.equal(outcome.phase, "BUILD");
    assert.match(outcome.message, /^CodeBuild build r-lambda-layers:[0-9a-f-]+ failed in phase BUILD: COMMAND_EXECUTION_ERROR: Error while executing command: bash r-compile\/layer\/build-layer\.sh\. Reason: exit status 1$/);
    assert.equal(outcome.logTail.length, 30);
    assert.deepEqual(outcome.logTail, lines.slice(-30));
    assert.ok(outcome.logTail.some((l) => l.includes("Command did not exit successfully")));
    assert.match(outcome.link ?? "", /^https:\/\/console\.aws\.amazon\.com\/cloudwatch\/home\?region=us-east-1#logEvent:group=\/aws\/codebuild\/r-lambda-layers;stream=[0-9a-f-]+$/);
  });

  test("a retry after a failure starts a new build (never the failed one again); a later run re-attaches only to a running or succeeded build", async () => {
    executor = fakeExecutor({ s3: aws.s3, failIn: (env) => (env.LAYER_NAME === "retried" ? "BUILD" : undefined) });
    const first = await backend.builder.run(buildRequest("retried"), () => {});
    assert.equal(first.status, "failed");
    const buildsOf = () => aws.codebuild.allBuilds().filter((b) => b.environment.environmentVariables.some((v) => v.name === "LAYER_NAME" && v.value === "retried"));
    assert.equal(buildsOf().length, 1);
    // Fixed, and run again by a new reconcile (a new process) within CodeBuild's token window.
    executor = fakeExecutor({ s3: aws.s3 });
    const rerun = newBackend();
    const lines: string[] = [];
    const second = await rerun.builder.run(buildRequest("retried"), (l) => lines.push(l));
    assert.equal(second.status, "succeeded");
    assert.equal(buildsOf().length, 2, "a new build, not the failed one");
    assert.ok(!lines.some((l) => /re-attached/.test(l)));
    // Another run now finds the succeeded build recorded and attaches to it instead of building again.
    const third = newBackend();
    const again: string[] = [];
    assert.equal((await third.builder.run(buildRequest("retried"), (l) => again.push(l))).status, "succeeded");
    assert.equal(buildsOf().length, 2);
    assert.ok(again.some((l) => /re-attached to CodeBuild build .* it succeeded/.test(l)), again.join("\n"));
    rerun.close();
    third.close();
  });

  test("several concurrent builds are polled by one BatchGetBuilds per tick", async () => {
    let ticks = 0;
    const counting = newBackend(REPO, async (ms) => {
      ticks++;
      await new Promise((r) => setTimeout(r, ms));
    });
    aws.codebuild.batchSizes.length = 0;
    const names = ["b1", "b2", "b3", "b4", "b5", "b6"];
    const outcomes = await Promise.all(names.map((n) => counting.builder.run(buildRequest(n), () => {})));
    counting.close();
    assert.ok(outcomes.every((o) => o.status === "succeeded"));
    assert.equal(aws.codebuild.calls.count("BatchGetBuilds"), ticks, "one call per tick");
    assert.equal(Math.max(...aws.codebuild.batchSizes), 6, "a tick asks for every running build");
    assert.ok(ticks < names.length * 3, `${ticks} ticks for ${names.length} builds`);
  });

  test("the build scripts are uploaded once per process, keyed by their digest", async () => {
    const second = newBackend();
    await Promise.all(["again1", "again2", "again3"].map((n) => second.builder.run(buildRequest(n), () => {})));
    second.close();
    const sources = aws.s3.keys("r-layers-us-east-1").filter((k) => k.startsWith("sources/"));
    assert.equal(sources.length, 1, "same scripts, same key");
    const keys = aws.s3.keys("r-layers-us-east-1");
    const markers = ["again1", "again2", "again3"].filter((n) => keys.includes(buildMarkerKey("layer", buildRequest(n).key))).length;
    assert.equal(markers, 3, "each build's id is recorded for re-attaching");
    assert.equal(aws.s3.calls.count("PutObject") - markers, 1, "three builds, one upload (which also restarts the bucket's expiry clock)");
    assert.equal(aws.s3.getObject("r-layers-us-east-1", sources[0]!)?.metadata.commit, "0123456789abcdef");
  });

  test("a missing project is one clear sentence", async () => {
    const other = createAwsBackend({ manifest: testManifest({ project: "no-such-project" }), toolRoot: REPO, env: aws.env, retryTuning: TEST_RETRY, poll: FAST_POLL });
    await assert.rejects(other.builder.run(buildRequest("x"), () => {}), (e: unknown) => {
      assert.ok(e instanceof PipelineError);
      assert.equal(e.message, "The CodeBuild project no-such-project does not exist in us-east-1: create it with the infra/ stack (see infra/README.md) or fix builder.project in the manifest.");
      return true;
    });
    other.close();
  });
});

describe("CodeBuild emulator running real buildspecs with the local runner", () => {
  let toolRoot: string;

  before(async () => {
    toolRoot = await mkdtemp(join(tmpdir(), "aws-codebuild-tool-"));
    await mkdir(join(toolRoot, "buildspecs"));
    await mkdir(join(toolRoot, "r-compile", "layer"), { recursive: true });
    await mkdir(join(toolRoot, "runtime"));
    await writeFile(join(toolRoot, "runtime", "bootstrap"), "#!/bin/sh\n");
    await writeFile(
      join(toolRoot, "buildspecs", "layer.yml"),
      [
        "version: 0.2",
        "env:",
        "  shell: bash",
        "  variables:",
        "    GREETING: from-buildspec",
        "  exported-variables:",
        "    - ARTIFACT_SHA256",
        "    - ARTIFACT_SIZE",
        "phases:",
        "  install:",
        "    commands:",
        '      - echo "install $LAYER_NAME $ARCH $GREETING"',
        "  build:",
        "    commands:",
        "      - bash r-compile/layer/build.sh",
        "      - export ARTIFACT_SHA256=$(sha256sum out.zip | cut -d' ' -f1)",
        "  post_build:",
        "    commands:",
        '      - if [ "$CODEBUILD_BUILD_SUCCEEDING" = 1 ]; then export ARTIFACT_SIZE=$(wc -c < out.zip | tr -d " "); fi',
        "",
      ].join("\n"),
    );
    await writeFile(
      join(toolRoot, "r-compile", "layer", "build.sh"),
      [
        "set -euo pipefail",
        'if [ "$LAYER_NAME" = broken ]; then echo "cannot build $LAYER_NAME" >&2; exit 3; fi',
        'printf "zip for %s\\n" "$BUILD_KEY" > out.zip',
        'aws s3 cp --only-show-errors out.zip "$ARTIFACT_STORE/$ARTIFACT_KEY"',
        'echo "stored $ARTIFACT_KEY"',
        "",
      ].join("\n"),
    );
    executor = runnerExecutor({ s3Url: aws.s3.url });
  });

  beforeEach(() => {
    executor = runnerExecutor({ s3Url: aws.s3.url });
  });

  after(async () => {
    await rm(toolRoot, { recursive: true, force: true });
  });

  test("a build runs the inline buildspec on the unpacked source and stores its zip", async () => {
    const runner = newBackend(toolRoot);
    const lines: string[] = [];
    const request = buildRequest("realtidy");
    const outcome = await runner.builder.run(request, (l) => lines.push(l));
    runner.close();
    assert.equal(outcome.status, "succeeded", lines.join("\n"));
    if (outcome.status !== "succeeded") return;
    const stored = aws.s3.getObject("r-layers-us-east-1", artifactObjectKey("layer", request.key));
    assert.equal(stored?.body.toString(), `zip for ${request.key}\n`);
    assert.equal(outcome.exported.ARTIFACT_SIZE, String(stored!.body.length));
    assert.match(outcome.exported.ARTIFACT_SHA256 ?? "", /^[0-9a-f]{64}$/);
    assert.ok(lines.includes("install realtidy x86_64 from-buildspec"), "StartBuild's variables and the buildspec's");
    assert.ok(lines.includes(`stored ${artifactObjectKey("layer", request.key)}`));
    const phases = aws.codebuild.allBuilds().at(-1)!.phases.map((p) => `${p.phaseType}:${p.phaseStatus}`);
    assert.ok(phases.includes("INSTALL:SUCCEEDED") && phases.includes("BUILD:SUCCEEDED") && phases.includes("POST_BUILD:SUCCEEDED"));
  });

  test("a failing command fails its phase, still runs post_build, and shows the tail", async () => {
    const runner = newBackend(toolRoot);
    const outcome = await runner.builder.run(buildRequest("broken"), () => {});
    runner.close();
    assert.equal(outcome.status, "failed");
    if (outcome.status !== "failed") return;
    assert.equal(outcome.phase, "BUILD");
    assert.match(outcome.message, /COMMAND_EXECUTION_ERROR: Error while executing command: bash r-compile\/layer\/build\.sh\. Reason: exit status 3/);
    assert.ok(outcome.logTail.includes("cannot build broken"));
    const phases = aws.codebuild.allBuilds().at(-1)!.phases.map((p) => `${p.phaseType}:${p.phaseStatus}`);
    assert.ok(phases.includes("BUILD:FAILED"));
    assert.ok(phases.includes("POST_BUILD:SUCCEEDED"), "CodeBuild runs post_build after a failed build phase");
  });
});
