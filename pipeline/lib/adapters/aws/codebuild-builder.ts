/**
 * Builder over CodeBuild. The only module that imports @aws-sdk/client-codebuild.
 *
 * Each build runs the buildspec of this checkout (sent inline) against the build scripts
 * uploaded as a zip keyed by their digest (once per process). All builds of this process are polled by one
 * shared BatchGetBuilds loop; each build's log is tailed and passed on line by line.
 */
import { createHash, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { BatchGetBuildsCommand, CodeBuildClient, StartBuildCommand } from "@aws-sdk/client-codebuild";
import type { Build, ComputeType, EnvironmentType, StartBuildCommandInput } from "@aws-sdk/client-codebuild";
import { BUILDSPECS, buildEnvironment } from "../../contract.ts";
import type { Arch } from "../../manifest/types.ts";
import type { ArtifactKind } from "../../naming.ts";
import type { BuildOutcome, BuildRequest, Builder } from "../../ports.ts";
import { clientConfig } from "./clients.ts";
import type { AwsClientOptions } from "./clients.ts";
import { awsErrorCode, call, toPipelineError } from "./errors.ts";
import { LogTailer } from "./logs-tail.ts";
import type { LogCursor } from "./logs-tail.ts";
import { BatchPoller, DEFAULT_POLL_TIMING } from "./poller.ts";
import type { PollTiming } from "./poller.ts";
import { createSourceBundle } from "./source-bundle.ts";
import type { SourceBundle } from "./source-bundle.ts";
import { PipelineError } from "../../errors.ts";

export const ENVIRONMENT_TYPE: Readonly<Record<Arch, EnvironmentType>> = {
  x86_64: "LINUX_CONTAINER",
  arm64: "ARM_CONTAINER",
};

/** How many of the last log lines a failure shows. */
export const LOG_TAIL_LINES = 30;

/** The artifact store's bucket in the builder region, as the builder uses it. */
export interface BuildStore {
  /** `ARTIFACT_STORE` for the builds. */
  readonly storeUrl: string;
  /** Uploads the build scripts; returns CodeBuild's S3 source location, `bucket/key`. */
  putSource(key: string, body: Uint8Array, metadata?: Readonly<Record<string, string>>): Promise<string>;
  /** The metadata a build wrote beside its zip, if any. */
  readMetadata(kind: ArtifactKind, key: string): Promise<Readonly<Record<string, unknown>> | undefined>;
  /** The build last started for an artifact (recorded so a later run can re-attach to it). */
  readBuildMarker(kind: ArtifactKind, key: string): Promise<string | undefined>;
  writeBuildMarker(kind: ArtifactKind, key: string, buildId: string): Promise<void>;
}

export interface CodeBuildBuilderOptions {
  readonly region: string;
  readonly project: string;
  readonly computeType: string;
  /** The checkout holding `r-compile/`, `runtime/` and `buildspecs/`. */
  readonly toolRoot: string;
  readonly store: BuildStore;
  readonly clientOptions?: AwsClientOptions;
  readonly poll?: PollTiming;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly clock?: () => number;
  /** Recorded on the uploaded bundle, for people looking at the bucket. */
  readonly commit?: string;
}

/**
 * A StartBuild retried by the SDK after a lost response carries the same token and so attaches
 * to the build already started. The token includes this run's own nonce: a later run (a retry
 * after a failure) must start a new build, never get the failed one back within CodeBuild's
 * five-minute token window; re-attaching across runs goes through the recorded build instead
 * (see `attach`), and only to a build that is running or succeeded. The other parameters count
 * too: CodeBuild rejects a token reused with different ones.
 */
export function idempotencyToken(actionId: string, key: string, parameters: unknown = {}, runNonce = ""): string {
  return createHash("sha256").update(`${actionId}\n${key}\n${JSON.stringify(parameters)}\n${runNonce}`).digest("hex");
}

function exported(build: Build): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of build.exportedEnvironmentVariables ?? []) if (v.name) out[v.name] = v.value ?? "";
  return out;
}

/** The outcome of a build that ended other than SUCCEEDED. */
export function failureOf(build: Build, logTail: readonly string[]): BuildOutcome {
  const failed = build.phases?.find((p) => p.phaseStatus !== undefined && p.phaseStatus !== "SUCCEEDED" && p.phaseStatus !== "IN_PROGRESS");
  const context = failed?.contexts?.find((c) => c.message || c.statusCode);
  const reason = context ? [context.statusCode, context.message?.trim()].filter(Boolean).join(": ") : undefined;
  const status = (build.buildStatus ?? "FAILED").toLowerCase().replace("_", " ");
  const message = `CodeBuild build ${build.id ?? "?"} ${status}${failed?.phaseType ? ` in phase ${failed.phaseType}` : ""}${reason ? `: ${reason}` : ""}`;
  return {
    status: "failed",
    ...(failed?.phaseType ? { phase: failed.phaseType } : {}),
    message,
    logTail: [...logTail],
    ...(build.logs?.deepLink ? { link: build.logs.deepLink } : {}),
  };
}

export class CodeBuildBuilder implements Builder {
  private readonly client: CodeBuildClient;
  private readonly logs: LogTailer;
  private readonly poller: BatchPoller<Build>;
  private readonly clock: () => number;
  private bundle: Promise<{ bundle: SourceBundle; location: string }> | undefined;
  private readonly buildspecs = new Map<string, Promise<string>>();
  /** This run's part of every idempotency token (see idempotencyToken). */
  private readonly runNonce = randomUUID();

  constructor(private readonly options: CodeBuildBuilderOptions) {
    this.client = new CodeBuildClient(clientConfig("codebuild", options.region, options.clientOptions));
    this.logs = new LogTailer(options.region, options.clientOptions);
    this.clock = options.clock ?? Date.now;
    this.poller = new BatchPoller<Build>((ids) => this.fetch(ids), options.poll ?? DEFAULT_POLL_TIMING, options.sleep);
  }

  /** Uploads the build scripts once per process, when the first build starts. */
  source(): Promise<{ bundle: SourceBundle; location: string }> {
    this.bundle ??= (async () => {
      const bundle = await createSourceBundle(this.options.toolRoot);
      const metadata = this.options.commit ? { commit: this.options.commit } : undefined;
      const location = await this.options.store.putSource(bundle.objectKey, bundle.zip, metadata);
      return { bundle, location };
    })();
    this.bundle.catch(() => (this.bundle = undefined));
    return this.bundle;
  }

  private buildspec(kind: ArtifactKind): Promise<string> {
    const file = BUILDSPECS[kind];
    let text = this.buildspecs.get(file);
    if (!text) {
      text = readFile(join(this.options.toolRoot, ...file.split("/")), "utf8");
      this.buildspecs.set(file, text);
    }
    return text;
  }

  private async fetch(ids: readonly string[]): Promise<ReadonlyMap<string, Build>> {
    const out = await call(
      { service: "CodeBuild", operation: "BatchGetBuilds", region: this.options.region, code: "BUILD_FAILED" },
      () => this.client.send(new BatchGetBuildsCommand({ ids: [...ids] })),
    );
    return new Map((out.builds ?? []).filter((b) => b.id).map((b) => [b.id!, b]));
  }

  async run(request: BuildRequest, onLog: (line: string) => void, signal?: AbortSignal): Promise<BuildOutcome> {
    const attached = await this.attach(request, onLog);
    let started = attached;
    if (!started) {
      const { location } = await this.source();
      const buildspec = await this.buildspec(request.inputs.kind);
      const env = buildEnvironment(request.inputs, request.key, this.options.store.storeUrl);
      started = await this.start(request, location, buildspec, env);
      // Recorded before we wait on it: a run cancelled or killed from here on leaves the build
      // running, and the next reconcile re-attaches to it instead of starting another.
      await this.options.store.writeBuildMarker(request.inputs.kind, request.key, started.id!);
    }
    const outcome = await this.follow(started, request.timeoutMinutes, onLog, signal);
    if (outcome.status !== "succeeded") return outcome;
    const metadata = await this.options.store.readMetadata(request.inputs.kind, request.key);
    return metadata ? { ...outcome, metadata } : outcome;
  }

  /** A build of the same artifact that an earlier run started and that is still running or succeeded. */
  private async attach(request: BuildRequest, onLog: (line: string) => void): Promise<Build | undefined> {
    const id = await this.options.store.readBuildMarker(request.inputs.kind, request.key);
    if (!id) return undefined;
    const build = (await this.fetch([id])).get(id);
    if (!build || (build.buildStatus !== "IN_PROGRESS" && build.buildStatus !== "SUCCEEDED")) return undefined;
    onLog(`(re-attached to CodeBuild build ${id}, started by an earlier run: ${build.buildStatus === "SUCCEEDED" ? "it succeeded" : "still running"})`);
    return build;
  }

  private async start(request: BuildRequest, location: string, buildspec: string, env: Readonly<Record<string, string>>): Promise<Build> {
    const { project, region } = this.options;
    try {
      const input: StartBuildCommandInput = {
        projectName: project,
        sourceTypeOverride: "S3",
        sourceLocationOverride: location,
        buildspecOverride: buildspec,
        imageOverride: request.image,
        environmentTypeOverride: ENVIRONMENT_TYPE[request.inputs.arch],
        // The manifest schema checks the value; CodeBuild rejects an unknown one with a clear error.
        computeTypeOverride: this.options.computeType as ComputeType,
        environmentVariablesOverride: Object.keys(env)
          .sort()
          .map((name) => ({ name, value: env[name]!, type: "PLAINTEXT" as const })),
        timeoutInMinutesOverride: request.timeoutMinutes,
      };
      const out = await this.client.send(
        new StartBuildCommand({ ...input, idempotencyToken: idempotencyToken(request.actionId, request.key, input, this.runNonce) }),
      );
      if (!out.build?.id) throw new PipelineError("BUILD_FAILED", `CodeBuild StartBuild for ${request.actionId} returned no build id`);
      return out.build;
    } catch (error) {
      if (awsErrorCode(error) === "ResourceNotFoundException") {
        throw new PipelineError(
          "AWS_RESOURCE_MISSING",
          `The CodeBuild project ${project} does not exist in ${region}: create it with the infra/ stack (see infra/README.md) or fix builder.project in the manifest.`,
          { cause: error },
        );
      }
      throw toPipelineError(error, { service: "CodeBuild", operation: "StartBuild", resource: `project ${project}`, region, code: "BUILD_FAILED" });
    }
  }

  private async follow(started: Build, timeoutMinutes: number, onLog: (line: string) => void, signal?: AbortSignal): Promise<BuildOutcome> {
    const id = started.id!;
    const tail: string[] = [];
    let cursor: LogCursor | undefined;
    let logsBroken = false;
    // CodeBuild ends a build at its own timeout; this only guards against waiting forever.
    const deadline = this.clock() + (timeoutMinutes + 60) * 60_000;
    let outcome: BuildOutcome | undefined;

    const readLogs = async (build: Build): Promise<void> => {
      if (logsBroken) return;
      if (!cursor && build.logs?.groupName && build.logs.streamName) {
        cursor = { group: build.logs.groupName, stream: build.logs.streamName };
      }
      if (!cursor) return;
      try {
        for (const line of await this.logs.readNew(cursor)) {
          onLog(line);
          tail.push(line);
          if (tail.length > LOG_TAIL_LINES) tail.shift();
        }
      } catch (error) {
        // The build goes on without its log; say so once instead of failing it.
        logsBroken = true;
        onLog(`(cannot read the build log any more: ${(error as Error).message})`);
      }
    };

    await this.poller.watch(id, async (build) => {
      if (signal?.aborted) {
        // Cancelled: stop waiting; the build goes on and its recorded id lets the next run re-attach.
        outcome = { status: "failed", message: `cancelled; CodeBuild build ${id} is left running`, logTail: [...tail] };
        return true;
      }
      if (!build) {
        outcome = { status: "failed", message: `CodeBuild does not know the build ${id} any more`, logTail: [...tail] };
        return true;
      }
      await readLogs(build);
      if (build.buildStatus === "IN_PROGRESS" || build.buildStatus === undefined) {
        if (this.clock() > deadline) {
          outcome = { status: "failed", message: `CodeBuild build ${id} has not finished ${timeoutMinutes + 60} minutes after it started`, logTail: [...tail], ...(build.logs?.deepLink ? { link: build.logs.deepLink } : {}) };
          return true;
        }
        return false;
      }
      // The last lines may land after the status changes: read until the stream is drained.
      await readLogs(build);
      outcome = build.buildStatus === "SUCCEEDED" ? { status: "succeeded", exported: exported(build) } : failureOf(build, tail);
      return true;
    });
    return outcome!;
  }

  destroy(): void {
    this.client.destroy();
    this.logs.destroy();
  }
}
