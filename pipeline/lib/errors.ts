/**
 * Every failure the pipeline expects is one of these. Each carries a stable code; the CLI entry
 * (`cli/run.ts`) is the only place that turns them into exit statuses and printed text.
 */

export type ErrorCode =
  | "USAGE"
  | "MANIFEST_INVALID"
  | "MANIFEST_UNREADABLE"
  | "STATE_UNREADABLE"
  | "STATE_CONFLICT"
  | "BACKEND_UNAVAILABLE"
  | "BUILD_FAILED"
  | "RECONCILE_FAILED"
  | "LOCKED"
  | "AWS_CREDENTIALS"
  | "AWS_ACCESS_DENIED"
  | "AWS_RESOURCE_MISSING"
  | "AWS_WRONG_REGION"
  | "AWS_THROTTLED"
  | "AWS_SERVICE_ERROR"
  | "AWS_UNREACHABLE"
  | "GITHUB_API"
  /** `npm run invoke`: the function failed (an error, a timeout, its process exited). */
  | "FUNCTION_FAILED"
  | "STALE_COMMIT"
  | "INTERRUPTED"
  | "TERMINATED"
  | "LOCKFILE_INVALID"
  | "LOCKFILE_STALE"
  | "REPOSITORY_UNAVAILABLE"
  | "INTERNAL";

export class PipelineError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PipelineError";
    this.code = code;
  }
}

export class UsageError extends PipelineError {
  constructor(message: string) {
    super("USAGE", message);
    this.name = "UsageError";
  }
}

/** One problem in a manifest, anchored to the file position it comes from. */
export interface Problem {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** JSON-pointer-like path into the manifest, e.g. `layers[2].packages[0]`; empty for the root. */
  readonly path: string;
  readonly message: string;
}

export function formatProblem(p: Problem): string {
  const where = p.path ? `${p.path}: ` : "";
  return `${p.file}:${p.line}:${p.column}: ${where}${p.message}`;
}

/** All the problems found in a manifest, reported together. */
export class ManifestError extends PipelineError {
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[], note?: string) {
    const count = problems.length;
    super("MANIFEST_INVALID", `${count} problem${count === 1 ? "" : "s"} in the manifest${note ? ` (${note})` : ""}`);
    this.name = "ManifestError";
    this.problems = problems;
  }
}

/** A state backend could be reached but said something we cannot act on safely. */
export class StateError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("STATE_UNREADABLE", message, options);
    this.name = "StateError";
  }
}

/**
 * Something the code itself guarantees did not hold: a bug in r-lambda-layers, never the user's
 * input or the world's state. Reported with its stack and a request to report it.
 */
export class InternalError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("INTERNAL", message, options);
    this.name = "InternalError";
  }
}

/** The run was cancelled by a signal: SIGINT (INTERRUPTED, exit 130) or SIGTERM (TERMINATED, exit 143). */
export class CancelledError extends PipelineError {
  constructor(signal: "SIGINT" | "SIGTERM", message: string) {
    super(signal === "SIGINT" ? "INTERRUPTED" : "TERMINATED", message);
    this.name = "CancelledError";
  }
}
