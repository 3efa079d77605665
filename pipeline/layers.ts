/** Edits layers.yaml from the command line: add, remove, import. See `--help` and pipeline/lib/cli/layers-command.ts. */
import { layersCommand, parseLayersArgs } from "./lib/cli/layers-command.ts";
import { runCli } from "./lib/cli/run.ts";

await runCli(async () =>
  layersCommand(parseLayersArgs(process.argv.slice(2)), {
    stdout: (text) => process.stdout.write(text),
    now: () => new Date(),
  }),
);
