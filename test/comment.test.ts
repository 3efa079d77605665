/**
 * The comment script against a local fake of the GitHub endpoints it calls (list comments,
 * paginated; create; update), run as a separate process as a workflow step runs it.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { GitHubClient, nextLink } from "../pipeline/lib/github/api.ts";
import { commentCommand, parseCommentArgs } from "../pipeline/lib/github/comment-command.ts";
import { COMMENT_MAX, fitComment, withMarker } from "../pipeline/lib/github/comments.ts";
import { describeError } from "../pipeline/lib/cli/run.ts";
import { COMMENT_MARKER } from "../pipeline/lib/render/markdown.ts";
import { runEntry } from "./support/cli.ts";

const BOT = "github-actions[bot]";
const TOKENS: Readonly<Record<string, string>> = { "bot-token": BOT, "mallory-token": "mallory" };
/** Small pages, so a handful of comments already needs the Link header to be followed. */
const PAGE_SIZE = 2;

interface FakeComment {
  id: number;
  issue: number;
  body: string;
  user: { login: string };
  html_url: string;
}

/** The few GitHub endpoints the script calls, with GitHub's shapes, status codes and Link pagination. */
class FakeGitHub {
  comments: FakeComment[] = [];
  requests: string[] = [];
  private nextId = 100;
  private server: Server = createServer((req, res) => void this.handle(req, res));
  url = "";

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  reset(): void {
    this.comments = [];
    this.requests = [];
  }

  seed(issue: number, login: string, body: string): FakeComment {
    const id = this.nextId++;
    const comment = { id, issue, body, user: { login }, html_url: `https://github.test/acme/layers/pull/${issue}#issuecomment-${id}` };
    this.comments.push(comment);
    return comment;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    const login = TOKENS[(req.headers.authorization ?? "").replace(/^Bearer /, "")];
    if (!login) return send(401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
    let raw = "";
    for await (const chunk of req) raw += String(chunk);

    const list = /^\/repos\/acme\/layers\/issues\/(\d+)\/comments$/.exec(url.pathname);
    if (list && req.method === "GET") {
      const all = this.comments.filter((c) => c.issue === Number(list[1]));
      const page = Number(url.searchParams.get("page") ?? "1");
      const items = all.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
      const headers: Record<string, string> = {};
      if (page * PAGE_SIZE < all.length) {
        const next = new URL(url);
        next.searchParams.set("page", String(page + 1));
        headers.link = `<${next.href}>; rel="next", <${this.url}${url.pathname}?page=${Math.ceil(all.length / PAGE_SIZE)}>; rel="last"`;
      }
      return send(200, items, headers);
    }
    if (list && req.method === "POST") {
      const comment = this.seed(Number(list[1]), login, (JSON.parse(raw) as { body: string }).body);
      return send(201, comment);
    }
    const one = /^\/repos\/acme\/layers\/issues\/comments\/(\d+)$/.exec(url.pathname);
    if (one && req.method === "PATCH") {
      const comment = this.comments.find((c) => c.id === Number(one[1]));
      if (!comment) return send(404, { message: "Not Found" });
      if (comment.user.login !== login) return send(403, { message: "Resource not accessible by integration" });
      comment.body = (JSON.parse(raw) as { body: string }).body;
      return send(200, comment);
    }
    return send(404, { message: "Not Found" });
  }
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tsx pipeline/comment.ts` with only the GitHub variables a test gives it. */
function runComment(args: readonly string[], env: Record<string, string>, stdin?: string): Promise<Run> {
  return runEntry("comment.ts", args, {
    env,
    stdin: stdin ?? "",
    // When the suite itself runs in GitHub Actions, its GITHUB_* values must not leak into the script.
    inherit: (name) => !name.startsWith("GITHUB_") && name !== "COMMENT_AUTHOR",
  });
}

/** The same command in this process (for the cases that need no separate process), errors described as the entry does. */
async function runInProcess(args: readonly string[], env: Record<string, string>, stdin: string | undefined): Promise<Run> {
  let stdout = "";
  try {
    const status = await commentCommand(parseCommentArgs(args, env), {
      stdout: (text) => (stdout += text),
      readStdin: async () => stdin ?? "",
      stdinIsTty: stdin === undefined,
      env,
    });
    return { status, stdout, stderr: "" };
  } catch (error) {
    const { status, text } = describeError(error, env);
    return { status, stdout, stderr: `${text}\n` };
  }
}

const github = new FakeGitHub();
let work: string;

before(async () => {
  await github.start();
  work = await mkdtemp(join(tmpdir(), "rll-comment-"));
});
after(async () => {
  await github.stop();
  await rm(work, { recursive: true, force: true });
});
beforeEach(() => github.reset());

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { GITHUB_TOKEN: "bot-token", GITHUB_REPOSITORY: "acme/layers", GITHUB_API_URL: github.url, ...extra };
}

const plan = (summary: string) => `${COMMENT_MARKER}\n### r-lambda-layers plan\n\n**${summary}**\n`;

describe("tsx pipeline/comment.ts against a fake GitHub API", () => {
  test("the first run creates one comment, later runs update that comment in place and never touch others", async () => {
    github.seed(7, "alice", "Looks good, but why gbm?");
    github.seed(7, "mallory", `${COMMENT_MARKER}\nI wrote the marker myself`);
    github.seed(7, BOT, "<!-- some-other-tool -->\ncoverage 93%");
    github.seed(8, BOT, plan("plan of another pull request"));
    const untouched = structuredClone(github.comments);
    const summary = join(work, "summary.md");
    const first = join(work, "first.md");
    await writeFile(first, plan("1 to build, 1 to publish"));

    const created = await runComment(["--pr", "7", first], env({ GITHUB_STEP_SUMMARY: summary }));
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /^Commented on acme\/layers#7: https:\/\/github\.test\/acme\/layers\/pull\/7#issuecomment-\d+$/m);
    const ours = github.comments.filter((c) => c.issue === 7 && c.user.login === BOT && c.body.startsWith(COMMENT_MARKER));
    assert.equal(ours.length, 1);
    assert.equal(ours[0]!.body, plan("1 to build, 1 to publish"));
    // Three comments on #7 before ours: two pages to read, both followed through the Link header.
    assert.deepEqual(github.requests.filter((r) => r.startsWith("GET")), [
      "GET /repos/acme/layers/issues/7/comments?per_page=100",
      "GET /repos/acme/layers/issues/7/comments?per_page=100&page=2",
    ]);

    // The next push: markdown on standard input, the pull request from the event payload.
    const event = join(work, "event.json");
    await writeFile(event, JSON.stringify({ action: "synchronize", number: 7, pull_request: { number: 7 } }));
    github.requests = [];
    const updated = await runComment([], env({ GITHUB_EVENT_PATH: event, GITHUB_STEP_SUMMARY: summary }), plan("No changes"));
    assert.equal(updated.status, 0, updated.stderr);
    assert.match(updated.stdout, /^Updated the comment on acme\/layers#7: /m);
    assert.equal(github.comments.filter((c) => c.issue === 7).length, 4, "no new comment");
    assert.equal(github.comments.find((c) => c.id === ours[0]!.id)!.body, plan("No changes"));
    assert.deepEqual(github.requests.filter((r) => !r.startsWith("GET")), [`PATCH /repos/acme/layers/issues/comments/${ours[0]!.id}`]);
    for (const before of untouched) assert.deepEqual(github.comments.find((c) => c.id === before.id), before);

    // Same body again: nothing to write.
    github.requests = [];
    const same = await runComment(["--pr", "7", "-"], env({ GITHUB_STEP_SUMMARY: summary }), plan("No changes"));
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stdout, /already up to date/);
    assert.ok(github.requests.every((r) => r.startsWith("GET")), github.requests.join("\n"));

    assert.equal(await readFile(summary, "utf8"), plan("1 to build, 1 to publish") + plan("No changes") + plan("No changes"));
  });

  test("a body without the marker gets it on its first line, so the next run finds the comment", async () => {
    const r1 = await runInProcess(["--pr", "3", "--no-summary"], env(), ":x: **The plan failed**\n");
    assert.equal(r1.status, 0, r1.stderr);
    assert.equal(github.comments[0]!.body, `${COMMENT_MARKER}\n:x: **The plan failed**\n`);
    const r2 = await runInProcess(["--pr", "3", "--no-summary"], env(), plan("fixed"));
    assert.equal(r2.status, 0, r2.stderr);
    assert.equal(github.comments.length, 1);
    assert.equal(github.comments[0]!.body, plan("fixed"));
  });

  test("a rejected token is one clear sentence, and nothing is posted", async () => {
    const r = await runComment(["--pr", "7"], env({ GITHUB_TOKEN: "expired" }), plan("x"));
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^error\[GITHUB_API\]: GitHub rejected the token when trying to list the comments on acme\/layers#7 \(HTTP 401: Bad credentials\): set GITHUB_TOKEN to a valid token/);
    assert.equal(github.comments.length, 0);
  });

  test("a token that may not write comments says which permission the job needs", async () => {
    // Told to update another account's comment, the bot's token is refused as GitHub refuses it.
    github.seed(7, "mallory", plan("old"));
    const r = await runComment(["--pr", "7", "--author", "mallory"], env(), plan("new"));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error\[GITHUB_API\]: GitHub refused to let the token update comment \d+ on acme\/layers#7 \(HTTP 403: Resource not accessible by integration\): the job needs `permissions: pull-requests: write`/);
    assert.equal(github.comments[0]!.body, plan("old"));
  });

  test("without a token, a repository or a pull request the script says what to set and calls nothing", async () => {
    const noToken = await runInProcess(["--pr", "7"], env({ GITHUB_TOKEN: "" }), plan("x"));
    assert.equal(noToken.status, 1);
    assert.match(noToken.stderr, /^error\[USAGE\]: GITHUB_TOKEN is not set/);
    const noPr = await runInProcess([], env(), plan("x"));
    assert.match(noPr.stderr, /^error\[USAGE\]: no pull request: pass --pr N/);
    const badRepo = await runInProcess(["--pr", "7"], env({ GITHUB_REPOSITORY: "not a repo" }), plan("x"));
    assert.match(badRepo.stderr, /^error\[USAGE\]: GITHUB_REPOSITORY must be owner\/name/);
    const empty = await runInProcess(["--pr", "7"], env(), "  \n");
    assert.match(empty.stderr, /^error\[USAGE\]: the comment is empty/);
    const tty = await runInProcess(["--pr", "7"], env(), undefined);
    assert.match(tty.stderr, /^error\[USAGE\]: no FILE given and standard input is a terminal/);
    assert.deepEqual(github.requests, []);
  });
});

describe("comment helpers", () => {
  test("fitComment cuts at a line end within GitHub's limit and closes an open <details>", () => {
    const rows = Array.from({ length: 4000 }, (_, i) => `| \`+\` | publish | r-runtime-4_4_1 → region-${i} | not yet published |`);
    const body = `${COMMENT_MARKER}\n**summary**\n\n<details><summary>4000 actions</summary>\n\n${rows.join("\n")}\n</details>\n`;
    const fitted = fitComment(body);
    assert.ok(body.length > COMMENT_MAX);
    assert.ok(fitted.length <= COMMENT_MAX, String(fitted.length));
    assert.ok(fitted.startsWith(`${COMMENT_MARKER}\n**summary**`));
    assert.match(fitted, /\|\n<\/details>\n\n… cut to fit GitHub's comment limit: the full plan is in the workflow run's job summary\.\n$/);
    assert.equal(fitComment("short"), "short");
  });

  test("withMarker adds the marker only when the first line lacks it", () => {
    assert.equal(withMarker(plan("x"), COMMENT_MARKER), plan("x"));
    assert.equal(withMarker(`${COMMENT_MARKER}\r\nbody`, COMMENT_MARKER), `${COMMENT_MARKER}\r\nbody`);
    assert.equal(withMarker("body", COMMENT_MARKER), `${COMMENT_MARKER}\nbody`);
  });

  test("nextLink reads rel=next; the client never follows a link to another host with the token", () => {
    assert.equal(nextLink('<https://api.github.com/x?page=2>; rel="next", <https://api.github.com/x?page=5>; rel="last"'), "https://api.github.com/x?page=2");
    assert.equal(nextLink('<https://api.github.com/x?page=1>; rel="prev"'), undefined);
    assert.equal(nextLink(null), undefined);
    const client = new GitHubClient({ token: "t", apiUrl: "https://ghe.example/api/v3" });
    assert.equal(client.url("repos/a/b").href, "https://ghe.example/api/v3/repos/a/b");
    assert.throws(() => client.url("https://evil.example/api/v3/repos"), /refusing to send the token there/);
    assert.throws(() => client.url("https://ghe.example/other"), /refusing to send the token there/);
  });
});
