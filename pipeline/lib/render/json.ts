/** The plan for other tools: the versioned `Plan` document itself, stable key order. */
import type { Plan } from "../plan/types.ts";

export function renderJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`;
}
