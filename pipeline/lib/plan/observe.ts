/**
 * Reads what the planner needs to know, through the ports, before planning. The number of calls
 * is bounded by what the plan can use: one listing per region; grants only for versions that stay
 * current, and for those only when the last reconcile's outputs index does not record them or
 * `refreshGrants` asks for the live policies (drift checks, reconciles); build records only for
 * keys that changed; version lists only when pruning; and
 * artifacts only where a publication needs a new version (then down the builds it needs), so a
 * plan with nothing to do asks the artifact store nothing.
 */
import type { BuildGraph, LayerBuild, RBuild } from "../keys/graph.ts";
import type { BuildInputs } from "../keys/inputs.ts";
import type { ObservedState, PublishedLayerState } from "./types.ts";
import { artifactId } from "./types.ts";
import { createLimiter } from "../util/concurrency.ts";
import type { Backend, Grant, OutputsIndex, PublishedVersion } from "../ports.ts";

export interface ObserveOptions {
  readonly prune: boolean;
  /** Read every current version's policy instead of trusting the grants the last reconcile recorded. */
  readonly refreshGrants?: boolean;
  /** How many calls may be in flight at once. */
  readonly concurrency?: number;
}

/** Reads are cheap for the services and latency-bound for us: many may be in flight. */
export const DEFAULT_READ_CONCURRENCY = 64;

export async function observe(graph: BuildGraph, backend: Backend, options: ObserveOptions): Promise<ObservedState> {
  const limit = createLimiter(options.concurrency ?? DEFAULT_READ_CONCURRENCY);
  const regions = [...new Set(graph.layerBuilds.flatMap((b) => b.layer.regions))].sort();
  const heads = new Map<string, PublishedVersion[]>();
  const [index] = await Promise.all([
    options.refreshGrants ? undefined : backend.artifacts.readOutputs(),
    ...regions.map((region) => limit(async () => heads.set(region, await backend.layers.listLatest(region)))),
  ]);
  const recordedGrants = new Map<string, readonly Grant[]>();
  for (const entry of (index as OutputsIndex | undefined)?.layers ?? []) {
    if (entry.grants) recordedGrants.set(`${entry.region}/${entry.layerName}/${entry.version}/${entry.key}`, entry.grants);
  }

  const keyOf = new Map<string, string>(); // `${region}/${layerName}` → current key
  for (const build of graph.layerBuilds) {
    for (const region of build.layer.regions) keyOf.set(`${region}/${build.layerName}`, build.key);
  }

  const published = new Map<string, Map<string, PublishedLayerState>>();
  const oldKeys = new Set<string>();
  const reads: Promise<unknown>[] = [];
  for (const region of regions) {
    const byName = new Map<string, PublishedLayerState>();
    published.set(region, byName);
    for (const latest of heads.get(region) ?? []) {
      const current = keyOf.get(`${region}/${latest.layerName}`);
      if (current === undefined && latest.key === undefined) continue; // someone else's layer: none of our business
      const entry: { latest: PublishedVersion; grants?: PublishedLayerState["grants"]; versions?: PublishedVersion[] } = { latest };
      byName.set(latest.layerName, entry);
      if (current !== undefined && latest.key === current) {
        const recorded = recordedGrants.get(`${region}/${latest.layerName}/${latest.version}/${latest.key}`);
        if (recorded) entry.grants = recorded;
        else reads.push(limit(async () => (entry.grants = await backend.layers.readGrants(region, latest.layerName, latest.version))));
      } else if (latest.key !== undefined) {
        oldKeys.add(latest.key);
      }
      if (options.prune) {
        reads.push(limit(async () => (entry.versions = await backend.layers.listVersions(region, latest.layerName))));
      }
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

  // Artifacts: those of builds whose key some region lacks, and below a missing one what it is built from.
  const artifacts = new Map<string, boolean>();
  const checking = new Map<string, Promise<boolean>>();
  const present = (kind: "r" | "layer", key: string): Promise<boolean> => {
    const id = artifactId(kind, key);
    let pending = checking.get(id);
    if (!pending) {
      pending = limit(() => backend.artifacts.has({ kind, key })).then((has) => {
        artifacts.set(id, has);
        return has;
      });
      checking.set(id, pending);
    }
    return pending;
  };
  const checkR = async (b: RBuild) => void (await present("r", b.key));
  const checkLayer = async (b: LayerBuild): Promise<void> => {
    if (await present("layer", b.key)) return;
    await Promise.all([checkR(b.rBuild), ...b.stacks.map(checkLayer)]);
  };
  for (const build of graph.layerBuilds) {
    const stale = build.layer.regions.some((region) => published.get(region)?.get(build.layerName)?.latest.key !== build.key);
    if (stale) reads.push(checkLayer(build));
  }

  await Promise.all(reads);
  return { description: backend.description, artifacts, records, published };
}
