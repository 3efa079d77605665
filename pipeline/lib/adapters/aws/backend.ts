/**
 * The AWS backend: the state ports, the lock and the builder over one account, wired from the
 * manifest (builder project and region, artifact bucket template). Clients are created per
 * region on first use, so a plan touching six regions opens six Lambda clients, not one per call.
 */
import type { Manifest } from "../../manifest/types.ts";
import type { Backend } from "../../ports.ts";
import type { Builder, StateLock } from "../../ports.ts";
import type { AwsClientOptions } from "./clients.ts";
import { CodeBuildBuilder } from "./codebuild-builder.ts";
import type { PollTiming } from "./poller.ts";
import { LambdaPublishedLayers } from "./lambda-layers.ts";
import { S3ArtifactStore } from "./s3-artifacts.ts";
import { S3Clients } from "./s3-objects.ts";
import { S3StateLock } from "./s3-lock.ts";
import { SsmLayerParameters } from "./ssm-parameters.ts";
import type { ForceReleaseOutcome } from "./s3-lock.ts";

export interface AwsBackendOptions {
  readonly manifest: Pick<Manifest, "builder" | "artifacts" | "layers">;
  /** The checkout whose `r-compile/`, `runtime/` and `buildspecs/` the builds run. */
  readonly toolRoot: string;
  readonly commit?: string;
  /** Endpoint overrides and AWS_ACCOUNT_ID are read from here; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly maxAttempts?: number;
  /** Tests only: a credentials provider instead of the SDK's default chain. */
  readonly credentials?: AwsClientOptions["credentials"];
  /** Tests only: shorter retry delays against emulators (see RetryTuning). */
  readonly retryTuning?: AwsClientOptions["retryTuning"];
  /** Tests only: faster polling and a fake clock for the builder. */
  readonly poll?: PollTiming;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly clock?: () => number;
}

export interface AwsBackend {
  readonly backend: Backend & { readonly artifacts: S3ArtifactStore; readonly layers: LambdaPublishedLayers; readonly parameters: SsmLayerParameters };
  readonly lock: StateLock & { forceRelease(id: string): Promise<ForceReleaseOutcome>; readonly location: string };
  readonly builder: Builder & CodeBuildBuilder;
  /** Closes every client's connections (lets a CLI process exit promptly). */
  close(): void;
}

export function createAwsBackend(options: AwsBackendOptions): AwsBackend {
  const env = options.env ?? process.env;
  const clientOptions: AwsClientOptions = {
    env,
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.retryTuning ? { retryTuning: options.retryTuning } : {}),
  };
  const { builder: settings, artifacts: bucket } = options.manifest;
  const s3 = new S3Clients(clientOptions);
  const artifacts = new S3ArtifactStore({ clients: s3, bucketTemplate: bucket.bucket, region: settings.region });
  const layers = new LambdaPublishedLayers(clientOptions);
  const parameters = new SsmLayerParameters(clientOptions);
  const lock = new S3StateLock(artifacts.bucket);
  const builder = new CodeBuildBuilder({
    region: settings.region,
    project: settings.project,
    computeType: settings.computeType,
    toolRoot: options.toolRoot,
    store: artifacts,
    clientOptions,
    ...(options.commit ? { commit: options.commit } : {}),
    ...(options.poll ? { poll: options.poll } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const regions = [...new Set([settings.region, ...options.manifest.layers.flatMap((l) => l.regions)])].sort();
  const account = env.AWS_ACCOUNT_ID || "AWS";
  return {
    backend: { description: { backend: "aws", location: `${account} ${regions.join(",")}` }, artifacts, layers, parameters },
    lock,
    builder,
    close() {
      builder.destroy();
      layers.destroy();
      parameters.destroy();
      s3.destroy();
    },
  };
}
