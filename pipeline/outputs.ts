/** Prints what is published where, for function owners. See `--help`. */
import { outputsCommand, parseOutputsArgs } from "./lib/cli/outputs-command.ts";
import { runCli } from "./lib/cli/run.ts";

await runCli(async () => outputsCommand(parseOutputsArgs(process.argv.slice(2)), (text) => process.stdout.write(text)));
