/**
 * The S3 object calls the pipeline makes, on one bucket in one region. The only module that
 * imports @aws-sdk/client-s3; the artifact store, the lock and the build-source upload use it.
 *
 * Existence is answered strictly: only a 404 for the object means "absent". A 404 on HEAD
 * carries no error code, so the first one on a bucket is followed by one HeadBucket to tell a
 * missing key from a missing bucket; any other failure (403, 301, 5xx after retries) throws.
 */
import { createHash } from "node:crypto";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { PerRegion, clientConfig } from "./clients.ts";
import type { AwsClientOptions } from "./clients.ts";
import { awsErrorCode, httpStatus, isNotFound, missingBucketError, toPipelineError } from "./errors.ts";
import type { AwsCallContext } from "./errors.ts";
import type { ErrorCode } from "../../errors.ts";

export interface ObjectHead {
  readonly etag: string;
  readonly size: number;
}

export interface ObjectBody extends ObjectHead {
  readonly body: Buffer;
}

export type ConditionalPut = { readonly written: true; readonly etag: string } | { readonly written: false; readonly reason: "exists" | "conflict" };

export type ConditionalDelete = "deleted" | "absent" | "changed";

export interface PutOptions {
  readonly contentType?: string;
  /** Write only if no object exists under the key (`If-None-Match: *`). */
  readonly ifAbsent?: boolean;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Clients per region, shared by every bucket handle. */
export class S3Clients {
  private readonly clients: PerRegion<S3Client>;

  constructor(options: AwsClientOptions = {}) {
    this.clients = new PerRegion((region) => new S3Client(clientConfig("s3", region, options)));
  }

  private readonly buckets = new Map<string, S3Bucket>();

  /** One handle per bucket, so its existence is checked once per process. */
  bucket(name: string, region: string, code: ErrorCode = "STATE_UNREADABLE"): S3Bucket {
    const id = `${region}/${name}/${code}`;
    let bucket = this.buckets.get(id);
    if (!bucket) {
      bucket = new S3Bucket(this.clients.get(region), name, region, code);
      this.buckets.set(id, bucket);
    }
    return bucket;
  }

  destroy(): void {
    for (const client of this.clients.all()) client.destroy();
  }
}

export class S3Bucket {
  private checked: Promise<void> | undefined;

  constructor(
    private readonly client: S3Client,
    readonly name: string,
    readonly region: string,
    private readonly code: ErrorCode,
  ) {}

  url(key?: string): string {
    return key ? `s3://${this.name}/${key}` : `s3://${this.name}`;
  }

  private ctx(operation: string, key?: string): AwsCallContext {
    return { service: "S3", operation, resource: this.url(key), region: this.region, code: this.code };
  }

  /** Fails with a clear sentence when the bucket is missing or in another region; asked once. */
  ensureBucket(): Promise<void> {
    this.checked ??= this.client.send(new HeadBucketCommand({ Bucket: this.name })).then(
      () => undefined,
      (error: unknown) => {
        this.checked = undefined;
        // HEAD answers carry no error code: a 404 here can only be the bucket.
        if (httpStatus(error) === 404) throw missingBucketError(this.name, this.region, error);
        throw toPipelineError(error, this.ctx("HeadBucket"));
      },
    );
    return this.checked;
  }

  /** The object's ETag and size, or undefined when (and only when) it does not exist. */
  async head(key: string): Promise<ObjectHead | undefined> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
      return { etag: out.ETag ?? "", size: out.ContentLength ?? 0 };
    } catch (error) {
      if (httpStatus(error) === 404) {
        await this.ensureBucket();
        return undefined;
      }
      throw toPipelineError(await this.explain(error, key), {
        ...this.ctx("HeadObject", key),
        accessHint: "(and s3:ListBucket on the bucket: without it S3 answers 403 for a missing key)",
      });
    }
  }

  /**
   * HEAD errors have no body, so a 400 or 403 does not say whether the token expired, the key
   * is unknown or access is denied. A one-byte GET of the same key returns the same error with
   * its code; the original error is kept if the GET says nothing more.
   */
  private async explain(error: unknown, key: string): Promise<unknown> {
    const status = httpStatus(error);
    if (status !== 400 && status !== 403) return error;
    try {
      await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key, Range: "bytes=0-0" }));
      return error;
    } catch (detailed) {
      return httpStatus(detailed) === status && awsErrorCode(detailed) !== "Unknown" ? detailed : error;
    }
  }

  async get(key: string): Promise<ObjectBody | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key }));
      const body = Buffer.from((await out.Body?.transformToByteArray()) ?? new Uint8Array());
      return { body, etag: out.ETag ?? "", size: body.length };
    } catch (error) {
      if (awsErrorCode(error) !== "NoSuchBucket" && isNotFound(error)) return undefined;
      throw toPipelineError(error, this.ctx("GetObject", key));
    }
  }

  /** SHA-256 of an object's bytes, streamed (a layer zip can be 250 MB); undefined when it is absent. */
  async sha256(key: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key }));
      const hash = createHash("sha256");
      const body = out.Body as AsyncIterable<Uint8Array> | undefined;
      if (body) for await (const chunk of body) hash.update(chunk);
      return hash.digest("hex");
    } catch (error) {
      if (awsErrorCode(error) !== "NoSuchBucket" && isNotFound(error)) return undefined;
      throw toPipelineError(error, this.ctx("GetObject", key));
    }
  }

  async put(key: string, body: Uint8Array | string, options: PutOptions = {}): Promise<ConditionalPut> {
    try {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: this.name,
          Key: key,
          Body: body,
          ...(options.contentType ? { ContentType: options.contentType } : {}),
          ...(options.ifAbsent ? { IfNoneMatch: "*" } : {}),
          ...(options.metadata ? { Metadata: { ...options.metadata } } : {}),
        }),
      );
      return { written: true, etag: out.ETag ?? "" };
    } catch (error) {
      if (options.ifAbsent) {
        const code = awsErrorCode(error);
        if (code === "PreconditionFailed" || httpStatus(error) === 412) return { written: false, reason: "exists" };
        // Another conditional write to the same key was in flight; S3 asks the caller to retry.
        if (code === "ConditionalRequestConflict" || httpStatus(error) === 409) return { written: false, reason: "conflict" };
      }
      throw toPipelineError(error, this.ctx("PutObject", key));
    }
  }

  /** Server-side copy from another bucket (possibly in another region) into this one. */
  async copyFrom(source: { readonly bucket: string; readonly key: string }, key: string): Promise<void> {
    const copySource = `${source.bucket}/${source.key.split("/").map(encodeURIComponent).join("/")}`;
    try {
      await this.client.send(new CopyObjectCommand({ Bucket: this.name, Key: key, CopySource: copySource }));
    } catch (error) {
      throw toPipelineError(error, { ...this.ctx("CopyObject", key), resource: `s3://${source.bucket}/${source.key} → ${this.url(key)}` });
    }
  }

  /** Deletes the object, only while its ETag is still `ifMatch` when given. */
  async delete(key: string, ifMatch?: string): Promise<ConditionalDelete> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: key, ...(ifMatch ? { IfMatch: ifMatch } : {}) }));
      return "deleted";
    } catch (error) {
      if (ifMatch && (awsErrorCode(error) === "PreconditionFailed" || httpStatus(error) === 412)) return "changed";
      if (awsErrorCode(error) !== "NoSuchBucket" && isNotFound(error)) return "absent";
      throw toPipelineError(error, this.ctx("DeleteObject", key));
    }
  }
}
