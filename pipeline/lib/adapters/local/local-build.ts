/**
 * Builds an artifact with the local runner: the environment-variable contract of the build
 * scripts (see buildspecs/README.md), the buildspec for each kind of build, and the choice of
 * running on this machine or in the Lambda image with Docker. Artifacts land in the local
 * backend's folder at their content-addressed keys.
 */
import { join, resolve } from "node:path";
import { PipelineError } from "../../errors.ts";
import { artifactMetadataKey, artifactObjectKey } from "../../naming.ts";
import { BUILDSPECS, buildEnvironment, metadataObject } from "../../contract.ts";
import { readJsonFile } from "../../util/json.ts";
import type { BuildInputs } from "../../keys/inputs.ts";
import { TOOL_ROOT } from "../../keys/sources.ts";
import { detectDockerEngine } from "../../runner/docker.ts";
import { DEFAULT_IMAGES } from "../../manifest/resolve.ts";
import { DockerExecutor, HostExecutor } from "../../runner/targets.ts";
import type { CommandExecutor } from "../../runner/targets.ts";
import { defaultHostEnv, runBuildspecFile } from "../../runner/runner.ts";
import type { BuildLogger, BuildResult } from "../../runner/runner.ts";
import { spawnProcess, withSignal } from "../../runner/process.ts";
import type { ProcessRunner } from "../../runner/process.ts";

export type LocalBuildMode =
  | { readonly kind: "host" }
  | { readonly kind: "docker"; readonly image?: string; readonly user?: { readonly uid: number; readonly gid: number } };

export interface LocalBuildRequest {
  readonly inputs: BuildInputs;
  readonly key: string;
  /** The local backend's folder (artifacts are written under artifacts/...). */
  readonly storeRoot: string;
  readonly mode: LocalBuildMode;
  /** The checkout holding r-compile/, buildspecs/ and runtime/; default: this tool's. */
  readonly toolRoot?: string;
  /** Local-only extras, e.g. R_SOURCE_TARBALL for an offline R build. */
  readonly extraEnv?: Readonly<Record<string, string>>;
  readonly logger?: BuildLogger;
  readonly runProcess?: ProcessRunner;
  /** Cancellation: stops the build's processes. */
  readonly signal?: AbortSignal;
}

export interface LocalBuildResult extends BuildResult {
  /** Where the zip and its metadata are (or would be) in the local folder. */
  readonly zipPath: string;
  readonly metadataPath: string;
  /** The metadata the build wrote, when it succeeded. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}

const DOCKER_SOURCE = "/codebuild/output/src";
const DOCKER_ARTIFACTS = "/codebuild/artifacts";

export async function runLocalBuild(request: LocalBuildRequest): Promise<LocalBuildResult> {
  const toolRoot = resolve(request.toolRoot ?? TOOL_ROOT);
  const storeRoot = resolve(request.storeRoot);
  const run = withSignal(request.runProcess ?? spawnProcess, request.signal);
  let executor: CommandExecutor;
  let store: string;
  if (request.mode.kind === "host") {
    executor = new HostExecutor(toolRoot, run);
    store = `file://${storeRoot}`;
  } else {
    const engine = await detectDockerEngine(run);
    if (!engine.available) {
      throw new PipelineError("BACKEND_UNAVAILABLE", `cannot build in a container: ${engine.reason}; build on this machine instead (host mode)`);
    }
    const user = request.mode.user ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    executor = new DockerExecutor(
      {
        image: request.mode.image ?? DEFAULT_IMAGES[request.inputs.arch],
        arch: request.inputs.arch,
        sourceMount: DOCKER_SOURCE,
        mounts: [
          { host: toolRoot, container: DOCKER_SOURCE, readOnly: true },
          { host: storeRoot, container: DOCKER_ARTIFACTS },
        ],
        user,
      },
      run,
    );
    store = `file://${DOCKER_ARTIFACTS}`;
  }
  const env = { ...buildEnvironment(request.inputs, request.key, store), ...request.extraEnv };
  const result = await runBuildspecFile(join(toolRoot, BUILDSPECS[request.inputs.kind]), {
    executor,
    baseEnv: request.mode.kind === "host" ? defaultHostEnv() : {},
    env,
    ...(request.logger ? { logger: request.logger } : {}),
    buildId: `local:${request.key.slice(0, 12)}`,
  });
  const zipPath = join(storeRoot, ...artifactObjectKey(request.inputs.kind, request.key).split("/"));
  const metadataPath = join(storeRoot, ...artifactMetadataKey(request.inputs.kind, request.key).split("/"));
  if (result.status !== "SUCCEEDED") return { ...result, zipPath, metadataPath };
  const metadata = metadataObject(await readJsonFile(metadataPath), metadataPath);
  return { ...result, zipPath, metadataPath, metadata };
}
