/** `comment`: post a markdown file (the plan) as one pull-request comment, updated in place. */
import { parseStrict } from "../util/parse-args.ts";
import { readFile } from "node:fs/promises";
import { PipelineError, UsageError } from "../errors.ts";
import { COMMENT_MARKER } from "../render/markdown.ts";
import { GitHubClient } from "./api.ts";
import { upsertComment } from "./comments.ts";
import { resolveTarget } from "./context.ts";
import { appendSummary } from "./summary.ts";

export const COMMENT_USAGE = `Usage: tsx pipeline/comment.ts [options] [FILE]

Posts FILE (markdown; standard input when FILE is - or absent) as a comment on a pull request,
or updates the comment posted before: the one whose first line is the marker, written by the
same bot. Other comments are never touched. Also appends FILE to the job summary when
GITHUB_STEP_SUMMARY is set.

Options:
  --pr N           pull request (default: from the event payload at GITHUB_EVENT_PATH)
  --repo OWNER/NAME
                   repository (default: GITHUB_REPOSITORY)
  --marker TEXT    first line that identifies the comment (default: ${COMMENT_MARKER})
  --author LOGIN   whose comment is updated (default: COMMENT_AUTHOR, else github-actions[bot])
  --no-summary     do not append to GITHUB_STEP_SUMMARY
  -h, --help       show this help

Environment: GITHUB_TOKEN (required), GITHUB_API_URL (default https://api.github.com).
`;

export interface CommentOptions {
  readonly file?: string;
  readonly pr?: string;
  readonly repo?: string;
  readonly marker: string;
  readonly author: string;
  readonly summary: boolean;
  readonly help: boolean;
}

export function parseCommentArgs(argv: readonly string[], env: NodeJS.ProcessEnv): CommentOptions {
  const parsed = parseStrict(
    argv,
    COMMENT_USAGE,
    {
      pr: { type: "string" },
      repo: { type: "string" },
      marker: { type: "string" },
      author: { type: "string" },
      "no-summary": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    true,
  );
  const v = parsed.values;
  if (parsed.positionals.length > 1) throw new UsageError(`one FILE at most, not ${parsed.positionals.length}\n\n${COMMENT_USAGE}`);
  const marker = (v.marker ?? COMMENT_MARKER).trim();
  if (!/^<!--.*-->$/.test(marker)) throw new UsageError(`--marker must be an HTML comment such as ${COMMENT_MARKER}, so it stays invisible`);
  const file = parsed.positionals[0];
  return {
    ...(file !== undefined && file !== "-" ? { file } : {}),
    ...(v.pr !== undefined ? { pr: v.pr } : {}),
    ...(v.repo !== undefined ? { repo: v.repo } : {}),
    marker,
    author: v.author ?? (env.COMMENT_AUTHOR || "github-actions[bot]"),
    summary: !v["no-summary"],
    help: v.help ?? false,
  };
}

export interface CommentIo {
  readonly stdout: (text: string) => void;
  readonly readStdin: () => Promise<string>;
  readonly stdinIsTty: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly fetch?: typeof fetch;
}

async function readBody(options: CommentOptions, io: CommentIo): Promise<string> {
  if (options.file === undefined) {
    if (io.stdinIsTty) throw new UsageError(`no FILE given and standard input is a terminal\n\n${COMMENT_USAGE}`);
    return io.readStdin();
  }
  try {
    return await readFile(options.file, "utf8");
  } catch (error) {
    throw new PipelineError("USAGE", `cannot read ${options.file}: ${(error as Error).message}`, { cause: error });
  }
}

export async function commentCommand(options: CommentOptions, io: CommentIo): Promise<number> {
  if (options.help) {
    io.stdout(COMMENT_USAGE);
    return 0;
  }
  // Settle where to post before reading the body, so a set-up mistake is reported first.
  const target = await resolveTarget({ ...(options.repo ? { repo: options.repo } : {}), ...(options.pr ? { pr: options.pr } : {}) }, io.env);
  const markdown = await readBody(options, io);
  if (!markdown.trim()) throw new UsageError(`the comment is empty (${options.file ?? "standard input"}); nothing was posted`);

  // The summary first, so the full text is kept even when posting fails or the comment is cut.
  if (options.summary) await appendSummary(io.env.GITHUB_STEP_SUMMARY, markdown);
  const client = new GitHubClient({ token: target.token, apiUrl: target.apiUrl, ...(io.fetch ? { fetch: io.fetch } : {}) });
  const result = await upsertComment(client, target.pr, markdown, { marker: options.marker, author: options.author });
  const where = `${target.pr.owner}/${target.pr.repo}#${target.pr.number}`;
  switch (result.action) {
    case "created":
      io.stdout(`Commented on ${where}: ${result.url}\n`);
      break;
    case "updated":
      io.stdout(`Updated the comment on ${where}: ${result.url}\n`);
      break;
    case "unchanged":
      io.stdout(`The comment on ${where} is already up to date: ${result.url}\n`);
      break;
  }
  return 0;
}
