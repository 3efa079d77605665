/**
 * The planner: manifest (as a build graph) + observed state + clock in, plan out. Pure and
 * synchronous; everything it knows arrives as an argument.
 *
 * Artifacts are a cache: an artifact is built when it is missing and something planned needs it
 * (a publish, or a build that links against it), so a published layer whose zip expired from the
 * bucket is not rebuilt for nothing.
 */
import type { BuildGraph, LayerBuild } from "../keys/graph.ts";
import type { Grant } from "../grants.ts";
import { describeGrant, desiredGrants, grantId } from "../grants.ts";
import { explainChange } from "./reasons.ts";
import type {
  Action,
  BuildLayerAction,
  CompileRAction,
  GrantAction,
  ObservedState,
  Plan,
  PlanSummary,
  PruneAction,
  PublicationTarget,
  PublishAction,
} from "./types.ts";
import { PLAN_FORMAT_VERSION, artifactId } from "./types.ts";

export interface PlanInput {
  readonly manifestFile: string;
  readonly graph: BuildGraph;
  readonly observed: ObservedState;
  readonly now: Date;
  readonly prune: boolean;
  readonly warnings?: readonly string[];
}

const short = (key: string) => key.slice(0, 12);

export function plan(input: PlanInput): Plan {
  const { graph, observed } = input;
  const published = (region: string, layerName: string) => observed.published.get(region)?.get(layerName);
  const built = (kind: "r" | "layer", key: string): boolean => {
    const known = observed.artifacts.get(artifactId(kind, key));
    if (known === undefined) throw new Error(`internal: the plan needs artifact ${kind}:${key}, which was not observed`);
    return known;
  };

  // 1. Which publications need a new version, and which layer builds those need.
  interface PublishNeed {
    build: LayerBuild;
    region: string;
    replaces?: number;
    reason: string;
  }
  const publishNeeds: PublishNeed[] = [];
  for (const build of graph.layerBuilds) {
    for (const region of build.layer.regions) {
      const head = published(region, build.layerName)?.latest;
      if (!head) {
        publishNeeds.push({ build, region, reason: `not yet published in ${region}` });
      } else if (head.key !== build.key) {
        const why =
          head.key === undefined
            ? "carries no build key (published outside this pipeline?)"
            : `carries another key${explained(head.key, build)}`;
        publishNeeds.push({ build, region, replaces: head.version, reason: `published version ${head.version} ${why}` });
      }
    }
  }

  // 2. Builds: walk down from what is needed to what is missing.
  const neededLayers = new Map<string, LayerBuild>();
  const needLayer = (build: LayerBuild) => {
    if (neededLayers.has(build.id) || built("layer", build.key)) return;
    neededLayers.set(build.id, build);
    build.stacks.forEach(needLayer);
  };
  publishNeeds.forEach((n) => needLayer(n.build));

  const neededR = new Set<string>();
  for (const build of neededLayers.values()) {
    if (!built("r", build.rBuild.key)) neededR.add(build.rBuild.id);
  }

  const compileIds = new Map<string, string>();
  const compileActions: CompileRAction[] = graph.rBuilds
    .filter((b) => neededR.has(b.id))
    .map((b) => {
      const id = `compile-r:${b.rVersion}:${b.arch}`;
      compileIds.set(b.id, id);
      return {
        kind: "compile-r",
        id,
        dependsOn: [],
        change: "create",
        r: b.rVersion,
        arch: b.arch,
        key: b.key,
        reason: `not yet built (key ${short(b.key)})`,
      };
    });

  const buildIds = new Map<string, string>();
  const buildActions = new Map<string, BuildLayerAction>();
  for (const build of graph.layerBuilds) {
    if (!neededLayers.has(build.id)) continue;
    const id = `build-layer:${build.layer.name}:${build.rVersion}:${build.arch}`;
    buildIds.set(build.id, id);
    const dependsOn = [
      ...(compileIds.has(build.rBuild.id) ? [compileIds.get(build.rBuild.id) as string] : []),
      ...build.stacks.flatMap((s) => (buildIds.has(s.id) ? [buildIds.get(s.id) as string] : [])),
    ];
    const previous = previousKey(build);
    buildActions.set(build.id, {
      kind: "build-layer",
      id,
      dependsOn,
      change: previous ? "update" : "create",
      layer: build.layer.name,
      layerName: build.layerName,
      r: build.rVersion,
      arch: build.arch,
      key: build.key,
      rBuildKey: build.rBuild.key,
      stackKeys: build.stacks.map((s) => s.key),
      reason: previous ? `inputs changed${explained(previous, build)}` : "not yet built",
    });
  }

  // 3. Per layer: its builds, then per region its publish, grants and pruning.
  const layerActions: Action[] = [];
  let grantCount = 0;
  let unchanged = 0;
  const needsByPublication = new Map(publishNeeds.map((n) => [`${n.build.id}@${n.region}`, n]));
  const publicationsDone = new Set<string>();
  for (const build of graph.layerBuilds) {
    const buildAction = buildActions.get(build.id);
    if (buildAction) layerActions.push(buildAction);
    for (const region of build.layer.regions) {
      const need = needsByPublication.get(`${build.id}@${region}`);
      const state = published(region, build.layerName);
      const idSuffix = `${build.layer.name}:${build.rVersion}:${build.arch}:${region}`;
      let publishId: string | undefined;
      if (need) {
        publishId = `publish:${idSuffix}`;
        const publish: PublishAction = {
          kind: "publish",
          id: publishId,
          dependsOn: buildAction ? [buildAction.id] : [],
          change: need.replaces === undefined ? "create" : "update",
          ...publication(build, region),
          ...(need.replaces === undefined ? {} : { replacesVersion: need.replaces }),
          reason: need.reason,
        };
        layerActions.push(publish);
      }

      const grant = grantAction(build, region, idSuffix, publishId, state?.grants, state?.latest.version);
      if (grant) {
        layerActions.push(grant);
        grantCount++;
      }
      if (!need && !grant) unchanged++;

      if (input.prune && state?.versions) {
        // A planned publish adds a version, so one fewer of the existing ones is kept.
        const keep = Math.max(0, build.layer.retain - (publishId ? 1 : 0));
        const excess = state.versions.slice(keep).map((v) => v.version);
        if (excess.length) {
          layerActions.push({
            kind: "prune",
            id: `prune:${build.layerName}:${region}`,
            dependsOn: publishId ? [publishId] : [],
            change: "delete",
            layer: build.layer.name,
            layerName: build.layerName,
            region,
            versions: excess,
            reason: `keeps the newest ${build.layer.retain} version${build.layer.retain === 1 ? "" : "s"}`,
          });
        }
      }
      publicationsDone.add(`${region}/${build.layerName}`);
    }
  }

  // 4. Layers this pipeline published that the manifest no longer has.
  const orphans: PruneAction[] = [];
  if (input.prune) {
    for (const [region, layers] of [...observed.published].sort(([a], [b]) => a.localeCompare(b))) {
      for (const [layerName, state] of [...layers].sort(([a], [b]) => a.localeCompare(b))) {
        if (publicationsDone.has(`${region}/${layerName}`) || state.latest.key === undefined) continue;
        const versions = (state.versions ?? [state.latest]).map((v) => v.version);
        orphans.push({
          kind: "prune",
          id: `prune:${layerName}:${region}`,
          dependsOn: [],
          change: "delete",
          layerName,
          region,
          versions,
          reason: "no longer in the manifest",
        });
      }
    }
  }

  const actions: Action[] = [...compileActions, ...layerActions, ...orphans];
  const summary: PlanSummary = {
    build: compileActions.length + buildActions.size,
    publish: publishNeeds.length,
    grant: grantCount,
    prune: actions.filter((a) => a.kind === "prune").length,
    unchanged,
  };

  return {
    version: PLAN_FORMAT_VERSION,
    generatedAt: input.now.toISOString(),
    manifest: input.manifestFile,
    state: observed.description,
    pruning: input.prune,
    actions,
    summary,
    warnings: input.warnings ?? [],
  };

  function previousKey(build: LayerBuild): string | undefined {
    for (const region of build.layer.regions) {
      const key = published(region, build.layerName)?.latest.key;
      if (key !== undefined && key !== build.key) return key;
    }
    return undefined;
  }

  function explained(oldKey: string, build: LayerBuild): string {
    const before = observed.records.get(oldKey);
    const why = before ? explainChange(before, build.inputs) : undefined;
    return why ? ` (${why})` : "";
  }
}

/** What a publish or grant acts on: one layer build in one region. */
function publication(build: LayerBuild, region: string): PublicationTarget {
  return { layer: build.layer.name, layerName: build.layerName, r: build.rVersion, arch: build.arch, region, key: build.key };
}

function grantAction(
  build: LayerBuild,
  region: string,
  idSuffix: string,
  publishId: string | undefined,
  current: readonly Grant[] | undefined,
  version: number | undefined,
): GrantAction | undefined {
  const desired = desiredGrants(build.layer.share);
  const base = {
    kind: "grant" as const,
    id: `grant:${idSuffix}`,
    ...publication(build, region),
  };
  if (publishId) {
    // Grants belong to one version: a new version starts with none.
    if (desired.length === 0) return undefined;
    return {
      ...base,
      dependsOn: [publishId],
      change: "create",
      add: desired,
      remove: [],
      reason: `the new version needs its grants: ${desired.map(describeGrant).join(", ")}`,
    };
  }
  if (current === undefined || version === undefined) return undefined;
  const have = new Set(current.map(grantId));
  const want = new Set(desired.map(grantId));
  const add = desired.filter((g) => !have.has(grantId(g)));
  const remove = current.filter((g) => !want.has(grantId(g)));
  if (add.length === 0 && remove.length === 0) return undefined;
  const parts = [
    ...(add.length ? [`version ${version} lacks ${add.map(describeGrant).join(", ")}`] : []),
    ...(remove.length ? [`version ${version} is shared with ${remove.map(describeGrant).join(", ")}, which the manifest does not list`] : []),
  ];
  return { ...base, version, dependsOn: [], change: "update", add, remove, reason: parts.join("; ") };
}
