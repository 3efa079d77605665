/**
 * Execution events as text. On a terminal and in plain logs, build output streams live,
 * each line prefixed by its build; in GitHub Actions each build's output is held back and
 * printed as one collapsible group when the build ends, since concurrent builds would
 * otherwise interleave inside one group.
 */
import { VERBS, target } from "./common.ts";
import type { ExecutionEvent, ExecutionSummary } from "../execute/events.ts";

export type ProgressStyle = "terminal" | "plain" | "github";

export function progressStyle(env: NodeJS.ProcessEnv, isTty: boolean): ProgressStyle {
  if (env.GITHUB_ACTIONS === "true") return "github";
  return isTty ? "terminal" : "plain";
}

export function formatElapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export function createProgressRenderer(style: ProgressStyle, write: (text: string) => void): (event: ExecutionEvent) => void {
  const held = new Map<string, string[]>();
  const label = (e: ExecutionEvent) => `${VERBS[e.action.kind]} ${target(e.action)}`;
  const short = (e: ExecutionEvent) => ("layerName" in e.action ? e.action.layerName : `r-${e.action.r}-${e.action.arch}`);

  return (event) => {
    switch (event.type) {
      case "started":
        write(`▶ ${label(event)}\n`);
        return;
      case "log":
        if (style === "github") {
          const lines = held.get(event.action.id) ?? [];
          lines.push(event.line);
          held.set(event.action.id, lines);
        } else {
          write(`  │ ${short(event)} │ ${event.line}\n`);
        }
        return;
      case "succeeded":
        flush(event.action.id, `${label(event)} (log)`);
        write(`✔ ${label(event)} (${formatElapsed(event.elapsedMs)}${event.note ? `; ${event.note}` : ""})\n`);
        return;
      case "failed": {
        flush(event.action.id, `${label(event)} (log)`);
        const where = event.phase ? ` in phase ${event.phase}` : "";
        write(`✖ ${label(event)} failed${where} after ${formatElapsed(event.elapsedMs)}: ${event.message}\n`);
        if (style === "github") write(`::error title=${event.action.id} failed::${event.message.replaceAll("\n", " ")}\n`);
        if (event.logTail.length) {
          write(`  last ${event.logTail.length} lines of the log:\n`);
          for (const line of event.logTail) write(`  │ ${line}\n`);
        }
        if (event.link) write(`  full log: ${event.link}\n`);
        return;
      }
      case "skipped":
        write(`- skipped ${label(event)}: ${event.because}\n`);
        return;
    }
  };

  function flush(id: string, title: string) {
    const lines = held.get(id);
    if (style !== "github" || !lines) return;
    held.delete(id);
    write(`::group::${title}\n${lines.join("\n")}\n::endgroup::\n`);
  }
}

export function summaryText(summary: ExecutionSummary): string {
  return `Reconcile: ${summary.succeeded.length} succeeded, ${summary.failed.length} failed, ${summary.skipped.length} skipped in ${formatElapsed(summary.elapsedMs)}`;
}
