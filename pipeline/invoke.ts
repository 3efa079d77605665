/** Runs an R handler locally the way Lambda will. See `--help` and pipeline/lib/invoke/command.ts. */
import { runCli } from "./lib/cli/run.ts";
import { invokeCommand, parseInvokeArgs } from "./lib/invoke/command.ts";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

await runCli(async () =>
  invokeCommand(parseInvokeArgs(process.argv.slice(2)), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin,
    stdinIsTty: process.stdin.isTTY === true,
  }),
);
