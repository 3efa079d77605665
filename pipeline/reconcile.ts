/** Makes what is published match the manifest. See `--help`. */
import { parseReconcileArgs, reconcileCommand } from "./lib/cli/reconcile-command.ts";
import { runCli } from "./lib/cli/run.ts";
import { installCancellation } from "./lib/cli/signals.ts";

const cancellation = installCancellation(process, {
  stderr: (text) => process.stderr.write(text),
  exit: (status) => process.exit(status),
});
await runCli(async () =>
  reconcileCommand(parseReconcileArgs(process.argv.slice(2), process.env, process.stdout.isTTY === true), {
    stdout: (text) => process.stdout.write(text),
    now: () => new Date(),
    env: process.env,
    isTty: process.stdout.isTTY === true,
    cancellation,
  }),
);
cancellation.dispose();
