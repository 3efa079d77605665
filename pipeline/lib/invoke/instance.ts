/**
 * One Lambda execution environment on this machine: the embedded Runtime API and the
 * runtime's `bootstrap` started against it with the environment Lambda gives a function. It
 * hands events out one at a time and reports each invocation the way Lambda does: the
 * outcome, the billed span, the init duration and the process's peak memory, with Lambda's
 * own verdicts for a timeout (the process is killed), memory over the limit (killed) or a
 * process that exits.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { errorDocument, MAX_RESPONSE_BYTES, RuntimeApi } from "./runtime-api.ts";
import type { Outcome } from "./runtime-api.ts";
import { startProcess } from "../runner/process.ts";
import type { ChildProcess } from "../runner/process.ts";

export interface FunctionConfig {
  /** The folder holding the handler's file, `LAMBDA_TASK_ROOT`. */
  readonly taskRoot: string;
  /** `_HANDLER`, `file.function`. */
  readonly handler: string;
  readonly functionName: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** The function's own environment variables (`--env`, `--env-file`). */
  readonly env: Readonly<Record<string, string>>;
  /** The runtime's `bootstrap`. */
  readonly bootstrap: string;
  /** Environment the layers imply (`LAMBDA_R_PREFIX`, `RHOME`...). */
  readonly runtimeEnv: Readonly<Record<string, string>>;
  /** A private folder for the function's `/tmp` (`TMPDIR`) and `HOME`. */
  readonly tmpDir: string;
  readonly region: string;
}

/** What Lambda would say about one invocation. */
export type Verdict =
  | { readonly kind: "response"; readonly body: Buffer }
  | { readonly kind: "error"; readonly errorType: string; readonly body: Buffer }
  | { readonly kind: "init-error"; readonly errorType: string; readonly body: Buffer }
  | { readonly kind: "timeout"; readonly body: Buffer }
  | { readonly kind: "out-of-memory"; readonly body: Buffer }
  | { readonly kind: "exited"; readonly body: Buffer };

export interface InvocationReport {
  readonly requestId: string;
  readonly verdict: Verdict;
  readonly durationMs: number;
  readonly memorySizeMb: number;
  /** Peak resident memory of the runtime process, when it can be read (Linux). */
  readonly maxMemoryUsedMb?: number;
  /** Present on the first invocation of an environment (a cold start). */
  readonly initDurationMs?: number;
}

/** The environment Lambda gives a function's runtime process (see the Runtime API notes). */
export function lambdaEnvironment(config: FunctionConfig, api: string, hostPath: string): Record<string, string> {
  return {
    PATH: hostPath,
    LANG: "C.UTF-8",
    TZ: ":UTC",
    HOME: config.tmpDir,
    TMPDIR: config.tmpDir,
    _HANDLER: config.handler,
    LAMBDA_TASK_ROOT: config.taskRoot,
    AWS_LAMBDA_RUNTIME_API: api,
    AWS_LAMBDA_FUNCTION_NAME: config.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${config.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: "local/[$LATEST]0000000000000000",
    AWS_REGION: config.region,
    AWS_DEFAULT_REGION: config.region,
    ...config.runtimeEnv,
    ...config.env,
  };
}

const POLL_MS = 50;

/** A running execution environment; `invoke` starts (or restarts) the process as needed. */
export class LocalInstance {
  private api: RuntimeApi | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private startedAt = 0;

  constructor(
    private readonly config: FunctionConfig,
    /** Where the function's stdout and stderr go (Lambda: CloudWatch Logs). */
    private readonly log: (text: string) => void,
    private readonly hostPath: string = process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
  ) {}

  private async start(): Promise<RuntimeApi> {
    const api = await RuntimeApi.start({
      functionArn: `arn:aws:lambda:${this.config.region}:000000000000:function:${this.config.functionName}`,
    });
    this.startedAt = performance.now();
    const child = startProcess(this.config.bootstrap, [], {
      cwd: this.config.taskRoot,
      env: lambdaEnvironment(this.config, api.address, this.hostPath),
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (chunk: Buffer) => this.log(chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => this.log(chunk.toString("utf8")));
    this.exited = new Promise((resolve) => {
      child.once("error", (error) => {
        this.log(`cannot start ${this.config.bootstrap}: ${error.message}\n`);
        resolve();
      });
      child.once("close", () => resolve());
    });
    void this.exited.then(() => api.failWaiters(new Error("the runtime process exited")));
    this.api = api;
    this.child = child;
    return api;
  }

  /** Runs one event; restarts the environment first if the last one was killed or exited. */
  async invoke(event: string, onStart: (requestId: string) => void = () => undefined): Promise<InvocationReport> {
    const requestId = randomUUID();
    onStart(requestId);
    let initDurationMs: number | undefined;
    let api = this.api;
    if (!api) {
      api = await this.start();
      // Init runs before the invocation, as on Lambda: the deadline counts from the event.
      const started = this.startedAt;
      const first = await Promise.race([
        api.nextRequest(1, 10_000).catch(() => undefined),
        api.initError(10_000).then((e) => e.at, () => undefined),
        this.exited?.then(() => undefined),
      ]);
      if (first !== undefined) initDurationMs = first - started;
    }
    const child = this.child;
    const deadline = Date.now() + this.config.timeoutSeconds * 1000;
    api.enqueue({ body: event, deadlineMs: deadline, requestId });
    const limitBytes = this.config.memoryMb * 1024 * 1024;
    let outOfMemory = false;
    const poll = setInterval(() => {
      void residentBytes(child?.pid).then((rss) => {
        if (rss !== undefined && rss > limitBytes && !outOfMemory) {
          outOfMemory = true;
          child?.kill("SIGKILL");
        }
      });
    }, POLL_MS);
    const remaining = Math.max(0, deadline - Date.now());
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), remaining)));
    const initError = api.initError(remaining + 1000).catch(() => undefined);
    const settled = await Promise.race([
      api.outcome(requestId, remaining + 1000).catch(() => undefined),
      timedOut,
      initError.then((e) => (e ? ({ init: e } as const) : undefined)),
      this.exited?.then(() => "exited" as const),
    ]);
    clearTimeout(timer);
    clearInterval(poll);
    const handedAt = api.handedOut.find((h) => h.requestId === requestId)?.at ?? performance.now();
    const maxMemoryUsedMb = await peakMb(child?.pid);
    let verdict: Verdict;
    let end = performance.now();
    if (settled === "timeout") {
      verdict = failure("timeout", "Sandbox.Timedout", `Task timed out after ${this.config.timeoutSeconds.toFixed(2)} seconds`);
      await this.stop();
    } else if (outOfMemory) {
      verdict = failure("out-of-memory", "Runtime.OutOfMemory", `Runtime exited with error: signal: killed (memory over ${this.config.memoryMb} MB)`);
      await this.stop();
    } else if (settled === undefined || settled === "exited") {
      verdict = failure("exited", "Runtime.ExitError", `Runtime exited${exitText(child)} before answering`);
      await this.stop();
    } else if ("init" in settled) {
      verdict = { kind: "init-error", errorType: settled.init.errorType, body: settled.init.body };
      end = settled.init.at;
      await this.stop();
    } else {
      verdict = fromOutcome(settled);
      // Billed until the runtime asks for the next event, as on Lambda.
      const next = await api.nextRequest(api.handedOut.length + 1, 1000).catch(() => undefined);
      end = next ?? settled.at;
    }
    return {
      requestId,
      verdict,
      durationMs: Math.max(0, end - handedAt),
      memorySizeMb: this.config.memoryMb,
      ...(maxMemoryUsedMb !== undefined ? { maxMemoryUsedMb } : {}),
      ...(initDurationMs !== undefined ? { initDurationMs } : {}),
    };
  }

  /** Kills the process at once (for a signal handler, which cannot wait). */
  killNow(): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  /** Ends the process (SIGKILL, as Lambda does) and the Runtime API. */
  async stop(): Promise<void> {
    const child = this.child;
    const api = this.api;
    this.child = undefined;
    this.api = undefined;
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await this.exited;
    await api?.close();
  }
}

function fromOutcome(outcome: Outcome): Verdict {
  switch (outcome.kind) {
    case "response":
      return { kind: "response", body: outcome.body };
    case "error":
      return { kind: "error", errorType: outcome.errorType, body: outcome.body };
    case "refused":
      return {
        kind: "error",
        errorType: outcome.errorType,
        body: errorBody(outcome.errorType, `Response payload size (${outcome.body.length} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`),
      };
  }
}

function errorBody(errorType: string, message: string): Buffer {
  return Buffer.from(JSON.stringify({ errorMessage: message, errorType, stackTrace: [] }));
}

function failure(kind: "timeout" | "out-of-memory" | "exited", errorType: string, message: string): Verdict {
  return { kind, body: errorBody(errorType, message) };
}

function exitText(child: ChildProcess | undefined): string {
  if (!child) return "";
  if (child.signalCode) return ` (signal ${child.signalCode})`;
  if (child.exitCode !== null) return ` with status ${child.exitCode}`;
  return "";
}

/** The error type of a failed invocation, for the summary line. */
export function verdictErrorType(verdict: Verdict): string | undefined {
  switch (verdict.kind) {
    case "response":
      return undefined;
    case "error":
    case "init-error":
      return verdict.errorType;
    default: {
      try {
        return errorDocument(verdict.body).errorType;
      } catch {
        return "Runtime.Unknown";
      }
    }
  }
}

async function statusField(pid: number | undefined, field: string): Promise<number | undefined> {
  if (pid === undefined || process.platform !== "linux") return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    // The process has exited: nothing to read, which is not an error here.
    return undefined;
  }
}

function residentBytes(pid: number | undefined): Promise<number | undefined> {
  return statusField(pid, "VmRSS");
}

async function peakMb(pid: number | undefined): Promise<number | undefined> {
  const bytes = await statusField(pid, "VmHWM");
  return bytes === undefined ? undefined : Math.ceil(bytes / 1024 / 1024);
}
