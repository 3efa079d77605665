/**
 * What carries out a build in the CodeBuild emulator:
 * - `runnerExecutor`: the real local build runner on this machine, on the unpacked source zip,
 *   with the buildspec sent inline and the environment CodeBuild would give (an `aws` shim on
 *   PATH talks to the S3 emulator);
 * - `fakeExecutor`: no commands at all, for fast tests: phases, log lines, an artifact zip and
 *   its metadata written where ARTIFACT_STORE/ARTIFACT_KEY say, exported variables, and a
 *   failure where asked.
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseBuildspec } from "../../../pipeline/lib/runner/buildspec.ts";
import type { PhaseName } from "../../../pipeline/lib/runner/buildspec.ts";
import { HostExecutor } from "../../../pipeline/lib/runner/targets.ts";
import { defaultHostEnv, runBuildspec } from "../../../pipeline/lib/runner/runner.ts";
import { createZip } from "../../../pipeline/lib/adapters/aws/zip.ts";
import type { BuildContext, BuildExecutor, CommandPhase, ExecutedPhase, ExecutionResult } from "./codebuild.ts";
import type { S3Emulator } from "./s3.ts";
import { extractZip } from "./unzip.ts";

const PHASE_TYPE: Readonly<Record<PhaseName, CommandPhase>> = {
  install: "INSTALL",
  pre_build: "PRE_BUILD",
  build: "BUILD",
  post_build: "POST_BUILD",
};

const SHIM = fileURLToPath(new URL("./aws-cli-shim.mjs", import.meta.url));

export interface RunnerExecutorOptions {
  /** The S3 emulator's URL, for the `aws` shim. */
  readonly s3Url: string;
  /** Variables every build sees (CodeBuild's own, credentials…), below StartBuild's. */
  readonly baseEnv?: Readonly<Record<string, string>>;
}

/** Runs the inline buildspec with the local runner, on this machine, in a fresh source folder. */
export function runnerExecutor(options: RunnerExecutorOptions): BuildExecutor {
  return async (ctx: BuildContext): Promise<ExecutionResult> => {
    const root = await mkdtemp(join(tmpdir(), "codebuild-emulator-"));
    try {
      const src = join(root, "src");
      const bin = join(root, "bin");
      await extractZip(ctx.source, src);
      await mkdir(bin);
      await writeFile(join(bin, "aws"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(SHIM)} "$@"\n`);
      await chmod(join(bin, "aws"), 0o755);
      const host = defaultHostEnv();
      const spec = parseBuildspec(ctx.buildspec, "buildspecOverride");
      let current: PhaseName | undefined;
      const result = await runBuildspec(spec, {
        executor: new HostExecutor(src),
        baseEnv: {
          ...host,
          PATH: `${bin}:${host.PATH ?? "/usr/bin:/bin"}`,
          AWS_REGION: ctx.region,
          AWS_DEFAULT_REGION: ctx.region,
          AWS_ENDPOINT_URL_S3: options.s3Url,
          AWS_ACCESS_KEY_ID: "codebuild-role",
          AWS_SECRET_ACCESS_KEY: "codebuild-role",
          CODEBUILD_BUILD_ARN: `arn:aws:codebuild:${ctx.region}:000000000000:build/${ctx.id}`,
          CODEBUILD_INITIATOR: "emulator",
          ...options.baseEnv,
        },
        env: ctx.env,
        buildId: ctx.id,
        logger: (line) => {
          if (line.phase && line.phase !== current) {
            current = line.phase;
            ctx.enterPhase(PHASE_TYPE[line.phase]);
          }
          // The runner's own lines are what CodeBuild's agent prints as "[Container] …".
          ctx.log(line.source === "runner" ? `[Container] ${line.text}` : line.text);
        },
      });
      const phases: ExecutedPhase[] = result.phases
        .filter((p) => p.status !== "SKIPPED")
        .map((p) => ({
          phase: PHASE_TYPE[p.phase],
          status: p.status === "FAILED" ? "FAILED" : "SUCCEEDED",
          ...(p.failure
            ? { context: { statusCode: "COMMAND_EXECUTION_ERROR", message: `Error while executing command: ${p.failure.command}. Reason: exit status ${p.failure.exitCode}` } }
            : {}),
        }));
      return { phases, exported: result.exportedVariables };
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  };
}

export interface FakeExecutorOptions {
  /** Where artifacts are written (the bucket named by ARTIFACT_STORE). */
  readonly s3?: S3Emulator;
  /** Time spent in each phase. */
  readonly phaseMs?: number;
  readonly linesPerPhase?: number;
  /** The phase a build fails in, if any, decided from its variables. */
  readonly failIn?: (env: Readonly<Record<string, string>>) => CommandPhase | undefined;
}

/** A buildspec-free build that behaves like ours: install, build (writes the zip), post_build (exports). */
export function fakeExecutor(options: FakeExecutorOptions = {}): BuildExecutor {
  const wait = () => new Promise<void>((resolve) => setTimeout(resolve, options.phaseMs ?? 5));
  return async (ctx) => {
    const failIn = options.failIn?.(ctx.env);
    const phases: ExecutedPhase[] = [];
    let exported: Record<string, string> = {};
    const commands: Readonly<Record<CommandPhase, string>> = {
      INSTALL: "bash r-compile/layer/install-deps.sh",
      PRE_BUILD: "true",
      BUILD: "bash r-compile/layer/build-layer.sh",
      POST_BUILD: ". r-compile/common/export-result.sh",
    };
    for (const phase of ["INSTALL", "BUILD", "POST_BUILD"] as const) {
      ctx.enterPhase(phase);
      ctx.log(`[Container] Running command ${commands[phase]}`);
      for (let i = 1; i <= (options.linesPerPhase ?? 3); i++) ctx.log(`${phase.toLowerCase()} ${ctx.env.LAYER_NAME ?? "r"} line ${i}`);
      await wait();
      if (phase === failIn) {
        ctx.log(`[Container] Command did not exit successfully ${commands[phase]} exit status 1`);
        phases.push({ phase, status: "FAILED", context: { statusCode: "COMMAND_EXECUTION_ERROR", message: `Error while executing command: ${commands[phase]}. Reason: exit status 1` } });
        // CodeBuild's default transitions: a failed install ends the build; a failed build still runs post_build.
        if (phase === "INSTALL") break;
        continue;
      }
      if (phase === "BUILD") exported = writeArtifact(ctx, options.s3);
      phases.push({ phase, status: "SUCCEEDED" });
    }
    const succeeded = phases.every((p) => p.status === "SUCCEEDED");
    return { phases, exported: succeeded ? exported : {} };
  };
}

/** Writes a small deterministic zip and its metadata where the build was told to. */
function writeArtifact(ctx: BuildContext, s3: S3Emulator | undefined): Record<string, string> {
  const key = ctx.env.BUILD_KEY ?? "";
  const zip = createZip([{ path: "R/BUILD_KEY", content: Buffer.from(`${key}\n`), mode: 0o644 }]);
  const sha = createHash("sha256").update(zip).digest("hex");
  const store = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(ctx.env.ARTIFACT_STORE ?? "");
  const objectKey = ctx.env.ARTIFACT_KEY;
  if (s3 && store && objectKey) {
    const prefix = store[2] ? `${store[2].replace(/\/$/, "")}/` : "";
    const metadata = {
      kind: objectKey.startsWith("artifacts/r/") ? "r" : "layer",
      buildKey: key,
      ...(ctx.env.LAYER_NAME ? { layer: ctx.env.LAYER_NAME } : {}),
      rVersion: ctx.env.R_VERSION,
      arch: ctx.env.ARCH,
      sha256: sha,
      zippedSize: zip.length,
      unzippedSize: key.length + 1,
    };
    s3.putObject(store[1]!, `${prefix}${objectKey}`, zip, "application/zip");
    s3.putObject(store[1]!, `${prefix}${ctx.env.METADATA_KEY ?? ""}`, `${JSON.stringify(metadata, null, 2)}\n`, "application/json");
    ctx.log(`[build] stored ${ctx.env.ARTIFACT_STORE}/${objectKey}`);
  }
  return { ARTIFACT_SHA256: sha, ARTIFACT_SIZE: String(zip.length), UNZIPPED_SIZE: String(key.length + 1) };
}
