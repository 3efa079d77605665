/**
 * Which pull request to comment on, and how to reach GitHub, from what a workflow step has:
 * `GITHUB_REPOSITORY`, the event payload at `GITHUB_EVENT_PATH`, `GITHUB_API_URL`, `GITHUB_TOKEN`.
 * Flags given by hand win over the environment.
 */
import { readFile } from "node:fs/promises";
import { PipelineError, UsageError } from "../errors.ts";
import { DEFAULT_API_URL } from "./api.ts";
import type { PullRequestRef } from "./comments.ts";

export interface TargetFlags {
  readonly repo?: string;
  readonly pr?: string;
}

export interface Target {
  readonly pr: PullRequestRef;
  readonly token: string;
  readonly apiUrl: string;
}

const REPO_RE = /^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)\/([A-Za-z0-9._-]+)$/;

export function parseRepository(value: string, from: string): { owner: string; repo: string } {
  const match = REPO_RE.exec(value.trim());
  if (!match) throw new UsageError(`${from} must be owner/name, not "${value}"`);
  return { owner: match[1]!, repo: match[2]! };
}

function parseNumber(value: string, from: string): number {
  if (!/^[1-9]\d{0,9}$/.test(value.trim())) throw new UsageError(`${from} must be a pull-request number, not "${value}"`);
  return Number(value);
}

/** The pull-request number in an event payload (`pull_request`, `pull_request_review`, `issue_comment` on a pull request). */
export async function numberFromEvent(path: string): Promise<number | undefined> {
  let payload: unknown;
  try {
    payload = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new PipelineError("USAGE", `cannot read the event payload at GITHUB_EVENT_PATH=${path}: ${(error as Error).message}`, { cause: error });
  }
  const event = (payload ?? {}) as { pull_request?: { number?: unknown }; issue?: { number?: unknown; pull_request?: unknown } };
  const n = event.pull_request?.number ?? (event.issue?.pull_request ? event.issue.number : undefined);
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : undefined;
}

export async function resolveTarget(flags: TargetFlags, env: NodeJS.ProcessEnv): Promise<Target> {
  const token = env.GITHUB_TOKEN?.trim();
  if (!token) throw new UsageError("GITHUB_TOKEN is not set: in a workflow, add `env: GITHUB_TOKEN: ${{ github.token }}` to the step");
  const repoText = flags.repo ?? env.GITHUB_REPOSITORY;
  if (!repoText) throw new UsageError("no repository: pass --repo owner/name or set GITHUB_REPOSITORY");
  const { owner, repo } = parseRepository(repoText, flags.repo ? "--repo" : "GITHUB_REPOSITORY");
  let number: number | undefined;
  if (flags.pr !== undefined) number = parseNumber(flags.pr, "--pr");
  else if (env.GITHUB_EVENT_PATH) number = await numberFromEvent(env.GITHUB_EVENT_PATH);
  if (number === undefined) {
    throw new UsageError("no pull request: pass --pr N, or run on a pull_request event (GITHUB_EVENT_PATH)");
  }
  const apiUrl = env.GITHUB_API_URL?.trim() || DEFAULT_API_URL;
  try {
    new URL(apiUrl);
  } catch {
    throw new UsageError(`GITHUB_API_URL is not a URL: "${apiUrl}"`);
  }
  return { pr: { owner, repo, number }, token, apiUrl };
}
