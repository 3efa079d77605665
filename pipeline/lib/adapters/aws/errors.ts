/**
 * The boundary where SDK errors become PipelineErrors: one sentence that says what failed and
 * what to do, with the HTTP status, the AWS error code and the original error kept.
 */
import type { ErrorCode } from "../../errors.ts";
import { PipelineError } from "../../errors.ts";

export interface AwsCallContext {
  /** "S3", "Lambda", "CodeBuild", "CloudWatch Logs". */
  readonly service: string;
  /** The API operation, e.g. "HeadObject". */
  readonly operation: string;
  /** What the call was about, e.g. "s3://bucket/key" or "layer r-runtime-4_4_1". */
  readonly resource?: string;
  readonly region?: string;
  /** The code for failures that are not about credentials, permissions or missing infrastructure. */
  readonly code?: ErrorCode;
  /** Added to an access-denied sentence, e.g. which other permission the call depends on. */
  readonly accessHint?: string;
  /** Attempts made by the adapter itself, when it retries outside the SDK. */
  readonly attempts?: number;
}

/** What the SDK puts on its errors (service exceptions, and `$metadata` on most others). */
interface SdkErrorShape {
  readonly name?: string;
  readonly message?: string;
  readonly code?: string;
  readonly Code?: string;
  readonly $metadata?: { readonly httpStatusCode?: number; readonly requestId?: string; readonly attempts?: number };
  readonly $response?: { readonly headers?: Readonly<Record<string, string | undefined>> };
  readonly BucketName?: string;
  readonly Bucket?: string;
  readonly Endpoint?: string;
}

export class AwsError extends PipelineError {
  /** The AWS error code (`NoSuchBucket`, `AccessDenied`, …) or the SDK's error name. */
  readonly awsCode: string;
  readonly status?: number;
  readonly requestId?: string;
  readonly operation: string;

  constructor(code: ErrorCode, message: string, details: { awsCode: string; status?: number; requestId?: string; operation: string; cause: unknown }) {
    super(code, message, { cause: details.cause });
    this.name = "AwsError";
    this.awsCode = details.awsCode;
    this.operation = details.operation;
    if (details.status !== undefined) this.status = details.status;
    if (details.requestId !== undefined) this.requestId = details.requestId;
  }
}

const CREDENTIAL_CODES = new Set([
  "CredentialsProviderError",
  "ExpiredToken",
  "ExpiredTokenException",
  "InvalidClientTokenId",
  "UnrecognizedClientException",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "InvalidSignatureException",
  "TokenRefreshRequired",
]);
const ACCESS_DENIED_CODES = new Set(["AccessDenied", "AccessDeniedException", "Forbidden", "AllAccessDisabled"]);
const THROTTLING_CODES = new Set(["ThrottlingException", "Throttling", "TooManyRequestsException", "SlowDown", "RequestLimitExceeded"]);
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "TimeoutError"]);

export const CREDENTIALS_HELP =
  "run `aws sso login` or set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or in GitHub Actions grant `id-token: write` and assume the role with aws-actions/configure-aws-credentials (see README)";

/** The AWS error code of an SDK error: the parsed code, else the name the SDK gave it. */
export function awsErrorCode(error: unknown): string {
  const e = (error ?? {}) as SdkErrorShape;
  // Node's own errors (ECONNREFUSED…) are plain Errors whose `code` says what happened.
  if (e.Code) return e.Code;
  if ((e.name === undefined || e.name === "Error") && typeof e.code === "string") return e.code;
  return e.name ?? "UnknownError";
}

export function httpStatus(error: unknown): number | undefined {
  return ((error ?? {}) as SdkErrorShape).$metadata?.httpStatusCode;
}

/** "Not found" in every form S3 and Lambda give it (HEAD responses carry no code, only 404). */
export function isNotFound(error: unknown): boolean {
  const code = awsErrorCode(error);
  if (code === "NoSuchBucket") return false;
  return code === "NotFound" || code === "NoSuchKey" || code === "ResourceNotFoundException" || httpStatus(error) === 404;
}

/** IAM actions whose name differs from the API operation's. */
const S3_ACTIONS: Readonly<Record<string, string>> = {
  HeadObject: "s3:GetObject",
  HeadBucket: "s3:ListBucket",
  CopyObject: "s3:PutObject (and s3:GetObject on the source)",
};
const ACTION_PREFIX: Readonly<Record<string, string>> = { S3: "s3", Lambda: "lambda", CodeBuild: "codebuild", "CloudWatch Logs": "logs" };

function iamAction(context: AwsCallContext): string {
  if (context.service === "S3" && S3_ACTIONS[context.operation]) return S3_ACTIONS[context.operation]!;
  return `${ACTION_PREFIX[context.service] ?? context.service.toLowerCase()}:${context.operation}`;
}

function where(context: AwsCallContext): string {
  const on = context.resource ? ` on ${context.resource}` : "";
  const region = context.region ? ` in ${context.region}` : "";
  return `${context.service} ${context.operation}${on}${region}`;
}

function trimMessage(message: string | undefined): string {
  const text = (message ?? "").replace(/\s+/g, " ").trim().replace(/\.$/, "");
  return text === "UnknownError" || text === "Unknown" ? "" : text;
}

/** `(Code: detail)`, leaving out what the SDK could not tell (a HEAD error has no code). */
function parenthesis(code: string, detail: string, extra = ""): string {
  const known = code === "Unknown" || code === "UnknownError" ? "" : code;
  const text = [known, extra].filter(Boolean).join(", ") + (detail ? `${known || extra ? ": " : ""}${detail}` : "");
  return text ? ` (${text})` : "";
}

function sentence(error: SdkErrorShape, context: AwsCallContext, code: string, status: number | undefined): { code: ErrorCode; text: string } {
  const detail = trimMessage(error.message);
  const attempts = context.attempts ?? error.$metadata?.attempts;
  const after = attempts && attempts > 1 ? ` after ${attempts} attempts` : "";
  if (CREDENTIAL_CODES.has(code)) {
    const why = code === "CredentialsProviderError" ? "none found by the SDK's default chain" : `${context.service} answered ${code}`;
    return { code: "AWS_CREDENTIALS", text: `No valid AWS credentials (${why}): ${CREDENTIALS_HELP}.` };
  }
  if (ACCESS_DENIED_CODES.has(code) || (status === 403 && !detail)) {
    return {
      code: "AWS_ACCESS_DENIED",
      text: `Access denied to ${where(context)}${detail && detail !== "Access Denied" ? ` (${detail})` : ""}: the credentials in use need ${iamAction(context)} on it${context.accessHint ? ` ${context.accessHint}` : ""}, or they belong to another account.`,
    };
  }
  if (code === "NoSuchBucket") {
    const bucket = error.BucketName ?? error.Bucket ?? context.resource ?? "the artifact bucket";
    return { code: "AWS_RESOURCE_MISSING", text: missingBucketSentence(bucket.replace(/^s3:\/\//, "").split("/")[0]!, context.region) };
  }
  if (code === "PermanentRedirect" || status === 301) {
    const actual = error.$response?.headers?.["x-amz-bucket-region"];
    return {
      code: "AWS_WRONG_REGION",
      text: `${where(context)} was refused because the bucket is in ${actual ?? "another region"}: each region needs its own bucket named by artifacts.bucket ({region} in the name), created by the infra/ stack.`,
    };
  }
  const s3Code = code === "InvalidParameterValueException" ? /S3 Error Code: (\w+)/.exec(detail)?.[1] : undefined;
  if (s3Code) {
    const s3Message = /S3 Error Message: (.*)$/.exec(detail)?.[1] ?? "";
    return {
      code: context.code ?? "AWS_SERVICE_ERROR",
      text: `${where(context)} could not read the layer zip from S3 (${s3Code}${s3Message ? `: ${s3Message}` : ""}): Lambda reads it only from a bucket in the layer's own region, where the artifact must have been copied first.`,
    };
  }
  if (THROTTLING_CODES.has(code) || status === 429) {
    return { code: context.code ?? "AWS_THROTTLED", text: `${where(context)} was still throttled${after} (${code}): try again later or lower builder.parallelism.` };
  }
  if (status !== undefined && status >= 500) {
    return { code: context.code ?? "AWS_SERVICE_ERROR", text: `${where(context)} failed with HTTP ${status}${after}${parenthesis(code, detail)}: AWS had an internal error; try again.` };
  }
  if (NETWORK_ERROR_CODES.has(code)) {
    return { code: "AWS_UNREACHABLE", text: `Cannot reach ${context.service} for ${context.operation}${context.region ? ` in ${context.region}` : ""} (${code}${detail ? `: ${detail}` : ""}): check the network, or AWS_ENDPOINT_URL* if set.` };
  }
  return { code: context.code ?? "STATE_UNREADABLE", text: `${where(context)} failed${parenthesis(code, detail, status ? `HTTP ${status}` : "")}.` };
}

function missingBucketSentence(bucket: string, region: string | undefined): string {
  return `The S3 bucket ${bucket} does not exist${region ? ` in ${region}` : ""}: create it with the infra/ stack (see infra/README.md) or fix artifacts.bucket in the manifest.`;
}

/** For a HeadBucket 404, which carries no error code to convert. */
export function missingBucketError(bucket: string, region: string, cause: unknown): AwsError {
  return new AwsError("AWS_RESOURCE_MISSING", missingBucketSentence(bucket, region), { awsCode: "NoSuchBucket", status: 404, operation: "HeadBucket", cause });
}

/** Converts anything an SDK call threw into a PipelineError; PipelineErrors pass through. */
export function toPipelineError(error: unknown, context: AwsCallContext): PipelineError {
  if (error instanceof PipelineError) return error;
  const e = (error ?? {}) as SdkErrorShape;
  const code = awsErrorCode(error);
  const status = httpStatus(error);
  const { code: pipelineCode, text } = sentence(e, context, code, status);
  return new AwsError(pipelineCode, text, {
    awsCode: code,
    operation: context.operation,
    cause: error,
    ...(status !== undefined ? { status } : {}),
    ...(e.$metadata?.requestId ? { requestId: e.$metadata.requestId } : {}),
  });
}

/** Runs one SDK call and converts its failure at the boundary. */
export async function call<T>(context: AwsCallContext, send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    throw toPipelineError(error, context);
  }
}
