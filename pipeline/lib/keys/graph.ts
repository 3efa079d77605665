/**
 * Every artifact the manifest implies, with its build key: one R build per R version and
 * architecture that some layer targets, one layer build per layer, R version and architecture.
 * Pure: manifest and source digests in, keys out.
 */
import { stackOrder } from "../manifest/resolve.ts";
import type { Arch, Layer, Manifest } from "../manifest/types.ts";
import { LAYER_RUNTIMES } from "../lambda.ts";
import { pipelineOwner, publishedLayerName, publishedText } from "../naming.ts";
import { canonicalJson, sha256 } from "./canonical.ts";
import type { BuildInputs, LayerBuildInputs, RBuildInputs } from "./inputs.ts";
import { keyedInputs } from "./inputs.ts";
import { lockedInputs } from "../lock/keys.ts";
import type { LockStatus } from "../lock/current.ts";
import type { SourceDigests } from "./sources.ts";
import { InternalError } from "../errors.ts";

export interface RBuild {
  readonly id: string;
  readonly rVersion: string;
  readonly arch: Arch;
  readonly key: string;
  readonly inputs: RBuildInputs;
}

export interface LayerBuild {
  readonly id: string;
  readonly layer: Layer;
  readonly rVersion: string;
  readonly arch: Arch;
  /** The name it is published under, e.g. `r-runtime-4_4_1-arm64`. */
  readonly layerName: string;
  readonly key: string;
  readonly inputs: LayerBuildInputs;
  readonly rBuild: RBuild;
  readonly stacks: readonly LayerBuild[];
  /**
   * What a published version says besides its bytes: changing one republishes (no rebuild).
   * `text` is the layer's description as it fits in Lambda's limit beside the key.
   */
  readonly publication: PublicationAttributes;
}

export interface PublicationAttributes {
  readonly text?: string;
  readonly license?: string;
  readonly runtimes: readonly string[];
}

export interface BuildGraph {
  /** Which copy of the pipeline this is (naming.pipelineOwner): it only prunes and grants its own versions. */
  readonly owner: string;
  /**
   * Where each publication's current ARN goes in Parameter Store (the manifest's
   * `outputs.parameters.prefix`); undefined when parameters are off. Not part of any build key.
   */
  readonly parameterPrefix?: string;
  readonly rBuilds: readonly RBuild[];
  /** In build order: a layer comes after the layers it stacks on. */
  readonly layerBuilds: readonly LayerBuild[];
}

export function buildKey(inputs: BuildInputs): string {
  return sha256(canonicalJson(keyedInputs(inputs)));
}

export const rBuildId = (rVersion: string, arch: Arch) => `${rVersion}/${arch}`;
export const layerBuildId = (layer: string, rVersion: string, arch: Arch) => `${layer}/${rVersion}/${arch}`;


const textOf = (text: string | undefined) => (text ? { text } : {});

/** `lock`: the current entries of layers.lock, whose pinned packages enter the layers' keys. */
export function computeBuildGraph(manifest: Manifest, digests: SourceDigests, lock?: LockStatus): BuildGraph {
  const rBuilds = new Map<string, RBuild>();
  const rBuildFor = (rVersion: string, arch: Arch): RBuild => {
    const id = rBuildId(rVersion, arch);
    let build = rBuilds.get(id);
    if (!build) {
      const inputs: RBuildInputs = {
        kind: "r",
        rVersion,
        arch,
        image: manifest.builder.images[arch],
        scripts: digests.rBuild,
      };
      build = { id, rVersion, arch, key: buildKey(inputs), inputs };
      rBuilds.set(id, build);
    }
    return build;
  };

  const owner = pipelineOwner(manifest.artifacts.bucket);
  const layerBuilds = new Map<string, LayerBuild>();
  for (const layer of stackOrder(manifest.layers)) {
    for (const rVersion of layer.rVersions) {
      for (const arch of layer.architectures) {
        const rBuild = rBuildFor(rVersion, arch);
        const stacks = layer.stacksOn.map((name) => {
          const below = layerBuilds.get(layerBuildId(name, rVersion, arch));
          // Validation guarantees stacked layers cover this layer's versions and architectures.
          if (!below) throw new InternalError(`${name} has no build for R ${rVersion} ${arch}`);
          return below;
        });
        const locked = lockedInputs(lock, layer.name, rVersion);
        const inputs: LayerBuildInputs = {
          kind: "layer",
          layer: layer.name,
          type: layer.type,
          rVersion,
          arch,
          rBuildKey: rBuild.key,
          packages: layer.packages,
          repository: layer.repository,
          systemLibraries: layer.systemLibraries,
          stacks: stacks.map((s) => ({ layer: s.layer.name, key: s.key })),
          scripts: digests.layerBuild,
          ...(layer.type === "runtime" ? { runtimeFiles: digests.runtime } : {}),
          ...(locked ? { locked } : {}),
        };
        const id = layerBuildId(layer.name, rVersion, arch);
        const key = buildKey(inputs);
        layerBuilds.set(id, {
          id,
          layer,
          rVersion,
          arch,
          layerName: publishedLayerName(layer.name, rVersion, arch),
          key,
          inputs,
          rBuild,
          stacks,
          publication: {
            ...textOf(publishedText({ key, rVersion, arch, owner }, layer.description)),
            ...(layer.license ? { license: layer.license } : {}),
            runtimes: LAYER_RUNTIMES,
          },
        });
      }
    }
  }

  // R builds in the manifest's version order, x86_64 before arm64, whatever order layers asked for them.
  const order = (b: RBuild) => manifest.rVersions.indexOf(b.rVersion) * 2 + (b.arch === "arm64" ? 1 : 0);
  const parameters = manifest.outputs.parameters;
  return {
    owner,
    ...(parameters ? { parameterPrefix: parameters.prefix } : {}),
    rBuilds: [...rBuilds.values()].sort((a, b) => order(a) - order(b)),
    layerBuilds: [...layerBuilds.values()],
  };
}
