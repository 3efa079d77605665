/**
 * The local build runner: carries out a buildspec's phases as CodeBuild does, on this machine
 * or inside a container, and returns a typed result. This is how `--backend local` builds, and
 * how the tests run the real buildspecs.
 *
 * Semantics, from CodeBuild's buildspec reference and its build phase transitions:
 * - phases run in order: install, pre_build, build, post_build; a phase's commands run one at a
 *   time, each in the shell state the previous one left (buildspec 0.2);
 * - the first failing command ends the phase's `commands`; its `finally` commands still run,
 *   and the phase fails if any command in it failed;
 * - when a phase fails and says nothing (`on-failure` absent): a failed install or pre_build
 *   ends the build; a failed build still runs post_build (with CODEBUILD_BUILD_SUCCEEDING=0);
 *   `on-failure: ABORT` ends the build at once; `on-failure: CONTINUE` goes on to the next
 *   phase. Any failed phase fails the build;
 * - variables: the base environment, then `env.variables` (literal values), then the caller's
 *   (StartBuild's override has the highest precedence); `env.exported-variables` are read
 *   from the shell state after the last phase that ran.
 */
import { PipelineError } from "../errors.ts";
import { PHASES, loadBuildspec } from "./buildspec.ts";
import type { Buildspec, PhaseName } from "./buildspec.ts";
import { HostExecutor } from "./targets.ts";
import type { CommandExecutor, ShellState } from "./targets.ts";

export type PhaseStatus = "SUCCEEDED" | "FAILED" | "SKIPPED";

export interface PhaseResult {
  readonly phase: PhaseName;
  readonly status: PhaseStatus;
  /** The command that failed first, with its exit status. */
  readonly failure?: { readonly command: string; readonly exitCode: number };
}

export interface BuildResult {
  readonly status: "SUCCEEDED" | "FAILED";
  /** The first phase that failed. */
  readonly failedPhase?: PhaseName;
  /** One entry per phase the buildspec declares, in order. */
  readonly phases: readonly PhaseResult[];
  readonly exportedVariables: Readonly<Record<string, string>>;
  /** Every line the build printed, runner lines included, in order. */
  readonly log: readonly string[];
}

export type LogSource = "runner" | "command";

export interface LogLine {
  readonly phase: PhaseName | undefined;
  readonly source: LogSource;
  readonly text: string;
}

export type BuildLogger = (line: LogLine) => void;

export interface RunOptions {
  /** Where commands run; default: on this machine, from `sourceDir`. */
  readonly executor?: CommandExecutor;
  /** The source checkout on this machine (for the default executor). */
  readonly sourceDir?: string;
  /** The environment the build starts from; default: a few variables of this process (host) or none (container). */
  readonly baseEnv?: Readonly<Record<string, string>>;
  /** Variables set for this build; they win over the buildspec's (as StartBuild's override does). */
  readonly env?: Readonly<Record<string, string>>;
  readonly logger?: BuildLogger;
  readonly buildId?: string;
}

/** What a host build inherits from this process unless told otherwise: no secrets, no AWS keys. */
const HOST_ENV_KEYS = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR", "TZ", "TERM"] as const;

export function defaultHostEnv(from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of HOST_ENV_KEYS) {
    const value = from[key];
    if (value !== undefined) env[key] = value;
  }
  env.PATH ??= "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  return env;
}

const PHASE_LABEL: Readonly<Record<PhaseName, string>> = {
  install: "INSTALL",
  pre_build: "PRE_BUILD",
  build: "BUILD",
  post_build: "POST_BUILD",
};

/** Runs a parsed buildspec. Never throws for a failing build: that is a FAILED result. */
export async function runBuildspec(spec: Buildspec, options: RunOptions = {}): Promise<BuildResult> {
  const executor =
    options.executor ??
    (() => {
      if (!options.sourceDir) throw new PipelineError("INTERNAL", "runBuildspec needs an executor or a sourceDir");
      return new HostExecutor(options.sourceDir);
    })();
  const log: string[] = [];
  let current: PhaseName | undefined;
  const emit = (source: LogSource, text: string): void => {
    log.push(source === "runner" ? `[runner] ${text}` : text);
    options.logger?.({ phase: current, source, text });
  };

  const base = options.baseEnv ?? (options.executor ? {} : defaultHostEnv());
  let state: ShellState = {
    env: {
      ...base,
      ...spec.variables,
      ...options.env,
      CODEBUILD_SRC_DIR: executor.sourceDir,
      CODEBUILD_BUILD_ID: options.buildId ?? "local:build",
      CODEBUILD_BUILD_SUCCEEDING: "1",
    },
    cwd: executor.sourceDir,
  };
  let succeeding = true;
  let stopped = false;
  let afterBuildFailure = false;
  const phases: PhaseResult[] = [];
  let failedPhase: PhaseName | undefined;

  const runCommands = async (commands: readonly string[], privileged: boolean) => {
    for (const command of commands) {
      emit("runner", `Running command ${command}`);
      const env = { ...state.env, CODEBUILD_BUILD_SUCCEEDING: succeeding ? "1" : "0" };
      const outcome = await executor.run(command, { ...state, env }, spec.shell, privileged, (line) => emit("command", line));
      state = outcome.state;
      if (outcome.exitCode !== 0) {
        emit("runner", `Command did not exit successfully ${command} exit status ${outcome.exitCode}`);
        return { command, exitCode: outcome.exitCode };
      }
    }
    return undefined;
  };

  await executor.start();
  try {
    for (const name of PHASES) {
      const phase = spec.phases[name];
      if (!phase) continue;
      current = name;
      if (stopped && !(name === "post_build" && afterBuildFailure)) {
        phases.push({ phase: name, status: "SKIPPED" });
        continue;
      }
      emit("runner", `Entering phase ${PHASE_LABEL[name]}`);
      const privileged = name === "install";
      const failure = await runCommands(phase.commands, privileged);
      const finallyFailure = phase.finally.length > 0 ? await runCommands(phase.finally, privileged) : undefined;
      const firstFailure = failure ?? finallyFailure;
      const status: PhaseStatus = firstFailure ? "FAILED" : "SUCCEEDED";
      emit("runner", `Phase complete: ${PHASE_LABEL[name]} State: ${status}`);
      phases.push({ phase: name, status, ...(firstFailure ? { failure: firstFailure } : {}) });
      if (!firstFailure) continue;
      succeeding = false;
      failedPhase ??= name;
      if (phase.onFailure === "CONTINUE") continue;
      stopped = true;
      afterBuildFailure = phase.onFailure === undefined && name === "build";
    }
  } finally {
    current = undefined;
    await executor.stop();
  }

  const exportedVariables: Record<string, string> = {};
  for (const name of spec.exportedVariables) exportedVariables[name] = state.env[name] ?? "";
  const status = failedPhase ? "FAILED" : "SUCCEEDED";
  emit("runner", `Build ${status}${failedPhase ? ` in phase ${PHASE_LABEL[failedPhase]}` : ""}`);
  return { status, ...(failedPhase ? { failedPhase } : {}), phases, exportedVariables, log };
}

/** Loads a buildspec file (refusing keys the runner does not implement) and runs it. */
export async function runBuildspecFile(file: string, options: RunOptions = {}): Promise<BuildResult> {
  return runBuildspec(await loadBuildspec(file), options);
}
