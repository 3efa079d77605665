/**
 * A reconcile for the job summary: what was planned (the same matrices as the plan comment), what
 * each action did, and for a failure its phase, message and the end of its log, shown verbatim
 * in code blocks that its text cannot close. Pure: the plan and the executor's events in,
 * markdown out.
 */
import type { ExecutionEvent, ExecutionSummary } from "../execute/events.ts";
import type { Action, Plan } from "../plan/types.ts";
import { MARKERS, VERBS, stateLine, summaryLine, target } from "./common.ts";
import { cell, codeBlock, matrixMarkdown } from "./markdown.ts";
import type { MarkdownOptions } from "./markdown.ts";
import { layerMatrices } from "./matrix.ts";

export type ActionResult =
  | { readonly status: "succeeded"; readonly elapsedMs: number; readonly note?: string }
  | {
      readonly status: "failed";
      readonly elapsedMs: number;
      readonly message: string;
      readonly phase?: string;
      readonly logTail: readonly string[];
      readonly link?: string;
    }
  | { readonly status: "skipped"; readonly because: string }
  | { readonly status: "not run" };

/** What became of each action, from the executor's events (the last word on an action wins). */
export function actionResults(events: readonly ExecutionEvent[]): Map<string, ActionResult> {
  const results = new Map<string, ActionResult>();
  for (const e of events) {
    switch (e.type) {
      case "succeeded":
        results.set(e.action.id, { status: "succeeded", elapsedMs: e.elapsedMs, ...(e.note ? { note: e.note } : {}) });
        break;
      case "failed":
        results.set(e.action.id, {
          status: "failed",
          elapsedMs: e.elapsedMs,
          message: e.message,
          logTail: e.logTail,
          ...(e.phase ? { phase: e.phase } : {}),
          ...(e.link ? { link: e.link } : {}),
        });
        break;
      case "skipped":
        results.set(e.action.id, { status: "skipped", because: e.because });
        break;
      case "cancelled":
        results.set(e.action.id, { status: "skipped", because: e.leftRunning ? "cancelled; the build goes on and the next reconcile re-attaches to it" : "cancelled before it started" });
        break;
      case "started":
      case "log":
        break;
    }
  }
  return results;
}

const RESULT_MARK: Readonly<Record<ActionResult["status"], string>> = {
  succeeded: ":white_check_mark:",
  failed: ":x:",
  skipped: ":fast_forward:",
  "not run": ":grey_question:",
};

function seconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m`;
}

/** A link only when it is a plain https URL, so it cannot carry markdown of its own. */
function logLink(link: string | undefined): string {
  return link && /^https:\/\/[^\s()<>[\]`]+$/.test(link) ? ` [Full log](${link}).` : "";
}

function detail(result: ActionResult | undefined): string {
  switch (result?.status) {
    case "succeeded":
      return `${seconds(result.elapsedMs)}${result.note ? `; ${result.note}` : ""}`;
    case "failed":
      return `failed${result.phase ? ` in phase ${result.phase}` : ""} after ${seconds(result.elapsedMs)}`;
    case "skipped":
      return `skipped: ${result.because}`;
    case "not run":
    case undefined:
      return "not run";
  }
}

export interface Execution {
  readonly summary: ExecutionSummary;
  readonly events: readonly ExecutionEvent[];
}

/**
 * The job summary of one reconcile: `execution` is absent when the plan had nothing to do.
 * A failed action shows its phase, its message and the end of its log.
 */
export function renderReconcileSummary(plan: Plan, execution: Execution | undefined, options: MarkdownOptions = {}): string {
  const lines: string[] = ["### r-lambda-layers reconcile", ""];
  if (!execution || plan.actions.length === 0) {
    lines.push(`:white_check_mark: **Nothing to do**: what is published matches \`${cell(plan.manifest).replaceAll("`", "'")}\` (${summaryLine(plan.summary)}).`);
    return `${lines.join("\n")}\n`;
  }
  const { summary } = execution;
  const results = actionResults(execution.events);
  const failed = summary.failed.length > 0;
  const counts = `${summary.succeeded.length} succeeded, ${summary.failed.length} failed, ${summary.skipped.length} skipped in ${seconds(summary.elapsedMs)}`;
  lines.push(failed ? `:x: **The reconcile failed**: ${counts}.` : `:white_check_mark: **Reconciled**: ${counts}.`);
  lines.push("");
  lines.push(`The plan it carried out: **${summaryLine(plan.summary)}**, against ${cell(stateLine(plan))}${plan.pruning ? ", pruning old versions" : ""}.`);
  lines.push("");
  lines.push(...matrixMarkdown(layerMatrices(plan, options.spots)));

  const byId = new Map(plan.actions.map((a) => [a.id, a]));
  for (const id of summary.failed) {
    const action = byId.get(id);
    const result = results.get(id);
    if (!action || result?.status !== "failed") continue;
    lines.push(`#### :x: ${VERBS[action.kind]} ${cell(target(action))} failed${result.phase ? ` in phase ${cell(result.phase)}` : ""}`);
    lines.push("");
    lines.push(`After ${seconds(result.elapsedMs)}.${logLink(result.link)}`);
    lines.push("");
    lines.push(codeBlock(result.message));
    if (result.logTail.length) {
      lines.push("");
      lines.push(`The last ${result.logTail.length} line${result.logTail.length === 1 ? "" : "s"} of its log:`);
      lines.push("");
      lines.push(codeBlock(result.logTail.join("\n")));
    }
    lines.push("");
  }
  if (failed) {
    lines.push("Fix the failure and run the workflow again: only what is still missing is done.");
    lines.push("");
  }

  lines.push(`<details><summary>${plan.actions.length} action${plan.actions.length === 1 ? "" : "s"}</summary>`);
  lines.push("");
  lines.push("| result | | action | target | outcome |");
  lines.push("|---|---|---|---|---|");
  for (const a of plan.actions) lines.push(row(a, results.get(a.id)));
  lines.push("");
  lines.push("</details>");
  return `${lines.join("\n")}\n`;
}

function row(a: Action, result: ActionResult | undefined): string {
  return `| ${RESULT_MARK[result?.status ?? "not run"]} | \`${MARKERS[a.change]}\` | ${VERBS[a.kind]} | ${cell(target(a))} | ${cell(detail(result))} |`;
}
