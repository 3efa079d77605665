/**
 * All the emulators (Lambda, S3, CodeBuild, CloudWatch Logs, SSM Parameter Store), wired together (Lambda reads S3, CodeBuild reads S3 and writes Logs), with
 * buckets per region and the CodeBuild project created, and the environment that points the
 * real SDK (in this process or in a CLI child process) at them with dummy credentials.
 */
import { RETRY_TUNING_VARIABLE } from "../../../pipeline/lib/adapters/aws/clients.ts";
import { bucketName } from "../../../pipeline/lib/naming.ts";
import type { BuildExecutor } from "./codebuild.ts";
import { CodeBuildEmulator } from "./codebuild.ts";
import { fakeExecutor } from "./executors.ts";
import type { Emulator } from "./http.ts";
import { LambdaEmulator } from "./lambda.ts";
import { LogsEmulator } from "./logs.ts";
import { S3Emulator } from "./s3.ts";
import { SsmEmulator } from "./ssm.ts";
import { TEST_RETRY } from "./setup.ts";

export interface AwsEmulatorsOptions {
  readonly account?: string;
  /** Every region that gets a bucket from the template. */
  readonly regions?: readonly string[];
  readonly bucketTemplate?: string;
  /** Builder region and CodeBuild project created there. */
  readonly builderRegion?: string;
  readonly project?: string;
  /** Default: a fake executor that writes artifacts into the S3 emulator. */
  readonly executor?: (s3: S3Emulator) => BuildExecutor;
  readonly phaseDelayMs?: number;
}

export interface AwsEmulators {
  readonly s3: S3Emulator;
  readonly lambda: LambdaEmulator;
  readonly codebuild: CodeBuildEmulator;
  readonly logs: LogsEmulator;
  readonly ssm: SsmEmulator;
  readonly all: readonly Emulator[];
  /** Endpoint overrides, dummy credentials, and no way to reach the real AWS. */
  readonly env: Readonly<Record<string, string>>;
  /** Sets the same faults on every emulator. */
  setFaults(faults: Partial<Pick<Emulator["faults"], "throttleRate" | "errorRate" | "errorAfterRate" | "latencyMs">>): void;
  /** Calls per operation, across all emulators, e.g. `{ "lambda.ListLayers": 3 }`. */
  calls(): Record<string, number>;
  resetCalls(): void;
  close(): Promise<void>;
}

export async function startAwsEmulators(options: AwsEmulatorsOptions = {}): Promise<AwsEmulators> {
  const account = options.account ?? "123456789012";
  const builderRegion = options.builderRegion ?? "us-east-1";
  const template = options.bucketTemplate ?? "r-layers-{region}";
  const s3 = await new S3Emulator().start();
  const logs = await new LogsEmulator().start();
  const lambda = await new LambdaEmulator({ account, s3 }).start();
  const ssm = await new SsmEmulator({ account }).start();
  const codebuild = await new CodeBuildEmulator({
    s3,
    logs,
    account,
    executor: options.executor ? options.executor(s3) : fakeExecutor({ s3 }),
    ...(options.phaseDelayMs !== undefined ? { phaseDelayMs: options.phaseDelayMs } : {}),
  }).start();
  for (const region of new Set([builderRegion, ...(options.regions ?? [])])) s3.createBucket(bucketName(template, region), region);
  codebuild.createProject(builderRegion, options.project ?? "r-lambda-layers");
  const all: Emulator[] = [s3, lambda, codebuild, logs, ssm];
  const env: Record<string, string> = {
    AWS_ENDPOINT_URL_S3: s3.url,
    AWS_ENDPOINT_URL_LAMBDA: lambda.url,
    AWS_ENDPOINT_URL_CODEBUILD: codebuild.url,
    AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: logs.url,
    AWS_ENDPOINT_URL_SSM: ssm.url,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_REGION: builderRegion,
    AWS_ACCOUNT_ID: account,
    // Nothing else the SDK could consult: no profile files, no instance metadata service.
    AWS_CONFIG_FILE: "/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    // The emulators throttle at random, not by rate: shrink the SDK's backoff for CLI processes too.
    [RETRY_TUNING_VARIABLE]: `delayScale=${TEST_RETRY.delayScale},minFillRate=${TEST_RETRY.minFillRate}`,
  };
  return {
    s3,
    lambda,
    codebuild,
    logs,
    ssm,
    all,
    env,
    setFaults(faults) {
      for (const e of all) e.faults.set(faults);
    },
    calls() {
      const out: Record<string, number> = {};
      for (const e of all) for (const [op, n] of Object.entries(e.calls.snapshot())) out[`${e.signingName}.${op}`] = n;
      return out;
    },
    resetCalls() {
      for (const e of all) e.calls.reset();
    },
    async close() {
      await Promise.all(all.map((e) => e.close()));
    },
  };
}
