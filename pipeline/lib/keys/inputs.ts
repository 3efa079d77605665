/**
 * What determines an artifact's bytes. A build key is the SHA-256 of one of these records in
 * canonical form; the record itself is stored beside the artifact so a later plan can say
 * what changed ("packages changed: +gbm") rather than only that something did.
 */
import type { Arch, LayerType } from "../manifest/types.ts";

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
}

export type BuildInputs = RBuildInputs | LayerBuildInputs;

/** Stored beside an artifact (`<key>.json`). */
export interface BuildRecord {
  readonly version: 1;
  readonly key: string;
  readonly inputs: BuildInputs;
  /** Filled in by the build: sizes, file count, installed package versions. */
  readonly metadata?: Readonly<Record<string, unknown>>;
}
