/** Dry run: prints the plan for a manifest against the chosen state backend. See `--help`. */
import { parsePlanArgs, planCommand } from "./lib/cli/plan-command.ts";
import { runCli } from "./lib/cli/run.ts";

await runCli(async () =>
  planCommand(parsePlanArgs(process.argv.slice(2), process.env, process.stdout.isTTY === true), {
    stdout: (text) => process.stdout.write(text),
    now: () => new Date(),
    ...(process.stdout.isTTY ? { columns: process.stdout.columns } : {}),
    stderr: (text) => process.stderr.write(text),
  }),
);
