/**
 * PublishedLayers over Lambda's layer API. The only module that imports @aws-sdk/client-lambda.
 *
 * One ListLayers sequence per region reads the head of every layer (its LatestMatchingVersion,
 * description included), so reading state costs calls per region, not per layer.
 */
import {
  AddLayerVersionPermissionCommand,
  DeleteLayerVersionCommand,
  GetLayerVersionPolicyCommand,
  LambdaClient,
  ListLayerVersionsCommand,
  PublishLayerVersionCommand,
  RemoveLayerVersionPermissionCommand,
  paginateListLayerVersions,
  paginateListLayers,
} from "@aws-sdk/client-lambda";
import type { LayerVersionsListItem, Runtime } from "@aws-sdk/client-lambda";
import { ARCHES } from "../../manifest/types.ts";
import type { Arch } from "../../manifest/types.ts";
import { describedBy } from "../../naming.ts";
import type { Grant, PublishRequest, PublishedLayers, PublishedVersion } from "../../ports.ts";
import { grantId } from "../../grants.ts";
import { PerRegion, clientConfig, maxAttempts, retryDelayScale } from "./clients.ts";
import type { AwsClientOptions } from "./clients.ts";
import { NETWORK_ERROR_CODES, awsErrorCode, call, httpStatus, isNotFound, toPipelineError } from "./errors.ts";
import type { AwsCallContext } from "./errors.ts";
import { grantsFromPolicy, sameGrant } from "./layer-policy.ts";
import { sleep } from "../../util/sleep.ts";

/** Lambda's largest page for layer listings. */
const PAGE_SIZE = 50;

function isArch(value: string): value is Arch {
  return (ARCHES as readonly string[]).includes(value);
}

function layerNameOf(versionArn: string): string {
  // arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION
  return versionArn.split(":")[6] ?? versionArn;
}

function view(layerName: string, item: LayerVersionsListItem): PublishedVersion {
  return {
    layerName,
    version: item.Version ?? 0,
    arn: item.LayerVersionArn ?? "",
    ...(item.Description !== undefined ? { description: item.Description } : {}),
    ...describedBy(item.Description),
    ...(item.CreatedDate !== undefined ? { createdAt: item.CreatedDate } : {}),
    ...(item.CompatibleArchitectures ? { architectures: item.CompatibleArchitectures.filter(isArch) } : {}),
    ...(item.LicenseInfo !== undefined ? { license: item.LicenseInfo } : {}),
    ...(item.CompatibleRuntimes ? { compatibleRuntimes: item.CompatibleRuntimes } : {}),
  };
}


/** How a failed request may be retried: not at all, freely (it did nothing), or after checking whether it took effect. */
function retryKind(error: unknown): "none" | "throttled" | "ambiguous" {
  const status = httpStatus(error);
  const code = awsErrorCode(error);
  if (status === 429 || code === "TooManyRequestsException" || code === "ThrottlingException") return "throttled";
  if ((status !== undefined && status >= 500) || NETWORK_ERROR_CODES.has(code)) return "ambiguous";
  return "none";
}

export class LambdaPublishedLayers implements PublishedLayers {
  private readonly clients: PerRegion<LambdaClient>;
  private readonly publishClients: PerRegion<LambdaClient>;
  private readonly publishAttempts: number;
  private readonly delayScale: number;

  constructor(options: AwsClientOptions = {}) {
    this.clients = new PerRegion((region) => new LambdaClient(clientConfig("lambda", region, options)));
    this.publishClients = new PerRegion((region) => new LambdaClient(clientConfig("lambda", region, { ...options, maxAttempts: 1 })));
    this.publishAttempts = maxAttempts(options);
    this.delayScale = retryDelayScale(options);
  }

  private ctx(operation: string, region: string, resource?: string): AwsCallContext {
    return { service: "Lambda", operation, region, code: "STATE_UNREADABLE", ...(resource ? { resource } : {}) };
  }

  async listLatest(region: string): Promise<PublishedVersion[]> {
    return call(this.ctx("ListLayers", region), async () => {
      const heads: PublishedVersion[] = [];
      for await (const page of paginateListLayers({ client: this.clients.get(region), pageSize: PAGE_SIZE }, {})) {
        for (const layer of page.Layers ?? []) {
          if (!layer.LatestMatchingVersion) continue;
          const name = layer.LayerName ?? layerNameOf(layer.LatestMatchingVersion.LayerVersionArn ?? "");
          heads.push(view(name, layer.LatestMatchingVersion));
        }
      }
      return heads;
    });
  }

  async listVersions(region: string, layerName: string): Promise<PublishedVersion[]> {
    return call(this.ctx("ListLayerVersions", region, `layer ${layerName}`), async () => {
      const versions: PublishedVersion[] = [];
      const pages = paginateListLayerVersions({ client: this.clients.get(region), pageSize: PAGE_SIZE }, { LayerName: layerName });
      for await (const page of pages) {
        for (const item of page.LayerVersions ?? []) versions.push(view(layerName, item));
      }
      return versions.sort((a, b) => b.version - a.version);
    });
  }

  async getLatest(region: string, layerName: string): Promise<PublishedVersion | undefined> {
    const out = await call(this.ctx("ListLayerVersions", region, `layer ${layerName}`), () =>
      this.clients.get(region).send(new ListLayerVersionsCommand({ LayerName: layerName, MaxItems: 1 })),
    );
    const first = out.LayerVersions?.[0];
    return first ? view(layerName, first) : undefined;
  }

  async readGrants(region: string, layerName: string, version: number): Promise<Grant[]> {
    try {
      const out = await this.clients
        .get(region)
        .send(new GetLayerVersionPolicyCommand({ LayerName: layerName, VersionNumber: version }));
      return grantsFromPolicy(out.Policy);
    } catch (error) {
      // A version nobody was granted has no policy at all: Lambda answers ResourceNotFound.
      if (isNotFound(error)) return [];
      throw toPipelineError(error, this.ctx("GetLayerVersionPolicy", region, `${layerName}:${version}`));
    }
  }

  /**
   * PublishLayerVersion is not idempotent: a request whose response is lost (a 5xx after the
   * version was created, a dropped connection) and is sent again makes a second version of the
   * same key. So publishing uses a client without SDK retries, and retries itself: a throttled
   * request did nothing and is sent again after a backoff; after an ambiguous failure the
   * layer's newest version is read first, and if it carries our description it is the result.
   */
  async publish(request: PublishRequest): Promise<PublishedVersion> {
    const { region, layerName } = request;
    const context = { ...this.ctx("PublishLayerVersion", region, `layer ${layerName}`), code: "AWS_SERVICE_ERROR" as const };
    const command = new PublishLayerVersionCommand({
      LayerName: layerName,
      Description: request.description,
      Content: { S3Bucket: request.content.bucket, S3Key: request.content.objectKey },
      CompatibleRuntimes: [...request.compatibleRuntimes] as Runtime[],
      CompatibleArchitectures: [request.architecture],
      ...(request.license ? { LicenseInfo: request.license } : {}),
    });
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await this.publishClients.get(region).send(command);
        return {
          layerName,
          version: out.Version ?? 0,
          arn: out.LayerVersionArn ?? "",
          ...(out.Description !== undefined ? { description: out.Description } : {}),
          ...describedBy(out.Description),
          ...(out.CreatedDate !== undefined ? { createdAt: out.CreatedDate } : {}),
          architectures: (out.CompatibleArchitectures ?? [request.architecture]).filter(isArch),
          ...(out.LicenseInfo !== undefined ? { license: out.LicenseInfo } : {}),
          ...(out.CompatibleRuntimes ? { compatibleRuntimes: out.CompatibleRuntimes } : {}),
        };
      } catch (error) {
        const kind = retryKind(error);
        if (kind === "none" || attempt >= this.publishAttempts) throw toPipelineError(error, { ...context, ...(attempt > 1 ? { attempts: attempt } : {}) });
        if (kind === "ambiguous") {
          const latest = await this.getLatest(region, layerName);
          if (latest && latest.description === request.description) return latest;
        }
        const base = (kind === "throttled" ? 1_000 : 100) * this.delayScale;
        await sleep(Math.random() * Math.min(base * 2 ** (attempt - 1), 20_000));
      }
    }
  }

  async addGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void> {
    const context = { ...this.ctx("AddLayerVersionPermission", region, `${layerName}:${version}`), code: "AWS_SERVICE_ERROR" as const };
    const command = new AddLayerVersionPermissionCommand({
      LayerName: layerName,
      VersionNumber: version,
      StatementId: grantId(grant),
      Action: "lambda:GetLayerVersion",
      Principal: grant.kind === "account" ? grant.account : "*",
      ...(grant.kind === "organization" ? { OrganizationId: grant.organization } : {}),
    });
    // A conflict is either our statement already there (a re-run after a crash: success) or
    // another policy change landing at the same moment (worth one more try).
    for (let attempt = 1; ; attempt++) {
      try {
        await this.clients.get(region).send(command);
        return;
      } catch (error) {
        if (awsErrorCode(error) !== "ResourceConflictException") throw toPipelineError(error, context);
        const existing = await this.readGrants(region, layerName, version);
        if (existing.some((g) => sameGrant(g, grant))) return;
        if (attempt >= 2) throw toPipelineError(error, context);
      }
    }
  }

  async removeGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void> {
    try {
      await this.clients
        .get(region)
        .send(new RemoveLayerVersionPermissionCommand({ LayerName: layerName, VersionNumber: version, StatementId: grantId(grant) }));
    } catch (error) {
      if (isNotFound(error)) return; // already gone: the outcome we wanted
      throw toPipelineError(error, { ...this.ctx("RemoveLayerVersionPermission", region, `${layerName}:${version}`), code: "AWS_SERVICE_ERROR" });
    }
  }

  async deleteVersion(region: string, layerName: string, version: number): Promise<void> {
    await call({ ...this.ctx("DeleteLayerVersion", region, `${layerName}:${version}`), code: "AWS_SERVICE_ERROR" }, () =>
      this.clients.get(region).send(new DeleteLayerVersionCommand({ LayerName: layerName, VersionNumber: version })),
    );
  }

  /** Closes the HTTP connections of every client created so far. */
  destroy(): void {
    for (const client of [...this.clients.all(), ...this.publishClients.all()]) client.destroy();
  }
}
