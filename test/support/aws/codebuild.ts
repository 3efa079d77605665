/**
 * A CodeBuild emulator (JSON 1.1, `CodeBuild_20161006.*`) for StartBuild and BatchGetBuilds.
 * A started build moves through CodeBuild's phases over time (SUBMITTED, QUEUED, PROVISIONING,
 * DOWNLOAD_SOURCE, INSTALL…POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING, COMPLETED) and ends
 * SUCCEEDED or FAILED. The S3 source zip is read from the S3 emulator; the buildspec is carried
 * out by an executor (the real local build runner, or a fake one for fast tests); log lines go
 * to the CloudWatch Logs emulator from PROVISIONING on, as in AWS. `idempotencyToken` is
 * honoured for five minutes; builds beyond the concurrency limit wait in QUEUED.
 */
import { createHash, randomUUID } from "node:crypto";
import { ApiError, JsonRpcEmulator } from "./http.ts";
import type { EmulatorRequest, EmulatorResponse } from "./http.ts";
import type { LogsEmulator } from "./logs.ts";
import type { S3Emulator } from "./s3.ts";

export const BUILD_PHASES = [
  "SUBMITTED",
  "QUEUED",
  "PROVISIONING",
  "DOWNLOAD_SOURCE",
  "INSTALL",
  "PRE_BUILD",
  "BUILD",
  "POST_BUILD",
  "UPLOAD_ARTIFACTS",
  "FINALIZING",
  "COMPLETED",
] as const;
export type BuildPhaseType = (typeof BUILD_PHASES)[number];
export type CommandPhase = "INSTALL" | "PRE_BUILD" | "BUILD" | "POST_BUILD";
export type PhaseStatus = "SUCCEEDED" | "FAILED" | "FAULT" | "TIMED_OUT" | "IN_PROGRESS" | "STOPPED";

export interface PhaseContext {
  readonly statusCode: string;
  readonly message: string;
}

/** What an executor is given: the build as StartBuild described it, and ways to report. */
export interface BuildContext {
  readonly id: string;
  readonly region: string;
  readonly project: string;
  /** The inline buildspec (buildspecOverride). */
  readonly buildspec: string;
  /** environmentVariablesOverride, by name. */
  readonly env: Readonly<Record<string, string>>;
  readonly image: string;
  readonly environmentType: string;
  readonly computeType: string;
  /** The source zip downloaded from S3. */
  readonly source: Buffer;
  log(line: string): void;
  /** Moves the build's current phase (the executor's phases only). */
  enterPhase(phase: CommandPhase): void;
}

export interface ExecutedPhase {
  readonly phase: CommandPhase;
  readonly status: "SUCCEEDED" | "FAILED";
  readonly context?: PhaseContext;
}

export interface ExecutionResult {
  readonly phases: readonly ExecutedPhase[];
  readonly exported: Readonly<Record<string, string>>;
}

export type BuildExecutor = (context: BuildContext) => Promise<ExecutionResult>;

interface PhaseRecord {
  phaseType: BuildPhaseType;
  phaseStatus?: PhaseStatus;
  startTime: number;
  endTime?: number;
  durationInSeconds?: number;
  contexts?: PhaseContext[];
}

/** A build as BatchGetBuilds returns it (JSON 1.1: times in epoch seconds). */
interface BuildRecord {
  id: string;
  arn: string;
  buildNumber: number;
  startTime: number;
  endTime?: number;
  currentPhase: BuildPhaseType;
  buildStatus: "IN_PROGRESS" | "SUCCEEDED" | "FAILED" | "FAULT" | "TIMED_OUT" | "STOPPED";
  projectName: string;
  phases: PhaseRecord[];
  source: { type: string; location: string; buildspec: string };
  environment: { type: string; image: string; computeType: string; environmentVariables: { name: string; value: string; type: string }[]; imagePullCredentialsType: string };
  logs: { groupName?: string; streamName?: string; deepLink: string };
  timeoutInMinutes: number;
  queuedTimeoutInMinutes: number;
  buildComplete: boolean;
  initiator: string;
  exportedEnvironmentVariables?: { name: string; value: string }[];
}

const COMPUTE_TYPES = new Set([
  "BUILD_GENERAL1_SMALL",
  "BUILD_GENERAL1_MEDIUM",
  "BUILD_GENERAL1_LARGE",
  "BUILD_GENERAL1_XLARGE",
  "BUILD_GENERAL1_2XLARGE",
  "BUILD_LAMBDA_1GB",
  "BUILD_LAMBDA_2GB",
  "BUILD_LAMBDA_4GB",
  "BUILD_LAMBDA_8GB",
  "BUILD_LAMBDA_10GB",
]);
const ENVIRONMENT_TYPES = new Set(["LINUX_CONTAINER", "ARM_CONTAINER", "LINUX_GPU_CONTAINER", "LINUX_EC2", "ARM_EC2"]);
const IDEMPOTENCY_WINDOW_MS = 5 * 60_000;

function seconds(ms: number): number {
  return ms / 1000;
}

function containerTime(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${date.getUTCFullYear()}/${p(date.getUTCMonth() + 1)}/${p(date.getUTCDate())} ${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())}.${p(date.getUTCMilliseconds(), 3)}000`;
}

export interface CodeBuildEmulatorOptions {
  readonly s3: S3Emulator;
  readonly logs: LogsEmulator;
  readonly executor: BuildExecutor;
  readonly account?: string;
  /** Time spent in each phase the executor does not cover (QUEUED, PROVISIONING, …). */
  readonly phaseDelayMs?: number;
  /** Builds running at once per region; the rest stay QUEUED. */
  readonly concurrentBuilds?: number;
}

export class CodeBuildEmulator extends JsonRpcEmulator {
  readonly signingName = "codebuild";
  protected readonly targetPrefix = "CodeBuild_20161006";
  readonly account: string;
  /** How many ids each BatchGetBuilds call asked for, in order. */
  readonly batchSizes: number[] = [];
  private readonly projects = new Map<string, { buildNumber: number }>();
  private readonly builds = new Map<string, BuildRecord>();
  private readonly tokens = new Map<string, { buildId: string; digest: string; at: number }>();
  private readonly running = new Set<Promise<void>>();
  private readonly slots = new Map<string, { active: number; waiting: (() => void)[] }>();

  constructor(private readonly options: CodeBuildEmulatorOptions) {
    super();
    this.account = options.account ?? "123456789012";
  }

  createProject(region: string, name: string): void {
    if (!this.projects.has(`${region}/${name}`)) this.projects.set(`${region}/${name}`, { buildNumber: 0 });
  }

  /** Every build started so far (for assertions), oldest first. */
  allBuilds(): readonly BuildRecord[] {
    return [...this.builds.values()];
  }

  /** Resolves when every started build has completed. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  override async close(): Promise<void> {
    await this.idle();
    await super.close();
  }

  protected handle(req: EmulatorRequest, operation: string): EmulatorResponse {
    switch (operation) {
      case "StartBuild":
        return this.json({ build: this.startBuild(req) });
      case "BatchGetBuilds":
        return this.batchGetBuilds(req);
      default:
        throw new ApiError(400, "UnknownOperationException", `the emulator does not implement ${operation}`);
    }
  }

  private startBuild(req: EmulatorRequest): BuildRecord {
    const input = this.input(req);
    const region = this.region(req);
    const projectName = input.projectName;
    if (typeof projectName !== "string" || projectName === "") throw new ApiError(400, "InvalidInputException", "Project name is required");
    const project = this.projects.get(`${region}/${projectName}`);
    if (!project) throw new ApiError(400, "ResourceNotFoundException", `Project cannot be found: arn:aws:codebuild:${region}:${this.account}:project/${projectName}`);
    const token = input.idempotencyToken as string | undefined;
    const digest = createHash("sha256").update(JSON.stringify({ ...input, idempotencyToken: undefined })).digest("hex");
    if (token) {
      const earlier = this.tokens.get(token);
      if (earlier && Date.now() - earlier.at < IDEMPOTENCY_WINDOW_MS) {
        if (earlier.digest !== digest) throw new ApiError(400, "InvalidInputException", `Idempotency token ${token} was used with different parameters`);
        return this.builds.get(earlier.buildId)!;
      }
    }
    const environmentType = (input.environmentTypeOverride as string | undefined) ?? "LINUX_CONTAINER";
    const computeType = (input.computeTypeOverride as string | undefined) ?? "BUILD_GENERAL1_SMALL";
    if (!ENVIRONMENT_TYPES.has(environmentType)) throw new ApiError(400, "InvalidInputException", `Invalid environment type: ${environmentType}`);
    if (!COMPUTE_TYPES.has(computeType)) throw new ApiError(400, "InvalidInputException", `Invalid compute type: ${computeType}`);
    const timeout = (input.timeoutInMinutesOverride as number | undefined) ?? 60;
    if (!Number.isInteger(timeout) || timeout < 5 || timeout > 2160) {
      throw new ApiError(400, "InvalidInputException", `1 validation error detected: Value '${timeout}' at 'timeoutInMinutesOverride' failed to satisfy constraint: Member must have value between 5 and 2160`);
    }
    const variables = (input.environmentVariablesOverride as { name?: string; value?: string; type?: string }[] | undefined) ?? [];
    for (const v of variables) {
      if (!v.name) throw new ApiError(400, "InvalidInputException", "Environment variable name cannot be empty");
      if (v.name.startsWith("CODEBUILD_")) throw new ApiError(400, "InvalidInputException", `Invalid environment variable name ${v.name}: the prefix CODEBUILD_ is reserved`);
      if ((v.type ?? "PLAINTEXT") !== "PLAINTEXT") throw new ApiError(400, "InvalidInputException", "the emulator supports PLAINTEXT variables only");
    }
    const sourceType = (input.sourceTypeOverride as string | undefined) ?? "NO_SOURCE";
    const location = (input.sourceLocationOverride as string | undefined) ?? "";
    if (sourceType === "S3" && !/^[^/]+\/.+/.test(location)) throw new ApiError(400, "InvalidInputException", `Invalid S3 source location: ${location}`);

    const uuid = randomUUID();
    const id = `${projectName}:${uuid}`;
    const now = Date.now();
    const build: BuildRecord = {
      id,
      arn: `arn:aws:codebuild:${region}:${this.account}:build/${id}`,
      buildNumber: ++project.buildNumber,
      startTime: seconds(now),
      currentPhase: "QUEUED",
      buildStatus: "IN_PROGRESS",
      projectName,
      phases: [
        { phaseType: "SUBMITTED", phaseStatus: "SUCCEEDED", startTime: seconds(now), endTime: seconds(now), durationInSeconds: 0 },
        { phaseType: "QUEUED", startTime: seconds(now) },
      ],
      source: { type: sourceType, location, buildspec: String(input.buildspecOverride ?? "") },
      environment: {
        type: environmentType,
        image: String(input.imageOverride ?? "aws/codebuild/amazonlinux-x86_64-standard:5.0"),
        computeType,
        environmentVariables: variables.map((v) => ({ name: v.name!, value: v.value ?? "", type: v.type ?? "PLAINTEXT" })),
        imagePullCredentialsType: "CODEBUILD",
      },
      // Before the container starts there is no log stream, only a link to where it will be.
      logs: { deepLink: `https://console.aws.amazon.com/cloudwatch/home?region=${region}#logEvent:group=null;stream=null` },
      timeoutInMinutes: timeout,
      queuedTimeoutInMinutes: 480,
      buildComplete: false,
      initiator: req.signer?.accessKeyId ?? "unknown",
    };
    this.builds.set(id, build);
    if (token) this.tokens.set(token, { buildId: id, digest, at: now });
    const run = this.run(build, region, uuid).finally(() => this.running.delete(run));
    this.running.add(run);
    return build;
  }

  private batchGetBuilds(req: EmulatorRequest): EmulatorResponse {
    const ids = (this.input(req).ids as string[] | undefined) ?? [];
    if (ids.length === 0 || ids.length > 100) {
      throw new ApiError(400, "InvalidInputException", "1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length less than or equal to 100");
    }
    this.batchSizes.push(ids.length);
    const region = this.region(req);
    const found = ids.map((id) => this.builds.get(id)).filter((b): b is BuildRecord => b !== undefined && b.arn.split(":")[3] === region);
    const missing = ids.filter((id) => !found.some((b) => b.id === id));
    return this.json({ builds: found, buildsNotFound: missing });
  }

  private async acquireSlot(region: string): Promise<void> {
    const limit = this.options.concurrentBuilds ?? 20;
    let slot = this.slots.get(region);
    if (!slot) this.slots.set(region, (slot = { active: 0, waiting: [] }));
    if (slot.active >= limit) await new Promise<void>((resolve) => slot.waiting.push(resolve));
    slot.active++;
  }

  private releaseSlot(region: string): void {
    const slot = this.slots.get(region)!;
    slot.active--;
    slot.waiting.shift()?.();
  }

  private async run(build: BuildRecord, region: string, stream: string): Promise<void> {
    const delay = () => new Promise<void>((resolve) => setTimeout(resolve, this.options.phaseDelayMs ?? 5));
    const group = `/aws/codebuild/${build.projectName}`;
    let logging = false;
    const log = (line: string) => {
      if (logging) this.options.logs.append(region, group, stream, [`${line}\n`]);
    };
    const container = (text: string) => log(`[Container] ${containerTime(new Date())} ${text}`);
    const enter = (phase: BuildPhaseType) => {
      const now = seconds(Date.now());
      const current = build.phases.at(-1)!;
      if (current.phaseStatus === undefined) this.endPhase(current, "SUCCEEDED", now);
      build.phases.push({ phaseType: phase, startTime: now });
      build.currentPhase = phase;
    };

    await delay();
    await this.acquireSlot(region);
    try {
      enter("PROVISIONING");
      this.options.logs.createStream(region, group, stream);
      logging = true;
      build.logs = {
        groupName: group,
        streamName: stream,
        deepLink: `https://console.aws.amazon.com/cloudwatch/home?region=${region}#logEvent:group=${group};stream=${stream}`,
      };
      container("Waiting for agent ping");
      container("Waiting for DOWNLOAD_SOURCE");
      await delay();
      enter("DOWNLOAD_SOURCE");
      const source = this.download(build, region);
      await delay();
      if (source instanceof ApiError) {
        this.endPhase(build.phases.at(-1)!, "FAILED", seconds(Date.now()), { statusCode: "CLIENT_ERROR", message: `${source.code}: ${source.message} for primary source and source version ` });
        container(`Phase complete: DOWNLOAD_SOURCE State: FAILED`);
        container(`Phase context status code: CLIENT_ERROR Message: ${source.code}: ${source.message}`);
      } else {
        await this.execute(build, region, source, log, container, enter);
      }
      enter("UPLOAD_ARTIFACTS");
      await delay();
      enter("FINALIZING");
      await delay();
      enter("COMPLETED");
    } finally {
      this.releaseSlot(region);
    }
    const failed = build.phases.some((p) => p.phaseStatus === "FAILED");
    build.buildStatus = failed ? "FAILED" : "SUCCEEDED";
    build.endTime = seconds(Date.now());
    build.buildComplete = true;
  }

  private download(build: BuildRecord, region: string): Buffer | ApiError {
    if (build.source.type !== "S3") return Buffer.alloc(0);
    const slash = build.source.location.indexOf("/");
    const bucket = build.source.location.slice(0, slash);
    const key = build.source.location.slice(slash + 1);
    const bucketRegion = this.options.s3.bucketRegion(bucket);
    if (bucketRegion === undefined) return new ApiError(404, "NoSuchBucket", "The specified bucket does not exist");
    if (bucketRegion !== region) return new ApiError(301, "PermanentRedirect", `The bucket is in this region: ${bucketRegion}`);
    const object = this.options.s3.getObject(bucket, key);
    return object ? object.body : new ApiError(404, "NoSuchKey", "The specified key does not exist.");
  }

  private async execute(
    build: BuildRecord,
    region: string,
    source: Buffer,
    log: (line: string) => void,
    container: (text: string) => void,
    enter: (phase: BuildPhaseType) => void,
  ): Promise<void> {
    const env = Object.fromEntries(build.environment.environmentVariables.map((v) => [v.name, v.value]));
    let result: ExecutionResult;
    try {
      result = await this.options.executor({
        id: build.id,
        region,
        project: build.projectName,
        buildspec: build.source.buildspec,
        env,
        image: build.environment.image,
        environmentType: build.environment.type,
        computeType: build.environment.computeType,
        source,
        log,
        enterPhase: (phase) => {
          enter(phase);
          container(`Entering phase ${phase}`);
        },
      });
    } catch (error) {
      // An executor crash is the emulator's fault, as a FAULT is CodeBuild's.
      container(`Phase context status code: FAULT Message: ${(error as Error).message}`);
      result = { phases: [{ phase: "BUILD", status: "FAILED", context: { statusCode: "FAULT", message: (error as Error).message } }], exported: {} };
    }
    const now = seconds(Date.now());
    for (const executed of result.phases) {
      let record = build.phases.find((p) => p.phaseType === executed.phase);
      if (!record) {
        record = { phaseType: executed.phase, startTime: now };
        build.phases.push(record);
      }
      this.endPhase(record, executed.status, record.endTime ?? now, executed.context);
    }
    build.phases.sort((a, b) => BUILD_PHASES.indexOf(a.phaseType) - BUILD_PHASES.indexOf(b.phaseType));
    build.exportedEnvironmentVariables = Object.entries(result.exported).map(([name, value]) => ({ name, value }));
  }

  private endPhase(record: PhaseRecord, status: PhaseStatus, end: number, context?: PhaseContext): void {
    record.phaseStatus = status;
    record.endTime = end;
    record.durationInSeconds = Math.max(0, Math.round(end - record.startTime));
    if (context) record.contexts = [context];
    else record.contexts ??= [{ statusCode: "", message: "" }];
  }

  protected internalError(): ApiError {
    return new ApiError(500, "InternalFailure", "The request processing has failed because of an unknown error, exception or failure.");
  }
}
