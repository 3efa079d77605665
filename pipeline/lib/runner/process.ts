/**
 * Running a process and streaming its output line by line. Injectable, so the runner and the
 * Docker helpers can be tested without spawning anything; the default uses node:child_process.
 * This is the only module that starts processes (test/architecture.test.ts checks it).
 */
import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";

export type { ChildProcess } from "node:child_process";
import { PipelineError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";

export interface ProcessSpec {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string;
  /** The child's whole environment (nothing is inherited when given). */
  readonly env?: Readonly<Record<string, string>>;
  /** Stops the process and everything it started (its process group) when aborted. */
  readonly signal?: AbortSignal;
}

/** Runs a process to its end; calls onLine for each line of stdout and stderr; resolves its exit code. */
export type ProcessRunner = (spec: ProcessSpec, onLine: (line: string) => void) => Promise<number>;

/** Splits a byte stream into lines, keeping a partial last line until more arrives or the end. */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer | string): void; end(): void } {
  let rest = "";
  return {
    push(chunk) {
      rest += chunk.toString();
      let at = rest.indexOf("\n");
      while (at >= 0) {
        onLine(rest.slice(0, at).replace(/\r$/, ""));
        rest = rest.slice(at + 1);
        at = rest.indexOf("\n");
      }
    },
    end() {
      if (rest !== "") onLine(rest);
      rest = "";
    },
  };
}

const SIGNALS: Readonly<Record<string, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

export const spawnProcess: ProcessRunner = (spec, onLine) =>
  new Promise((resolve, reject) => {
    if (spec.signal?.aborted) {
      resolve(128 + 15);
      return;
    }
    const child = spawn(spec.command, [...spec.args], {
      cwd: spec.cwd,
      env: spec.env ? { ...spec.env } : process.env,
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so a cancel stops the build's whole tree, not just its shell.
      detached: spec.signal !== undefined,
    });
    const stop = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    };
    spec.signal?.addEventListener("abort", stop, { once: true });
    const out = lineSplitter(onLine);
    const err = lineSplitter(onLine);
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      spec.signal?.removeEventListener("abort", stop);
      out.end();
      err.end();
      resolve(code ?? 128 + (signal ? (SIGNALS[signal] ?? 1) : 1));
    });
  });

/** Runs a process and collects its output. */
export async function captureProcess(
  run: ProcessRunner,
  spec: ProcessSpec,
): Promise<{ readonly code: number; readonly lines: readonly string[] }> {
  const lines: string[] = [];
  const code = await run(spec, (line) => lines.push(line));
  return { code, lines };
}

/** Starts a long-lived process (a Lambda runtime, a container) that the caller watches and stops itself. */
export function startProcess(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
  return spawn(command, [...args], options);
}

/** Runs a process to its end and fails, naming the command and its last lines, unless it exits 0. */
export async function runChecked(spec: ProcessSpec, code: ErrorCode, run: ProcessRunner = spawnProcess): Promise<readonly string[]> {
  const result = await captureProcess(run, spec);
  if (result.code !== 0) {
    const tail = result.lines.slice(-5).join(" | ");
    throw new PipelineError(code, `\`${[spec.command, ...spec.args].join(" ")}\` exited with status ${result.code}${tail ? `: ${tail}` : ""}`);
  }
  return result.lines;
}

/** The same runner, with every process it starts stopped when `signal` aborts. */
export function withSignal(run: ProcessRunner, signal: AbortSignal | undefined): ProcessRunner {
  return signal ? (spec, onLine) => run({ ...spec, signal }, onLine) : run;
}
