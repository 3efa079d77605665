/**
 * What every AWS emulator shares: a node:http server on 127.0.0.1 (random port), the SigV4
 * credential scope read from `Authorization` (the region a request was signed for, and its
 * access key), fault injection (throttling, 5xx, latency) and per-operation call counters.
 *
 * Signatures are not verified: the emulators check who signed (to emulate rejected or expired
 * keys) and for which region (S3 buckets and Lambda layers live in one region each).
 */
import { createServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";

export interface Signer {
  readonly accessKeyId: string;
  readonly region: string;
  readonly service: string;
}

export interface EmulatorRequest {
  readonly method: string;
  /** The decoded path, e.g. `/bucket/a b.zip`. */
  readonly path: string;
  /** The path as sent, still percent-encoded. */
  readonly rawPath: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly signer?: Signer;
  readonly requestId: string;
}

export interface EmulatorResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | string;
}

/** An error in the service's own terms; each emulator renders it in its protocol's shape. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra fields for the body (XML elements or JSON members) and headers. */
    readonly fields: Readonly<Record<string, string>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** Injected faults. Rates are probabilities per request, decided independently. */
export class Faults {
  throttleRate = 0;
  /** 5xx before the request is processed. */
  errorRate = 0;
  /** 5xx after the request was processed (the caller cannot know it took effect). */
  errorAfterRate = 0;
  latencyMs = 0;
  random: () => number = Math.random;
  injected = 0;
  /** The next this-many requests are processed, then answered with a 5xx (deterministic errorAfterRate). */
  lostResponses = 0;
  /** The next this-many requests are answered with a 5xx without being processed (deterministic errorRate). */
  failNext = 0;

  set(options: Partial<Pick<Faults, "throttleRate" | "errorRate" | "errorAfterRate" | "latencyMs" | "random">>): void {
    Object.assign(this, options);
  }

  reset(): void {
    this.set({ throttleRate: 0, errorRate: 0, errorAfterRate: 0, latencyMs: 0 });
    this.lostResponses = 0;
    this.failNext = 0;
  }

  roll(rate: number): boolean {
    if (rate > 0 && this.random() < rate) {
      this.injected++;
      return true;
    }
    return false;
  }
}

/** Requests received per operation, retries and rejected ones included. */
export class CallCounts {
  private readonly counts = new Map<string, number>();

  record(operation: string): void {
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
  }

  count(operation: string): number {
    return this.counts.get(operation) ?? 0;
  }

  total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }

  reset(): void {
    this.counts.clear();
  }
}

const CREDENTIAL_RE = /Credential=([^/,\s]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/;

export function parseSigner(headers: IncomingHttpHeaders): Signer | undefined {
  const match = CREDENTIAL_RE.exec(headers.authorization ?? "");
  return match ? { accessKeyId: match[1]!, region: match[2]!, service: match[3]! } : undefined;
}

export type CredentialProblem = "missing" | "invalid" | "expired";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function newRequestId(): string {
  return randomBytes(16).toString("hex").toUpperCase();
}

/** An emulated AWS service: subclasses name operations, handle them, and render errors. */
export abstract class Emulator {
  readonly faults = new Faults();
  readonly calls = new CallCounts();
  /** Access keys the service rejects, and how. */
  readonly rejectedKeys = new Map<string, Exclude<CredentialProblem, "missing">>();
  private server: Server | undefined;
  private base = "";

  /** The service name in the SigV4 scope (`s3`, `lambda`, `codebuild`, `logs`). */
  abstract readonly signingName: string;

  get url(): string {
    if (!this.base) throw new Error("emulator not started");
    return this.base;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.serve(req, res));
    // Keep-alive sockets would hold `close()` open; the SDK reconnects as needed.
    server.keepAliveTimeout = 1_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The operation a request calls, for counting and fault decisions. */
  protected abstract operation(req: EmulatorRequest): string;
  protected abstract handle(req: EmulatorRequest, operation: string): Promise<EmulatorResponse> | EmulatorResponse;
  protected abstract render(error: ApiError, req: EmulatorRequest): EmulatorResponse;
  protected abstract throttling(operation: string): ApiError;
  protected abstract internalError(operation: string): ApiError;
  protected abstract credentialError(problem: CredentialProblem): ApiError;

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const request: EmulatorRequest = {
      method: req.method ?? "GET",
      path: decodeURIComponent(url.pathname),
      rawPath: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: await readBody(req),
      requestId: newRequestId(),
      ...(parseSigner(req.headers) ? { signer: parseSigner(req.headers)! } : {}),
    };
    let response: EmulatorResponse;
    try {
      response = await this.respond(request);
    } catch (error) {
      response = this.render(
        error instanceof ApiError ? error : new ApiError(500, "InternalError", `emulator bug: ${(error as Error).stack ?? String(error)}`),
        request,
      );
    }
    const headers: Record<string, string> = { "x-amzn-requestid": request.requestId, "x-amz-request-id": request.requestId, ...response.headers };
    const body = response.body === undefined || request.method === "HEAD" ? undefined : Buffer.from(response.body);
    if (body !== undefined && headers["content-length"] === undefined) headers["content-length"] = String(body.length);
    res.writeHead(response.status, headers);
    res.end(body);
  }

  private async respond(req: EmulatorRequest): Promise<EmulatorResponse> {
    const operation = this.operation(req);
    this.calls.record(operation);
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs);
    const problem = this.credentialProblem(req);
    if (problem) throw this.credentialError(problem);
    if (this.faults.roll(this.faults.throttleRate)) throw this.throttling(operation);
    if (this.faults.failNext > 0) {
      this.faults.failNext--;
      this.faults.injected++;
      throw this.internalError(operation);
    }
    if (this.faults.roll(this.faults.errorRate)) throw this.internalError(operation);
    const response = await this.handle(req, operation);
    if (this.faults.lostResponses > 0) {
      this.faults.lostResponses--;
      this.faults.injected++;
      throw this.internalError(operation);
    }
    if (this.faults.roll(this.faults.errorAfterRate)) throw this.internalError(operation);
    return response;
  }

  private credentialProblem(req: EmulatorRequest): CredentialProblem | undefined {
    if (!req.signer) return "missing";
    return this.rejectedKeys.get(req.signer.accessKeyId);
  }

  /** The region a request was signed for; every SDK request carries one. */
  protected region(req: EmulatorRequest): string {
    return req.signer?.region ?? "us-east-1";
  }
}

export function xmlEscape(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}

/** A JSON 1.1 service (CodeBuild, CloudWatch Logs): `POST /` with `X-Amz-Target: Prefix.Operation`. */
export abstract class JsonRpcEmulator extends Emulator {
  protected abstract readonly targetPrefix: string;

  protected operation(req: EmulatorRequest): string {
    const target = String(req.headers["x-amz-target"] ?? "");
    return target.startsWith(`${this.targetPrefix}.`) ? target.slice(this.targetPrefix.length + 1) : `Unknown(${target})`;
  }

  protected input(req: EmulatorRequest): Record<string, unknown> {
    if (req.body.length === 0) return {};
    try {
      return JSON.parse(req.body.toString("utf8")) as Record<string, unknown>;
    } catch {
      throw new ApiError(400, "SerializationException", "Start of structure or map found where not expected.");
    }
  }

  protected json(value: unknown): EmulatorResponse {
    return { status: 200, headers: { "content-type": "application/x-amz-json-1.1" }, body: JSON.stringify(value) };
  }

  protected render(error: ApiError): EmulatorResponse {
    return {
      status: error.status,
      headers: { "content-type": "application/x-amz-json-1.1", ...error.headers },
      body: JSON.stringify({ __type: error.code, message: error.message, ...error.fields }),
    };
  }

  protected throttling(): ApiError {
    return new ApiError(400, "ThrottlingException", "Rate exceeded");
  }

  protected credentialError(problem: CredentialProblem): ApiError {
    return jsonCredentialError(problem, 400);
  }
}

/** How the JSON services (CodeBuild, Logs: 400; Lambda: 403) refuse bad credentials. */
export function jsonCredentialError(problem: CredentialProblem, status: 400 | 403): ApiError {
  switch (problem) {
    case "missing":
      return new ApiError(status, "MissingAuthenticationTokenException", "Missing Authentication Token");
    case "invalid":
      return new ApiError(status, "UnrecognizedClientException", "The security token included in the request is invalid.");
    case "expired":
      return new ApiError(status, "ExpiredTokenException", "The security token included in the request is expired");
  }
}
