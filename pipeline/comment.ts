/** Posts the plan markdown as one pull-request comment, updated in place. See `--help`. */
import { text } from "node:stream/consumers";
import { runCli } from "./lib/cli/run.ts";
import { commentCommand, parseCommentArgs } from "./lib/github/comment-command.ts";

await runCli(async () =>
  commentCommand(parseCommentArgs(process.argv.slice(2), process.env), {
    stdout: (line) => process.stdout.write(line),
    readStdin: () => text(process.stdin),
    stdinIsTty: process.stdin.isTTY === true,
    env: process.env,
  }),
);
