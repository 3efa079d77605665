/**
 * The few GitHub REST calls the comment script makes, over `fetch`. Failures become one
 * PipelineError sentence that says what was refused and what to change; the status and the
 * response's own message are kept in it.
 */
import { PipelineError } from "../errors.ts";
import { sleep as defaultSleep } from "../util/sleep.ts";

export const DEFAULT_API_URL = "https://api.github.com";

export interface GitHubClientOptions {
  readonly token: string;
  /** `GITHUB_API_URL`: api.github.com, a GitHub Enterprise Server's `/api/v3`, or a test fake. */
  readonly apiUrl: string;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Attempts for a 5xx or a network failure; a 4xx is never retried. */
  readonly attempts?: number;
  readonly timeoutMs?: number;
}

export interface GitHubResponse<T> {
  readonly data: T;
  readonly next?: string;
}

/** What the request was for, in words, for the error sentence: "list the comments on acme/x#7". */
export type Purpose = string;

export class GitHubClient {
  private readonly base: URL;
  private readonly fetch: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly attempts: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: GitHubClientOptions) {
    this.base = new URL(options.apiUrl.endsWith("/") ? options.apiUrl : `${options.apiUrl}/`);
    this.fetch = options.fetch ?? globalThis.fetch;
    this.sleep = options.sleep ?? defaultSleep;
    this.attempts = options.attempts ?? 3;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** A path relative to the API base (`repos/o/r/...`), or an absolute URL from a Link header. */
  url(pathOrUrl: string): URL {
    const url = new URL(pathOrUrl, this.base);
    // The token goes only to the API it was given for, whatever a Link header says.
    if (url.origin !== this.base.origin || !url.pathname.startsWith(this.base.pathname)) {
      throw new PipelineError("GITHUB_API", `GitHub sent a link outside ${this.base.href} (${url.href}); refusing to send the token there`);
    }
    return url;
  }

  async request<T>(method: "GET" | "POST" | "PATCH", pathOrUrl: string, purpose: Purpose, body?: unknown): Promise<GitHubResponse<T>> {
    const url = this.url(pathOrUrl);
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetch(url, {
          method,
          headers: {
            accept: "application/vnd.github+json",
            authorization: `Bearer ${this.options.token}`,
            "x-github-api-version": "2022-11-28",
            "user-agent": "r-lambda-layers",
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        if (attempt < this.attempts) {
          await this.sleep(1000 * attempt);
          continue;
        }
        const reason = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
        throw new PipelineError("GITHUB_API", `Cannot reach GitHub at ${this.base.origin} to ${purpose} (${reason}): check the network, or GITHUB_API_URL.`, { cause: error });
      }
      if (response.status >= 500 && attempt < this.attempts) {
        await response.body?.cancel();
        await this.sleep(1000 * attempt);
        continue;
      }
      if (!response.ok) throw await responseError(response, purpose);
      const text = await response.text();
      let data: T;
      try {
        data = (text ? JSON.parse(text) : undefined) as T;
      } catch (error) {
        throw new PipelineError("GITHUB_API", `GitHub answered the request to ${purpose} with something other than JSON (HTTP ${response.status}).`, { cause: error });
      }
      const next = nextLink(response.headers.get("link"));
      return next ? { data, next } : { data };
    }
  }
}

/** The `rel="next"` URL of a Link header, if any. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const match = /<([^>]+)>\s*;\s*rel="?([^";]+)"?/.exec(part.trim());
    if (match && match[2]?.split(/\s+/).includes("next")) return match[1];
  }
  return undefined;
}

async function responseError(response: Response, purpose: Purpose): Promise<PipelineError> {
  let message = "";
  try {
    const body = (await response.json()) as { message?: unknown };
    if (typeof body.message === "string") message = body.message;
  } catch {
    // An error page that is not JSON: the status alone says enough.
  }
  const status = `HTTP ${response.status}${message ? `: ${message}` : ""}`;
  switch (true) {
    case response.status === 401:
      return new PipelineError("GITHUB_API", `GitHub rejected the token when trying to ${purpose} (${status}): set GITHUB_TOKEN to a valid token (in a workflow, \`GITHUB_TOKEN: \${{ github.token }}\` on the step).`);
    case (response.status === 403 || response.status === 429) && (response.headers.get("x-ratelimit-remaining") === "0" || response.status === 429):
      return new PipelineError("GITHUB_API", `GitHub's rate limit stopped the request to ${purpose} (${status}): try again after ${response.headers.get("x-ratelimit-reset") ? new Date(Number(response.headers.get("x-ratelimit-reset")) * 1000).toISOString() : "a while"}.`);
    case response.status === 403:
      return new PipelineError("GITHUB_API", `GitHub refused to let the token ${purpose} (${status}): the job needs \`permissions: pull-requests: write\`, which a pull request from a fork never gets.`);
    case response.status === 404:
      return new PipelineError("GITHUB_API", `GitHub found nothing when trying to ${purpose} (${status}): check GITHUB_REPOSITORY and the pull-request number, and that the token can see the repository.`);
    default:
      return new PipelineError("GITHUB_API", `GitHub refused the request to ${purpose} (${status}).`);
  }
}
