/**
 * What an edit of the manifest changes in the plan: the actions the edited manifest adds, the
 * ones it no longer needs, and the ones it changes (same action, another build key or reason),
 * as a short summary for `npm run layers`.
 */
import type { Action, Plan } from "../plan/types.ts";
import { VERBS, stateLine, summaryLine, target } from "./common.ts";

export interface PlanDifference {
  readonly added: readonly Action[];
  readonly removed: readonly Action[];
  readonly changed: readonly { readonly before: Action; readonly after: Action }[];
}

const keyOf = (a: Action): string => ("key" in a ? (a.key ?? "") : "");

export function planDifference(before: Plan | undefined, after: Plan): PlanDifference {
  const old = new Map((before?.actions ?? []).map((a) => [a.id, a]));
  const now = new Map(after.actions.map((a) => [a.id, a]));
  return {
    added: after.actions.filter((a) => !old.has(a.id)),
    removed: (before?.actions ?? []).filter((a) => !now.has(a.id)),
    changed: after.actions.flatMap((a) => {
      const b = old.get(a.id);
      return b && (keyOf(b) !== keyOf(a) || b.reason !== a.reason) ? [{ before: b, after: a }] : [];
    }),
  };
}

const MAX_LINES = 12;

/** `Plan difference … : 3 actions more, 1 fewer, 0 changed`, then up to a dozen action lines. */
export function renderPlanDifference(before: Plan | undefined, after: Plan): string {
  const d = planDifference(before, after);
  const lines: string[] = [];
  const total = d.added.length + d.removed.length + d.changed.length;
  const against = `compared with ${stateLine(after)}`;
  if (total === 0) {
    lines.push(`Plan difference (${against}): none; the plan is the same as before.`);
  } else {
    lines.push(`Plan difference (${against}): ${d.added.length} more, ${d.removed.length} fewer, ${d.changed.length} changed action${total === 1 ? "" : "s"}.`);
    const shown = [
      ...d.added.map((a) => `  + ${VERBS[a.kind].padEnd(8)}${target(a)}`),
      ...d.removed.map((a) => `  - ${VERBS[a.kind].padEnd(8)}${target(a)}  (no longer needed)`),
      ...d.changed.map(({ after: a }) => `  ~ ${VERBS[a.kind].padEnd(8)}${target(a)}  (${a.reason})`),
    ];
    lines.push(...shown.slice(0, MAX_LINES));
    if (shown.length > MAX_LINES) lines.push(`  … and ${shown.length - MAX_LINES} more (npm run plan shows them all)`);
  }
  lines.push(`${before ? `Plan before: ${summaryLine(before.summary)}.\n` : ""}Plan after:  ${summaryLine(after.summary)}.`);
  return `${lines.join("\n")}\n`;
}
