/**
 * Runs an entry point under `pipeline/` as a user would: a separate process. It is node itself
 * with tsx's loader (`node --import <tsx>`), not the `tsx` wrapper, so the process a test signals
 * or kills is the one doing the work, and each CLI test costs one process, not two.
 */
import { spawn } from "node:child_process";
import type { ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
/** tsx's loader as a file URL, so it resolves whatever the child's working directory. */
export const TSX_LOADER = import.meta.resolve("tsx");

/** The argv that runs a TypeScript file the way `npm run` does, in one node process. */
export function nodeArgs(script: string, args: readonly string[] = []): string[] {
  return ["--import", TSX_LOADER, script, ...args];
}

export interface CliResult {
  status: number | null;
  signal?: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Text for the process's standard input (none by default). */
  readonly stdin?: string;
  /** Which of this process's variables the child inherits (all by default). */
  readonly inherit?: (name: string) => boolean;
}

export type EntryProcess = ChildProcessByStdio<Writable | null, Readable, Readable>;

/** Starts an entry point and returns the process itself, for tests that signal or kill it. */
export function startEntry(entry: string, args: readonly string[], options: RunOptions = {}): EntryProcess {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => options.inherit?.(name) ?? true));
  const child = spawn(process.execPath, nodeArgs(`${REPO}pipeline/${entry}`, args), {
    cwd: options.cwd ?? REPO,
    env: { ...inherited, NO_COLOR: "1", ...options.env },
    stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
  }) as EntryProcess;
  child.stdin?.end(options.stdin);
  return child;
}

/** Collects a started process's output until it ends. */
export function finished(child: EntryProcess): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

export function runEntry(entry: string, args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  return finished(startEntry(entry, args, options));
}
