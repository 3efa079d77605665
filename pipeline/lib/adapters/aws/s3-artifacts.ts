/**
 * ArtifactStore over S3. Canonical artifacts live in the builder region's bucket under
 * content-addressed keys (`naming.artifactObjectKey`), each zip with its build record beside it;
 * publishing in another region first copies the zip into that region's bucket, since Lambda
 * reads layer content only from a bucket in the layer's own region.
 */
import { StateError } from "../../errors.ts";
import { metadataObject } from "../../contract.ts";
import { parseStored } from "../../stored/formats.ts";
import { parseJsonText } from "../../util/json.ts";
import type { BuildRecord } from "../../keys/inputs.ts";
import { OUTPUTS_INDEX_KEY, artifactMetadataKey, buildMarkerKey, artifactObjectKey, artifactRecordKey, bucketName } from "../../naming.ts";
import type { ArtifactKind } from "../../naming.ts";
import type { ArtifactLocation, ArtifactRef, ArtifactStore, OutputsIndex } from "../../ports.ts";
import type { S3Bucket, S3Clients } from "./s3-objects.ts";

export interface S3ArtifactStoreOptions {
  readonly clients: S3Clients;
  /** `artifacts.bucket` from the manifest; `{region}` is replaced by each region. */
  readonly bucketTemplate: string;
  /** The builder region: where builds write and canonical artifacts are kept. */
  readonly region: string;
}

export class S3ArtifactStore implements ArtifactStore {
  readonly storeUrl: string;
  readonly bucket: S3Bucket;
  private readonly copies = new Map<string, Promise<ArtifactLocation>>();

  constructor(private readonly options: S3ArtifactStoreOptions) {
    this.bucket = options.clients.bucket(bucketName(options.bucketTemplate, options.region), options.region);
    this.storeUrl = this.bucket.url();
  }

  /** The bucket of another region (for copies and publishing there). */
  regionBucket(region: string): S3Bucket {
    if (region === this.options.region) return this.bucket;
    return this.options.clients.bucket(bucketName(this.options.bucketTemplate, region), region, "AWS_SERVICE_ERROR");
  }

  async has(ref: ArtifactRef): Promise<boolean> {
    // The record is written after the zip: a record without its zip is an incomplete artifact.
    if (!(await this.bucket.head(artifactRecordKey(ref.kind, ref.key)))) return false;
    return (await this.bucket.head(artifactObjectKey(ref.kind, ref.key))) !== undefined;
  }

  async readRecord(ref: ArtifactRef): Promise<BuildRecord | undefined> {
    const key = artifactRecordKey(ref.kind, ref.key);
    const object = await this.bucket.get(key);
    return object ? parseStored("build record", object.body.toString("utf8"), this.bucket.url(key)) : undefined;
  }

  async writeRecord(ref: ArtifactRef, record: BuildRecord): Promise<void> {
    const zip = artifactObjectKey(ref.kind, ref.key);
    if (!(await this.bucket.head(zip))) {
      throw new StateError(`cannot record ${ref.kind} ${ref.key}: its zip is not at ${this.bucket.url(zip)}`);
    }
    await this.bucket.put(artifactRecordKey(ref.kind, ref.key), `${JSON.stringify(record, null, 2)}\n`, {
      contentType: "application/json",
    });
  }

  copyToRegion(ref: ArtifactRef, region: string): Promise<ArtifactLocation> {
    const id = `${ref.kind}:${ref.key}:${region}`;
    let pending = this.copies.get(id);
    if (!pending) {
      pending = this.copy(ref, region);
      // Several layers published in one region may ask for the same zip at once: copy it once.
      this.copies.set(id, pending);
      pending.catch(() => this.copies.delete(id));
    }
    return pending;
  }

  private async copy(ref: ArtifactRef, region: string): Promise<ArtifactLocation> {
    const objectKey = artifactObjectKey(ref.kind, ref.key);
    const target = this.regionBucket(region);
    if (target !== this.bucket && !(await target.head(objectKey))) {
      await target.copyFrom({ bucket: this.bucket.name, key: objectKey }, objectKey);
    }
    return { bucket: target.name, objectKey };
  }

  async writeOutputs(index: OutputsIndex): Promise<void> {
    await this.bucket.put(OUTPUTS_INDEX_KEY, `${JSON.stringify(index, null, 2)}\n`, { contentType: "application/json" });
  }

  async readOutputs(): Promise<OutputsIndex | undefined> {
    const object = await this.bucket.get(OUTPUTS_INDEX_KEY);
    return object ? parseStored("outputs index", object.body.toString("utf8"), this.bucket.url(OUTPUTS_INDEX_KEY)) : undefined;
  }

  async zipDigest(ref: ArtifactRef): Promise<string | undefined> {
    return this.bucket.sha256(artifactObjectKey(ref.kind, ref.key));
  }

  async discard(ref: ArtifactRef): Promise<void> {
    await this.bucket.delete(artifactRecordKey(ref.kind, ref.key));
  }

  async readMetadata(kind: ArtifactKind, key: string): Promise<Readonly<Record<string, unknown>> | undefined> {
    const objectKey = artifactMetadataKey(kind, key);
    const object = await this.bucket.get(objectKey);
    return object ? metadataObject(parseJsonText(object.body.toString("utf8"), this.bucket.url(objectKey)), this.bucket.url(objectKey)) : undefined;
  }

  /** The CodeBuild build last started for an artifact, if one was recorded. */
  async readBuildMarker(kind: ArtifactKind, key: string): Promise<string | undefined> {
    const objectKey = buildMarkerKey(kind, key);
    const object = await this.bucket.get(objectKey);
    if (!object) return undefined;
    const data = parseJsonText(object.body.toString("utf8"), this.bucket.url(objectKey)) as { buildId?: unknown } | null;
    return typeof data?.buildId === "string" ? data.buildId : undefined;
  }

  async writeBuildMarker(kind: ArtifactKind, key: string, buildId: string): Promise<void> {
    await this.bucket.put(buildMarkerKey(kind, key), `${JSON.stringify({ buildId })}\n`, { contentType: "application/json" });
  }

  /**
   * Uploads a build-source bundle (its key is its digest) and returns CodeBuild's location for
   * it. Written even when present: the infra/ stack expires `sources/` objects a configurable
   * number of days (from one) after they were written, and a fresh write restarts that clock
   * before a build that may run for hours needs the bundle.
   */
  async putSource(key: string, body: Uint8Array, metadata?: Readonly<Record<string, string>>): Promise<string> {
    await this.bucket.put(key, body, { contentType: "application/zip", ...(metadata ? { metadata } : {}) });
    return `${this.bucket.name}/${key}`;
  }
}
