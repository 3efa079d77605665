/**
 * Reads what the planner needs to know, through the ports, before planning. What to read is
 * decided by the same pure functions the planner decides with (needs.ts), so the number of calls
 * is bounded by what the plan can use: one listing per region; grants only for versions that stay
 * current, and for those only when the last reconcile's outputs index does not record them or
 * `refreshGrants` asks for the live policies (drift checks, reconciles); build records only for
 * keys that changed; version lists only when pruning; and artifacts only where a publication
 * needs a new version (then down the builds it needs), so a plan with nothing to do asks the
 * artifact store nothing. Parameters (when on): one listing of each declared layer's path per
 * region (of the whole prefix when pruning), and owner tags only of the parameters the plan
 * would write or delete (parameters.ts).
 */
import type { BuildGraph } from "../keys/graph.ts";
import type { BuildInputs } from "../keys/inputs.ts";
import type { ArtifactKind } from "../naming.ts";
import type { Backend, Grant, PublishedVersion } from "../ports.ts";
import { createLimiter } from "../util/concurrency.ts";
import { artifactId, isOurs, isStale, neededBuilds, publications } from "./needs.ts";
import { ownersNeeded, parameterNeeds } from "./parameters.ts";
import type { ObservedParameter, ObservedState, PublishedLayerState } from "./types.ts";

export interface ObserveOptions {
  readonly prune: boolean;
  /** Read every current version's policy instead of trusting the grants the last reconcile recorded. */
  readonly refreshGrants?: boolean;
  /** How many calls may be in flight at once. */
  readonly concurrency?: number;
}

/** Reads are cheap for the services and latency-bound for us: many may be in flight. */
export const DEFAULT_READ_CONCURRENCY = 64;

type MutableLayerState = { latest: PublishedVersion; grants?: readonly Grant[]; versions?: readonly PublishedVersion[] };

export async function observe(graph: BuildGraph, backend: Backend, options: ObserveOptions): Promise<ObservedState> {
  const limit = createLimiter(options.concurrency ?? DEFAULT_READ_CONCURRENCY);
  // The regions the manifest names, and every region this pipeline published to before (the
  // outputs index remembers them), so a layer or region that left the manifest is still seen.
  const heads = new Map<string, PublishedVersion[]>();
  const list = (region: string) => limit(async () => void heads.set(region, await backend.layers.listLatest(region)));
  const declaredRegions = [...new Set(graph.layerBuilds.flatMap((b) => b.layer.regions))];
  const [index] = await Promise.all([backend.artifacts.readOutputs(), ...declaredRegions.map(list)]);
  const regions = [...new Set([...declaredRegions, ...(index?.regions ?? [])])].sort();
  await Promise.all(regions.filter((r) => !heads.has(r)).map(list));
  const recordedGrants = new Map<string, readonly Grant[]>();
  for (const entry of options.refreshGrants ? [] : (index?.layers ?? [])) {
    if (entry.grants) recordedGrants.set(`${entry.region}/${entry.layerName}/${entry.version}/${entry.key}`, entry.grants);
  }

  // Every head the plan can act on: ours (it carries a key) or one the manifest names.
  const declared = new Set(graph.layerBuilds.flatMap((b) => b.layer.regions.map((region) => `${region}/${b.layerName}`)));
  // Names this pipeline published (the last index knows them), even if someone published on top since.
  const ourNames = new Set((index?.layers ?? []).map((e) => `${e.region}/${e.layerName}`));
  const published = new Map<string, Map<string, MutableLayerState>>();
  for (const region of regions) {
    const byName = new Map<string, MutableLayerState>();
    published.set(region, byName);
    for (const latest of heads.get(region) ?? []) {
      // Someone else's layer (by hand, or another copy of this pipeline): none of our business unless the manifest names it.
      const name = `${region}/${latest.layerName}`;
      if (!isOurs(latest, graph.owner) && !declared.has(name) && !ourNames.has(name)) continue;
      byName.set(latest.layerName, { latest });
    }
  }

  const all = publications(graph, (region, layerName) => published.get(region)?.get(layerName)?.latest);
  const reads: Promise<unknown>[] = [];

  // Grants of versions that stay current; build records of keys being replaced (to say what changed).
  const oldKeys = new Set<string>();
  for (const p of all) {
    const entry = published.get(p.region)?.get(p.build.layerName);
    if (!entry) continue;
    if (!isStale(p)) {
      const { layerName, version, key } = entry.latest;
      const recorded = recordedGrants.get(`${p.region}/${layerName}/${version}/${key}`);
      if (recorded) entry.grants = recorded;
      else reads.push(limit(async () => (entry.grants = await backend.layers.readGrants(p.region, layerName, version))));
    }
  }
  const currentKey = new Map(all.map((p) => [`${p.region}/${p.build.layerName}`, p.build.key]));
  for (const [region, byName] of published) {
    for (const [layerName, entry] of byName) {
      const key = entry.latest.key;
      if (key !== undefined && key !== currentKey.get(`${region}/${layerName}`)) oldKeys.add(key);
    }
  }
  if (options.prune) {
    for (const [region, byName] of published) {
      for (const [layerName, entry] of byName) reads.push(limit(async () => (entry.versions = await backend.layers.listVersions(region, layerName))));
    }
  }
  const records = new Map<string, BuildInputs>();
  for (const key of oldKeys) {
    reads.push(
      limit(async () => {
        const record = await backend.artifacts.readRecord({ kind: "layer", key });
        if (record) records.set(key, record.inputs);
      }),
    );
  }

  // Artifacts: ask what the needed builds depend on until nothing decisive is unknown.
  const artifacts = new Map<string, boolean>();
  const stale = all.filter(isStale).map((p) => p.build);
  const known = (kind: ArtifactKind, key: string) => artifacts.get(artifactId(kind, key));
  reads.push(
    (async () => {
      for (;;) {
        const { unknown } = neededBuilds(stale, known);
        if (unknown.length === 0) return;
        await Promise.all(unknown.map((ref) => limit(async () => artifacts.set(artifactId(ref.kind, ref.key), await backend.artifacts.has(ref)))));
      }
    })(),
  );

  // Parameters: each declared layer's path per region (the whole prefix when pruning); owner tags of those a change would touch.
  const store = graph.parameterPrefix !== undefined ? backend.parameters : undefined;
  const parameters = new Map<string, Map<string, ObservedParameter>>();
  if (store && graph.parameterPrefix !== undefined) {
    const prefix = graph.parameterPrefix;
    reads.push(
      (async () => {
        // GetParametersByPath returns at most 10 a page, so one listing of the whole prefix is a
        // long chain of round trips. Without --prune only the declared layers' parameters matter:
        // list each layer's own path, all at once. Pruning lists the whole prefix (orphans too).
        const paths = (region: string): string[] =>
          options.prune
            ? [prefix]
            : [...new Set(graph.layerBuilds.filter((b) => b.layer.regions.includes(region)).map((b) => `${prefix}/${b.layer.name}`))];
        await Promise.all(
          regions.map(async (region) => {
            const byName = new Map<string, ObservedParameter>();
            parameters.set(region, byName);
            await Promise.all(
              paths(region).map((path) =>
                limit(async () => {
                  for (const p of await store.list(region, path)) byName.set(p.name, { name: p.name, value: p.value });
                }),
              ),
            );
          }),
        );
        const needs = parameterNeeds({ graph, publications: all, existing: parameters, prune: options.prune });
        await Promise.all(
          ownersNeeded(needs).map(({ region, name }) =>
            limit(async () => {
              const byName = parameters.get(region);
              const seen = byName?.get(name);
              if (byName && seen) byName.set(name, { ...seen, owner: (await store.readOwner(region, name)) ?? null });
            }),
          ),
        );
      })(),
    );
  }

  await Promise.all(reads);
  return {
    description: backend.description,
    artifacts,
    records,
    published: published as ReadonlyMap<string, ReadonlyMap<string, PublishedLayerState>>,
    ...(store ? { parameters } : {}),
  };
}
