/**
 * A Lambda emulator for the layer API (REST-JSON, `/2018-10-31/layers…`): ListLayers,
 * ListLayerVersions (Marker/NextMarker, at most 50 a page), PublishLayerVersion,
 * GetLayerVersion, DeleteLayerVersion and the version policy calls. As in AWS, version numbers
 * only grow (never reused after a delete), a policy belongs to one version, and publishing
 * reads the zip from an S3 bucket that must be in the layer's own region. Errors carry
 * `x-amzn-errortype` and a JSON body.
 */
import { createHash, randomUUID } from "node:crypto";
import { ApiError, Emulator, jsonCredentialError } from "./http.ts";
import type { CredentialProblem, EmulatorRequest, EmulatorResponse } from "./http.ts";
import type { S3Emulator } from "./s3.ts";

interface Statement {
  readonly Sid: string;
  readonly Effect: "Allow";
  readonly Principal: string | { readonly AWS: string };
  readonly Action: string;
  readonly Resource: string;
  readonly Condition?: { readonly StringEquals: Readonly<Record<string, string>> };
}

export interface EmulatedVersion {
  readonly version: number;
  readonly description?: string;
  readonly createdDate: string;
  readonly runtimes: readonly string[];
  readonly architectures: readonly string[];
  readonly license?: string;
  readonly codeSha256: string;
  readonly codeSize: number;
  readonly content: { readonly bucket: string; readonly key: string };
  statements: Statement[];
  revision: string;
}

interface EmulatedLayer {
  last: number;
  readonly versions: Map<number, EmulatedVersion>;
}

const PREFIX = "/2018-10-31/layers";
const NAME_RE = /^[a-zA-Z0-9-_]{1,140}$/;
const PAGE_MAX = 50;

/** Lambda's timestamp format: `2024-01-31T12:00:00.000+0000`. */
function lambdaDate(date: Date): string {
  return date.toISOString().replace("Z", "+0000");
}

function encodeMarker(value: string): string {
  return Buffer.from(JSON.stringify({ after: value })).toString("base64url");
}

function decodeMarker(marker: string): string {
  try {
    return (JSON.parse(Buffer.from(marker, "base64url").toString("utf8")) as { after: string }).after;
  } catch {
    throw new ApiError(400, "InvalidParameterValueException", "Invalid Marker.");
  }
}

export interface LambdaEmulatorOptions {
  readonly account?: string;
  /** Where published content is read from; without it any S3 location is accepted. */
  readonly s3?: S3Emulator;
  readonly clock?: () => Date;
}

export class LambdaEmulator extends Emulator {
  readonly signingName = "lambda";
  readonly account: string;
  private readonly regions = new Map<string, Map<string, EmulatedLayer>>();
  private readonly deniedOperations = new Set<string>();
  private readonly clock: () => Date;

  constructor(private readonly options: LambdaEmulatorOptions = {}) {
    super();
    this.account = options.account ?? "123456789012";
    this.clock = options.clock ?? (() => new Date());
  }

  /** Requests for these operations get 403 AccessDeniedException. */
  denyAccess(...operations: string[]): void {
    for (const op of operations) this.deniedOperations.add(op);
  }

  allowAll(): void {
    this.deniedOperations.clear();
  }

  /** Every live version of a layer, oldest first (for test assertions). */
  versions(region: string, name: string): EmulatedVersion[] {
    return [...(this.regions.get(region)?.get(name)?.versions.values() ?? [])].sort((a, b) => a.version - b.version);
  }

  layerNames(region: string): string[] {
    return [...(this.regions.get(region)?.entries() ?? [])].filter(([, l]) => l.versions.size > 0).map(([n]) => n).sort();
  }

  /** Publishes directly, bypassing HTTP (for seeding large states quickly). */
  seed(region: string, name: string, fields: { description?: string; architectures?: string[]; runtimes?: string[] } = {}): EmulatedVersion {
    return this.create(region, name, {
      description: fields.description,
      architectures: fields.architectures ?? ["x86_64"],
      runtimes: fields.runtimes ?? ["provided.al2023"],
      content: { bucket: "seed", key: `${name}.zip` },
      body: Buffer.from(name),
    });
  }

  private arn(region: string, name: string, version?: number): string {
    return `arn:aws:lambda:${region}:${this.account}:layer:${name}${version === undefined ? "" : `:${version}`}`;
  }

  private layers(region: string): Map<string, EmulatedLayer> {
    let layers = this.regions.get(region);
    if (!layers) this.regions.set(region, (layers = new Map()));
    return layers;
  }

  private create(
    region: string,
    name: string,
    fields: { description?: string; architectures: string[]; runtimes: string[]; license?: string; content: { bucket: string; key: string }; body: Buffer },
  ): EmulatedVersion {
    const layers = this.layers(region);
    let layer = layers.get(name);
    if (!layer) layers.set(name, (layer = { last: 0, versions: new Map() }));
    const version: EmulatedVersion = {
      version: ++layer.last,
      ...(fields.description !== undefined ? { description: fields.description } : {}),
      createdDate: lambdaDate(this.clock()),
      runtimes: fields.runtimes,
      architectures: fields.architectures,
      ...(fields.license !== undefined ? { license: fields.license } : {}),
      codeSha256: createHash("sha256").update(fields.body).digest("base64"),
      codeSize: fields.body.length,
      content: fields.content,
      statements: [],
      revision: randomUUID(),
    };
    layer.versions.set(version.version, version);
    return version;
  }

  protected operation(req: EmulatorRequest): string {
    const parts = this.parts(req);
    if (!parts) return `Unknown(${req.method} ${req.path})`;
    const { name, version, policy, statement } = parts;
    if (name === undefined) return req.method === "GET" ? (req.query.has("find") ? "GetLayerVersionByArn" : "ListLayers") : "Unknown";
    if (version === undefined) return req.method === "POST" ? "PublishLayerVersion" : "ListLayerVersions";
    if (!policy) return req.method === "DELETE" ? "DeleteLayerVersion" : "GetLayerVersion";
    if (statement !== undefined) return "RemoveLayerVersionPermission";
    return req.method === "POST" ? "AddLayerVersionPermission" : "GetLayerVersionPolicy";
  }

  private parts(req: EmulatorRequest): { name?: string; version?: number; policy?: boolean; statement?: string } | undefined {
    if (!req.path.startsWith(PREFIX)) return undefined;
    const rest = req.path.slice(PREFIX.length).split("/").filter(Boolean);
    // rest: [] | [name, "versions"] | [name, "versions", n] | [name, "versions", n, "policy"] | [..., "policy", sid]
    if (rest.length === 0) return {};
    if (rest[1] !== "versions") return undefined;
    const name = rest[0]!;
    if (rest.length === 2) return { name };
    const version = Number(rest[2]);
    if (rest.length === 3) return { name, version };
    if (rest[3] !== "policy") return undefined;
    return rest.length === 4 ? { name, version, policy: true } : { name, version, policy: true, statement: rest[4]! };
  }

  private input(req: EmulatorRequest): Record<string, unknown> {
    if (req.body.length === 0) return {};
    try {
      return JSON.parse(req.body.toString("utf8")) as Record<string, unknown>;
    } catch {
      throw new ApiError(400, "InvalidRequestContentException", "Could not parse request body into json");
    }
  }

  private json(status: number, value: unknown): EmulatorResponse {
    return { status, headers: { "content-type": "application/json" }, body: JSON.stringify(value) };
  }

  protected handle(req: EmulatorRequest, operation: string): EmulatorResponse {
    const region = this.region(req);
    if (this.deniedOperations.has(operation)) {
      throw new ApiError(
        403,
        "AccessDeniedException",
        `User: arn:aws:sts::${this.account}:assumed-role/test/session is not authorized to perform: lambda:${operation} on resource: ${this.arn(region, this.parts(req)?.name ?? "*")} because no identity-based policy allows the lambda:${operation} action`,
      );
    }
    const parts = this.parts(req) ?? {};
    if (parts.name !== undefined && !NAME_RE.test(parts.name)) {
      throw new ApiError(400, "ValidationException", `1 validation error detected: Value '${parts.name}' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern: (arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+`);
    }
    switch (operation) {
      case "ListLayers":
        return this.listLayers(req, region);
      case "ListLayerVersions":
        return this.listVersions(req, region, parts.name!);
      case "PublishLayerVersion":
        return this.publish(req, region, parts.name!);
      case "GetLayerVersion":
        return this.json(200, this.versionView(region, parts.name!, this.version(region, parts.name!, parts.version!), true));
      case "DeleteLayerVersion":
        this.regions.get(region)?.get(parts.name!)?.versions.delete(parts.version!);
        return { status: 204 };
      case "GetLayerVersionPolicy":
        return this.getPolicy(region, parts.name!, parts.version!);
      case "AddLayerVersionPermission":
        return this.addPermission(req, region, parts.name!, parts.version!);
      case "RemoveLayerVersionPermission":
        return this.removePermission(req, region, parts.name!, parts.version!, parts.statement!);
      default:
        throw new ApiError(404, "UnknownOperationException", `Unknown operation ${req.method} ${req.path}`);
    }
  }

  private pageSize(req: EmulatorRequest): number {
    const raw = req.query.get("MaxItems");
    if (raw === null) return PAGE_MAX;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > PAGE_MAX) {
      throw new ApiError(400, "ValidationException", `1 validation error detected: Value '${raw}' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 50`);
    }
    return n;
  }

  private matches(req: EmulatorRequest, v: EmulatedVersion): boolean {
    const runtime = req.query.get("CompatibleRuntime");
    const arch = req.query.get("CompatibleArchitecture");
    return (!runtime || v.runtimes.includes(runtime)) && (!arch || v.architectures.includes(arch));
  }

  private versionView(region: string, name: string, v: EmulatedVersion, full = false): Record<string, unknown> {
    return {
      LayerVersionArn: this.arn(region, name, v.version),
      Version: v.version,
      ...(v.description !== undefined ? { Description: v.description } : {}),
      CreatedDate: v.createdDate,
      CompatibleRuntimes: v.runtimes,
      ...(v.license !== undefined ? { LicenseInfo: v.license } : {}),
      CompatibleArchitectures: v.architectures,
      ...(full
        ? {
            LayerArn: this.arn(region, name),
            Content: { Location: `${this.url}/content/${region}/${name}/${v.version}`, CodeSha256: v.codeSha256, CodeSize: v.codeSize },
          }
        : {}),
    };
  }

  private listLayers(req: EmulatorRequest, region: string): EmulatorResponse {
    const size = this.pageSize(req);
    const marker = req.query.get("Marker");
    const after = marker ? decodeMarker(marker) : undefined;
    const heads: { name: string; latest: EmulatedVersion }[] = [];
    for (const [name, layer] of [...this.layers(region).entries()].sort(([a], [b]) => a.localeCompare(b))) {
      if (after !== undefined && name <= after) continue;
      const latest = [...layer.versions.values()].filter((v) => this.matches(req, v)).sort((a, b) => b.version - a.version)[0];
      if (latest) heads.push({ name, latest });
    }
    const page = heads.slice(0, size);
    return this.json(200, {
      Layers: page.map(({ name, latest }) => ({ LayerName: name, LayerArn: this.arn(region, name), LatestMatchingVersion: this.versionView(region, name, latest) })),
      ...(heads.length > size ? { NextMarker: encodeMarker(page.at(-1)!.name) } : {}),
    });
  }

  private listVersions(req: EmulatorRequest, region: string, name: string): EmulatorResponse {
    const size = this.pageSize(req);
    const marker = req.query.get("Marker");
    const after = marker ? Number(decodeMarker(marker)) : Infinity;
    const all = [...(this.regions.get(region)?.get(name)?.versions.values() ?? [])]
      .filter((v) => v.version < after && this.matches(req, v))
      .sort((a, b) => b.version - a.version);
    const page = all.slice(0, size);
    return this.json(200, {
      LayerVersions: page.map((v) => this.versionView(region, name, v)),
      ...(all.length > size ? { NextMarker: encodeMarker(String(page.at(-1)!.version)) } : {}),
    });
  }

  private s3Content(region: string, bucket: string, key: string): Buffer {
    const s3 = this.options.s3;
    if (!s3) return Buffer.from(`${bucket}/${key}`);
    const s3Error = (code: string, message: string) =>
      new ApiError(400, "InvalidParameterValueException", `Error occurred while GetObject. S3 Error Code: ${code}. S3 Error Message: ${message}`);
    const bucketRegion = s3.bucketRegion(bucket);
    if (bucketRegion === undefined) throw s3Error("NoSuchBucket", "The specified bucket does not exist");
    if (bucketRegion !== region) throw s3Error("PermanentRedirect", `The bucket is in this region: ${bucketRegion}. Please use this region to retry the request`);
    const object = s3.getObject(bucket, key);
    if (!object) throw s3Error("NoSuchKey", "The specified key does not exist.");
    return object.body;
  }

  private publish(req: EmulatorRequest, region: string, name: string): EmulatorResponse {
    const input = this.input(req);
    const content = (input.Content ?? {}) as { S3Bucket?: string; S3Key?: string; ZipFile?: string };
    const description = input.Description as string | undefined;
    if (description !== undefined && description.length > 256) {
      throw new ApiError(400, "ValidationException", "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 256");
    }
    const architectures = (input.CompatibleArchitectures as string[] | undefined) ?? [];
    if (architectures.length > 2 || architectures.some((a) => a !== "x86_64" && a !== "arm64")) {
      throw new ApiError(400, "ValidationException", "1 validation error detected: Value at 'compatibleArchitectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]");
    }
    let body: Buffer;
    let location: { bucket: string; key: string };
    if (content.S3Bucket && content.S3Key) {
      body = this.s3Content(region, content.S3Bucket, content.S3Key);
      location = { bucket: content.S3Bucket, key: content.S3Key };
    } else if (content.ZipFile) {
      body = Buffer.from(content.ZipFile, "base64");
      location = { bucket: "", key: "" };
    } else {
      throw new ApiError(400, "InvalidParameterValueException", "Please provide a source for layer content: S3 bucket and key, or a zip file");
    }
    const v = this.create(region, name, {
      ...(description !== undefined ? { description } : {}),
      architectures: architectures.length > 0 ? architectures : [],
      runtimes: (input.CompatibleRuntimes as string[] | undefined) ?? [],
      ...(typeof input.LicenseInfo === "string" ? { license: input.LicenseInfo } : {}),
      content: location,
      body,
    });
    return this.json(201, this.versionView(region, name, v, true));
  }

  private version(region: string, name: string, version: number): EmulatedVersion {
    const v = this.regions.get(region)?.get(name)?.versions.get(version);
    if (!v) throw new ApiError(404, "ResourceNotFoundException", `Layer version ${this.arn(region, name, version)} does not exist.`);
    return v;
  }

  private policyDocument(v: EmulatedVersion): string {
    return JSON.stringify({ Version: "2012-10-17", Id: "default", Statement: v.statements });
  }

  private getPolicy(region: string, name: string, version: number): EmulatorResponse {
    const v = this.version(region, name, version);
    if (v.statements.length === 0) throw new ApiError(404, "ResourceNotFoundException", "No policy is associated with the given resource.");
    return this.json(200, { Policy: this.policyDocument(v), RevisionId: v.revision });
  }

  private addPermission(req: EmulatorRequest, region: string, name: string, version: number): EmulatorResponse {
    const v = this.version(region, name, version);
    const input = this.input(req);
    const sid = String(input.StatementId ?? "");
    const principal = String(input.Principal ?? "");
    const organization = input.OrganizationId as string | undefined;
    if (!/^[a-zA-Z0-9-_]{1,100}$/.test(sid)) throw new ApiError(400, "ValidationException", "1 validation error detected: Value at 'statementId' failed to satisfy constraint");
    if (input.Action !== "lambda:GetLayerVersion") {
      throw new ApiError(400, "InvalidParameterValueException", "The action is not valid. Valid actions are lambda:GetLayerVersion.");
    }
    if (!/^(\d{12}|\*|arn:aws[a-zA-Z-]*:iam::\d{12}:root)$/.test(principal)) {
      throw new ApiError(400, "InvalidParameterValueException", "The principal is not valid: specify an account ID, an account ARN, or *.");
    }
    if (organization !== undefined && principal !== "*") {
      throw new ApiError(400, "InvalidParameterValueException", "OrganizationId can only be specified with principal *.");
    }
    const revision = req.query.get("RevisionId");
    if (revision && revision !== v.revision) {
      throw new ApiError(412, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetLayerVersionPolicy API to retrieve the latest Revision Id");
    }
    if (v.statements.some((s) => s.Sid === sid)) {
      throw new ApiError(409, "ResourceConflictException", `The statement id (${sid}) provided already exists. Please provide a new statement id, or remove the existing statement.`);
    }
    const account = /^\d{12}$/.exec(principal)?.[0] ?? /::(\d{12}):root$/.exec(principal)?.[1];
    const statement: Statement = {
      Sid: sid,
      Effect: "Allow",
      Principal: account ? { AWS: `arn:aws:iam::${account}:root` } : "*",
      Action: "lambda:GetLayerVersion",
      Resource: this.arn(region, name, version),
      ...(organization ? { Condition: { StringEquals: { "aws:PrincipalOrgID": organization } } } : {}),
    };
    v.statements.push(statement);
    v.revision = randomUUID();
    return this.json(201, { Statement: JSON.stringify(statement), RevisionId: v.revision });
  }

  private removePermission(req: EmulatorRequest, region: string, name: string, version: number, sid: string): EmulatorResponse {
    const v = this.version(region, name, version);
    const revision = req.query.get("RevisionId");
    if (revision && revision !== v.revision) {
      throw new ApiError(412, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id.");
    }
    if (!v.statements.some((s) => s.Sid === sid)) {
      throw new ApiError(404, "ResourceNotFoundException", `Statement ${sid} is not found in resource policy.`);
    }
    v.statements = v.statements.filter((s) => s.Sid !== sid);
    v.revision = randomUUID();
    return { status: 204 };
  }

  protected render(error: ApiError): EmulatorResponse {
    // Lambda's models spell the message member `Message` for some errors and `message` for others.
    const messageKey = error.code === "ResourceNotFoundException" || error.code === "ServiceException" ? "Message" : "message";
    const type = error.status >= 500 ? "Service" : "User";
    return {
      status: error.status,
      headers: { "content-type": "application/json", "x-amzn-errortype": error.code, ...error.headers },
      body: JSON.stringify({ Type: type, [messageKey]: error.message, ...error.fields }),
    };
  }

  protected throttling(): ApiError {
    return new ApiError(429, "TooManyRequestsException", "Rate exceeded", { Reason: "CallerRateLimitExceeded" });
  }

  protected internalError(): ApiError {
    return new ApiError(500, "ServiceException", "An internal error occurred. Please try again.");
  }

  protected credentialError(problem: CredentialProblem): ApiError {
    return jsonCredentialError(problem, 403);
  }
}
