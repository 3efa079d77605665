/**
 * Configuration shared by every AWS client: one region per client, the SDK's adaptive retries,
 * endpoint overrides from the standard variables, and credentials from the SDK's default chain.
 * It imports no SDK client, so each `@aws-sdk/client-*` stays inside its own adapter module.
 *
 * The SDK reads `AWS_ENDPOINT_URL_<SERVICE>` from `process.env` by itself; we resolve them here
 * from an injectable environment instead, so that an S3 override also switches to path-style
 * addressing (an emulator at 127.0.0.1 has no per-bucket host names) and tests can point one
 * process at several emulators.
 */

import { AdaptiveRetryStrategy, DefaultRateLimiter } from "@smithy/core/retry";
import { PipelineError } from "../../errors.ts";

/** The services we call, by the service id that names their endpoint variable. */
export type AwsService = "lambda" | "s3" | "codebuild" | "logs" | "ssm";

const ENDPOINT_VARIABLE: Readonly<Record<AwsService, string>> = {
  lambda: "AWS_ENDPOINT_URL_LAMBDA",
  s3: "AWS_ENDPOINT_URL_S3",
  codebuild: "AWS_ENDPOINT_URL_CODEBUILD",
  logs: "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
  ssm: "AWS_ENDPOINT_URL_SSM",
};

/** Throttling in a busy account is normal; eight attempts ride out bursts without hiding outages. */
export const DEFAULT_MAX_ATTEMPTS = 8;

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/**
 * The SDK's adaptive strategy with other constants. Against AWS the defaults are right (back
 * off to 0.5 requests/s, throttled retries from 1 s); against an emulator that throttles a
 * fixed share of calls at random, they turn a one-second test into minutes, so tests shrink
 * the delays and raise the floor while keeping the same strategy and attempt count.
 */
export interface RetryTuning {
  /** Multiplies every backoff delay. */
  readonly delayScale: number;
  /** Requests per second the rate limiter never goes below. */
  readonly minFillRate: number;
}

function tunedStrategy(attempts: number, tuning: RetryTuning): AdaptiveRetryStrategy {
  let base = 100;
  const backoff = {
    setDelayBase(delay: number) {
      base = delay * tuning.delayScale;
    },
    computeNextBackoffDelay(retries: number) {
      return Math.floor(Math.random() * Math.min(base * 2 ** retries, 20_000));
    },
  };
  return new AdaptiveRetryStrategy(attempts, {
    maxAttempts: attempts,
    backoff,
    rateLimiter: new DefaultRateLimiter({ minFillRate: tuning.minFillRate }),
  });
}

export interface AwsClientOptions {
  /** Where endpoint overrides and AWS_MAX_ATTEMPTS are read from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly maxAttempts?: number;
  /**
   * Only for tests that must exercise a failing provider. Left out, the SDK's default chain
   * applies (environment, shared config and SSO profiles, web identity, container, instance).
   */
  readonly credentials?: () => Promise<Credentials>;
  /** Only for tests against emulators; see RetryTuning. Default: from R_LAMBDA_LAYERS_RETRY_TUNING. */
  readonly retryTuning?: RetryTuning;
}

/** The endpoint override for a service, or undefined to let the SDK use the real AWS endpoint. */
export function endpointOverride(service: AwsService, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (/^true$/i.test(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? "")) return undefined;
  const value = env[ENDPOINT_VARIABLE[service]] || env.AWS_ENDPOINT_URL;
  return value ? value : undefined;
}

/** The variable that carries RetryTuning into a CLI process run against emulators. */
export const RETRY_TUNING_VARIABLE = "R_LAMBDA_LAYERS_RETRY_TUNING";

/** Reads `delayScale=0.02,minFillRate=200`; an unreadable value is an error, not a silent default. */
export function retryTuningFromEnv(env: Readonly<Record<string, string | undefined>>): RetryTuning | undefined {
  const raw = env[RETRY_TUNING_VARIABLE];
  if (!raw) return undefined;
  const fields = new Map(raw.split(",").map((part) => part.split("=").map((s) => s.trim()) as [string, string]));
  const delayScale = Number(fields.get("delayScale"));
  const minFillRate = Number(fields.get("minFillRate"));
  if (!(delayScale > 0) || !(minFillRate > 0) || fields.size !== 2) {
    throw new PipelineError("USAGE", `${RETRY_TUNING_VARIABLE}=${raw} is not valid: expected delayScale=NUMBER,minFillRate=NUMBER (both above 0)`);
  }
  return { delayScale, minFillRate };
}

/** How much to scale the delays of retries the adapters make themselves (1 against AWS). */
export function retryDelayScale(options: AwsClientOptions): number {
  return (options.retryTuning ?? retryTuningFromEnv(options.env ?? process.env))?.delayScale ?? 1;
}

/** Attempts per call: the option, else AWS_MAX_ATTEMPTS, else DEFAULT_MAX_ATTEMPTS. */
export function maxAttempts(options: AwsClientOptions, env: Readonly<Record<string, string | undefined>> = options.env ?? process.env): number {
  if (options.maxAttempts !== undefined) return options.maxAttempts;
  const fromEnv = Number(env.AWS_MAX_ATTEMPTS);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_MAX_ATTEMPTS;
}

export interface ClientConfig {
  readonly region: string;
  readonly retryMode: "adaptive";
  readonly maxAttempts: number;
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
  readonly credentials?: () => Promise<Credentials>;
  readonly retryStrategy?: AdaptiveRetryStrategy;
  readonly requestHandler: { readonly connectionTimeout: number; readonly requestTimeout: number; readonly throwOnRequestTimeout: boolean };
}

/** The constructor argument of any SDK client for `service` in `region`. */
export function clientConfig(service: AwsService, region: string, options: AwsClientOptions = {}): ClientConfig {
  // The SDK warns on every run under Node 20 that its releases from 2027 need Node 22. That is
  // news for whoever upgrades the locked SDK (package.json `engines` says Node 20), not for
  // someone reading a plan, so it stays out of the output unless asked for.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const env = options.env ?? process.env;
  const endpoint = endpointOverride(service, env);
  const attempts = maxAttempts(options, env);
  const tuning = options.retryTuning ?? retryTuningFromEnv(env);
  return {
    region,
    retryMode: "adaptive",
    maxAttempts: attempts,
    ...(tuning ? { retryStrategy: tunedStrategy(attempts, tuning) } : {}),
    // An unreachable endpoint should fail within seconds, not hang a reconcile.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000, throwOnRequestTimeout: true },
    ...(endpoint ? { endpoint } : {}),
    ...(endpoint && service === "s3" ? { forcePathStyle: true } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
  };
}

/** One client per region, created on first use. */
export class PerRegion<C> {
  private readonly clients = new Map<string, C>();

  constructor(private readonly create: (region: string) => C) {}

  get(region: string): C {
    let client = this.clients.get(region);
    if (!client) {
      client = this.create(region);
      this.clients.set(region, client);
    }
    return client;
  }

  all(): C[] {
    return [...this.clients.values()];
  }
}
