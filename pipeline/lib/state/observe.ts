/**
 * Reads what the planner needs to know, through the ports, before planning. The number of calls
 * is bounded by what the plan can use: one listing per region, grants only for versions that stay
 * current, build records only for keys that changed, version lists only when pruning.
 */
import type { BuildGraph } from "../build/graph.ts";
import type { BuildInputs } from "../build/inputs.ts";
import type { ObservedState, PublishedLayerState, StateDescription } from "../plan/types.ts";
import { artifactId } from "../plan/types.ts";
import { mapLimit } from "../util/concurrency.ts";
import type { ArtifactStore, PublishedLayers, PublishedVersion } from "./ports.ts";

export interface ObserveOptions {
  readonly prune: boolean;
  /** How many calls may be in flight at once. */
  readonly concurrency?: number;
}

export interface Backend {
  readonly description: StateDescription;
  readonly artifacts: ArtifactStore;
  readonly layers: PublishedLayers;
}

export async function observe(graph: BuildGraph, backend: Backend, options: ObserveOptions): Promise<ObservedState> {
  const limit = options.concurrency ?? 16;

  const regions = [...new Set(graph.layerBuilds.flatMap((b) => b.layer.regions))].sort();
  const heads = new Map<string, PublishedVersion[]>();
  await mapLimit(regions, limit, async (region) => {
    heads.set(region, await backend.layers.listLatest(region));
  });

  const keyOf = new Map<string, string>(); // `${region}/${layerName}` → current key
  for (const build of graph.layerBuilds) {
    for (const region of build.layer.regions) keyOf.set(`${region}/${build.layerName}`, build.key);
  }

  const published = new Map<string, Map<string, PublishedLayerState>>();
  const oldKeys = new Set<string>();
  const tasks: (() => Promise<void>)[] = [];
  for (const region of regions) {
    const byName = new Map<string, PublishedLayerState>();
    published.set(region, byName);
    for (const latest of heads.get(region) ?? []) {
      const current = keyOf.get(`${region}/${latest.layerName}`);
      const ours = latest.key !== undefined;
      if (current === undefined && !ours) continue; // someone else's layer: none of our business
      const entry: { latest: PublishedVersion; grants?: PublishedLayerState["grants"]; versions?: PublishedVersion[] } = {
        latest,
      };
      byName.set(latest.layerName, entry);
      if (current !== undefined && latest.key === current) {
        tasks.push(async () => {
          entry.grants = await backend.layers.readGrants(region, latest.layerName, latest.version);
        });
      } else if (latest.key !== undefined) {
        oldKeys.add(latest.key);
      }
      if (options.prune) {
        tasks.push(async () => {
          entry.versions = await backend.layers.listVersions(region, latest.layerName);
        });
      }
    }
  }

  const artifacts = new Set<string>();
  for (const b of graph.rBuilds) {
    tasks.push(async () => {
      if (await backend.artifacts.has({ kind: "r", key: b.key })) artifacts.add(artifactId("r", b.key));
    });
  }
  for (const b of graph.layerBuilds) {
    tasks.push(async () => {
      if (await backend.artifacts.has({ kind: "layer", key: b.key })) artifacts.add(artifactId("layer", b.key));
    });
  }
  const records = new Map<string, BuildInputs>();
  for (const key of oldKeys) {
    tasks.push(async () => {
      const record = await backend.artifacts.readRecord({ kind: "layer", key });
      if (record) records.set(key, record.inputs);
    });
  }
  await mapLimit(tasks, limit, (task) => task());

  return { description: backend.description, artifacts, records, published };
}
