/** Runs an entry point under `pipeline/` as a user would: a separate process, via tsx. */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TSX = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url));

export interface CliResult {
  status: number | null;
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

export function runEntry(entry: string, args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => options.inherit?.(name) ?? true));
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [`${REPO}pipeline/${entry}`, ...args], {
      cwd: options.cwd ?? REPO,
      env: { ...inherited, NO_COLOR: "1", ...options.env },
      stdio: [options.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    child.stdin?.end(options.stdin);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}
