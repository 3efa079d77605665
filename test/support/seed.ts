/** Puts a backend in the state a complete reconcile of a build graph would leave. */
import type { BuildGraph } from "../../pipeline/lib/build/graph.ts";
import { desiredGrants } from "../../pipeline/lib/plan/planner.ts";
import { versionDescription } from "../../pipeline/lib/naming.ts";
import type { Backend } from "../../pipeline/lib/state/observe.ts";

export async function seedReconciled(backend: Backend, graph: BuildGraph, zipFile = "/dev/null"): Promise<void> {
  for (const b of graph.rBuilds) {
    await backend.artifacts.put({ kind: "r", key: b.key }, zipFile, { version: 1, key: b.key, inputs: b.inputs });
  }
  for (const b of graph.layerBuilds) {
    await backend.artifacts.put({ kind: "layer", key: b.key }, zipFile, { version: 1, key: b.key, inputs: b.inputs });
    for (const region of b.layer.regions) {
      const content = await backend.artifacts.copyToRegion({ kind: "layer", key: b.key }, region);
      const v = await backend.layers.publish({
        region,
        layerName: b.layerName,
        description: versionDescription({ key: b.key, rVersion: b.rVersion, arch: b.arch }),
        content,
        architecture: b.arch,
      });
      for (const grant of desiredGrants(b.layer.share)) await backend.layers.addGrant(region, b.layerName, v.version, grant);
    }
  }
}
