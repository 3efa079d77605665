/**
 * In-memory fakes of the state ports, for tests of the core and for benchmarks. They behave as
 * the real services do where the planner can tell (version numbers only grow, grants belong to
 * one version) and count every call, so tests can assert how much a plan reads.
 */
import type { BuildRecord } from "../../pipeline/lib/keys/inputs.ts";
import type { StateDescription } from "../../pipeline/lib/plan/types.ts";
import type { Backend } from "../../pipeline/lib/ports.ts";
import type {
  ArtifactLocation,
  ArtifactRef,
  ArtifactStore,
  Grant,
  LayerParameters,
  LockAttempt,
  LockInfo,
  OutputsIndex,
  ParameterWrite,
  PublishRequest,
  PublishedLayers,
  PublishedVersion,
  StateLock,
} from "../../pipeline/lib/ports.ts";
import { readLock } from "../../pipeline/lib/stored/formats.ts";
import { grantId } from "../../pipeline/lib/grants.ts";
import { PARAMETER_OWNER_TAG, artifactObjectKey, describedBy } from "../../pipeline/lib/naming.ts";

export class CallLog {
  readonly calls: string[] = [];
  record(name: string): void {
    this.calls.push(name);
  }
  count(name: string): number {
    return this.calls.filter((c) => c === name).length;
  }
}

export class MemoryArtifactStore implements ArtifactStore {
  readonly storeUrl = "memory://artifacts";
  readonly records = new Map<string, BuildRecord>();
  outputs: OutputsIndex | undefined;
  constructor(readonly log = new CallLog()) {}

  async has(ref: ArtifactRef): Promise<boolean> {
    this.log.record("artifacts.has");
    return this.records.has(`${ref.kind}:${ref.key}`);
  }
  async readRecord(ref: ArtifactRef): Promise<BuildRecord | undefined> {
    this.log.record("artifacts.readRecord");
    return this.records.get(`${ref.kind}:${ref.key}`);
  }
  async writeRecord(ref: ArtifactRef, record: BuildRecord): Promise<void> {
    this.log.record("artifacts.writeRecord");
    this.records.set(`${ref.kind}:${ref.key}`, record);
  }
  /** Zips this fake holds are their record's digest, unless a test corrupted them. */
  readonly corrupted = new Set<string>();
  async zipDigest(ref: ArtifactRef): Promise<string | undefined> {
    this.log.record("artifacts.zipDigest");
    const record = this.records.get(`${ref.kind}:${ref.key}`);
    if (!record) return undefined;
    return this.corrupted.has(ref.key) ? "f".repeat(64) : record.sha256;
  }
  async discard(ref: ArtifactRef): Promise<void> {
    this.log.record("artifacts.discard");
    this.records.delete(`${ref.kind}:${ref.key}`);
  }
  async writeOutputs(index: OutputsIndex): Promise<void> {
    this.log.record("artifacts.writeOutputs");
    this.outputs = index;
  }
  async readOutputs(): Promise<OutputsIndex | undefined> {
    this.log.record("artifacts.readOutputs");
    return this.outputs;
  }
  async copyToRegion(ref: ArtifactRef, region: string): Promise<ArtifactLocation> {
    this.log.record("artifacts.copyToRegion");
    return { bucket: `memory-${region}`, objectKey: artifactObjectKey(ref.kind, ref.key) };
  }
}

interface Stored {
  last: number;
  versions: { version: number; description?: string; license?: string; runtimes?: readonly string[]; grants: Grant[] }[];
}

export class MemoryPublishedLayers implements PublishedLayers {
  private readonly regions = new Map<string, Map<string, Stored>>();
  constructor(readonly log = new CallLog()) {}

  private layer(region: string, name: string): Stored {
    let byName = this.regions.get(region);
    if (!byName) this.regions.set(region, (byName = new Map()));
    let stored = byName.get(name);
    if (!stored) byName.set(name, (stored = { last: 0, versions: [] }));
    return stored;
  }

  private view(region: string, name: string, v: Stored["versions"][number]): PublishedVersion {
    return {
      layerName: name,
      version: v.version,
      arn: `arn:aws:lambda:${region}:123456789012:layer:${name}:${v.version}`,
      description: v.description,
      ...describedBy(v.description),
      ...(v.license !== undefined ? { license: v.license } : {}),
      ...(v.runtimes ? { compatibleRuntimes: v.runtimes } : {}),
    };
  }

  async listLatest(region: string): Promise<PublishedVersion[]> {
    this.log.record("layers.listLatest");
    const out: PublishedVersion[] = [];
    for (const [name, stored] of this.regions.get(region) ?? []) {
      const latest = stored.versions.at(-1);
      if (latest) out.push(this.view(region, name, latest));
    }
    return out;
  }
  async listVersions(region: string, layerName: string): Promise<PublishedVersion[]> {
    this.log.record("layers.listVersions");
    const stored = this.regions.get(region)?.get(layerName);
    return [...(stored?.versions ?? [])].reverse().map((v) => this.view(region, layerName, v));
  }
  async getLatest(region: string, layerName: string): Promise<PublishedVersion | undefined> {
    this.log.record("layers.getLatest");
    const latest = this.regions.get(region)?.get(layerName)?.versions.at(-1);
    return latest ? this.view(region, layerName, latest) : undefined;
  }
  async readGrants(region: string, layerName: string, version: number): Promise<Grant[]> {
    this.log.record("layers.readGrants");
    return [...(this.layer(region, layerName).versions.find((v) => v.version === version)?.grants ?? [])];
  }
  async publish(request: PublishRequest): Promise<PublishedVersion> {
    this.log.record("layers.publish");
    const stored = this.layer(request.region, request.layerName);
    const v = {
      version: ++stored.last,
      description: request.description,
      ...(request.license ? { license: request.license } : {}),
      runtimes: request.compatibleRuntimes,
      grants: [] as Grant[],
    };
    stored.versions.push(v);
    return this.view(request.region, request.layerName, v);
  }
  async addGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void> {
    this.log.record("layers.addGrant");
    const v = this.layer(region, layerName).versions.find((x) => x.version === version);
    if (v && !v.grants.some((g) => grantId(g) === grantId(grant))) v.grants.push(grant);
  }
  async removeGrant(region: string, layerName: string, version: number, grant: Grant): Promise<void> {
    this.log.record("layers.removeGrant");
    const v = this.layer(region, layerName).versions.find((x) => x.version === version);
    if (v) v.grants = v.grants.filter((g) => grantId(g) !== grantId(grant));
  }
  async deleteVersion(region: string, layerName: string, version: number): Promise<void> {
    this.log.record("layers.deleteVersion");
    const stored = this.layer(region, layerName);
    stored.versions = stored.versions.filter((v) => v.version !== version);
  }
}

/** Parameter Store in memory: values and tags per region and name; overwriting keeps the tags. */
export class MemoryLayerParameters implements LayerParameters {
  readonly regions = new Map<string, Map<string, { value: string; tags: Record<string, string> }>>();
  constructor(readonly log = new CallLog()) {}

  private region(region: string) {
    let byName = this.regions.get(region);
    if (!byName) this.regions.set(region, (byName = new Map()));
    return byName;
  }
  /** Puts a parameter as someone else would (tests of foreign parameters); no tags unless given. */
  seed(region: string, name: string, value: string, tags: Record<string, string> = {}): void {
    this.region(region).set(name, { value, tags });
  }
  async list(region: string, path: string) {
    this.log.record("parameters.list");
    return [...this.region(region)].filter(([name]) => name.startsWith(`${path}/`)).map(([name, p]) => ({ name, value: p.value }));
  }
  async readOwner(region: string, name: string) {
    this.log.record("parameters.readOwner");
    return this.region(region).get(name)?.tags[PARAMETER_OWNER_TAG];
  }
  async put(write: ParameterWrite) {
    this.log.record("parameters.put");
    const existing = this.region(write.region).get(write.name);
    this.region(write.region).set(write.name, { value: write.value, tags: existing?.tags ?? { [PARAMETER_OWNER_TAG]: write.owner } });
  }
  async delete(region: string, name: string) {
    this.log.record("parameters.delete");
    this.region(region).delete(name);
  }
}

type MemoryBackend = Backend & { artifacts: MemoryArtifactStore; layers: MemoryPublishedLayers; log: CallLog };

/** The fakes behind one call log; `parameters: true` adds a parameter store (off by default, like a backend without one). */
// (The overload without options comes last: it is what ReturnType<typeof memoryBackend> names.)
export function memoryBackend(options: { parameters: true }): MemoryBackend & { parameters: MemoryLayerParameters };
export function memoryBackend(): MemoryBackend;
export function memoryBackend(options: { parameters?: boolean } = {}): MemoryBackend & { parameters?: MemoryLayerParameters } {
  const log = new CallLog();
  const description: StateDescription = { backend: "memory", location: "memory" };
  return {
    description,
    artifacts: new MemoryArtifactStore(log),
    layers: new MemoryPublishedLayers(log),
    log,
    ...(options.parameters ? { parameters: new MemoryLayerParameters(log) } : {}),
  };
}

/** The reconcile lock held in memory, with the same rules as the file and S3 locks. */
export class MemoryStateLock implements StateLock {
  /** What the store holds, as bytes would be: tests may plant anything. */
  raw: string | undefined;
  async acquire(info: LockInfo): Promise<LockAttempt> {
    if (this.raw !== undefined) {
      const holder = await this.read();
      if (holder) return { acquired: false, holder };
    }
    this.raw = JSON.stringify(info);
    return { acquired: true };
  }
  async release(id: string): Promise<void> {
    if ((await this.read())?.id === id) this.raw = undefined;
  }
  async read(): Promise<LockInfo | undefined> {
    return this.raw === undefined ? undefined : readLock(this.raw, "memory lock");
  }
}
