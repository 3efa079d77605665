/** The lock tests' way to run an entry point: the shared one (test/support/cli.ts). */
import { runEntry } from "../cli.ts";
import type { CliResult, RunOptions } from "../cli.ts";

export { REPO } from "../cli.ts";
export type Run = CliResult;

export function runPipeline(entry: string, args: readonly string[], options: Pick<RunOptions, "cwd" | "env"> = {}): Promise<Run> {
  return runEntry(entry, args, options);
}
