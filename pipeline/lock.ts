/** Resolves the manifest's packages into layers.lock, or checks it. See `--help`. */
import { HttpPackageIndexSource } from "./lib/adapters/http/package-index.ts";
import { lockCommand, parseLockArgs } from "./lib/cli/lockfile-command.ts";
import { runCli } from "./lib/cli/run.ts";

await runCli(async () =>
  lockCommand(parseLockArgs(process.argv.slice(2)), {
    stdout: (text) => process.stdout.write(text),
    source: new HttpPackageIndexSource(),
  }),
);
