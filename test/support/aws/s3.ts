/**
 * An S3 emulator (REST-XML, path-style addressing) for the object calls the pipeline makes:
 * HeadBucket, Head/Get/Put/Copy/DeleteObject, with the conditional writes the lock relies on
 * (`If-None-Match: *` → 412 PreconditionFailed, `If-Match` on put and delete). Buckets belong to
 * one region: a request signed for another region gets 301 PermanentRedirect with
 * `x-amz-bucket-region`, as from AWS. Errors carry S3's XML body; HEAD errors carry none, so
 * the SDK sees only the status there, as it does against AWS.
 */
import { createHash } from "node:crypto";
import { ApiError, Emulator, xmlEscape } from "./http.ts";
import type { CredentialProblem, EmulatorRequest, EmulatorResponse } from "./http.ts";

export interface StoredObject {
  readonly body: Buffer;
  readonly etag: string;
  readonly contentType: string;
  readonly lastModified: Date;
  readonly metadata: Readonly<Record<string, string>>;
  /** `x-amz-checksum-*` headers the writer sent, returned on reads that ask for them. */
  readonly checksums: Readonly<Record<string, string>>;
}

interface Bucket {
  readonly region: string;
  readonly objects: Map<string, StoredObject>;
}

const CHECKSUM_HEADERS = ["x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256"];

/** Decodes an `aws-chunked` body (`<hex size>[;chunk-signature=…]\r\n<data>\r\n … 0\r\n<trailers>`). */
export function decodeAwsChunked(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf("\r\n", at);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(at, lineEnd).toString("latin1").split(";")[0]!, 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

function header(req: EmulatorRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export class S3Emulator extends Emulator {
  readonly signingName = "s3";
  private readonly buckets = new Map<string, Bucket>();
  private readonly denied: { bucket: string; prefix: string }[] = [];
  private conflicts = 0;

  createBucket(name: string, region: string): void {
    if (!this.buckets.has(name)) this.buckets.set(name, { region, objects: new Map() });
  }

  deleteBucket(name: string): void {
    this.buckets.delete(name);
  }

  bucketRegion(name: string): string | undefined {
    return this.buckets.get(name)?.region;
  }

  /** Every request on keys under `prefix` (all keys when empty) in `bucket` gets 403 AccessDenied. */
  denyAccess(bucket: string, prefix = ""): void {
    this.denied.push({ bucket, prefix });
  }

  allowAll(): void {
    this.denied.length = 0;
  }

  /** The next `n` conditional writes fail with 409 ConditionalRequestConflict (a lost race). */
  conflictNext(n: number): void {
    this.conflicts = n;
  }

  putObject(bucket: string, key: string, body: Buffer | string, contentType = "application/octet-stream"): StoredObject {
    const b = this.buckets.get(bucket);
    if (!b) throw new Error(`no bucket ${bucket}`);
    const data = Buffer.from(body);
    const object: StoredObject = {
      body: data,
      etag: `"${createHash("md5").update(data).digest("hex")}"`,
      contentType,
      lastModified: new Date(),
      metadata: {},
      checksums: {},
    };
    b.objects.set(key, object);
    return object;
  }

  getObject(bucket: string, key: string): StoredObject | undefined {
    return this.buckets.get(bucket)?.objects.get(key);
  }

  deleteObject(bucket: string, key: string): boolean {
    return this.buckets.get(bucket)?.objects.delete(key) ?? false;
  }

  keys(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.objects.keys() ?? [])].sort();
  }

  protected operation(req: EmulatorRequest): string {
    const [, key] = this.split(req.path);
    const objectLevel = key !== "";
    switch (req.method) {
      case "HEAD":
        return objectLevel ? "HeadObject" : "HeadBucket";
      case "GET":
        return objectLevel ? "GetObject" : "ListObjects";
      case "PUT":
        if (!objectLevel) return "CreateBucket";
        return header(req, "x-amz-copy-source") ? "CopyObject" : "PutObject";
      case "DELETE":
        return objectLevel ? "DeleteObject" : "DeleteBucket";
      default:
        return `Unknown(${req.method})`;
    }
  }

  private split(path: string): [string, string] {
    const trimmed = path.replace(/^\//, "");
    const slash = trimmed.indexOf("/");
    return slash < 0 ? [trimmed, ""] : [trimmed.slice(0, slash), trimmed.slice(slash + 1)];
  }

  /** The bucket, checked for existence, region and access. */
  private bucket(req: EmulatorRequest, name: string, key: string): Bucket {
    const bucket = this.buckets.get(name);
    if (!bucket) throw new ApiError(404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: name });
    if (bucket.region !== this.region(req)) {
      throw new ApiError(
        301,
        "PermanentRedirect",
        "The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.",
        { Endpoint: `${name}.s3.${bucket.region}.amazonaws.com`, Bucket: name },
        { "x-amz-bucket-region": bucket.region },
      );
    }
    if (this.denied.some((d) => d.bucket === name && key.startsWith(d.prefix))) {
      throw new ApiError(403, "AccessDenied", "Access Denied");
    }
    return bucket;
  }

  protected handle(req: EmulatorRequest, operation: string): EmulatorResponse {
    const [name, key] = this.split(req.path);
    switch (operation) {
      case "HeadBucket": {
        this.bucket(req, name, "");
        return { status: 200, headers: { "x-amz-bucket-region": this.region(req) } };
      }
      case "HeadObject":
      case "GetObject":
        return this.read(req, this.bucket(req, name, key), key);
      case "PutObject":
        return this.write(req, this.bucket(req, name, key), key);
      case "CopyObject":
        return this.copy(req, this.bucket(req, name, key), key);
      case "DeleteObject":
        return this.remove(req, this.bucket(req, name, key), key);
      default:
        throw new ApiError(501, "NotImplemented", `the emulator does not implement ${operation}`);
    }
  }

  private objectHeaders(object: StoredObject, withChecksums: boolean): Record<string, string> {
    const headers: Record<string, string> = {
      "content-type": object.contentType,
      "content-length": String(object.body.length),
      etag: object.etag,
      "last-modified": object.lastModified.toUTCString(),
      "accept-ranges": "bytes",
    };
    for (const [k, v] of Object.entries(object.metadata)) headers[`x-amz-meta-${k}`] = v;
    if (withChecksums) Object.assign(headers, object.checksums);
    return headers;
  }

  private read(req: EmulatorRequest, bucket: Bucket, key: string): EmulatorResponse {
    const object = bucket.objects.get(key);
    if (!object) throw new ApiError(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
    const ifMatch = header(req, "if-match");
    if (ifMatch && ifMatch !== object.etag) {
      throw new ApiError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", { Condition: "If-Match" });
    }
    const withChecksums = header(req, "x-amz-checksum-mode") === "ENABLED";
    return { status: 200, headers: this.objectHeaders(object, withChecksums), body: object.body };
  }

  private checkWriteConditions(req: EmulatorRequest, key: string, existing: StoredObject | undefined): void {
    const ifNoneMatch = header(req, "if-none-match");
    const ifMatch = header(req, "if-match");
    if (ifNoneMatch === undefined && ifMatch === undefined) return;
    if (this.conflicts > 0) {
      this.conflicts--;
      throw new ApiError(
        409,
        "ConditionalRequestConflict",
        "A conflicting operation occurred. If using PutObject you can retry the request. If using multipart upload you should initiate another CreateMultipartUpload request and re-upload each part.",
      );
    }
    if (ifNoneMatch !== undefined) {
      if (ifNoneMatch !== "*") throw new ApiError(501, "NotImplemented", "A header you provided implies functionality that is not implemented", { Header: "If-None-Match" });
      if (existing) throw new ApiError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", { Condition: "If-None-Match" });
    }
    if (ifMatch !== undefined) {
      if (!existing) throw new ApiError(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
      if (ifMatch !== existing.etag) throw new ApiError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", { Condition: "If-Match" });
    }
  }

  private write(req: EmulatorRequest, bucket: Bucket, key: string): EmulatorResponse {
    const chunked = /aws-chunked/.test(header(req, "content-encoding") ?? "") || (header(req, "x-amz-content-sha256") ?? "").startsWith("STREAMING-");
    const body = chunked ? decodeAwsChunked(req.body) : req.body;
    this.checkWriteConditions(req, key, bucket.objects.get(key));
    const metadata: Record<string, string> = {};
    const checksums: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value !== "string") continue;
      if (name.startsWith("x-amz-meta-")) metadata[name.slice("x-amz-meta-".length)] = value;
      if (CHECKSUM_HEADERS.includes(name)) checksums[name] = value;
    }
    const object: StoredObject = {
      body,
      etag: `"${createHash("md5").update(body).digest("hex")}"`,
      contentType: header(req, "content-type") ?? "binary/octet-stream",
      lastModified: new Date(),
      metadata,
      checksums,
    };
    bucket.objects.set(key, object);
    return { status: 200, headers: { etag: object.etag, ...checksums } };
  }

  private copy(req: EmulatorRequest, bucket: Bucket, key: string): EmulatorResponse {
    const source = decodeURIComponent((header(req, "x-amz-copy-source") ?? "").split("?")[0]!).replace(/^\//, "");
    const slash = source.indexOf("/");
    const sourceBucketName = source.slice(0, slash);
    const sourceKey = source.slice(slash + 1);
    const sourceBucket = this.buckets.get(sourceBucketName);
    if (!sourceBucket) throw new ApiError(404, "NoSuchBucket", "The specified bucket does not exist", { BucketName: sourceBucketName });
    if (this.denied.some((d) => d.bucket === sourceBucketName && sourceKey.startsWith(d.prefix))) throw new ApiError(403, "AccessDenied", "Access Denied");
    const original = sourceBucket.objects.get(sourceKey);
    if (!original) throw new ApiError(404, "NoSuchKey", "The specified key does not exist.", { Key: sourceKey });
    this.checkWriteConditions(req, key, bucket.objects.get(key));
    const object: StoredObject = { ...original, lastModified: new Date() };
    bucket.objects.set(key, object);
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<CopyObjectResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LastModified>${object.lastModified.toISOString()}</LastModified><ETag>${xmlEscape(object.etag)}</ETag></CopyObjectResult>`;
    return { status: 200, headers: { "content-type": "application/xml" }, body };
  }

  private remove(req: EmulatorRequest, bucket: Bucket, key: string): EmulatorResponse {
    const ifMatch = header(req, "if-match");
    const existing = bucket.objects.get(key);
    if (ifMatch !== undefined) {
      if (!existing) throw new ApiError(404, "NoSuchKey", "The specified key does not exist.", { Key: key });
      if (existing.etag !== ifMatch) throw new ApiError(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold", { Condition: "If-Match" });
    }
    bucket.objects.delete(key);
    return { status: 204 };
  }

  protected render(error: ApiError, req: EmulatorRequest): EmulatorResponse {
    const fields = Object.entries(error.fields)
      .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
      .join("");
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${xmlEscape(error.message)}</Message>${fields}<RequestId>${req.requestId}</RequestId><HostId>${Buffer.from(req.requestId).toString("base64")}</HostId></Error>`;
    return { status: error.status, headers: { "content-type": "application/xml", ...error.headers }, body };
  }

  protected throttling(): ApiError {
    return new ApiError(503, "SlowDown", "Please reduce your request rate.");
  }

  protected internalError(): ApiError {
    return new ApiError(500, "InternalError", "We encountered an internal error. Please try again.");
  }

  protected credentialError(problem: CredentialProblem): ApiError {
    switch (problem) {
      case "missing":
        return new ApiError(403, "AccessDenied", "Access Denied");
      case "invalid":
        return new ApiError(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.");
      case "expired":
        return new ApiError(400, "ExpiredToken", "The provided token has expired.");
    }
  }
}
