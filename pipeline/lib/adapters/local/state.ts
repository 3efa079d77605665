/**
 * The embedded default backend: artifacts and published layer versions kept in a folder
 * (`.layers/` unless told otherwise), so the plan works on a fresh clone with no AWS account.
 *
 * Layout:
 *   artifacts/r/<key>.zip, artifacts/r/<key>.json          R builds and their records
 *   artifacts/layers/<key>.zip, artifacts/layers/<key>.json package layers and their records
 *   published/<region>/<layer-name>.json                   versions of one layer in one region
 *   outputs/index.json                                     what is published, for function owners
 *   lock.json                                              held while a reconcile runs
 *
 * Versions behave as Lambda's do: numbers only grow and are never reused after a delete.
 */
import { mkdir, open, readdir, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { StateError } from "../../errors.ts";
import { LOCAL_LOCK_FILE, OUTPUTS_INDEX_KEY, artifactObjectKey, artifactRecordKey, keyFromDescription, localPublishedKey } from "../../naming.ts";
import type { Arch } from "../../manifest/types.ts";
import type { BuildRecord } from "../../keys/inputs.ts";
import { checkStored } from "../../stored/formats.ts";
import type { StoredFormat, StoredTypes } from "../../stored/formats.ts";
import { readJsonFile } from "../../util/json.ts";
import { schemaValidator } from "../../util/json-schema.ts";
import type {
  ArtifactLocation,
  ArtifactRef,
  ArtifactStore,
  Grant,
  LockAttempt,
  LockInfo,
  OutputsIndex,
  StateLock,
  PublishRequest,
  PublishedLayers,
  PublishedVersion,
} from "../../ports.ts";
import { grantId } from "../../grants.ts";

const LOCAL_ACCOUNT = "000000000000";

interface StoredVersion {
  version: number;
  description?: string;
  createdAt: string;
  architectures: Arch[];
  content: ArtifactLocation;
  license?: string;
  grants: Grant[];
}

interface StoredLayer {
  /** Highest version number ever issued, so numbers are not reused after deletes. */
  lastVersion: number;
  versions: StoredVersion[];
}

const STORED_LAYER_SCHEMA = {
  type: "object",
  required: ["lastVersion", "versions"],
  properties: {
    lastVersion: { type: "integer", minimum: 0 },
    versions: {
      type: "array",
      items: {
        type: "object",
        required: ["version", "createdAt", "architectures", "content", "grants"],
        properties: {
          version: { type: "integer", minimum: 1 },
          description: { type: "string" },
          createdAt: { type: "string" },
          architectures: { type: "array", items: { enum: ["x86_64", "arm64"] } },
          content: { type: "object", required: ["bucket", "objectKey"], properties: { bucket: { type: "string" }, objectKey: { type: "string" } } },
          license: { type: "string" },
          grants: { type: "array", items: { type: "object", required: ["kind"], properties: { kind: { enum: ["account", "organization", "public"] } } } },
        },
      },
    },
  },
} as const;

const storedLayerValidator = () => schemaValidator("local:published-layer", STORED_LAYER_SCHEMA);

async function readStored<F extends StoredFormat>(format: F, file: string): Promise<StoredTypes[F] | undefined> {
  const data = await readJsonFile(file);
  return data === undefined ? undefined : checkStored(format, data, file);
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/** Writes through a temporary file and a rename, so a killed run never leaves half a file. */
async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
}

export class LocalArtifactStore implements ArtifactStore {
  readonly storeUrl: string;

  constructor(readonly root: string) {
    this.storeUrl = pathToFileURL(root).href;
  }

  path(objectKey: string): string {
    return join(this.root, ...objectKey.split("/"));
  }

  async has(ref: ArtifactRef): Promise<boolean> {
    // The record is written after the zip, so both present means the artifact is complete.
    return (
      (await this.exists(artifactRecordKey(ref.kind, ref.key))) &&
      (await this.exists(artifactObjectKey(ref.kind, ref.key)))
    );
  }

  private async exists(objectKey: string): Promise<boolean> {
    try {
      await stat(this.path(objectKey));
      return true;
    } catch (error) {
      if (isMissing(error)) return false;
      throw new StateError(`cannot read ${this.path(objectKey)}: ${(error as Error).message}`, { cause: error });
    }
  }

  async readRecord(ref: ArtifactRef): Promise<BuildRecord | undefined> {
    return readStored("build record", this.path(artifactRecordKey(ref.kind, ref.key)));
  }

  async writeRecord(ref: ArtifactRef, record: BuildRecord): Promise<void> {
    if (!(await this.exists(artifactObjectKey(ref.kind, ref.key)))) {
      throw new StateError(`cannot record ${ref.kind} ${ref.key}: its zip is not in ${this.root}`);
    }
    await writeJsonAtomic(this.path(artifactRecordKey(ref.kind, ref.key)), record);
  }

  async writeOutputs(index: OutputsIndex): Promise<void> {
    await writeJsonAtomic(this.path(OUTPUTS_INDEX_KEY), index);
  }

  async readOutputs(): Promise<OutputsIndex | undefined> {
    return readStored("outputs index", this.path(OUTPUTS_INDEX_KEY));
  }

  async copyToRegion(ref: ArtifactRef, _region: string): Promise<ArtifactLocation> {
    // One folder serves every region locally; nothing to copy.
    return { bucket: this.root, objectKey: artifactObjectKey(ref.kind, ref.key) };
  }
}

export class LocalPublishedLayers implements PublishedLayers {
  constructor(
    readonly root: string,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  private file(region: string, layerName: string): string {
    return join(this.root, ...localPublishedKey(region, layerName).split("/"));
  }

  private arn(region: string, layerName: string, version: number): string {
    return `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:layer:${layerName}:${version}`;
  }

  private view(region: string, layerName: string, v: StoredVersion): PublishedVersion {
    return {
      layerName,
      version: v.version,
      arn: this.arn(region, layerName, v.version),
      description: v.description,
      key: keyFromDescription(v.description),
      createdAt: v.createdAt,
      architectures: v.architectures,
    };
  }

  private async load(region: string, layerName: string): Promise<StoredLayer | undefined> {
    const file = this.file(region, layerName);
    const data = await readJsonFile(file);
    if (data === undefined) return undefined;
    if (!storedLayerValidator()(data)) throw new StateError(`${file} is not a valid record of published versions; fix or remove it`);
    return data as StoredLayer;
  }

  private async loadOrThrow(region: string, layerName: string, version: number): Promise<[StoredLayer, StoredVersion]> {
    const stored = await this.load(region, layerName);
    const found = stored?.versions.find((v) => v.version === version);
    if (!stored || !found) throw new StateError(`layer ${layerName} version ${version} does not exist in ${region}`);
    return [stored, found];
  }

  async listLatest(region: string): Promise<PublishedVersion[]> {
    let names: string[];
    try {
      names = await readdir(join(this.root, "published", region));
    } catch (error) {
      if (isMissing(error)) return [];
      throw new StateError(`cannot list ${join(this.root, "published", region)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const heads: PublishedVersion[] = [];
    for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
      const layerName = name.slice(0, -".json".length);
      const stored = await this.load(region, layerName);
      const latest = stored?.versions.reduce<StoredVersion | undefined>(
        (best, v) => (best === undefined || v.version > best.version ? v : best),
        undefined,
      );
      if (latest) heads.push(this.view(region, layerName, latest));
    }
    return heads;
  }

  async listVersions(region: string, layerName: string): Promise<PublishedVersion[]> {
    const stored = await this.load(region, layerName);
    if (!stored) return [];
    return [...stored.versions].sort((a, b) => b.version - a.version).map((v) => this.view(region, layerName, v));
  }

  async getLatest(region: string, layerName: string): Promise<PublishedVersion | undefined> {
    return (await this.listVersions(region, layerName))[0];
  }

  async readGrants(region: string, layerName: string, version: number): Promise<Grant[]> {
    const [, found] = await this.loadOrThrow(region, layerName, version);
    return found.grants;
  }

  async publish(request: PublishRequest): Promise<PublishedVersion> {
    const stored = (await this.load(request.region, request.layerName)) ?? { lastVersion: 0, versions: [] };
    const version: StoredVersion = {
      version: stored.lastVersion + 1,
      description: request.description,
      createdAt: this.clock().toISOString(),
      architectures: [request.architecture],
      content: request.content,
      ...(request.license ? { license: request.license } : {}),
      grants: [],
    };
    stored.lastVersion = version.version;
    stored.versions.push(version);
    await writeJsonAtomic(this.file(request.region, request.layerName), stored);
    return this.view(request.region, request.layerName, version);
  }

  async addGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void> {
    const [stored, found] = await this.loadOrThrow(region, layerName, version);
    if (found.grants.some((g) => grantId(g) === grantId(grant))) return;
    found.grants.push(grant);
    await writeJsonAtomic(this.file(region, layerName), stored);
  }

  async removeGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void> {
    const [stored, found] = await this.loadOrThrow(region, layerName, version);
    found.grants = found.grants.filter((g) => grantId(g) !== grantId(grant));
    await writeJsonAtomic(this.file(region, layerName), stored);
  }

  async deleteVersion(region: string, layerName: string, version: number): Promise<void> {
    const stored = await this.load(region, layerName);
    if (!stored) return;
    stored.versions = stored.versions.filter((v) => v.version !== version);
    await writeJsonAtomic(this.file(region, layerName), stored);
  }
}

/** The reconcile lock as a file created exclusively (`wx`), the local twin of S3's `If-None-Match: *`. */
export class LocalStateLock implements StateLock {
  private readonly file: string;

  constructor(root: string) {
    this.file = join(root, LOCAL_LOCK_FILE);
  }

  async acquire(info: LockInfo): Promise<LockAttempt> {
    await mkdir(dirname(this.file), { recursive: true });
    let handle;
    try {
      handle = await open(this.file, "wx");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = await this.read();
      // Removed between our attempt and the read: try once more rather than report no one.
      if (!holder) return this.acquire(info);
      return { acquired: false, holder };
    }
    try {
      await handle.writeFile(`${JSON.stringify(info, null, 2)}\n`);
    } finally {
      await handle.close();
    }
    return { acquired: true };
  }

  async release(id: string): Promise<void> {
    const holder = await this.read();
    if (holder?.id !== id) return;
    try {
      await unlink(this.file);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  async read(): Promise<LockInfo | undefined> {
    return readStored("lock", this.file);
  }
}
