/**
 * The lines Lambda writes around an invocation in the function's log (START, END, REPORT), in
 * Lambda's own form. Pure: figures in, text out.
 */
import type { InvocationReport } from "./instance.ts";

const ms = (value: number) => `${value.toFixed(2)} ms`;

export function startLine(requestId: string): string {
  return `START RequestId: ${requestId} Version: $LATEST`;
}

export function endLine(requestId: string): string {
  return `END RequestId: ${requestId}`;
}

/**
 * `REPORT RequestId: … Duration: 1.23 ms Billed Duration: 2 ms Memory Size: 128 MB Max Memory
 * Used: 60 MB Init Duration: 95.12 ms` (Init Duration only on a cold start; Lambda bills by the
 * millisecond, rounding up, and since 2025 bills the init phase too, which the line shows apart).
 */
export function reportLine(report: InvocationReport): string {
  const parts = [
    `REPORT RequestId: ${report.requestId}`,
    `Duration: ${ms(report.durationMs)}`,
    `Billed Duration: ${Math.max(1, Math.ceil(report.durationMs))} ms`,
    `Memory Size: ${report.memorySizeMb} MB`,
    `Max Memory Used: ${report.maxMemoryUsedMb === undefined ? "?" : report.maxMemoryUsedMb} MB`,
  ];
  if (report.initDurationMs !== undefined) parts.push(`Init Duration: ${ms(report.initDurationMs)}`);
  const status = report.verdict.kind;
  if (status === "timeout" || status === "out-of-memory" || status === "exited") {
    parts.push(`Status: ${status === "timeout" ? "timeout" : "error"}`);
  }
  return parts.join("\t");
}
