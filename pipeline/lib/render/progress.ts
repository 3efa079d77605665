/**
 * Execution events as text. On a terminal and in plain logs, build output streams live,
 * each line prefixed by its build; in GitHub Actions each build's output is held back and
 * printed as one collapsible group when the build ends, since concurrent builds would
 * otherwise interleave inside one group. In GitHub Actions no line of build output or of a
 * message can become a workflow command: build output is written between `::stop-commands::`
 * markers, and so is any other text that could be read as a command.
 */
import { escapeData, escapeProperty, logSafeWriter, stopToken, withoutCommands } from "./workflow-commands.ts";
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

export interface ProgressOptions {
  /** Draws the stop-commands token (GitHub style); random by default. */
  readonly token?: () => string;
}

export function createProgressRenderer(
  style: ProgressStyle,
  writeRaw: (text: string) => void,
  options: ProgressOptions = {},
): (event: ExecutionEvent) => void {
  const token = options.token ?? stopToken;
  // Our own workflow commands go to writeRaw; everything else through `write`.
  const write = style === "github" ? logSafeWriter(writeRaw, token) : writeRaw;
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
        if (style === "github") writeRaw(`::error title=${escapeProperty(`${event.action.id} failed`)}::${escapeData(event.message)}\n`);
        const details: string[] = [];
        if (event.logTail.length) {
          details.push(`  last ${event.logTail.length} lines of the log:`);
          for (const line of event.logTail) details.push(`  │ ${line}`);
        }
        if (event.link) details.push(`  full log: ${event.link}`);
        if (details.length) write(`${details.join("\n")}\n`);
        return;
      }
      case "skipped":
        write(`- skipped ${label(event)}: ${event.because}\n`);
        return;
      case "cancelled":
        flush(event.action.id, `${label(event)} (log)`);
        write(
          event.leftRunning
            ? `■ ${label(event)}: cancelled; not waiting for the build (the next reconcile re-attaches to it if it is still running or succeeded)\n`
            : `■ ${label(event)}: cancelled before it started\n`,
        );
        return;
    }
  };

  function flush(id: string, title: string) {
    const lines = held.get(id);
    if (style !== "github" || !lines) return;
    held.delete(id);
    // The build's output is never read for commands, whatever it contains.
    writeRaw(`::group::${escapeData(title)}\n${withoutCommands(lines.join("\n"), token)}::endgroup::\n`);
  }
}

export function summaryText(summary: ExecutionSummary): string {
  const cancelled = summary.cancelled.length + summary.leftRunning.length;
  return `Reconcile: ${summary.succeeded.length} succeeded, ${summary.failed.length} failed, ${summary.skipped.length} skipped${cancelled ? `, ${cancelled} cancelled` : ""} in ${formatElapsed(summary.elapsedMs)}`;
}
