/**
 * Starts the real `runtime/bootstrap` as a child process against a Runtime API emulator,
 * with a task folder written from a map of files, and collects its output.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const runtimeDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../../runtime");
export const bootstrapPath = join(runtimeDir, "bootstrap");

/** Writes `files` (relative path -> content) under a new temporary folder; returns its path. */
export async function writeTaskRoot(files: Record<string, string>, parent = tmpdir()): Promise<string> {
  const root = await mkdtemp(join(parent, "r-task-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

export interface RuntimeOptions {
  /** `host:port` of the emulator. */
  api: string;
  /** `_HANDLER`, e.g. `script.handler`. */
  handler: string;
  taskRoot: string;
  /** Extra environment; a value of `undefined` removes the variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Defaults to the repository's `runtime/bootstrap`. */
  bootstrap?: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RuntimeProcess {
  child: ChildProcess;
  pid: number;
  /** `performance.now()` just before the spawn. */
  startedAt: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Ends the process (SIGKILL, as Lambda does) and waits for it. */
  stop(): Promise<Exit>;
}

/** The environment Lambda gives a function, minus what a test sets itself. */
export function lambdaEnv(options: RuntimeOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    LANG: "C.UTF-8",
    HOME: options.taskRoot,
    AWS_LAMBDA_RUNTIME_API: options.api,
    _HANDLER: options.handler,
    LAMBDA_TASK_ROOT: options.taskRoot,
    AWS_LAMBDA_FUNCTION_NAME: "r-test",
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "512",
    AWS_LAMBDA_LOG_GROUP_NAME: "/aws/lambda/r-test",
    AWS_LAMBDA_LOG_STREAM_NAME: "2025/01/01/[$LATEST]0123456789abcdef",
    // Never reach the real /opt/R of the machine running the tests.
    LAMBDA_R_PREFIX: join(options.taskRoot, ".no-such-prefix"),
  };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export function startRuntime(options: RuntimeOptions): RuntimeProcess {
  let out = "";
  let err = "";
  const startedAt = performance.now();
  const child = spawn(options.bootstrap ?? bootstrapPath, [], {
    cwd: options.cwd ?? options.taskRoot,
    env: lambdaEnv(options),
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolvePromise, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolvePromise({ code, signal }));
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.bootstrap ?? bootstrapPath}`);
  return {
    child,
    pid: child.pid,
    startedAt,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      return exited;
    },
  };
}
