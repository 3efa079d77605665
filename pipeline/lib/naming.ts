/**
 * The one place that says how things are named: published layer names, every object key a state
 * store holds (artifacts, records, metadata, outputs index, lock, source bundles), the build-key marker in a layer version's description,
 * and the Parameter Store names that hold each publication's current ARN. Everything that needs a name asks
 * here, so the planner, the adapters and the build scripts cannot drift apart.
 */
import { InternalError } from "./errors.ts";
import { DESCRIPTION_MAX } from "./lambda.ts";
import type { Arch } from "./lambda.ts";



const PREFIX = "r";

/** `runtime`, `4.4.1`, `x86_64` → `r-runtime-4_4_1`; arm64 gets an `-arm64` suffix. */
export function publishedLayerName(layer: string, rVersion: string, arch: Arch): string {
  const base = `${PREFIX}-${layer}-${rVersion.replaceAll(".", "_")}`;
  return arch === "arm64" ? `${base}-arm64` : base;
}

/** The longest published name a layer can produce, for the length check at validation time. */
export function longestPublishedName(layer: string, rVersions: readonly string[], arches: readonly Arch[]): string {
  let longest = "";
  for (const r of rVersions) {
    for (const arch of arches) {
      const name = publishedLayerName(layer, r, arch);
      if (name.length > longest.length) longest = name;
    }
  }
  return longest;
}

export type ArtifactKind = "r" | "layer";

/** Content-addressed object key of a built zip, relative to the artifact bucket/folder. */
export function artifactObjectKey(kind: ArtifactKind, key: string): string {
  return `artifacts/${kind === "r" ? "r" : "layers"}/${key}.zip`;
}

/** The build record (inputs and metadata) stored beside each artifact. */
export function artifactRecordKey(kind: ArtifactKind, key: string): string {
  return `artifacts/${kind === "r" ? "r" : "layers"}/${key}.json`;
}

/** Where a build writes the metadata of its zip (sizes, packages): beside it, `.zip` → `.metadata.json`. */
export function artifactMetadataKey(kind: ArtifactKind, key: string): string {
  return `artifacts/${kind === "r" ? "r" : "layers"}/${key}.metadata.json`;
}

/** Which CodeBuild build is building an artifact (written when it starts), so a later run re-attaches to it. */
export function buildMarkerKey(kind: ArtifactKind, key: string): string {
  return `builds/${kind === "r" ? "r" : "layers"}/${key}.json`;
}

/** The index of what is published (function owners read it; plans take recorded grants from it). */
export const OUTPUTS_INDEX_KEY = "outputs/index.json";

/** The reconcile lock in a state store (S3: in the builder region's bucket). */
export const LOCK_KEY = "locks/reconcile.json";

/** The local folder backend keeps its lock at the folder's top (`.layers/lock.json`). */
export const LOCAL_LOCK_FILE = "lock.json";

/** The local folder backend's record of one layer's versions in one region. */
export function localPublishedKey(region: string, layerName: string): string {
  return `published/${region}/${layerName}.json`;
}

/**
 * Parameter Store: each publication's current version ARN, for infrastructure code to resolve at
 * deploy time (`{{resolve:ssm:/r-lambda-layers/runtime/4.4.1/x86_64}}`). The manifest's
 * `outputs.parameters.prefix` is the first part; layer, R version and architecture follow.
 */
export const DEFAULT_PARAMETER_PREFIX = "/r-lambda-layers";

/** `/r-lambda-layers`, `runtime`, `4.4.1`, `x86_64` → `/r-lambda-layers/runtime/4.4.1/x86_64`. */
export function parameterName(prefix: string, layer: string, rVersion: string, arch: Arch): string {
  return `${prefix}/${layer}/${rVersion}/${arch}`;
}

/** The longest parameter name a layer can produce, for the length check at validation time. */
export function longestParameterName(prefix: string, layer: string, rVersions: readonly string[], arches: readonly Arch[]): string {
  let longest = "";
  for (const r of rVersions) {
    for (const arch of arches) {
      const name = parameterName(prefix, layer, r, arch);
      if (name.length > longest.length) longest = name;
    }
  }
  return longest;
}

/**
 * The tag every parameter this pipeline creates carries, valued with its owner (pipelineOwner):
 * a parameter without it, or with another owner's, is never written or deleted.
 */
export const PARAMETER_OWNER_TAG = "r-lambda-layers:owner";

/** The local folder backend's parameters of one region. */
export function localParametersKey(region: string): string {
  return `parameters/${region}.json`;
}

/** The build scripts zipped for CodeBuild, keyed by their digest. */
export function sourceBundleKey(digest: string): string {
  return `sources/${digest}.zip`;
}

/** Resolves the artifact bucket template for a region. */
export function bucketName(template: string, region: string): string {
  return template.replaceAll("{region}", region);
}

/** S3's general purpose bucket naming rules (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). */
const BUCKET_RESERVED_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const BUCKET_RESERVED_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

/** Why S3 would refuse a bucket name (the first rule it breaks, worded to follow the name), or undefined. */
export function s3BucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `is ${name.length} characters long; S3 bucket names are at least 3 and at most 63 characters`;
  if (!/^[a-z0-9.-]+$/.test(name)) return "has characters S3 does not allow: lowercase letters, digits, dots and hyphens only";
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return "must begin and end with a lowercase letter or digit";
  if (name.includes("..")) return "has two adjacent periods, which S3 does not allow";
  if (/^[0-9]{1,3}(\.[0-9]{1,3}){3}$/.test(name)) return "is formatted as an IP address, which S3 does not allow";
  const prefix = BUCKET_RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return `must not start with "${prefix}" (reserved by S3)`;
  const suffix = BUCKET_RESERVED_SUFFIXES.find((x) => name.endsWith(x));
  if (suffix) return `must not end with "${suffix}" (reserved by S3)`;
  return undefined;
}

const DESCRIPTION_PREFIX = "r-lambda-layers";
const KEY_RE = /\bkey=([0-9a-f]{64})\b/;
const OWNER_RE = /\bowner=(\S+)/;
/** Between the machine-read fields and the layer's own description. */
const TEXT_SEPARATOR = "; ";
/** Room kept for `commit=<12 hex>`, so a layer's text is cut the same way with or without a commit. */
const COMMIT_ROOM = " commit=".length + 12;

/**
 * Which copy of this pipeline published a version: its artifact bucket template. Two copies in
 * one account (say staging and production) never prune or grant each other's versions.
 */
export function pipelineOwner(bucketTemplate: string): string {
  return bucketTemplate;
}

export interface DescriptionFields {
  readonly key: string;
  readonly rVersion: string;
  readonly arch: Arch;
  readonly owner: string;
  readonly commit?: string;
  /** The layer's `description` from the manifest, cut to what fits Lambda's limit. */
  readonly text?: string;
}

function machineFields(fields: DescriptionFields): string {
  const parts = [DESCRIPTION_PREFIX, `R ${fields.rVersion}`, fields.arch, `key=${fields.key}`, `owner=${fields.owner}`];
  if (fields.commit) parts.push(`commit=${fields.commit.slice(0, 12)}`);
  return parts.join(" ");
}

/** The part of a layer's description that fits beside the machine-read fields (the same with or without a commit). */
export function publishedText(fields: Omit<DescriptionFields, "commit" | "text">, text: string | undefined): string | undefined {
  if (!text) return undefined;
  const room = DESCRIPTION_MAX - machineFields(fields).length - COMMIT_ROOM - TEXT_SEPARATOR.length;
  if (room <= 1) return undefined;
  return text.length <= room ? text : `${text.slice(0, room - 1)}…`;
}

/** The description a published version carries: build key, owner, commit, and what fits of the layer's own description. */
export function versionDescription(fields: DescriptionFields): string {
  const head = machineFields(fields);
  if (head.length > DESCRIPTION_MAX) throw new InternalError(`description longer than ${DESCRIPTION_MAX}: ${head}`);
  const text = publishedText(fields, fields.text);
  return text ? `${head}${TEXT_SEPARATOR}${text}` : head;
}

/**
 * The longest machine-read part any version of a layer can carry (a full key, owner and commit),
 * for the check at validation time; the layer's own text is cut to what fits beside it.
 */
export function longestVersionDescription(rVersions: readonly string[], arches: readonly Arch[], owner: string): string {
  let longest = "";
  for (const rVersion of rVersions) {
    for (const arch of arches) {
      const text = machineFields({ key: "0".repeat(64), rVersion, arch, owner, commit: "0".repeat(40) });
      if (text.length > longest.length) longest = text;
    }
  }
  return longest;
}

/** The build key recorded in a description, or undefined for a version published by other means. */
export function keyFromDescription(description: string | undefined): string | undefined {
  if (!description || !description.startsWith(DESCRIPTION_PREFIX)) return undefined;
  return KEY_RE.exec(description.split(TEXT_SEPARATOR)[0] ?? "")?.[1];
}

/** The owner recorded in a description (see pipelineOwner), or undefined. */
export function ownerFromDescription(description: string | undefined): string | undefined {
  if (!description || !description.startsWith(DESCRIPTION_PREFIX)) return undefined;
  return OWNER_RE.exec(description.split(TEXT_SEPARATOR)[0] ?? "")?.[1];
}

/** The layer's own text in a description this pipeline wrote, or undefined when there is none. */
export function textFromDescription(description: string | undefined): string | undefined {
  if (!description || !description.startsWith(DESCRIPTION_PREFIX)) return undefined;
  const at = description.indexOf(TEXT_SEPARATOR);
  return at < 0 ? undefined : description.slice(at + TEXT_SEPARATOR.length);
}

/** What a version's description says about it, for the adapters' views of published versions. */
export function describedBy(description: string | undefined): { key?: string; owner?: string } {
  const key = keyFromDescription(description);
  const owner = ownerFromDescription(description);
  return { ...(key !== undefined ? { key } : {}), ...(owner !== undefined ? { owner } : {}) };
}
