/**
 * What determines an artifact's bytes. A build key is the SHA-256 of one of these records in
 * canonical form; the record itself is stored beside the artifact so a later plan can say
 * what changed ("packages changed: +gbm") rather than only that something did.
 */
import type { Arch, LayerType } from "../manifest/types.ts";
import type { LockedInput } from "../lock/keys.ts";

export type { LockedInput } from "../lock/keys.ts";

export interface RBuildInputs {
  readonly kind: "r";
  readonly rVersion: string;
  readonly arch: Arch;
  readonly image: string;
  /** Digest of the scripts and buildspec that compile R. */
  readonly scripts: string;
}

export interface LayerBuildInputs {
  readonly kind: "layer";
  readonly layer: string;
  readonly type: LayerType;
  readonly rVersion: string;
  readonly arch: Arch;
  /** Key of the R build the layer links against. */
  readonly rBuildKey: string;
  readonly packages: readonly string[];
  readonly repository: string;
  readonly systemLibraries: readonly string[];
  /** Layers visible during the build, with their keys: what they provide is not repeated here. */
  readonly stacks: readonly { readonly layer: string; readonly key: string }[];
  /** Digest of the scripts and buildspec that build a layer. */
  readonly scripts: string;
  /** Digest of `runtime/` (bootstrap and R event loop), for runtime-type layers only. */
  readonly runtimeFiles?: string;
  /**
   * What `layers.lock` pins for this layer and R version, in install order, when it has a
   * current entry: then these (not `repository`) are part of the key, see `keyedInputs`.
   */
  readonly locked?: readonly LockedInput[];
}

/**
 * What a key is computed from. With locked packages, their names, versions and checksums name
 * the bytes; where they are downloaded from does not, so the repository URL is left out (a
 * snapshot moved to a date with the same versions changes no key). Without, the inputs as they are.
 */
export function keyedInputs(inputs: BuildInputs): BuildInputs | Omit<LayerBuildInputs, "repository"> {
  if (inputs.kind !== "layer" || inputs.locked === undefined) return inputs;
  const { repository: _repository, ...rest } = inputs;
  return rest;
}

export type BuildInputs = RBuildInputs | LayerBuildInputs;

/** Stored beside an artifact (`<key>.json`). */
export interface BuildRecord {
  readonly version: 1;
  readonly key: string;
  readonly inputs: BuildInputs;
  /** SHA-256 of the zip when its build finished: checked before the zip is copied or published. */
  readonly sha256?: string;
  /** Filled in by the build: sizes, file count, installed package versions. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}
