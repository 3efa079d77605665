/**
 * The Builder port on this machine: the local build runner executes the same buildspecs
 * CodeBuild would, on the host or inside the Lambda image with Docker, writing into the local
 * backend's folder.
 */
import { runLocalBuild } from "./local-build.ts";
import type { LocalBuildMode } from "./local-build.ts";
import type { BuildOutcome, BuildRequest, Builder } from "../../ports.ts";

const LOG_TAIL = 30;

export class LocalBuilder implements Builder {
  constructor(
    private readonly storeRoot: string,
    private readonly mode: LocalBuildMode = { kind: "host" },
    private readonly extraEnv: Readonly<Record<string, string>> = {},
  ) {}

  async run(request: BuildRequest, onLog: (line: string) => void, signal?: AbortSignal): Promise<BuildOutcome> {
    const result = await runLocalBuild({
      inputs: request.inputs,
      key: request.key,
      storeRoot: this.storeRoot,
      mode: this.mode.kind === "docker" ? { ...this.mode, image: this.mode.image ?? request.image } : this.mode,
      extraEnv: this.extraEnv,
      logger: (line) => onLog(line.text),
      ...(signal ? { signal } : {}),
    });
    if (result.status === "SUCCEEDED") {
      return { status: "succeeded", exported: result.exportedVariables, ...(result.metadata ? { metadata: result.metadata } : {}) };
    }
    const failedPhase = result.phases.find((p) => p.status === "FAILED");
    const failure = failedPhase?.failure;
    return {
      status: "failed",
      ...(result.failedPhase ? { phase: result.failedPhase } : {}),
      message: failure
        ? `phase ${failedPhase.phase} failed: \`${failure.command}\` exited with status ${failure.exitCode}`
        : `the build failed${result.failedPhase ? ` in phase ${result.failedPhase}` : ""}`,
      logTail: result.log.slice(-LOG_TAIL),
    };
  }
}
