/**
 * The embedded default backend: artifacts and published layer versions kept in a folder
 * (`.layers/` unless told otherwise), so the plan works on a fresh clone with no AWS account.
 *
 * Layout:
 *   artifacts/r/<key>.zip, artifacts/r/<key>.json          R builds and their records
 *   artifacts/layers/<key>.zip, artifacts/layers/<key>.json package layers and their records
 *   published/<region>/<layer-name>.json                   versions of one layer in one region
 *   outputs/index.json                                     what is published, for function owners
 *   parameters/<region>.json                               Parameter Store's twin (parameters.ts)
 *   lock.json                                              held while a reconcile runs
 *
 * Versions behave as Lambda's do: numbers only grow and are never reused after a delete.
 */
import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { link, mkdir, readdir, rm, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { StateError } from "../../errors.ts";
import { readTextIfExists, stateFileError, writeFileAtomic } from "../../util/files.ts";
import { LOCAL_LOCK_FILE, OUTPUTS_INDEX_KEY, artifactObjectKey, artifactRecordKey, describedBy, localPublishedKey } from "../../naming.ts";
import type { Arch } from "../../manifest/types.ts";
import type { BuildRecord } from "../../keys/inputs.ts";
import { checkStored, readLock } from "../../stored/formats.ts";
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
  compatibleRuntimes?: string[];
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
          compatibleRuntimes: { type: "array", items: { type: "string" } },
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

/** A state file written whole (util/files.ts), its failures worded for the state folder. */
export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  try {
    await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
  } catch (error) {
    throw stateFileError("write", file, error);
  }
}

/** Temporary files of state writes that a killed run left; only the lock holder calls this. */
async function sweepLeftovers(root: string): Promise<void> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  await Promise.all(
    entries
      .filter((e) => e.isFile() && /\.json\.\d+\.[0-9a-f-]{36}\.tmp$/.test(e.name))
      .map((e) => rm(join(e.parentPath, e.name), { force: true }).catch(() => undefined)),
  );
}


/**
 * Read-modify-write of one file, one at a time within this process: a grant and a prune of the
 * same layer run concurrently, and each must see the other's write. (Across processes, the
 * reconcile lock keeps a second writer out.)
 */
const queues = new Map<string, Promise<unknown>>();
export function serialized<T>(file: string, update: () => Promise<T>): Promise<T> {
  const previous = queues.get(file) ?? Promise.resolve();
  const next = previous.then(update, update);
  const settled = next.catch(() => undefined);
  queues.set(file, settled);
  void settled.then(() => {
    if (queues.get(file) === settled) queues.delete(file);
  });
  return next;
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

  async zipDigest(ref: ArtifactRef): Promise<string | undefined> {
    const file = this.path(artifactObjectKey(ref.kind, ref.key));
    const hash = createHash("sha256");
    try {
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw stateFileError("read", file, error);
    }
    return hash.digest("hex");
  }

  async discard(ref: ArtifactRef): Promise<void> {
    await rm(this.path(artifactRecordKey(ref.kind, ref.key)), { force: true }).catch((error: unknown) => {
      throw stateFileError("remove", this.path(artifactRecordKey(ref.kind, ref.key)), error);
    });
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
      ...describedBy(v.description),
      createdAt: v.createdAt,
      architectures: v.architectures,
      ...(v.license !== undefined ? { license: v.license } : {}),
      ...(v.compatibleRuntimes ? { compatibleRuntimes: v.compatibleRuntimes } : {}),
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
    return serialized(this.file(request.region, request.layerName), () => this.publishNow(request));
  }

  private async publishNow(request: PublishRequest): Promise<PublishedVersion> {
    const stored = (await this.load(request.region, request.layerName)) ?? { lastVersion: 0, versions: [] };
    const version: StoredVersion = {
      version: stored.lastVersion + 1,
      description: request.description,
      createdAt: this.clock().toISOString(),
      architectures: [request.architecture],
      content: request.content,
      ...(request.license ? { license: request.license } : {}),
      compatibleRuntimes: [...request.compatibleRuntimes],
      grants: [],
    };
    stored.lastVersion = version.version;
    stored.versions.push(version);
    await writeJsonAtomic(this.file(request.region, request.layerName), stored);
    return this.view(request.region, request.layerName, version);
  }

  async addGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void> {
    return serialized(this.file(region, layerName), () => this.addGrantNow(region, layerName, version, grant));
  }

  private async addGrantNow(region: string, layerName: string, version: number, grant: Grant): Promise<void> {
    const [stored, found] = await this.loadOrThrow(region, layerName, version);
    if (found.grants.some((g) => grantId(g) === grantId(grant))) return;
    found.grants.push(grant);
    await writeJsonAtomic(this.file(region, layerName), stored);
  }

  async removeGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void> {
    return serialized(this.file(region, layerName), () => this.removeGrantNow(region, layerName, version, grant));
  }

  private async removeGrantNow(region: string, layerName: string, version: number, grant: Grant): Promise<void> {
    const [stored, found] = await this.loadOrThrow(region, layerName, version);
    found.grants = found.grants.filter((g) => grantId(g) !== grantId(grant));
    await writeJsonAtomic(this.file(region, layerName), stored);
  }

  async deleteVersion(region: string, layerName: string, version: number): Promise<void> {
    return serialized(this.file(region, layerName), () => this.deleteVersionNow(region, layerName, version));
  }

  private async deleteVersionNow(region: string, layerName: string, version: number): Promise<void> {
    const stored = await this.load(region, layerName);
    if (!stored) return;
    stored.versions = stored.versions.filter((v) => v.version !== version);
    await writeJsonAtomic(this.file(region, layerName), stored);
  }
}

/**
 * The reconcile lock as a file that appears whole or not at all: written to a private temporary
 * file, then hard-linked into place (`link` fails if the lock exists), the local twin of S3's
 * `If-None-Match: *`. A full disk or a kill can leave no 0-byte lock behind.
 */
export class LocalStateLock implements StateLock {
  private readonly file: string;

  constructor(root: string) {
    this.file = join(root, LOCAL_LOCK_FILE);
  }

  async acquire(info: LockInfo): Promise<LockAttempt> {
    const tmp = `${this.file}.${process.pid}.${randomUUID()}.tmp`;
    try {
      await mkdir(dirname(this.file), { recursive: true });
      await writeFile(tmp, `${JSON.stringify(info, null, 2)}\n`, { flag: "wx" });
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw stateFileError("write the lock", this.file, error);
    }
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await link(tmp, this.file);
          await Promise.all(["published", "outputs", "artifacts"].map((dir) => sweepLeftovers(join(dirname(this.file), dir))));
          return { acquired: true };
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw stateFileError("take the lock", this.file, error);
        }
        const holder = await this.read();
        if (holder) return { acquired: false, holder };
        // Removed between our attempt and the read: try again rather than report no one.
      }
      throw new StateError(`could not take the lock ${this.file}: it kept changing hands; try again`);
    } finally {
      await rm(tmp, { force: true }).catch(() => undefined);
    }
  }

  async release(id: string): Promise<void> {
    const holder = await this.read();
    if (holder?.id !== id) return;
    try {
      await unlink(this.file);
    } catch (error) {
      if (!isMissing(error)) throw stateFileError("remove the lock", this.file, error);
    }
  }

  async read(): Promise<LockInfo | undefined> {
    let body: string | undefined;
    try {
      body = await readTextIfExists(this.file);
    } catch (error) {
      throw stateFileError("read the lock", this.file, error);
    }
    return body === undefined ? undefined : readLock(body, this.file);
  }

}
