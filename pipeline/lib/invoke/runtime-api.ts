/**
 * An embedded Lambda Runtime API (version `2018-06-01`), as a custom runtime sees it: plain
 * `node:http` on 127.0.0.1, a random port, nothing else reachable. `npm run invoke` runs
 * `runtime/bootstrap` against it; the runtime tests and benchmarks drive it directly.
 *
 * What it does, and where it follows AWS's own Runtime API rather than a lenient reading:
 *
 * - `GET /runtime/invocation/next` blocks until an event is queued, then hands it out with
 *   every `Lambda-Runtime-*` header. The body is sent **chunked, in 2 KB chunks**, as the
 *   Runtime API does (`chunkedEvents: false` sends a `Content-Length` instead).
 * - `POST .../{id}/response` is answered 202, or **413** when the body is larger than 6 MB
 *   (`maxResponseBytes`); a refused response ends the request (outcome `refused`, reported to
 *   the caller as `Function.ResponseSizeTooLarge`).
 * - `POST .../{id}/error` is answered 202. The `Lambda-Runtime-Function-Error-Type` header is
 *   kept only when it has the form `Runtime.X` or `Function.X`; anything else is reported as
 *   `Runtime.Unknown` (the outcome's `errorType`).
 * - A second post for a request that already has an outcome is refused with **403
 *   `InvalidStateTransition`**; a post for an id never handed out with 400 `InvalidRequestID`;
 *   an unknown path with 404. All three are kept in `protocolErrors`, so a test can assert
 *   there were none.
 * - `POST /runtime/init/error` is recorded and answered 202.
 *
 * Callers queue events with `enqueue` (or `invoke`, which also waits for the outcome) and await
 * what the runtime posts. Nothing here spawns processes or reads files.
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const PREFIX = "/2018-06-01";

/** Lambda's limit for a synchronous invocation's response. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
/** The size of the chunks the Runtime API sends an event in. */
export const EVENT_CHUNK_BYTES = 2048;

/** What is queued; every field but `body` has a sensible default. */
export interface EventSpec {
  /** The event payload, sent as is (a string is sent as UTF-8). */
  body: string | Buffer;
  requestId?: string;
  /** Epoch milliseconds; defaults to now + `timeoutMs`. */
  deadlineMs?: number;
  /** Used for the default deadline; 30 s unless set. */
  timeoutMs?: number;
  functionArn?: string;
  /** `Lambda-Runtime-Trace-Id`; omitted when `null`, a generated one when undefined. */
  traceId?: string | null;
  clientContext?: string;
  cognitoIdentity?: string;
}

/** One event as it was handed to the runtime. */
export interface HandedOut {
  requestId: string;
  /** `performance.now()` when the event's last bytes were written. */
  at: number;
  headers: Record<string, string>;
}

interface Posted {
  requestId: string;
  body: Buffer;
  headers: IncomingHttpHeaders;
  /** `performance.now()` when the whole body had arrived. */
  at: number;
}

/**
 * How a request ended: a response (202), an error the runtime posted (with the error type the
 * API kept), or a response the API refused as too large (413; no other post is accepted then).
 */
export type Outcome =
  | ({ kind: "response" } & Posted)
  | ({ kind: "error"; errorType: string } & Posted)
  | ({ kind: "refused"; errorType: "Function.ResponseSizeTooLarge" } & Posted);

/** The `{errorMessage, errorType, stackTrace}` document a runtime posts on an error. */
export interface ErrorDocument {
  errorMessage: string;
  errorType: string;
  stackTrace: string[];
}

export interface InitError {
  body: Buffer;
  headers: IncomingHttpHeaders;
  /** The error type the API kept (see `apiErrorType`). */
  errorType: string;
  at: number;
}

export interface RuntimeApiOptions {
  /** How long the server keeps an idle keep-alive connection open (node's default is 5 s). */
  keepAliveTimeoutMs?: number;
  /** Responses larger than this are refused with 413; Lambda's 6 MB unless set. */
  maxResponseBytes?: number;
  /** Send events chunked in `EVENT_CHUNK_BYTES` chunks, as AWS does (default), or with a `Content-Length`. */
  chunkedEvents?: boolean;
  functionArn?: string;
}

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

/**
 * The error type the Runtime API keeps from a `Lambda-Runtime-Function-Error-Type` header:
 * `Runtime.X` and `Function.X` as they are, anything else (or nothing) as `Runtime.Unknown`.
 */
export function apiErrorType(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && /^(Runtime|Function)\.[^\s.][^\s]*$/.test(value) ? value : "Runtime.Unknown";
}

export class RuntimeApi {
  /** Every `GET next` as it arrived, `performance.now()` milliseconds. */
  readonly nextRequestsAt: number[] = [];
  readonly handedOut: HandedOut[] = [];
  readonly outcomes = new Map<string, Outcome>();
  readonly initErrors: InitError[] = [];
  /** Requests the real Runtime API refuses (400, 403, 404): method, path and why. */
  readonly protocolErrors: string[] = [];
  /** Requests whose response was answered 413 because it was larger than `maxResponseBytes`. */
  readonly refusedResponses: string[] = [];
  /** TCP connections accepted so far (a keep-alive client needs one). */
  connections = 0;

  private readonly queue: (EventSpec & { requestId: string })[] = [];
  private readonly parked: ServerResponse[] = [];
  private readonly pending = new Set<string>();
  private readonly outcomeWaiters = new Map<string, Waiter<Outcome>[]>();
  private readonly initErrorWaiters: Waiter<InitError>[] = [];
  private readonly nextWaiters: { count: number; waiter: Waiter<number> }[] = [];
  private readonly maxResponseBytes: number;
  private readonly chunkedEvents: boolean;
  private readonly functionArn: string;

  private constructor(
    private readonly server: Server,
    options: RuntimeApiOptions,
  ) {
    this.maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.chunkedEvents = options.chunkedEvents ?? true;
    this.functionArn = options.functionArn ?? "arn:aws:lambda:eu-west-1:123456789012:function:r-test";
  }

  static async start(options: RuntimeApiOptions = {}): Promise<RuntimeApi> {
    const server = createServer();
    server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5000;
    // The runtime may hold `GET next` open for as long as it likes, and may send a large body
    // slowly: no request timeouts.
    server.requestTimeout = 0;
    server.headersTimeout = 0;
    const api = new RuntimeApi(server, options);
    server.on("connection", () => (api.connections += 1));
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      api.route(req, res).catch((error: unknown) => {
        api.protocolErrors.push(`${req.method} ${req.url}: emulator failure ${String(error)}`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return api;
  }

  /** `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`. */
  get address(): string {
    const { address, port } = this.server.address() as AddressInfo;
    return `${address}:${port}`;
  }

  /** Queues an event; returns its request id. A parked `GET next` gets it at once. */
  enqueue(spec: EventSpec): string {
    const requestId = spec.requestId ?? randomUUID();
    this.queue.push({ ...spec, requestId });
    this.pending.add(requestId);
    this.dispatch();
    return requestId;
  }

  /** Queues an event and waits for what the runtime posts for it. */
  async invoke(spec: EventSpec | string, timeoutMs = 30_000): Promise<Outcome> {
    const id = this.enqueue(typeof spec === "string" ? { body: spec } : spec);
    return this.outcome(id, timeoutMs);
  }

  /** Waits for the outcome of `requestId`. */
  outcome(requestId: string, timeoutMs = 30_000): Promise<Outcome> {
    const done = this.outcomes.get(requestId);
    if (done) return Promise.resolve(done);
    return withTimeout(
      new Promise<Outcome>((resolve, reject) => {
        const list = this.outcomeWaiters.get(requestId) ?? [];
        list.push({ resolve, reject });
        this.outcomeWaiters.set(requestId, list);
      }),
      timeoutMs,
      `no response or error for ${requestId} within ${timeoutMs} ms`,
    );
  }

  /** Waits for the first init error. */
  initError(timeoutMs = 30_000): Promise<InitError> {
    const first = this.initErrors[0];
    if (first) return Promise.resolve(first);
    return withTimeout(
      new Promise<InitError>((resolve, reject) => this.initErrorWaiters.push({ resolve, reject })),
      timeoutMs,
      `no init error within ${timeoutMs} ms`,
    );
  }

  /** Waits until `count` `GET next` requests have arrived; resolves with the arrival time of that one. */
  nextRequest(count = 1, timeoutMs = 30_000): Promise<number> {
    const at = this.nextRequestsAt[count - 1];
    if (at !== undefined) return Promise.resolve(at);
    return withTimeout(
      new Promise<number>((resolve, reject) => this.nextWaiters.push({ count, waiter: { resolve, reject } })),
      timeoutMs,
      `fewer than ${count} GET next within ${timeoutMs} ms`,
    );
  }

  /** Rejects everything callers are waiting for (e.g. when the runtime process has exited). */
  failWaiters(error: Error): void {
    for (const list of this.outcomeWaiters.values()) for (const w of list) w.reject(error);
    this.outcomeWaiters.clear();
    for (const w of this.initErrorWaiters.splice(0)) w.reject(error);
    for (const entry of this.nextWaiters.splice(0)) entry.waiter.reject(error);
  }

  /**
   * Forgets the runtime process served so far (it was killed, as Lambda does after a timeout):
   * its parked `GET next` is dropped and its unanswered requests can no longer be answered.
   */
  resetRuntime(): void {
    for (const res of this.parked.splice(0)) res.destroy();
    for (const id of this.pending) if (this.handedOut.some((h) => h.requestId === id)) this.pending.delete(id);
  }

  async close(): Promise<void> {
    for (const res of this.parked.splice(0)) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close").catch(() => undefined);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "";
    const method = req.method ?? "";
    if (method === "GET" && url === `${PREFIX}/runtime/invocation/next`) {
      this.nextRequestsAt.push(performance.now());
      for (const entry of this.nextWaiters.filter((w) => w.count <= this.nextRequestsAt.length)) {
        this.nextWaiters.splice(this.nextWaiters.indexOf(entry), 1);
        entry.waiter.resolve(this.nextRequestsAt[entry.count - 1] ?? 0);
      }
      this.parked.push(res);
      res.on("close", () => {
        const i = this.parked.indexOf(res);
        if (i >= 0) this.parked.splice(i, 1);
      });
      this.dispatch();
      return;
    }
    const body = await readBody(req);
    const at = performance.now();
    if (method === "POST" && url === `${PREFIX}/runtime/init/error`) {
      const record = { body, headers: req.headers, errorType: apiErrorType(req.headers["lambda-runtime-function-error-type"]), at };
      this.initErrors.push(record);
      for (const w of this.initErrorWaiters.splice(0)) w.resolve(record);
      reply(res, 202, { status: "OK" });
      return;
    }
    const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    if (method === "POST" && match) {
      const requestId = decodeURIComponent(match[1] ?? "");
      const kind = match[2] === "response" ? "response" : "error";
      if (!this.handedOut.some((h) => h.requestId === requestId)) {
        this.protocolErrors.push(`${method} ${url}: request id never handed out`);
        reply(res, 400, { errorMessage: "Invalid request ID", errorType: "InvalidRequestID" });
        return;
      }
      if (!this.pending.has(requestId)) {
        const previous = this.outcomes.get(requestId)?.kind ?? "none";
        this.protocolErrors.push(`${method} ${url}: the request already ended (${previous})`);
        reply(res, 403, {
          errorMessage: `Transition from ${previous === "refused" ? "ResponseSizeTooLarge" : "InvocationResponse"} to ${kind === "response" ? "InvocationResponse" : "InvocationErrorResponse"} is not allowed`,
          errorType: "InvalidStateTransition",
        });
        return;
      }
      this.pending.delete(requestId);
      let outcome: Outcome;
      if (kind === "response" && body.length > this.maxResponseBytes) {
        this.refusedResponses.push(requestId);
        outcome = { kind: "refused", errorType: "Function.ResponseSizeTooLarge", requestId, body, headers: req.headers, at };
        reply(res, 413, {
          errorMessage: `Exceeded maximum allowed payload size (${this.maxResponseBytes} bytes).`,
          errorType: "RequestEntityTooLarge",
        });
      } else {
        outcome =
          kind === "response"
            ? { kind, requestId, body, headers: req.headers, at }
            : { kind, errorType: apiErrorType(req.headers["lambda-runtime-function-error-type"]), requestId, body, headers: req.headers, at };
        reply(res, 202, { status: "OK" });
      }
      this.outcomes.set(requestId, outcome);
      for (const w of this.outcomeWaiters.get(requestId) ?? []) w.resolve(outcome);
      this.outcomeWaiters.delete(requestId);
      return;
    }
    this.protocolErrors.push(`${method} ${url}: not part of the Runtime API`);
    reply(res, 404, { errorMessage: "Not found", errorType: "NotFound" });
  }

  /** Pairs parked `GET next` requests with queued events. */
  private dispatch(): void {
    while (this.parked.length > 0 && this.queue.length > 0) {
      const res = this.parked.shift();
      const spec = this.queue.shift();
      if (!res || !spec) return;
      const requestId = spec.requestId;
      const body = typeof spec.body === "string" ? Buffer.from(spec.body, "utf8") : spec.body;
      const headers: Record<string, string> = {
        "Content-Type": "application/json",
        "Lambda-Runtime-Aws-Request-Id": requestId,
        "Lambda-Runtime-Deadline-Ms": String(spec.deadlineMs ?? Date.now() + (spec.timeoutMs ?? 30_000)),
        "Lambda-Runtime-Invoked-Function-Arn": spec.functionArn ?? this.functionArn,
      };
      if (!this.chunkedEvents) headers["Content-Length"] = String(body.length);
      if (spec.traceId !== null) {
        headers["Lambda-Runtime-Trace-Id"] =
          spec.traceId ?? `Root=1-${Date.now().toString(16)}-${randomUUID().replace(/-/g, "").slice(0, 24)};Sampled=0`;
      }
      if (spec.clientContext !== undefined) headers["Lambda-Runtime-Client-Context"] = spec.clientContext;
      if (spec.cognitoIdentity !== undefined) headers["Lambda-Runtime-Cognito-Identity"] = spec.cognitoIdentity;
      // Without a Content-Length, node sends the body with `Transfer-Encoding: chunked`, one
      // chunk per write.
      res.writeHead(200, headers);
      if (this.chunkedEvents) {
        for (let offset = 0; offset < body.length; offset += EVENT_CHUNK_BYTES) {
          res.write(body.subarray(offset, offset + EVENT_CHUNK_BYTES));
        }
        res.end();
      } else {
        res.end(body);
      }
      this.handedOut.push({ requestId, at: performance.now(), headers });
    }
  }
}

/** Parses an error body; throws with the raw text when it is not the expected document. */
export function errorDocument(body: Buffer): ErrorDocument {
  const parsed = JSON.parse(body.toString("utf8")) as unknown;
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    typeof (parsed as ErrorDocument).errorMessage !== "string" ||
    typeof (parsed as ErrorDocument).errorType !== "string" ||
    !Array.isArray((parsed as ErrorDocument).stackTrace) ||
    !(parsed as ErrorDocument).stackTrace.every((line) => typeof line === "string")
  ) {
    throw new Error(`not an error document: ${body.toString("utf8").slice(0, 500)}`);
  }
  return parsed as ErrorDocument;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.once("end", () => resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks)));
    req.once("error", reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
