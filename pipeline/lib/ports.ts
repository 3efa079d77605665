/**
 * Every port: the questions the planner asks about the world, the calls the executor makes to
 * change it, the reconcile lock and the builder. Shaped after AWS's API (see docs/architecture.md): one listing per region reads the head
 * of every layer (Lambda ListLayers), versions and grants are per layer, artifacts are objects
 * under content-addressed keys. The local folder backend and the AWS adapters implement these.
 */
import type { Arch } from "./manifest/types.ts";
import type { ArtifactKind } from "./naming.ts";
import type { BuildInputs, BuildRecord } from "./keys/inputs.ts";
import type { Grant } from "./grants.ts";

export type { Grant } from "./grants.ts";

/** Where state was read, as plans and outputs show it. */
export interface StateDescription {
  readonly backend: "local" | "aws" | "memory";
  /** Where the state was read: a folder, or an account and regions. */
  readonly location: string;
}

/** A state store: artifacts and their records, and the published layer versions. */
export interface Backend {
  readonly description: StateDescription;
  readonly artifacts: ArtifactStore;
  readonly layers: PublishedLayers;
  /**
   * Where each publication's current ARN is kept for infrastructure code (Parameter Store).
   * A backend without such a store (another cloud's; the in-memory fake unless asked for) has
   * none, and plans against it have no parameter actions.
   */
  readonly parameters?: LayerParameters;
}

export interface ArtifactRef {
  readonly kind: ArtifactKind;
  readonly key: string;
}

export interface ArtifactStore {
  /**
   * Where builds write their zips, as the build scripts take it in `ARTIFACT_STORE`:
   * `s3://bucket` or `file:///abs/path`. Object keys below it are `naming.artifactObjectKey`.
   */
  readonly storeUrl: string;
  /** Whether the artifact (zip and record) exists in the build region. Only "not found" is false; any other failure throws. */
  has(ref: ArtifactRef): Promise<boolean>;
  /** The build record stored beside an artifact, or undefined when there is none. */
  readRecord(ref: ArtifactRef): Promise<BuildRecord | undefined>;
  /** Marks a built zip complete by storing its record beside it (the build wrote the zip itself). */
  writeRecord(ref: ArtifactRef, record: BuildRecord): Promise<void>;
  /** SHA-256 of the artifact's zip as stored now (checked against its record before it is published); undefined when absent. */
  zipDigest(ref: ArtifactRef): Promise<string | undefined>;
  /** Forgets a built artifact (removes its record), so the next plan builds it again. */
  discard(ref: ArtifactRef): Promise<void>;
  /** Makes the artifact available in a region's bucket (Lambda reads layer content from its own region). */
  copyToRegion(ref: ArtifactRef, region: string): Promise<ArtifactLocation>;
  /** The index of what is published, for function owners (written after each reconcile). */
  writeOutputs(index: OutputsIndex): Promise<void>;
  readOutputs(): Promise<OutputsIndex | undefined>;
}

export interface OutputsEntry {
  readonly layer: string;
  readonly layerName: string;
  readonly r: string;
  readonly arch: Arch;
  readonly region: string;
  /** Layer version ARN, with the version number. */
  readonly arn: string;
  readonly version: number;
  readonly key: string;
  readonly zippedBytes?: number;
  readonly unzippedBytes?: number;
  /**
   * The grants this version had when the reconcile that wrote the index ended; absent when they
   * are not known (a grant step failed). Plans use them instead of reading every policy.
   */
  readonly grants?: readonly Grant[];
  /** The R packages the version carries, with versions (from its build's metadata), sorted by name. */
  readonly packages?: readonly CarriedPackage[];
  /** The Parameter Store parameter that holds this ARN (naming.parameterName), when parameters are on. */
  readonly parameter?: string;
}

export interface CarriedPackage {
  readonly name: string;
  readonly version: string;
}

export interface OutputsIndex {
  readonly version: 1;
  readonly generatedAt: string;
  readonly commit?: string;
  /**
   * Every region this pipeline has published to, kept across reconciles: plans list them too,
   * so versions in a region that left the manifest are still found (and pruned with --prune).
   */
  readonly regions?: readonly string[];
  readonly layers: readonly OutputsEntry[];
}

export interface ArtifactLocation {
  readonly bucket: string;
  readonly objectKey: string;
}

export interface PublishedVersion {
  readonly layerName: string;
  readonly version: number;
  readonly arn: string;
  readonly description?: string;
  /** Build key parsed from the description; undefined for versions not published by this pipeline. */
  readonly key?: string;
  /** Which copy of the pipeline published it (naming.pipelineOwner), parsed from the description. */
  readonly owner?: string;
  readonly license?: string;
  readonly compatibleRuntimes?: readonly string[];
  readonly createdAt?: string;
  readonly architectures?: readonly Arch[];
}

export interface PublishRequest {
  readonly region: string;
  readonly layerName: string;
  readonly description: string;
  readonly content: ArtifactLocation;
  readonly architecture: Arch;
  readonly license?: string;
  readonly compatibleRuntimes: readonly string[];
}

export interface PublishedLayers {
  /** The latest version of every layer in a region, from one (paginated) listing. */
  listLatest(region: string): Promise<PublishedVersion[]>;
  /** Every version of one layer in a region, newest first. */
  listVersions(region: string, layerName: string): Promise<PublishedVersion[]>;
  /** The newest version of one layer, read fresh (before publishing, so a re-run never publishes a key twice). */
  getLatest(region: string, layerName: string): Promise<PublishedVersion | undefined>;
  /** Who may use one version. */
  readGrants(region: string, layerName: string, version: number): Promise<Grant[]>;
  publish(request: PublishRequest): Promise<PublishedVersion>;
  addGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void>;
  removeGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void>;
  deleteVersion(region: string, layerName: string, version: number): Promise<void>;
}

/** A String parameter as Parameter Store lists it. */
export interface StoredParameter {
  readonly name: string;
  readonly value: string;
}

export interface ParameterWrite {
  readonly region: string;
  readonly name: string;
  readonly value: string;
  /** The owner tag's value (naming.PARAMETER_OWNER_TAG): a parameter this call creates is tagged with it. */
  readonly owner: string;
  /**
   * `create`: the parameter is expected not to exist (it is created tagged; if it exists after
   * all, it is overwritten only when it carries `owner`). `update`: it exists and is ours.
   */
  readonly change: "create" | "update";
}

/**
 * Parameter Store, as far as the pipeline uses it: String parameters under one path, each
 * holding a publication's current version ARN, tagged with the owner so only this pipeline's
 * own are ever written or deleted. Reading is one paginated listing per region; tags are read
 * only for the parameters a plan would change.
 */
export interface LayerParameters {
  /** Every parameter under `path` (recursively) in a region, from one paginated listing (GetParametersByPath). */
  list(region: string, path: string): Promise<StoredParameter[]>;
  /** The value of the owner tag (naming.PARAMETER_OWNER_TAG) on a parameter; undefined when it has none. */
  readOwner(region: string, name: string): Promise<string | undefined>;
  /** Creates (tagged) or overwrites a String parameter. */
  put(write: ParameterWrite): Promise<void>;
  /** Deletes a parameter; one that is already gone is not an error. */
  delete(region: string, name: string): Promise<void>;
}

/** Who holds the reconcile lock, and until when. */
export interface LockInfo {
  readonly id: string;
  readonly holder: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly commit?: string;
  /** Set on a lock whose content could not be read: its id is derived from its bytes. */
  readonly unreadable?: boolean;
}

export type LockAttempt = { readonly acquired: true } | { readonly acquired: false; readonly holder: LockInfo };

/** One reconcile at a time per state store (S3: a conditional put, `If-None-Match: *`). */
export interface StateLock {
  /** Takes the lock unless someone holds it; never overwrites another holder's lock. */
  acquire(info: LockInfo): Promise<LockAttempt>;
  /** Releases the lock if `id` still holds it. */
  release(id: string): Promise<void>;
  read(): Promise<LockInfo | undefined>;
}

export interface BuildRequest {
  /** The plan action this build carries out, e.g. `build-layer:runtime:4.4.1:arm64`. */
  readonly actionId: string;
  readonly key: string;
  /**
   * What to build. Each builder turns these into the build's environment variables with
   * `contract.ts#buildEnvironment` (the contract in buildspecs/README.md), using its
   * own artifact store location, and picks the buildspec by `inputs.kind`.
   */
  readonly inputs: BuildInputs;
  /** Build image for `inputs.arch`. */
  readonly image: string;
  readonly timeoutMinutes: number;
}

export type BuildOutcome =
  | {
      readonly status: "succeeded";
      readonly exported: Readonly<Record<string, string>>;
      /** The metadata file the build wrote beside the zip (sizes, package versions), when the builder can read it. */
      readonly metadata?: Readonly<Record<string, unknown>>;
    }
  | {
      readonly status: "failed";
      readonly phase?: string;
      readonly message: string;
      readonly logTail: readonly string[];
      readonly link?: string;
    };

/** Runs builds: CodeBuild in AWS, the local build runner on this machine. */
export interface Builder {
  /**
   * `signal` aborts when the reconcile is cancelled: a local build stops; a CodeBuild build is
   * left running (its id is recorded, and the next reconcile re-attaches to it).
   */
  run(request: BuildRequest, onLog: (line: string) => void, signal?: AbortSignal): Promise<BuildOutcome>;
}
