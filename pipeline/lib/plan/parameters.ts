/**
 * Which Parameter Store parameters a plan writes or deletes, decided once. Like needs.ts, both
 * `observe()` (to know whose owner tag to read) and the planner (to decide) call this pure
 * function, so a no-op plan reads one listing per layer path and region and no tags, and the planner never
 * meets a parameter whose owner it was not told.
 *
 * One parameter per publication (layer build × region), named `naming.parameterName`, holding
 * the ARN of the publication's current version. It is written only when its value would change:
 * when a publish in the same plan creates a new version (the value is read at execution), or
 * when the current version's ARN differs from what the parameter holds (or it is missing).
 * With pruning, a parameter under the prefix that no publication names is deleted.
 */
import type { BuildGraph, LayerBuild } from "../keys/graph.ts";
import { parameterName } from "../naming.ts";
import type { StoredParameter } from "../ports.ts";
import type { Publication } from "./needs.ts";

export type ParameterNeed =
  | {
      readonly kind: "write";
      readonly build: LayerBuild;
      readonly region: string;
      readonly name: string;
      /** What the parameter holds now, if it exists. */
      readonly existing?: StoredParameter;
      /** The ARN to write; undefined when it is the version a publish in this plan creates. */
      readonly value?: string;
      /** The version `value` names (for the plan's reason). */
      readonly version?: number;
    }
  | {
      readonly kind: "delete";
      readonly region: string;
      readonly name: string;
      readonly existing: StoredParameter;
      /** The layer build the name belongs to, when it is one the manifest still has (a region it left). */
      readonly build?: LayerBuild;
    };

export interface ParameterInput {
  readonly graph: BuildGraph;
  /** Every publication the manifest declares, with its head and whether it is current (needs.publications). */
  readonly publications: readonly Publication[];
  /** Region → name → parameter, for every region read. */
  readonly existing: ReadonlyMap<string, ReadonlyMap<string, StoredParameter>>;
  readonly prune: boolean;
}

/** The name of a publication's parameter, or undefined when parameters are off. */
export function publicationParameter(graph: BuildGraph, build: LayerBuild): string | undefined {
  return graph.parameterPrefix === undefined ? undefined : parameterName(graph.parameterPrefix, build.layer.name, build.rVersion, build.arch);
}

/** The writes and deletes a plan needs, publications in manifest order, then deletions by region and name. */
export function parameterNeeds(input: ParameterInput): ParameterNeed[] {
  const { graph } = input;
  if (graph.parameterPrefix === undefined) return [];
  const needs: ParameterNeed[] = [];
  const named = new Set<string>();
  for (const p of input.publications) {
    const name = publicationParameter(graph, p.build) as string;
    named.add(`${p.region}\u0000${name}`);
    const existing = input.existing.get(p.region)?.get(name);
    const common = { kind: "write" as const, build: p.build, region: p.region, name, ...(existing ? { existing } : {}) };
    if (!p.current || !p.head) {
      needs.push(common);
    } else if (existing?.value !== p.head.arn) {
      needs.push({ ...common, value: p.head.arn, version: p.head.version });
    }
  }
  if (!input.prune) return needs;
  const byName = new Map(graph.layerBuilds.map((b) => [publicationParameter(graph, b) as string, b]));
  for (const [region, parameters] of [...input.existing].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [name, existing] of [...parameters].sort(([a], [b]) => a.localeCompare(b))) {
      if (named.has(`${region}\u0000${name}`)) continue;
      const build = byName.get(name);
      needs.push({ kind: "delete", region, name, existing, ...(build ? { build } : {}) });
    }
  }
  return needs;
}

/** Parameters whose owner tag decides whether a need may be acted on: those that exist. */
export function ownersNeeded(needs: readonly ParameterNeed[]): { region: string; name: string }[] {
  return needs.flatMap((n) => (n.existing ? [{ region: n.region, name: n.name }] : []));
}
