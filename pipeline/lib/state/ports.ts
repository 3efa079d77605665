/**
 * The two questions the planner asks about the world, and the calls the executor makes to change
 * it. Shaped after AWS's API (see docs/architecture.md): one listing per region reads the head
 * of every layer (Lambda ListLayers), versions and grants are per layer, artifacts are objects
 * under content-addressed keys. The local folder backend and the AWS adapters implement these.
 */
import type { Arch } from "../manifest/types.ts";
import type { ArtifactKind } from "../naming.ts";
import type { BuildRecord } from "../build/inputs.ts";

export interface ArtifactRef {
  readonly kind: ArtifactKind;
  readonly key: string;
}

export interface ArtifactStore {
  /** Whether the artifact exists in the build region. Only "not found" is false; any other failure throws. */
  has(ref: ArtifactRef): Promise<boolean>;
  /** The build record stored beside an artifact, or undefined when there is none. */
  readRecord(ref: ArtifactRef): Promise<BuildRecord | undefined>;
  /** Stores a built zip (from a local file) and its record in the build region. */
  put(ref: ArtifactRef, zipFile: string, record: BuildRecord): Promise<void>;
  /** Makes the artifact available in a region's bucket (Lambda reads layer content from its own region). */
  copyToRegion(ref: ArtifactRef, region: string): Promise<ArtifactLocation>;
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
  readonly createdAt?: string;
  readonly architectures?: readonly Arch[];
}

export type Grant =
  | { readonly kind: "account"; readonly account: string }
  | { readonly kind: "organization"; readonly organization: string }
  | { readonly kind: "public" };

export interface PublishRequest {
  readonly region: string;
  readonly layerName: string;
  readonly description: string;
  readonly content: ArtifactLocation;
  readonly architecture: Arch;
  readonly license?: string;
}

export interface PublishedLayers {
  /** The latest version of every layer in a region, from one (paginated) listing. */
  listLatest(region: string): Promise<PublishedVersion[]>;
  /** Every version of one layer in a region, newest first. */
  listVersions(region: string, layerName: string): Promise<PublishedVersion[]>;
  /** Who may use one version. */
  readGrants(region: string, layerName: string, version: number): Promise<Grant[]>;
  publish(request: PublishRequest): Promise<PublishedVersion>;
  addGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void>;
  removeGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void>;
  deleteVersion(region: string, layerName: string, version: number): Promise<void>;
}

export function grantId(grant: Grant): string {
  switch (grant.kind) {
    case "account":
      return `account-${grant.account}`;
    case "organization":
      return `org-${grant.organization}`;
    case "public":
      return "public";
  }
}

export function describeGrant(grant: Grant): string {
  switch (grant.kind) {
    case "account":
      return `account ${grant.account}`;
    case "organization":
      return `organization ${grant.organization}`;
    case "public":
      return "everyone (public)";
  }
}
