/**
 * What a plan depends on, decided once. Both `observe()` (to know what to read) and the planner
 * (to decide) call these pure functions, so the two cannot disagree about which publications are
 * stale, which builds a plan needs, or which artifacts it must know about.
 */
import type { BuildGraph, LayerBuild } from "../keys/graph.ts";
import type { ArtifactKind } from "../naming.ts";
import type { ArtifactRef, PublishedVersion } from "../ports.ts";
import { isCurrent } from "../publication.ts";

export const artifactId = (kind: ArtifactKind, key: string) => `${kind}:${key}`;

/** One layer build in one region, and what that region's latest version of it is now. */
export interface Publication {
  readonly build: LayerBuild;
  readonly region: string;
  /** The latest published version, if any. */
  readonly head: PublishedVersion | undefined;
  /** Whether `head` is exactly what should be published: this build's key, our owner, the manifest's attributes. */
  readonly current: boolean;
}

/** Every publication the manifest declares, in manifest order: layer builds, then their regions. */
export function publications(graph: BuildGraph, latest: (region: string, layerName: string) => PublishedVersion | undefined): Publication[] {
  return graph.layerBuilds.flatMap((build) =>
    build.layer.regions.map((region) => {
      const head = latest(region, build.layerName);
      return { build, region, head, current: isCurrent(head, build, graph.owner) };
    }),
  );
}

/**
 * A publication needs a new version when nothing is published, its latest version carries
 * another key or another owner, or its description, license or runtimes changed.
 */
export const isStale = (p: Publication): boolean => !p.current;

/** Whether a published version is this pipeline's own (it carries a key and our owner): only those are pruned or granted. */
export const isOurs = (v: PublishedVersion, owner: string): boolean => v.key !== undefined && v.owner === owner;

/** What the stale publications need built, walking down from each to what it is built from. */
export interface NeededBuilds {
  /** Layer builds whose artifact is missing, by build id. */
  readonly layers: ReadonlyMap<string, LayerBuild>;
  /** R builds (by build id) whose artifact is missing and that a needed layer build links against. */
  readonly r: ReadonlySet<string>;
  /** Artifacts whose presence decides the walk but is not yet known: observe reads these and asks again. */
  readonly unknown: readonly ArtifactRef[];
}

/**
 * Artifacts are a cache: a layer is built only when a stale publication needs it (or a needed
 * build stacks on it) and its artifact is missing; an R build only when a needed layer build
 * links against it and it is missing. `built` answers undefined for what has not been read.
 */
export function neededBuilds(stale: readonly LayerBuild[], built: (kind: ArtifactKind, key: string) => boolean | undefined): NeededBuilds {
  const layers = new Map<string, LayerBuild>();
  const r = new Set<string>();
  const unknown = new Map<string, ArtifactRef>();
  const visited = new Set<string>();
  const ask = (kind: ArtifactKind, key: string): boolean | undefined => {
    const known = built(kind, key);
    if (known === undefined) unknown.set(artifactId(kind, key), { kind, key });
    return known;
  };
  const needLayer = (build: LayerBuild): void => {
    if (visited.has(build.id)) return;
    visited.add(build.id);
    const present = ask("layer", build.key);
    if (present !== false) return;
    layers.set(build.id, build);
    if (ask("r", build.rBuild.key) === false) r.add(build.rBuild.id);
    build.stacks.forEach(needLayer);
  };
  stale.forEach(needLayer);
  return { layers, r, unknown: [...unknown.values()] };
}
