/**
 * Runs a plan's actions as a dependency graph: an action starts when everything it depends on
 * has succeeded, builds and API calls each within their own concurrency limit. A failure skips
 * only what depends on it; everything independent still runs.
 */
import type { Action } from "../plan/types.ts";
import type { ExecutionEvent, ExecutionSummary } from "./events.ts";
import { InternalError, PipelineError } from "../errors.ts";

/** A step's failure with what a person needs to act on it (a failed build's phase, log tail, link). */
export class StepFailure extends Error {
  constructor(
    message: string,
    readonly details: { phase?: string; logTail?: readonly string[]; link?: string } = {},
  ) {
    super(message);
    this.name = "StepFailure";
  }
}

/**
 * Carries out one action; may return a short note ("version 4"). Throws to fail it. `signal`
 * aborts when the run is cancelled: a build then stops waiting (and a local one stops).
 */
export type StepRunner = (action: Action, log: (line: string) => void, signal: AbortSignal) => Promise<string | void>;

export interface ExecuteOptions {
  readonly buildConcurrency: number;
  readonly apiConcurrency: number;
  readonly onEvent: (event: ExecutionEvent) => void;
  readonly clock?: () => number;
  /**
   * Cancellation (SIGINT/SIGTERM): nothing new starts; API steps in flight finish (a publish is
   * never cut in half); builds in flight are not waited for.
   */
  readonly signal?: AbortSignal;
}

const isBuild = (a: Action) => a.kind === "compile-r" || a.kind === "build-layer";

export async function execute(actions: readonly Action[], runStep: StepRunner, options: ExecuteOptions): Promise<ExecutionSummary> {
  const clock = options.clock ?? (() => performance.now());
  const began = clock();
  const byId = new Map(actions.map((a) => [a.id, a]));
  for (const a of actions) {
    for (const d of a.dependsOn) {
      if (!byId.has(d)) throw new InternalError(`${a.id} depends on ${d}, which is not in the plan`);
    }
  }

  type State = "waiting" | "running" | "succeeded" | "failed" | "skipped";
  const state = new Map<string, State>(actions.map((a) => [a.id, "waiting"]));
  const running = { build: 0, api: 0 };
  const succeeded: string[] = [];
  const failed: string[] = [];
  const skipped: string[] = [];
  const cancelled: string[] = [];
  const leftRunning: string[] = [];
  const failureCodes: Record<string, string> = {};
  const signal = options.signal ?? new AbortController().signal;

  return new Promise<ExecutionSummary>((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      resolve({ succeeded, failed, skipped, cancelled, leftRunning, failureCodes, elapsedMs: clock() - began });
    };
    const finishIfDone = () => {
      if (signal.aborted) {
        // Cancelled: only API steps are waited for; builds go on (or stop) without us.
        if (running.api === 0) finish();
        return;
      }
      if (running.build + running.api > 0) return;
      if ([...state.values()].some((s) => s === "waiting")) return;
      finish();
    };
    const onAbort = () => {
      for (const a of actions) {
        const s = state.get(a.id);
        if (s === "waiting") {
          state.set(a.id, "skipped");
          cancelled.push(a.id);
          options.onEvent({ type: "cancelled", action: a, leftRunning: false });
        } else if (s === "running" && isBuild(a)) {
          leftRunning.push(a.id);
          options.onEvent({ type: "cancelled", action: a, leftRunning: true });
        }
      }
      finishIfDone();
    };
    signal.addEventListener("abort", onAbort);

    const skipDependents = () => {
      let changed = true;
      while (changed) {
        changed = false;
        for (const a of actions) {
          if (state.get(a.id) !== "waiting") continue;
          const blocker = a.dependsOn.find((d) => state.get(d) === "failed" || state.get(d) === "skipped");
          if (blocker) {
            state.set(a.id, "skipped");
            skipped.push(a.id);
            options.onEvent({
              type: "skipped",
              action: a,
              because: `${blocker} ${state.get(blocker) === "failed" ? "failed" : "was skipped"}`,
            });
            changed = true;
          }
        }
      }
    };

    const launch = (a: Action) => {
      const pool = isBuild(a) ? "build" : "api";
      running[pool]++;
      state.set(a.id, "running");
      const started = clock();
      options.onEvent({ type: "started", action: a });
      runStep(a, (line) => options.onEvent({ type: "log", action: a, line }), signal).then(
        (note) => {
          if (done) return;
          state.set(a.id, "succeeded");
          succeeded.push(a.id);
          options.onEvent({ type: "succeeded", action: a, elapsedMs: clock() - started, ...(note ? { note } : {}) });
        },
        (error: unknown) => {
          if (done) return;
          state.set(a.id, "failed");
          failed.push(a.id);
          const details = error instanceof StepFailure ? error.details : {};
          const code = error instanceof PipelineError ? error.code : undefined;
          if (code) failureCodes[a.id] = code;
          options.onEvent({
            type: "failed",
            action: a,
            elapsedMs: clock() - started,
            message: error instanceof Error ? error.message : String(error),
            logTail: details.logTail ?? [],
            ...(details.phase ? { phase: details.phase } : {}),
            ...(details.link ? { link: details.link } : {}),
            ...(code ? { code } : {}),
          });
        },
      ).finally(() => {
        running[pool]--;
        if (done) return;
        skipDependents();
        schedule();
        finishIfDone();
      });
    };

    const schedule = () => {
      if (signal.aborted) return;
      for (const a of actions) {
        if (state.get(a.id) !== "waiting") continue;
        if (!a.dependsOn.every((d) => state.get(d) === "succeeded")) continue;
        const pool = isBuild(a) ? "build" : "api";
        const limit = pool === "build" ? options.buildConcurrency : options.apiConcurrency;
        if (running[pool] >= limit) continue;
        launch(a);
      }
    };

    if (signal.aborted) onAbort();
    schedule();
    finishIfDone();
  });
}
