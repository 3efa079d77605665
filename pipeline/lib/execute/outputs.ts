/**
 * The index of what is published, so function owners can find ARNs without listing rights in
 * the publishing account: one entry per layer, R version, architecture and region whose latest
 * version carries the current key.
 */
import type { BuildGraph } from "../keys/graph.ts";
import type { Backend } from "../ports.ts";
import type { CarriedPackage, OutputsEntry, OutputsIndex, PublishedVersion } from "../ports.ts";
import { mapLimit } from "../util/concurrency.ts";
import { desiredGrants } from "../grants.ts";
import { parameterName } from "../naming.ts";

/**
 * `unsettled` names publications (`region/layer-name`) whose grants this run may have left
 * different from the manifest (a grant or publish step that failed or was skipped): their grants
 * are not recorded, so the next plan reads them. Every other current version has exactly the
 * manifest's grants, since the run read them live and granted or revoked what differed.
 */
export async function collectOutputs(
  graph: BuildGraph,
  backend: Backend,
  now: Date,
  options: { commit?: string; unsettled?: ReadonlySet<string> } = {},
): Promise<OutputsIndex> {
  const { commit, unsettled = new Set<string>() } = options;
  const regions = [...new Set(graph.layerBuilds.flatMap((b) => b.layer.regions))].sort();
  const heads = new Map<string, Map<string, PublishedVersion>>();
  // Parameters (when on and kept): an entry names its parameter only when it holds the entry's ARN.
  const store = graph.parameterPrefix !== undefined ? backend.parameters : undefined;
  const held = new Map<string, string>();
  const [previous] = await Promise.all([
    backend.artifacts.readOutputs(),
    mapLimit(regions, 8, async (region) => {
      heads.set(region, new Map((await backend.layers.listLatest(region)).map((v) => [v.layerName, v])));
    }),
    mapLimit(store ? regions : [], 8, async (region) => {
      for (const p of await store!.list(region, graph.parameterPrefix!)) held.set(`${region}\u0000${p.name}`, p.value);
    }),
  ]);

  // Sizes belong to a build key: take them from the last index, and read build records only for
  // keys it does not know (a reconcile with nothing to do reads none).
  const sizes = new Map<string, { zipped?: number; unzipped?: number; packages?: readonly CarriedPackage[] }>();
  for (const e of previous?.layers ?? []) {
    if (e.zippedBytes !== undefined && e.unzippedBytes !== undefined) {
      sizes.set(e.key, { zipped: e.zippedBytes, unzipped: e.unzippedBytes, ...(e.packages ? { packages: e.packages } : {}) });
    }
  }
  const current = graph.layerBuilds.filter((b) => b.layer.regions.some((region) => heads.get(region)?.get(b.layerName)?.key === b.key));
  await mapLimit(
    current.filter((b) => !sizes.has(b.key)),
    16,
    async (b) => {
      const metadata = (await backend.artifacts.readRecord({ kind: "layer", key: b.key }))?.metadata;
      const exported = metadata?.exported as Record<string, string> | undefined;
      const num = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);
      const packages = carriedPackages(metadata?.packages);
      sizes.set(b.key, { zipped: num(exported?.ARTIFACT_SIZE), unzipped: num(exported?.UNZIPPED_SIZE), ...(packages ? { packages } : {}) });
    },
  );

  const parameterOf = (region: string, arn: string, layer: string, r: string, arch: OutputsEntry["arch"]): { parameter?: string } => {
    if (!store || graph.parameterPrefix === undefined) return {};
    const name = parameterName(graph.parameterPrefix, layer, r, arch);
    return held.get(`${region}\u0000${name}`) === arn ? { parameter: name } : {};
  };
  const layers: OutputsEntry[] = [];
  for (const b of graph.layerBuilds) {
    for (const region of b.layer.regions) {
      const head = heads.get(region)?.get(b.layerName);
      if (!head || head.key !== b.key) continue;
      const size = sizes.get(b.key);
      layers.push({
        layer: b.layer.name,
        layerName: b.layerName,
        r: b.rVersion,
        arch: b.arch,
        region,
        arn: head.arn,
        version: head.version,
        key: b.key,
        ...(size?.zipped !== undefined ? { zippedBytes: size.zipped } : {}),
        ...(size?.unzipped !== undefined ? { unzippedBytes: size.unzipped } : {}),
        ...(unsettled.has(`${region}/${b.layerName}`) ? {} : { grants: desiredGrants(b.layer.share) }),
        ...(size?.packages ? { packages: size.packages } : {}),
        ...parameterOf(region, head.arn, b.layer.name, b.rVersion, b.arch),
      });
    }
  }
  // Regions are remembered across reconciles (see OutputsIndex.regions): a region that left the
  // manifest is still listed by the next plan, so what this pipeline published there is found.
  const published = [...(previous?.regions ?? []), ...(previous?.layers ?? []).map((e) => e.region), ...layers.map((e) => e.region)];
  return { version: 1, generatedAt: now.toISOString(), ...(commit ? { commit } : {}), regions: [...new Set(published)].sort(), layers };
}

/** `metadata.packages` as a layer build writes it (`[{name, version, unzippedSize}]`), or undefined. */
function carriedPackages(value: unknown): CarriedPackage[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: CarriedPackage[] = [];
  for (const p of value) {
    const { name, version } = (p ?? {}) as { name?: unknown; version?: unknown };
    if (typeof name === "string" && name && typeof version === "string" && version) out.push({ name, version });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
