/**
 * The planner: manifest (as a build graph) + observed state + clock in, plan out. Pure and
 * synchronous; everything it knows arrives as an argument. It runs in five steps, each a
 * function below: which publications need a new version (needs.ts, shared with observe), which
 * builds those need, then per layer its builds, publishes, grants and pruning, then orphans,
 * then the Parameter Store parameters that point at current versions (parameters.ts).
 *
 * Artifacts are a cache: an artifact is built when it is missing and something planned needs it
 * (a publish, or a build that links against it), so a published layer whose zip expired from the
 * bucket is not rebuilt for nothing.
 */
import { InternalError } from "../errors.ts";
import { PARAMETER_OWNER_TAG } from "../naming.ts";
import type { Grant } from "../grants.ts";
import { describeGrant, desiredGrants, grantId } from "../grants.ts";
import type { BuildGraph, LayerBuild } from "../keys/graph.ts";
import { attributeChanges } from "../publication.ts";
import { artifactId, isOurs, isStale, neededBuilds, publications } from "./needs.ts";
import type { Publication } from "./needs.ts";
import { parameterNeeds } from "./parameters.ts";
import { explainChange } from "./reasons.ts";
import { lockedChanges } from "./package-changes.ts";
import type {
  Action,
  BuildLayerAction,
  CompileRAction,
  GrantAction,
  ObservedState,
  ParameterAction,
  Plan,
  PruneAction,
  PublicationTarget,
  PublishAction,
  PublishedLayerState,
} from "./types.ts";
import { PLAN_FORMAT_VERSION } from "./types.ts";

export interface PlanInput {
  readonly manifestFile: string;
  readonly graph: BuildGraph;
  readonly observed: ObservedState;
  readonly now: Date;
  readonly prune: boolean;
  readonly warnings?: readonly string[];
}

const short = (key: string) => key.slice(0, 12);

/** What the planner reads of the observed state, by question. */
interface View {
  readonly published: (region: string, layerName: string) => PublishedLayerState | undefined;
  /** This copy of the pipeline (naming.pipelineOwner): only its versions are pruned. */
  readonly owner: string;
  /** "inputs changed (packages changed: +gbm)": why `build` no longer matches `oldKey`. */
  readonly explained: (oldKey: string, build: LayerBuild) => string;
}

export function plan(input: PlanInput): Plan {
  const { graph, observed } = input;
  const view: View = {
    owner: graph.owner,
    published: (region, layerName) => observed.published.get(region)?.get(layerName),
    explained: (oldKey, build) => {
      const before = observed.records.get(oldKey);
      const why = before ? explainChange(before, build.inputs) : undefined;
      return why ? ` (${why})` : "";
    },
  };

  const all = publications(graph, (region, layerName) => view.published(region, layerName)?.latest);
  const stale = all.filter(isStale);
  const { compileActions, buildActions } = planBuilds(graph, observed, stale, view);
  const perLayer = planLayers(graph, stale, buildActions, view, input.prune);
  // Layers this pipeline published that the manifest no longer names: deleted with --prune;
  // without it they are reported, so a drift check that does not prune still sees them.
  const found = planOrphans(observed, perLayer.declared, graph.owner);
  const orphans = input.prune ? found : [];
  const orphaned = input.prune ? [] : found.map((o) => ({ layerName: o.layerName, region: o.region }));
  const parameters = planParameters(graph, observed, all, perLayer.actions, input.prune);

  const actions: Action[] = [...compileActions, ...perLayer.actions, ...orphans, ...parameters.actions];
  return {
    version: PLAN_FORMAT_VERSION,
    generatedAt: input.now.toISOString(),
    manifest: input.manifestFile,
    state: observed.description,
    pruning: input.prune,
    actions,
    summary: {
      build: compileActions.length + buildActions.size,
      publish: stale.length,
      grant: actions.filter((a) => a.kind === "grant").length,
      prune: actions.filter((a) => a.kind === "prune").length,
      unchanged: perLayer.unchanged,
      ...(observed.parameters ? { parameters: parameters.actions.length } : {}),
    },
    warnings: [
      ...(input.warnings ?? []),
      ...orphaned.map((o) => `${o.layerName} in ${o.region} is no longer in the manifest; a reconcile with --prune deletes it`),
      ...parameters.warnings,
    ],
    ...(orphaned.length ? { orphaned } : {}),
  };
}

/** Step 2: the R and layer builds the stale publications need, with their dependencies. */
function planBuilds(
  graph: BuildGraph,
  observed: ObservedState,
  stale: readonly Publication[],
  view: View,
): { compileActions: CompileRAction[]; buildActions: Map<string, BuildLayerAction> } {
  const needed = neededBuilds(
    stale.map((p) => p.build),
    (kind, key) => observed.artifacts.get(artifactId(kind, key)),
  );
  if (needed.unknown.length > 0) {
    // observe() reads exactly what neededBuilds asks for, so this means the two were given different graphs.
    throw new InternalError(`the plan needs artifacts that were not observed: ${needed.unknown.map((r) => `${r.kind}:${r.key}`).join(", ")}`);
  }

  const compileIds = new Map<string, string>();
  const compileActions: CompileRAction[] = graph.rBuilds
    .filter((b) => needed.r.has(b.id))
    .map((b) => {
      const id = `compile-r:${b.rVersion}:${b.arch}`;
      compileIds.set(b.id, id);
      return { kind: "compile-r", id, dependsOn: [], change: "create", r: b.rVersion, arch: b.arch, key: b.key, reason: `not yet built (key ${short(b.key)})` };
    });

  const buildActions = new Map<string, BuildLayerAction>();
  for (const build of graph.layerBuilds) {
    if (!needed.layers.has(build.id)) continue;
    const compileId = compileIds.get(build.rBuild.id);
    const dependsOn = [
      ...(compileId ? [compileId] : []),
      ...build.stacks.flatMap((s) => {
        const below = buildActions.get(s.id);
        return below ? [below.id] : [];
      }),
    ];
    const previous = previousKey(build, view);
    const before = previous ? observed.records.get(previous) : undefined;
    const packageChanges = before?.kind === "layer" ? lockedChanges(before, build.inputs) : undefined;
    buildActions.set(build.id, {
      kind: "build-layer",
      id: `build-layer:${build.layer.name}:${build.rVersion}:${build.arch}`,
      dependsOn,
      change: previous ? "update" : "create",
      layer: build.layer.name,
      layerName: build.layerName,
      r: build.rVersion,
      arch: build.arch,
      key: build.key,
      rBuildKey: build.rBuild.key,
      stackKeys: build.stacks.map((s) => s.key),
      reason: previous ? `inputs changed${view.explained(previous, build)}` : "not yet built",
      ...(packageChanges?.length ? { packageChanges } : {}),
    });
  }
  return { compileActions, buildActions };
}

/** The key some region publishes for this build's layer name, when it differs from the build's. */
function previousKey(build: LayerBuild, view: View): string | undefined {
  for (const region of build.layer.regions) {
    const key = view.published(region, build.layerName)?.latest.key;
    if (key !== undefined && key !== build.key) return key;
  }
  return undefined;
}

/** Step 3: per layer build, its build action, then per region its publish, grants and pruning. */
function planLayers(
  graph: BuildGraph,
  stale: readonly Publication[],
  buildActions: ReadonlyMap<string, BuildLayerAction>,
  view: View,
  prune: boolean,
): { actions: Action[]; unchanged: number; declared: Set<string> } {
  const actions: Action[] = [];
  const staleByPublication = new Map(stale.map((p) => [`${p.build.id}@${p.region}`, p]));
  const declared = new Set<string>();
  let unchanged = 0;
  for (const build of graph.layerBuilds) {
    const buildAction = buildActions.get(build.id);
    if (buildAction) actions.push(buildAction);
    for (const region of build.layer.regions) {
      declared.add(`${region}/${build.layerName}`);
      const state = view.published(region, build.layerName);
      const idSuffix = `${build.layer.name}:${build.rVersion}:${build.arch}:${region}`;
      const need = staleByPublication.get(`${build.id}@${region}`);
      const publish = need ? publishAction(need, idSuffix, buildAction, view) : undefined;
      if (publish) actions.push(publish);
      const grant = grantAction(build, region, idSuffix, publish?.id, state?.grants, state?.latest.version);
      if (grant) actions.push(grant);
      if (!publish && !grant) unchanged++;
      const pruning = prune ? retentionPrune(build, region, state, publish?.id, view.owner) : undefined;
      if (pruning) actions.push(pruning);
    }
  }
  return { actions, unchanged, declared };
}

function publishAction(need: Publication, idSuffix: string, buildAction: BuildLayerAction | undefined, view: View): PublishAction {
  const { build, region, head } = need;
  const why =
    head === undefined
      ? undefined
      : head.key === undefined
        ? "carries no build key (published outside this pipeline?)"
        : head.key !== build.key
          ? `carries another key${view.explained(head.key, build)}`
          : head.owner !== view.owner
            ? `was published by another copy of this pipeline (owner ${head.owner ?? "unknown"})`
            : `carries this build, but its ${attributeChanges(head, build).map((c) => c.replace(/ changed$/, "")).join(", ")} changed (republished without a rebuild)`;
  return {
    kind: "publish",
    id: `publish:${idSuffix}`,
    dependsOn: buildAction ? [buildAction.id] : [],
    change: head === undefined ? "create" : "update",
    ...publication(build, region),
    ...(head === undefined ? {} : { replacesVersion: head.version }),
    reason: head === undefined ? `not yet published in ${region}` : `published version ${head.version} ${why}`,
  };
}

/** Versions beyond the layer's retention; a planned publish adds one, so one fewer existing version is kept. */
function retentionPrune(
  build: LayerBuild,
  region: string,
  state: PublishedLayerState | undefined,
  publishId: string | undefined,
  owner: string,
): PruneAction | undefined {
  if (!state?.versions) return undefined;
  const keep = Math.max(0, build.layer.retain - (publishId ? 1 : 0));
  // Only our own versions count and go: one published by hand or by another copy stays.
  const excess = state.versions
    .filter((v) => isOurs(v, owner))
    .slice(keep)
    .map((v) => v.version);
  if (excess.length === 0) return undefined;
  return {
    kind: "prune",
    id: `prune:${build.layerName}:${region}`,
    dependsOn: publishId ? [publishId] : [],
    change: "delete",
    layer: build.layer.name,
    layerName: build.layerName,
    region,
    versions: excess,
    reason: `keeps the newest ${build.layer.retain} version${build.layer.retain === 1 ? "" : "s"}`,
  };
}

/** Step 4: layers this pipeline published that the manifest no longer has (`declared`: `region/layerName`). */
function planOrphans(observed: ObservedState, declared: ReadonlySet<string>, owner: string): PruneAction[] {
  const orphans: PruneAction[] = [];
  for (const [region, layers] of [...observed.published].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [layerName, state] of [...layers].sort(([a], [b]) => a.localeCompare(b))) {
      if (declared.has(`${region}/${layerName}`)) continue;
      const versions = (state.versions ?? [state.latest]).filter((v) => isOurs(v, owner)).map((v) => v.version);
      if (versions.length === 0) continue;
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
  return orphans;
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

/** `version 3` for a layer version ARN, else the value quoted. */
function pointsTo(value: string): string {
  const version = /^arn:[^:]+:lambda:[^:]+:\d+:layer:[^:]+:(\d+)$/.exec(value)?.[1];
  return version ? `version ${version}` : JSON.stringify(value);
}

/**
 * Step 5: each publication's parameter points at its current version (after the publish and the
 * grants of a new one, so nobody resolves a version they cannot use yet); with pruning, the
 * parameters of layers that are gone are deleted. A parameter this pipeline does not own (no
 * owner tag, or another copy's) is never touched: the plan warns instead.
 */
function planParameters(
  graph: BuildGraph,
  observed: ObservedState,
  all: readonly Publication[],
  layerActions: readonly Action[],
  prune: boolean,
): { actions: ParameterAction[]; warnings: string[] } {
  if (!observed.parameters) return { actions: [], warnings: [] };
  const needs = parameterNeeds({ graph, publications: all, existing: observed.parameters, prune });
  const actions: ParameterAction[] = [];
  const warnings: string[] = [];
  const before = new Map<string, string[]>();
  for (const a of layerActions) {
    if (a.kind !== "publish" && a.kind !== "grant") continue;
    const at = `${a.region}/${a.layerName}`;
    before.set(at, [...(before.get(at) ?? []), a.id]);
  }
  for (const need of needs) {
    const observedParameter = observed.parameters.get(need.region)?.get(need.name);
    if (need.existing) {
      const owner = observedParameter?.owner;
      if (owner === undefined) throw new InternalError(`the plan needs the owner of parameter ${need.name} in ${need.region}, which was not observed`);
      if (owner !== graph.owner) {
        const tag = owner === null ? `has no ${PARAMETER_OWNER_TAG} tag` : `belongs to another owner (${PARAMETER_OWNER_TAG}=${owner})`;
        const would = need.kind === "delete" ? "be deleted" : `point to ${need.value ? pointsTo(need.value) : "the version this plan publishes"}`;
        warnings.push(`parameter ${need.name} in ${need.region} ${tag}, so it is left as it is (it holds ${pointsTo(need.existing.value)}; it would ${would}): delete it, or tag it ${PARAMETER_OWNER_TAG}=${graph.owner}, for this pipeline to manage it`);
        continue;
      }
    }
    const target = need.build
      ? { layer: need.build.layer.name, layerName: need.build.layerName, r: need.build.rVersion, arch: need.build.arch }
      : {};
    const now = need.existing ? ` (now ${pointsTo(need.existing.value)})` : "";
    if (need.kind === "delete") {
      actions.push({
        kind: "parameter",
        id: `parameter:${need.region}:${need.name}`,
        dependsOn: [],
        change: "delete",
        region: need.region,
        name: need.name,
        ...target,
        reason: need.build ? `layer pruned from ${need.region}${now}` : `layer pruned: no longer in the manifest${now}`,
      });
      continue;
    }
    const b = need.build;
    actions.push({
      kind: "parameter",
      id: `parameter:${b.layer.name}:${b.rVersion}:${b.arch}:${need.region}`,
      dependsOn: need.value === undefined ? (before.get(`${need.region}/${b.layerName}`) ?? []) : [],
      change: need.existing ? "update" : "create",
      region: need.region,
      name: need.name,
      ...target,
      key: b.key,
      ...(need.value !== undefined ? { value: need.value } : {}),
      reason: `${need.version !== undefined ? `points to version ${need.version}` : "points to the version the publish creates"}${now}`,
    });
  }
  return { actions, warnings };
}
