/**
 * The one place where errors become exit statuses and text on stderr. Entry points hand their
 * work to `runCli`; everything below them throws typed errors and never exits.
 */
import { ManifestError, PipelineError, formatProblem } from "../errors.ts";
import type { ErrorCode, Problem } from "../errors.ts";

const EXIT_STATUS: Readonly<Record<ErrorCode, number>> = {
  USAGE: 1,
  MANIFEST_INVALID: 1,
  MANIFEST_UNREADABLE: 1,
  STATE_UNREADABLE: 1,
  STATE_CONFLICT: 1,
  BACKEND_UNAVAILABLE: 1,
  BUILD_FAILED: 1,
  RECONCILE_FAILED: 1,
  LOCKED: 1,
  AWS_CREDENTIALS: 1,
  AWS_ACCESS_DENIED: 1,
  AWS_RESOURCE_MISSING: 1,
  AWS_WRONG_REGION: 1,
  AWS_THROTTLED: 1,
  AWS_SERVICE_ERROR: 1,
  AWS_UNREACHABLE: 1,
  GITHUB_API: 1,
  FUNCTION_FAILED: 1,
  STALE_COMMIT: 1,
  // As a shell reports a process ended by SIGINT / SIGTERM.
  INTERRUPTED: 130,
  TERMINATED: 143,
  LOCKFILE_INVALID: 1,
  LOCKFILE_STALE: 1,
  REPOSITORY_UNAVAILABLE: 1,
  INTERNAL: 1,
};

/** A GitHub Actions workflow command that annotates the line in the pull request's diff. */
export function annotation(level: "error" | "warning", p: Problem): string {
  const escape = (s: string) => s.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
  const prop = (s: string) => escape(s).replaceAll(":", "%3A").replaceAll(",", "%2C");
  return `::${level} file=${prop(p.file)},line=${p.line},col=${p.column},title=${prop(p.path || "manifest")}::${escape(p.message)}`;
}

export function describeError(error: unknown, env: NodeJS.ProcessEnv = {}): { status: number; text: string } {
  if (error instanceof ManifestError) {
    const lines = error.problems.map(formatProblem);
    if (env.GITHUB_ACTIONS === "true") lines.push(...error.problems.map((p) => annotation("error", p)));
    lines.push(`error[${error.code}]: ${error.message}; nothing was done`);
    return { status: EXIT_STATUS[error.code], text: lines.join("\n") };
  }
  if (error instanceof PipelineError && error.code !== "INTERNAL") {
    return { status: EXIT_STATUS[error.code], text: `error[${error.code}]: ${error.message}` };
  }
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return {
    status: EXIT_STATUS.INTERNAL,
    text: `error[INTERNAL]: this is a bug in r-lambda-layers; please report it with the output below.\n${detail}`,
  };
}

/** Runs an entry point's work and sets the exit status from its result or its error. */
export async function runCli(main: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await main();
  } catch (error) {
    const { status, text } = describeError(error, process.env);
    process.stderr.write(`${text}\n`);
    process.exitCode = status;
  }
}
