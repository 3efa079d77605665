/**
 * Where a buildspec's commands run: on this machine, or inside a container. Both carry the
 * shell's state from one command to the next as CodeBuild does with buildspec 0.2 (variables
 * set or exported, and the working directory), by running each command in a fresh shell that
 * first restores the state and, when the command ends (even through `exit`), saves it again.
 * A command's stdin is empty; its stderr is merged into stdout, in order.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Shell } from "./buildspec.ts";
import { spawnProcess } from "./process.ts";
import type { ProcessRunner } from "./process.ts";
import { dockerExecArgv, dockerRemoveArgv, dockerRunArgv } from "./docker.ts";
import type { DockerOptions } from "./docker.ts";
import { PipelineError } from "../errors.ts";

export interface ShellState {
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
}

export interface CommandOutcome {
  readonly exitCode: number;
  readonly state: ShellState;
}

export interface CommandExecutor {
  /** CODEBUILD_SRC_DIR as the commands see it. */
  readonly sourceDir: string;
  start(): Promise<void>;
  /** Runs one buildspec command; `privileged` is true for the install phase (packages need root). */
  run(command: string, state: ShellState, shell: Shell, privileged: boolean, onLine: (line: string) => void): Promise<CommandOutcome>;
  stop(): Promise<void>;
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Variables a shell sets on its own; carrying them over would be wrong. */
const SHELL_OWN = new Set(["PWD", "OLDPWD", "SHLVL", "_", "__CB_CWD"]);

export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** The file a command's shell sources first: every variable, exported. */
export function envScript(env: Readonly<Record<string, string>>): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (!NAME_RE.test(name) || SHELL_OWN.has(name)) continue;
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** The script that runs one command: restore state, run, save state on any exit. */
export function commandScript(command: string, stateDir: string, n: number, cwd: string): string {
  return [
    "exec 2>&1",
    `__cb_state=${shellQuote(stateDir)}`,
    `. "$__cb_state/env-in-${n}.sh"`,
    `cd -- ${shellQuote(cwd)} || exit 1`,
    `trap '__cb_rc=$?; env -0 > "$__cb_state/env-out-${n}"; pwd > "$__cb_state/cwd-out-${n}"; exit $__cb_rc' EXIT`,
    // Plain assignments in the command become environment variables too, as in CodeBuild.
    "set -a",
    command,
    "",
  ].join("\n");
}

/** Parses `env -0` output back into variables, leaving out the shell's own. */
export function parseEnvDump(dump: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of dump.split("\0")) {
    const at = entry.indexOf("=");
    if (at <= 0) continue;
    const name = entry.slice(0, at);
    if (!NAME_RE.test(name) || SHELL_OWN.has(name)) continue;
    env[name] = entry.slice(at + 1);
  }
  return env;
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Shared by both executors: the host folder where command scripts and state files live. */
abstract class StatefulExecutor implements CommandExecutor {
  protected hostStateDir = "";
  private count = 0;

  constructor(
    readonly sourceDir: string,
    protected readonly runProcess: ProcessRunner,
  ) {}

  /** The state folder as the command's shell sees it. */
  protected abstract stateDirForShell(): string;
  protected abstract spawnCommand(scriptPath: string, shell: Shell, privileged: boolean, onLine: (line: string) => void): Promise<number>;

  async start(): Promise<void> {
    this.hostStateDir = await mkdtemp(join(tmpdir(), "r-lambda-runner-"));
  }

  async run(command: string, state: ShellState, shell: Shell, privileged: boolean, onLine: (line: string) => void): Promise<CommandOutcome> {
    if (!this.hostStateDir) throw new PipelineError("INTERNAL", "executor used before start()");
    const n = ++this.count;
    await writeFile(join(this.hostStateDir, `env-in-${n}.sh`), envScript(state.env));
    await writeFile(join(this.hostStateDir, `cmd-${n}.sh`), commandScript(command, this.stateDirForShell(), n, state.cwd));
    const exitCode = await this.spawnCommand(`${this.stateDirForShell()}/cmd-${n}.sh`, shell, privileged, onLine);
    const dump = await readIfPresent(join(this.hostStateDir, `env-out-${n}`));
    const cwd = await readIfPresent(join(this.hostStateDir, `cwd-out-${n}`));
    // A shell killed outright saved nothing: the next command starts from the state before.
    const next: ShellState = {
      env: dump === undefined ? state.env : parseEnvDump(dump),
      cwd: cwd === undefined || cwd.trim() === "" ? state.cwd : cwd.replace(/\n$/, ""),
    };
    return { exitCode, state: next };
  }

  async stop(): Promise<void> {
    if (this.hostStateDir) await rm(this.hostStateDir, { recursive: true, force: true });
    this.hostStateDir = "";
  }
}

/** Runs commands on this machine, with exactly the environment the runner gives them. */
export class HostExecutor extends StatefulExecutor {
  constructor(sourceDir: string, runProcess: ProcessRunner = spawnProcess) {
    super(sourceDir, runProcess);
  }

  protected stateDirForShell(): string {
    return this.hostStateDir;
  }

  protected spawnCommand(scriptPath: string, shell: Shell, _privileged: boolean, onLine: (line: string) => void): Promise<number> {
    const program = shell === "bash" ? "/bin/bash" : "/bin/sh";
    const args = shell === "bash" ? ["--noprofile", "--norc", scriptPath] : [scriptPath];
    return this.runProcess({ command: program, args, cwd: this.sourceDir, env: {} }, onLine);
  }
}

/**
 * Runs commands inside one long-lived container (`docker run -d`, then `docker exec` per
 * command), so what the install phase installs is there for the build. The install phase runs
 * as root; the others as the calling user's uid:gid, so files they write into mounted folders
 * are not root-owned.
 */
export class DockerExecutor extends StatefulExecutor {
  static readonly STATE_MOUNT = "/codebuild/state";
  private container = "";

  constructor(
    private readonly options: DockerOptions,
    runProcess: ProcessRunner = spawnProcess,
  ) {
    super(options.sourceMount, runProcess);
  }

  protected stateDirForShell(): string {
    return DockerExecutor.STATE_MOUNT;
  }

  override async start(): Promise<void> {
    await super.start();
    const name = `r-lambda-build-${process.pid}-${Date.now().toString(36)}`;
    const argv = dockerRunArgv(this.options, name, { host: this.hostStateDir, container: DockerExecutor.STATE_MOUNT });
    const lines: string[] = [];
    const code = await this.runProcess({ command: this.options.docker ?? "docker", args: argv }, (l) => lines.push(l));
    if (code !== 0) {
      await super.stop();
      throw new PipelineError("BUILD_FAILED", `docker run failed (exit ${code}): ${lines.slice(-5).join(" / ")}`);
    }
    this.container = name;
  }

  protected spawnCommand(scriptPath: string, shell: Shell, privileged: boolean, onLine: (line: string) => void): Promise<number> {
    const argv = dockerExecArgv(this.options, this.container, privileged, shell, scriptPath);
    return this.runProcess({ command: this.options.docker ?? "docker", args: argv }, onLine);
  }

  override async stop(): Promise<void> {
    if (this.container) {
      await this.runProcess({ command: this.options.docker ?? "docker", args: dockerRemoveArgv(this.container) }, () => {});
      this.container = "";
    }
    await super.stop();
  }
}
