/**
 * The plan: a versioned document of actions, each with a stable id, what it waits for, what it
 * acts on and why. The executor, the renderers and other tools read it; only the planner writes it.
 */
import type { Arch } from "../manifest/types.ts";
import type { Grant, PublishedVersion, StateDescription } from "../ports.ts";

export type { StateDescription } from "../ports.ts";
import type { BuildInputs } from "../keys/inputs.ts";
import type { PackageChange } from "./package-changes.ts";

export type { PackageChange } from "./package-changes.ts";

export const PLAN_FORMAT_VERSION = 1;

/** `create`: nothing there yet. `update`: something there is replaced or changed. `delete`: removed. */
export type Change = "create" | "update" | "delete";

interface ActionBase {
  readonly id: string;
  readonly dependsOn: readonly string[];
  readonly change: Change;
  readonly reason: string;
}

export interface CompileRAction extends ActionBase {
  readonly kind: "compile-r";
  readonly r: string;
  readonly arch: Arch;
  readonly key: string;
}

/** One layer build: the layer, its published name, R version, architecture and build key. */
interface LayerTarget {
  readonly layer: string;
  readonly layerName: string;
  readonly r: string;
  readonly arch: Arch;
  readonly key: string;
}

/** One layer build in one region. */
export interface PublicationTarget extends LayerTarget {
  readonly region: string;
}

export interface BuildLayerAction extends ActionBase, LayerTarget {
  readonly kind: "build-layer";
  /** Key of the R build it links against, and of the layers visible while it builds. */
  readonly rBuildKey: string;
  readonly stackKeys: readonly string[];
  /** Locked package versions that differ from the build it replaces (both locked), when any. */
  readonly packageChanges?: readonly PackageChange[];
}

export interface PublishAction extends ActionBase, PublicationTarget {
  readonly kind: "publish";
  /** The version this one supersedes, when there is one. */
  readonly replacesVersion?: number;
}

export interface GrantAction extends ActionBase, PublicationTarget {
  readonly kind: "grant";
  /** The version the grants go on; absent when it is the one the publish action creates. */
  readonly version?: number;
  readonly add: readonly Grant[];
  readonly remove: readonly Grant[];
}

export interface PruneAction extends ActionBase {
  readonly kind: "prune";
  /** Absent for a layer no longer in the manifest. */
  readonly layer?: string;
  readonly layerName: string;
  readonly region: string;
  readonly versions: readonly number[];
}

/**
 * One Parameter Store parameter in one region: written with the current version's ARN of a
 * publication (`create`, `update`), or deleted with its layer (`delete`, when pruning).
 */
export interface ParameterAction extends ActionBase {
  readonly kind: "parameter";
  readonly region: string;
  /** The parameter's name, e.g. `/r-lambda-layers/runtime/4.4.1/x86_64`. */
  readonly name: string;
  /** The publication it belongs to; absent when deleting a parameter of a layer no longer in the manifest. */
  readonly layer?: string;
  readonly layerName?: string;
  readonly r?: string;
  readonly arch?: Arch;
  /** For a write: the build key the version it points to carries. */
  readonly key?: string;
  /** For a write: the ARN it gets; absent when it is the version a publish in this plan creates (read at execution). */
  readonly value?: string;
}

export type Action = CompileRAction | BuildLayerAction | PublishAction | GrantAction | PruneAction | ParameterAction;
export type ActionKind = Action["kind"];

export interface PlanSummary {
  readonly build: number;
  readonly publish: number;
  readonly grant: number;
  readonly prune: number;
  /** Published layers (per name and region) that need nothing. */
  readonly unchanged: number;
  /** Parameters written or deleted; absent when the plan manages no parameters (they are off, or the backend has none). */
  readonly parameters?: number;
}

export interface Plan {
  readonly version: typeof PLAN_FORMAT_VERSION;
  readonly generatedAt: string;
  readonly manifest: string;
  readonly state: StateDescription;
  readonly pruning: boolean;
  readonly actions: readonly Action[];
  readonly summary: PlanSummary;
  readonly warnings: readonly string[];
  /** Without --prune: layers this pipeline published that the manifest no longer names (a drift). */
  readonly orphaned?: readonly { readonly layerName: string; readonly region: string }[];
}

/** What a layer name looks like in one region right now. */
export interface PublishedLayerState {
  readonly latest: PublishedVersion;
  /** Grants on the latest version; undefined when they were not read. */
  readonly grants?: readonly Grant[];
  /** Every version, newest first; read only when pruning. */
  readonly versions?: readonly PublishedVersion[];
}

/** Everything the planner knows about the world, read beforehand by `observe()`. */
export interface ObservedState {
  readonly description: StateDescription;
  /**
   * Whether an artifact (`r:<key>`, `layer:<key>`) is in the build region, for every artifact
   * the plan could need; `observe()` does not ask about the others.
   */
  readonly artifacts: ReadonlyMap<string, boolean>;
  /** Build records of keys that are published but no longer current, to explain what changed. */
  readonly records: ReadonlyMap<string, BuildInputs>;
  /** Region → published layer name → state. Regions not read are absent. */
  readonly published: ReadonlyMap<string, ReadonlyMap<string, PublishedLayerState>>;
  /**
   * Region → name → the parameters under the manifest's prefix, for every region read; absent
   * when parameters are off or the backend has no parameter store (then none are planned).
   */
  readonly parameters?: ReadonlyMap<string, ReadonlyMap<string, ObservedParameter>>;
}

/** A parameter as read: its value, and its owner tag when a planned change needs to know it. */
export interface ObservedParameter {
  readonly name: string;
  readonly value: string;
  /** The owner tag's value; null when the parameter has none; undefined when it was not read (nothing planned touches it). */
  readonly owner?: string | null;
}
