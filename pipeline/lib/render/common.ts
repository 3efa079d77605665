import type { Action, Change, Plan, PlanSummary } from "../plan/types.ts";

export const MARKERS: Readonly<Record<Change, string>> = { create: "+", update: "~", delete: "-" };

export function summaryLine(s: PlanSummary): string {
  return `${s.build} to build, ${s.publish} to publish, ${s.grant} to grant, ${s.prune} to prune, ${s.unchanged} unchanged`;
}

/**
 * Parameter changes in a few words, `3 to write, 1 to delete`, or undefined when the plan manages
 * no parameters. Apart from summaryLine, whose wording tools and people match on.
 */
export function parameterLine(plan: Plan): string | undefined {
  if (plan.summary.parameters === undefined) return undefined;
  const changes = plan.actions.filter((a) => a.kind === "parameter");
  const deletes = changes.filter((a) => a.change === "delete").length;
  return `${changes.length - deletes} to write, ${deletes} to delete`;
}

/** Whether the account differs from the manifest: actions to take, or orphaned layers left for --prune. */
export function hasChanges(plan: Plan): boolean {
  return plan.actions.length > 0 || (plan.orphaned?.length ?? 0) > 0;
}

/** What an action acts on, in a few words: `r-runtime-4_4_1 → us-east-1`. */
export function target(action: Action): string {
  switch (action.kind) {
    case "compile-r":
      return `R ${action.r} (${action.arch})`;
    case "build-layer":
      return `${action.layerName} (R ${action.r}, ${action.arch})`;
    case "publish":
      return `${action.layerName} → ${action.region}`;
    case "grant":
      return `${action.layerName} in ${action.region}${action.version === undefined ? "" : ` v${action.version}`}`;
    case "prune":
      return `${action.layerName} in ${action.region}: version${action.versions.length === 1 ? "" : "s"} ${action.versions.join(", ")}`;
    case "parameter":
      return `${action.name} in ${action.region}`;
  }
}

export const VERBS: Readonly<Record<Action["kind"], string>> = {
  "compile-r": "compile",
  "build-layer": "build",
  publish: "publish",
  grant: "grant",
  prune: "prune",
  parameter: "parameter",
};

/** Actions grouped for display: R builds first, then one group per layer in manifest order. */
export function groups(plan: Plan): { title: string; actions: Action[] }[] {
  const out = new Map<string, Action[]>();
  for (const action of plan.actions) {
    const title =
      action.kind === "compile-r"
        ? "R builds"
        : action.layer !== undefined
          ? `layer ${action.layer}`
          : "layers no longer in the manifest";
    const list = out.get(title) ?? [];
    list.push(action);
    out.set(title, list);
  }
  return [...out].map(([title, actions]) => ({ title, actions }));
}

export function stateLine(plan: Plan): string {
  return `${plan.state.backend} state at ${plan.state.location}`;
}
