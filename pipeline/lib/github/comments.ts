/**
 * One pull-request comment per marker, updated in place: the plan comment is found by the marker
 * on its first line, among the comments written by the bot that posts it, so a comment that a
 * person wrote (even one that quotes the marker) is never taken over or edited.
 */
import type { GitHubClient, GitHubResponse } from "./api.ts";

/** GitHub's limit on a comment body, in characters. */
export const COMMENT_MAX = 65_536;

export interface PullRequestRef {
  readonly owner: string;
  readonly repo: string;
  readonly number: number;
}

export interface IssueComment {
  readonly id: number;
  readonly body?: string;
  readonly html_url?: string;
  readonly user?: { readonly login?: string } | null;
}

export type UpsertResult =
  | { readonly action: "created"; readonly url: string }
  | { readonly action: "updated"; readonly url: string }
  | { readonly action: "unchanged"; readonly url: string };

export interface UpsertOptions {
  readonly marker: string;
  /** Login of the account whose comment is updated (for GITHUB_TOKEN: `github-actions[bot]`). */
  readonly author: string;
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0]!.replace(/\r$/, "").trim();
}

/** The body with the marker as its first line (added when missing, so the comment can be found again). */
export function withMarker(body: string, marker: string): string {
  return firstLine(body) === marker ? body : `${marker}\n${body}`;
}

/**
 * Fits a body into GitHub's limit, cutting at a line end and closing an open `<details>`, with a
 * note that the full text is in the job summary.
 */
export function fitComment(body: string, max = COMMENT_MAX): string {
  if (body.length <= max) return body;
  const note = "\n\n… cut to fit GitHub's comment limit: the full plan is in the workflow run's job summary.\n";
  const room = max - note.length - "\n</details>".length;
  let kept = body.slice(0, room);
  const lastNewline = kept.lastIndexOf("\n");
  if (lastNewline > 0) kept = kept.slice(0, lastNewline);
  const open = (kept.match(/<details>/g) ?? []).length - (kept.match(/<\/details>/g) ?? []).length;
  return `${kept}${open > 0 ? "\n</details>" : ""}${note}`;
}

export function isOurs(comment: IssueComment, options: UpsertOptions): boolean {
  return comment.user?.login === options.author && firstLine(comment.body ?? "") === options.marker;
}

export async function findComment(client: GitHubClient, pr: PullRequestRef, options: UpsertOptions): Promise<IssueComment | undefined> {
  const where = `${pr.owner}/${pr.repo}#${pr.number}`;
  let next: string | undefined = `repos/${pr.owner}/${pr.repo}/issues/${pr.number}/comments?per_page=100`;
  while (next) {
    const page: GitHubResponse<IssueComment[]> = await client.request<IssueComment[]>("GET", next, `list the comments on ${where}`);
    if (!Array.isArray(page.data)) return undefined;
    // The oldest one wins, so the comment keeps its place in the conversation.
    const found = page.data.find((c) => isOurs(c, options));
    if (found) return found;
    next = page.next;
  }
  return undefined;
}

export async function upsertComment(client: GitHubClient, pr: PullRequestRef, markdown: string, options: UpsertOptions): Promise<UpsertResult> {
  const where = `${pr.owner}/${pr.repo}#${pr.number}`;
  const body = fitComment(withMarker(markdown, options.marker));
  const existing = await findComment(client, pr, options);
  if (existing) {
    const url = existing.html_url ?? where;
    if (existing.body === body) return { action: "unchanged", url };
    const { data } = await client.request<IssueComment>(
      "PATCH",
      `repos/${pr.owner}/${pr.repo}/issues/comments/${existing.id}`,
      `update comment ${existing.id} on ${where}`,
      { body },
    );
    return { action: "updated", url: data?.html_url ?? url };
  }
  const { data } = await client.request<IssueComment>(
    "POST",
    `repos/${pr.owner}/${pr.repo}/issues/${pr.number}/comments`,
    `comment on ${where}`,
    { body },
  );
  return { action: "created", url: data?.html_url ?? where };
}
