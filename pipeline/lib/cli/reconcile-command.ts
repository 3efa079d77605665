/**
 * `reconcile`: make what is published match the manifest. Takes the lock, plans, carries out the
 * plan (builds, publishes, grants, prunes), writes the outputs index, releases the lock.
 */
import { simpleGit } from "simple-git";
import { CancelledError, PipelineError, UsageError } from "../errors.ts";
import type { ErrorCode } from "../errors.ts";
import type { ExecutionSummary } from "../execute/events.ts";
import type { Cancellation } from "./signals.ts";
import { TOOL_ROOT } from "../keys/sources.ts";
import { execute } from "../execute/executor.ts";
import { collectOutputs } from "../execute/outputs.ts";
import { renderOutputsText } from "../render/outputs.ts";
import { createProgressRenderer, progressStyle, summaryText } from "../render/progress.ts";
import { createStepRunner } from "../execute/steps.ts";
import type { ExecutionEvent } from "../execute/events.ts";
import { appendSummary } from "../github/summary.ts";
import { logSafeWriter } from "../render/workflow-commands.ts";
import { publicationSpots } from "../render/matrix.ts";
import { renderReconcileSummary } from "../render/reconcile.ts";
import { renderText } from "../render/text.ts";
import { acquireLock, lockHolder } from "./lock.ts";
import { requirePinned } from "./lock-guard.ts";
import { openWorkspace, planFor } from "./workspace.ts";
import type { Opened } from "./workspace.ts";
import { COLOUR_OPTIONS, colourFrom, oneOf, parseCommand, wholeNumber } from "./args.ts";
import type { CommonOptions } from "./args.ts";

export const RECONCILE_USAGE = `Usage: tsx pipeline/reconcile.ts [options]

Builds, publishes, grants and (with --prune) deletes so that what is published matches the
manifest. Safe to re-run: it only does what the plan says is missing.

Options:
  --manifest FILE          manifest (default: layers.yaml)
  --backend local|aws      where state is read and changed (default: local)
  --state DIR              local backend folder (default: .layers beside the manifest)
  --allow-file-repository  local backend only: accept file:// repositories (their packages are
                           built on this machine; use --build-mode docker for untrusted manifests)
  --prune                  also delete versions beyond retention and layers no longer in the manifest
  --build-mode host|docker local backend only: build on this machine (default) or in the Lambda image
  --build-env NAME=VALUE   local backend only, repeatable: where R's source comes from
                           (R_SOURCE_TARBALL, R_SOURCE_URL, R_SOURCE_SHA256), e.g. for offline builds
  --lock-timeout SECONDS   wait this long for another reconcile to finish (default: 0)
  --force-unlock ID        remove a lock left by a killed run (the id is in the error message), then exit
  --api-concurrency N      API calls in flight at once (default: 8)
  --allow-older-commit     apply this checkout even though the state was last reconciled from a
                           newer commit (re-running an old workflow run refuses without it)
  --unlocked               publish layers that layers.lock does not pin (their versions are
                           whatever the repository serves when they build)
  --color / --no-color     force colour in the plan on or off
  -h, --help               show this help
`;

export interface ReconcileOptions extends CommonOptions {
  prune: boolean;
  buildMode: "host" | "docker";
  buildEnv: Record<string, string>;
  lockTimeoutSeconds: number;
  forceUnlock?: string;
  apiConcurrency: number;
  allowOlderCommit: boolean;
  colour: boolean;
  unlocked: boolean;
}

export function parseReconcileArgs(argv: readonly string[], env: NodeJS.ProcessEnv, isTty: boolean): ReconcileOptions {
  const { common, values } = parseCommand(argv, RECONCILE_USAGE, {
    prune: { type: "boolean" },
    "build-mode": { type: "string" },
    "build-env": { type: "string", multiple: true },
    "lock-timeout": { type: "string" },
    "force-unlock": { type: "string" },
    "api-concurrency": { type: "string" },
    "allow-older-commit": { type: "boolean" },
    unlocked: { type: "boolean" },
    ...COLOUR_OPTIONS,
  });
  const str = (name: string) => values[name] as string | undefined;
  const apiConcurrency = wholeNumber("--api-concurrency", str("api-concurrency"), 8);
  if (apiConcurrency < 1) throw new UsageError("--api-concurrency must be at least 1");
  const forceUnlock = str("force-unlock");
  if (forceUnlock !== undefined && forceUnlock.trim() === "") {
    throw new UsageError("--force-unlock needs the lock's id (it is in the LOCKED error message); it was given an empty value");
  }
  return {
    ...common,
    prune: values.prune === true,
    buildMode: oneOf("--build-mode", str("build-mode") ?? "host", ["host", "docker"] as const),
    buildEnv: buildEnvFrom(values["build-env"] as unknown as string[] | undefined),
    lockTimeoutSeconds: wholeNumber("--lock-timeout", str("lock-timeout"), 0),
    ...(forceUnlock !== undefined ? { forceUnlock } : {}),
    apiConcurrency,
    allowOlderCommit: values["allow-older-commit"] === true,
    colour: colourFrom(values, env, isTty),
    unlocked: values.unlocked === true,
  };
}

/** Where R's source comes from is the build machine's business, not part of the build key. */
const BUILD_ENV_NAMES = ["R_SOURCE_TARBALL", "R_SOURCE_URL", "R_SOURCE_SHA256"] as const;

function buildEnvFrom(pairs: readonly string[] | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const at = pair.indexOf("=");
    const name = at > 0 ? pair.slice(0, at) : pair;
    if (at <= 0 || !(BUILD_ENV_NAMES as readonly string[]).includes(name)) {
      throw new UsageError(`--build-env takes NAME=VALUE with NAME one of ${BUILD_ENV_NAMES.join(", ")}, not "${pair}"`);
    }
    env[name] = pair.slice(at + 1);
  }
  return env;
}

export interface ReconcileIo {
  readonly stdout: (text: string) => void;
  readonly now: () => Date;
  readonly env: NodeJS.ProcessEnv;
  readonly isTty: boolean;
  /** Cancellation (cli/signals.ts); none in tests that do not cancel. */
  readonly cancellation?: Cancellation;
}

/**
 * Whether `commit` is older than `last` (an ancestor of it, not the same): re-running an old
 * workflow run would then undo what later merges applied. Unknown history is not a yes: the
 * caller is told to fetch it.
 */
export async function isOlderCommit(commit: string, last: string, root: string = TOOL_ROOT): Promise<boolean> {
  if (commit === last) return false;
  const git = simpleGit(root);
  try {
    await git.raw(["cat-file", "-e", `${last}^{commit}`]);
  } catch {
    throw new PipelineError(
      "STALE_COMMIT",
      `the state was last reconciled from commit ${last.slice(0, 12)}, which this checkout's history does not contain; fetch the history (actions/checkout with fetch-depth: 0) so it can be checked, or pass --allow-older-commit if applying this checkout is intended`,
    );
  }
  // `merge-base --is-ancestor` answers by exit status, which simple-git does not report: the
  // merge base of the two is `commit` itself exactly when `commit` is an ancestor of `last`.
  const [base, self] = await Promise.all([git.raw(["merge-base", commit, last]), git.raw(["rev-parse", `${commit}^{commit}`])]);
  return base.trim() !== "" && base.trim() === self.trim();
}

async function currentCommit(): Promise<string | undefined> {
  try {
    const git = simpleGit(TOOL_ROOT);
    if (!(await git.checkIsRepo())) return undefined;
    return (await git.revparse(["HEAD"])).trim() || undefined;
  } catch {
    // A checkout without commits (or without git) still reconciles; the commit is informative only.
    return undefined;
  }
}

export async function reconcileCommand(options: ReconcileOptions, io: ReconcileIo): Promise<number> {
  if (options.help) {
    io.stdout(RECONCILE_USAGE);
    return 0;
  }
  const commit = await currentCommit();
  if (options.backend === "aws" && Object.keys(options.buildEnv).length > 0) {
    throw new UsageError("--build-env applies to the local backend; CodeBuild builds fetch R's source themselves");
  }
  const opened = await openWorkspace(options, {
    buildMode: { kind: options.buildMode },
    buildEnv: options.buildEnv,
    ...(commit ? { commit } : {}),
  });
  try {
    return await forceUnlockOrReconcile(opened, options, io, commit);
  } finally {
    opened.workspace.close();
  }
}

async function forceUnlockOrReconcile(opened: Opened, options: ReconcileOptions, io: ReconcileIo, commit: string | undefined): Promise<number> {
  const { workspace } = opened;

  if (options.forceUnlock !== undefined) {
    const holder = await workspace.lock.read();
    if (!holder) {
      io.stdout("No lock is held.\n");
      return 0;
    }
    if (holder.id !== options.forceUnlock) {
      throw new UsageError(`the lock is held by ${holder.holder} with id ${holder.id}, not ${options.forceUnlock}; nothing was removed`);
    }
    await workspace.lock.release(holder.id);
    io.stdout(`Removed the lock ${holder.id} held by ${holder.holder} since ${holder.createdAt}.\n`);
    return 0;
  }

  return runReconcile(opened, {
    prune: options.prune,
    apiConcurrency: options.apiConcurrency,
    lockTimeoutSeconds: options.lockTimeoutSeconds,
    colour: options.colour,
    commit,
    io,
    olderCommit: options.allowOlderCommit ? "allow" : (c, last) => isOlderCommit(c, last),
    requirePinned: !options.unlocked,
  });
}

export interface RunReconcileOptions {
  readonly prune: boolean;
  readonly apiConcurrency: number;
  readonly lockTimeoutSeconds: number;
  readonly colour: boolean;
  readonly commit: string | undefined;
  readonly io: ReconcileIo;
  /** The stale-apply guard: how to tell whether this commit is older than the last applied one, or "allow". */
  readonly olderCommit?: "allow" | ((commit: string, last: string) => Promise<boolean>);
  /** Refuse to publish a layer that layers.lock does not pin (the CLI's default; `--unlocked` turns it off). */
  readonly requirePinned?: boolean;
}

/** The reconcile itself, on an opened workspace: lock, plan, execute, outputs, unlock. */
export async function runReconcile(opened: Opened, options: RunReconcileOptions): Promise<number> {
  const { workspace, manifest } = opened;
  const { commit } = options;
  // In GitHub Actions, text that could be read as a workflow command is written between ::stop-commands:: markers.
  const github = progressStyle(options.io.env, options.io.isTty) === "github";
  const io = { ...options.io, stdout: github ? logSafeWriter(options.io.stdout) : options.io.stdout };
  const cancel = io.cancellation;
  const lock = await acquireLock(workspace.lock, {
    holder: lockHolder(io.env),
    ...(commit ? { commit } : {}),
    ttlMs: (manifest.builder.timeoutMinutes + 30) * 60_000,
    waitMs: options.lockTimeoutSeconds * 1000,
    now: io.now,
    onWait: (holder) => io.stdout(`Waiting up to ${options.lockTimeoutSeconds}s for the lock held by ${holder.holder}…\n`),
    ...(cancel ? { signal: cancel.signal } : {}),
  });
  cancel?.setLeftBehind(`The lock ${lock.id} is kept: once no reconcile runs, remove it with --force-unlock ${lock.id}`);
  try {
    await refuseOlderCommit();
    // A reconcile reads live policies: it repairs grants changed by hand, and records the result.
    const plan = await planFor(opened, { prune: options.prune, refreshGrants: true }, io.now());
    io.stdout(renderText(plan, { colour: options.colour }));
    if (options.requirePinned && opened.lock) requirePinned(plan, opened.lock);
    // The job summary: the plan it carried out and what each action did (GITHUB_STEP_SUMMARY).
    const events: ExecutionEvent[] = [];
    const show = createProgressRenderer(progressStyle(io.env, io.isTty), options.io.stdout);
    const report = (execution?: Parameters<typeof renderReconcileSummary>[1]) =>
      appendSummary(io.env.GITHUB_STEP_SUMMARY, renderReconcileSummary(plan, execution, { spots: publicationSpots(opened.graph) }));
    if (plan.actions.length === 0) await report();
    if (plan.actions.length > 0) {
      io.stdout("\n");
      const steps = createStepRunner({ manifest, graph: opened.graph, backend: workspace.backend, builder: workspace.builder, ...(commit ? { commit } : {}) });
      const summary = await execute(plan.actions, steps, {
        buildConcurrency: manifest.builder.parallelism,
        apiConcurrency: options.apiConcurrency,
        onEvent: (event) => {
          events.push(event);
          show(event);
        },
        ...(cancel ? { signal: cancel.signal } : {}),
      });
      io.stdout(`\n${summaryText(summary)}\n`);
      await report({ summary, events });
      const notDone = new Set([...summary.failed, ...summary.skipped, ...summary.cancelled]);
      if (notDone.size > 0 || summary.leftRunning.length > 0) {
        const unsettled = plan.actions.flatMap((a) =>
          notDone.has(a.id) && (a.kind === "publish" || a.kind === "grant") ? [`${a.region}/${a.layerName}`] : [],
        );
        await writeOutputs(new Set(unsettled));
      }
      const reason = cancel?.reason();
      if (reason) {
        const running = summary.leftRunning.length ? `; ${summary.leftRunning.length} build${summary.leftRunning.length === 1 ? "" : "s"} left running (the next reconcile re-attaches to ${summary.leftRunning.length === 1 ? "it" : "them"})` : "";
        throw new CancelledError(reason, `cancelled by ${reason}: ${summary.succeeded.length} done, ${summary.cancelled.length} not started${running}; the lock is released and the outputs index written. Run again to finish.`);
      }
      if (summary.failed.length > 0) throw failureError(summary);
    } else if (cancel?.reason()) {
      throw new CancelledError(cancel.reason() ?? "SIGINT", "cancelled before anything was done; the lock is released");
    }
    await writeOutputs();
    return 0;
  } finally {
    await workspace.lock.release(lock.id);
    cancel?.setLeftBehind(undefined);
  }

  /** Re-running an old workflow run must not undo what later merges applied. */
  async function refuseOlderCommit(): Promise<void> {
    if (!commit || !options.olderCommit || options.olderCommit === "allow") return;
    const last = (await workspace.backend.artifacts.readOutputs())?.commit;
    if (!last || !(await options.olderCommit(commit, last))) return;
    throw new PipelineError(
      "STALE_COMMIT",
      `this checkout (commit ${commit.slice(0, 12)}) is older than the commit the state was last reconciled from (${last.slice(0, 12)}): applying it would undo later changes. Nothing was done. To roll back, revert in a new commit; to apply this one anyway, pass --allow-older-commit`,
    );
  }

  async function writeOutputs(unsettled: ReadonlySet<string> = new Set()): Promise<void> {
    const index = await collectOutputs(opened.graph, workspace.backend, io.now(), { ...(commit ? { commit } : {}), unsettled });
    await workspace.backend.artifacts.writeOutputs(index);
    io.stdout(`\nPublished layers (${index.layers.length}):\n${renderOutputsText(index)}`);
  }
}

/**
 * A reconcile with failed actions. When every failure was the same typed error (say
 * AWS_CREDENTIALS expiring mid-run), that code is the run's; otherwise RECONCILE_FAILED.
 */
function failureError(summary: ExecutionSummary): PipelineError {
  const codes = [...new Set(summary.failed.map((id) => summary.failureCodes[id]))];
  const only = codes.length === 1 ? codes[0] : undefined;
  const named = only && only !== "BUILD_FAILED" ? ` (${only})` : "";
  const message = `${summary.failed.length} action${summary.failed.length === 1 ? "" : "s"} failed${named} (${summary.failed.join(", ")}); ${summary.skipped.length} skipped because they depend on a failure; ${summary.succeeded.length} succeeded. Fix the failure and run again: only what is still missing will be done.`;
  return new PipelineError(only && only !== "BUILD_FAILED" ? (only as ErrorCode) : "RECONCILE_FAILED", message);
}
