/** Shared settings for tests of the AWS adapters against the emulators. */
import type { AwsBackendOptions } from "../../../pipeline/lib/adapters/aws/backend.ts";
import type { RetryTuning } from "../../../pipeline/lib/adapters/aws/clients.ts";
import type { PollTiming } from "../../../pipeline/lib/adapters/aws/poller.ts";
import type { Arch } from "../../../pipeline/lib/manifest/types.ts";
import type { BuildInputs } from "../../../pipeline/lib/keys/inputs.ts";

/** The SDK's adaptive strategy, with delays shrunk for emulators that throttle at random. */
export const TEST_RETRY: RetryTuning = { delayScale: 0.02, minFillRate: 200 };

export const FAST_POLL: PollTiming = { initialDelayMs: 20, maxDelayMs: 60, factor: 1.5 };

/**
 * The SDK's default credential chain reads this process's environment: give it the dummy
 * credentials, and nothing else to consult (no profile files, no instance metadata).
 */
export function useEmulatorCredentials(env: Readonly<Record<string, string>>): void {
  for (const name of [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED",
  ]) {
    if (env[name] !== undefined) process.env[name] = env[name];
  }
  for (const name of ["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]) {
    delete process.env[name];
  }
}

export function testManifest(fields: { regions?: readonly string[]; builderRegion?: string; project?: string; bucket?: string } = {}): AwsBackendOptions["manifest"] {
  return {
    builder: {
      project: fields.project ?? "r-lambda-layers",
      region: fields.builderRegion ?? "us-east-1",
      computeType: "BUILD_GENERAL1_SMALL",
      images: { x86_64: "public.ecr.aws/sam/build-provided.al2023:latest-x86_64", arm64: "public.ecr.aws/sam/build-provided.al2023:latest-arm64" },
      parallelism: 4,
      timeoutMinutes: 60,
    },
    artifacts: { bucket: fields.bucket ?? "r-layers-{region}" },
    layers: (fields.regions ?? []).length > 0 ? [layerFor(fields.regions ?? [])] : [],
  };
}

function layerFor(regions: readonly string[]): AwsBackendOptions["manifest"]["layers"][number] {
  return {
    name: "runtime",
    type: "runtime",
    packages: [],
    systemLibraries: [],
    rVersions: ["4.4.1"],
    architectures: ["x86_64"],
    regions,
    repository: "https://cloud.r-project.org",
    retain: 3,
    share: { accounts: [], public: false },
    stacksOn: [],
  };
}

export function layerInputs(layer: string, arch: Arch = "x86_64"): BuildInputs {
  return {
    kind: "layer",
    layer,
    type: "packages",
    rVersion: "4.4.1",
    arch,
    rBuildKey: "d".repeat(64),
    packages: ["jsonlite"],
    repository: "https://cloud.r-project.org",
    systemLibraries: [],
    stacks: [],
    scripts: "e".repeat(64),
  };
}

export function fakeKey(seed: string | number): string {
  const hex = Buffer.from(String(seed)).toString("hex");
  return (hex + "0".repeat(64)).slice(0, 64);
}
