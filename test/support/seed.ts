/** Puts a backend in the state a complete reconcile of a build graph would leave. */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BuildGraph } from "../../pipeline/lib/keys/graph.ts";
import type { ArtifactRef } from "../../pipeline/lib/ports.ts";
import { desiredGrants } from "../../pipeline/lib/grants.ts";
import { LAYER_RUNTIMES } from "../../pipeline/lib/lambda.ts";
import { artifactObjectKey, pipelineOwner, versionDescription } from "../../pipeline/lib/naming.ts";
import type { BuildRecord } from "../../pipeline/lib/keys/inputs.ts";
import type { Backend, LayerParameters } from "../../pipeline/lib/ports.ts";
import { LocalArtifactStore } from "../../pipeline/lib/adapters/local/state.ts";
import { LocalLayerParameters } from "../../pipeline/lib/adapters/local/parameters.ts";
import { publicationParameter } from "../../pipeline/lib/plan/parameters.ts";

/** The owner of the test manifests (test/support/manifests.ts): their artifact bucket template. */
export const TEST_OWNER = pipelineOwner("acme-r-layers-{region}");

/** What a build leaves behind: the zip (for a file store), then the record that marks it complete. */
export async function storeArtifact(backend: Backend, ref: ArtifactRef, inputs: BuildRecord["inputs"]): Promise<void> {
  if (backend.artifacts.storeUrl.startsWith("file:")) {
    const file = join(fileURLToPath(backend.artifacts.storeUrl), artifactObjectKey(ref.kind, ref.key));
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `zip of ${ref.key}`);
  }
  await backend.artifacts.writeRecord(ref, { version: 1, key: ref.key, inputs });
}

/**
 * Where a complete reconcile leaves the parameters: the backend's store, or for a local folder
 * given without one, the folder's own (the CLI opens it with one).
 */
function parameterStore(backend: Backend): LayerParameters | undefined {
  if (backend.parameters) return backend.parameters;
  return backend.artifacts instanceof LocalArtifactStore ? new LocalLayerParameters(backend.artifacts.root) : undefined;
}

export async function seedReconciled(backend: Backend, graph: BuildGraph): Promise<void> {
  const parameters = parameterStore(backend);
  for (const b of graph.rBuilds) await storeArtifact(backend, { kind: "r", key: b.key }, b.inputs);
  for (const b of graph.layerBuilds) {
    await storeArtifact(backend, { kind: "layer", key: b.key }, b.inputs);
    for (const region of b.layer.regions) {
      const content = await backend.artifacts.copyToRegion({ kind: "layer", key: b.key }, region);
      const v = await backend.layers.publish({
        region,
        layerName: b.layerName,
        description: versionDescription({ key: b.key, rVersion: b.rVersion, arch: b.arch, owner: graph.owner, ...(b.publication.text ? { text: b.publication.text } : {}) }),
        content,
        architecture: b.arch,
        ...(b.publication.license ? { license: b.publication.license } : {}),
        compatibleRuntimes: b.publication.runtimes,
      });
      for (const grant of desiredGrants(b.layer.share)) await backend.layers.addGrant(region, b.layerName, v.version, grant);
      const name = publicationParameter(graph, b);
      if (parameters && name) await parameters.put({ region, name, value: v.arn, owner: graph.owner, change: "create" });
    }
  }
}

/**
 * A version published outside the pipeline run under test: by hand (a free description), or an
 * older build of ours (`key`), to set up drift, history and foreign layers.
 */
export async function publishVersion(
  backend: Backend,
  region: string,
  layerName: string,
  from: { description: string } | { key: string; owner?: string },
): Promise<void> {
  await backend.layers.publish({
    region,
    layerName,
    description: "key" in from ? versionDescription({ key: from.key, rVersion: "4.4.1", arch: "x86_64", owner: from.owner ?? TEST_OWNER }) : from.description,
    content: { bucket: "b", objectKey: "k" },
    architecture: "x86_64",
    compatibleRuntimes: LAYER_RUNTIMES,
  });
}
