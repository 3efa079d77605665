/** The manifest as the rest of the pipeline sees it: validated, with defaults applied. */

import type { Arch } from "../lambda.ts";

export { ARCHES } from "../lambda.ts";
export type { Arch } from "../lambda.ts";

export type LayerType = "runtime" | "packages";

/** Who a layer's versions are shared with. An empty sharing means the owning account only. */
export interface Sharing {
  readonly accounts: readonly string[];
  readonly organization?: string;
  readonly public: boolean;
}

export interface Builder {
  /** CodeBuild project that runs the builds. */
  readonly project: string;
  /** Region where builds run and canonical artifacts live before they are copied out. */
  readonly region: string;
  readonly computeType: string;
  readonly images: Readonly<Record<Arch, string>>;
  /** How many builds may run at once. */
  readonly parallelism: number;
  readonly timeoutMinutes: number;
}

export interface Artifacts {
  /** Bucket name template; `{region}` is replaced by each target region. */
  readonly bucket: string;
}

/** What a reconcile leaves for function owners besides the outputs index. */
export interface Outputs {
  /**
   * Parameter Store parameters with each publication's current version ARN, named
   * `naming.parameterName(prefix, …)`; `false` when the manifest turns them off.
   */
  readonly parameters: { readonly prefix: string } | false;
}

export interface Layer {
  readonly name: string;
  readonly type: LayerType;
  readonly description?: string;
  /** Sorted, de-duplicated R package names. */
  readonly packages: readonly string[];
  /** Sorted, de-duplicated system library names to bundle into `R/lib`. */
  readonly systemLibraries: readonly string[];
  readonly rVersions: readonly string[];
  readonly architectures: readonly Arch[];
  readonly regions: readonly string[];
  readonly repository: string;
  readonly retain: number;
  readonly share: Sharing;
  /** Layers whose libraries are visible while this one builds (and whose packages it does not repeat). */
  readonly stacksOn: readonly string[];
  readonly license?: string;
}

export interface Manifest {
  /** The file it came from, as the user named it (for messages). */
  readonly file: string;
  readonly rVersions: readonly string[];
  readonly layers: readonly Layer[];
  readonly artifacts: Artifacts;
  readonly outputs: Outputs;
  readonly builder: Builder;
  /** Non-fatal findings (e.g. an unpinned package repository), already formatted `file:line:col: message`. */
  readonly warnings: readonly string[];
}
