/**
 * `npm run invoke -- FILE.R:FUNCTION [--event JSON|FILE|-] [options]`: runs an R handler the way
 * Lambda will, on this machine: `runtime/bootstrap` (or the one in the built runtime layer)
 * against the embedded Runtime API, with Lambda's environment, timeout and memory limit. The
 * response goes to stdout as pretty JSON; the function's logs and Lambda's START / END / REPORT
 * lines go to stderr. A failed invocation is a `FUNCTION_FAILED` error (the exit status is
 * decided in cli/run.ts).
 */
import { parseStrict } from "../util/parse-args.ts";
import { watch } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { PipelineError, UsageError } from "../errors.ts";
import { loadManifest } from "../manifest/load.ts";
import { defaultStateDir } from "../cli/backend.ts";
import { TOOL_ROOT } from "../keys/sources.ts";
import { dockerArgv, RIE_INVOKE_PATH } from "./docker.ts";
import { LocalInstance, verdictErrorType } from "./instance.ts";
import type { FunctionConfig, InvocationReport } from "./instance.ts";
import { hostArch, hostSetup, prepareLayers } from "./layers.ts";
import type { RuntimeSetup } from "./layers.ts";
import { endLine, reportLine, startLine } from "./report.ts";
import { startProcess } from "../runner/process.ts";

export const INVOKE_USAGE = `usage: npm run invoke -- FILE.R:FUNCTION [options]

Runs an R handler the way Lambda will: the runtime's bootstrap against a local Runtime API.

  --event JSON|FILE|-     the event: JSON text, a file, or - for stdin (default: stdin when
                          it is not a terminal, else {})
  --layer NAME            a layer of the manifest (repeatable), taken from the local state's
                          built artifacts; the host's R when it is not built
  --r VERSION             the layers' R version (default: the manifest's first)
  --manifest FILE         default layers.yaml
  --state DIR             the local state folder (default .layers beside the manifest)
  --repeat N              N invocations in the same warm process (default 1)
  --timeout SECONDS       the function's timeout (default 3, as Lambda's)
  --memory MB             the function's memory size (default 128, as Lambda's); a process
                          above it is killed, as on Lambda
  --env NAME=VALUE        an environment variable (repeatable)
  --env-file FILE         NAME=VALUE lines (# comments)
  --name NAME             the function's name (default: the handler's folder)
  --watch                 run again whenever a file under the handler's folder changes
  --docker                run in the Lambda base image (${"public.ecr.aws/lambda/provided:al2023"}) with Docker
                          (needs built layers, with the runtime layer)
  -h, --help`;

export interface InvokeOptions {
  readonly file: string;
  readonly functionName: string;
  readonly event: { readonly kind: "text"; readonly text: string } | { readonly kind: "file"; readonly path: string } | { readonly kind: "stdin" } | { readonly kind: "none" };
  readonly layers: readonly string[];
  readonly rVersion?: string;
  readonly manifest: string;
  readonly state: string;
  readonly repeat: number;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly env: Readonly<Record<string, string>>;
  readonly envFiles: readonly string[];
  readonly name?: string;
  readonly watch: boolean;
  readonly docker: boolean;
  readonly help: boolean;
}

export interface InvokeIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  stdinIsTty: boolean;
}

function positiveNumber(flag: string, value: string | undefined, fallback: number, whole = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (whole && !Number.isInteger(n))) {
    throw new UsageError(`${flag} must be a positive ${whole ? "whole " : ""}number, not "${value}"`);
  }
  return n;
}

function envPair(text: string, where: string): [string, string] {
  const eq = text.indexOf("=");
  const name = eq > 0 ? text.slice(0, eq) : "";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`${where}: expected NAME=VALUE, not "${text}"`);
  return [name, text.slice(eq + 1)];
}

export function parseInvokeArgs(argv: readonly string[]): InvokeOptions {
  const parsed = parseStrict(
    argv,
    INVOKE_USAGE,
    {
      event: { type: "string" },
      layer: { type: "string", multiple: true },
      r: { type: "string" },
      manifest: { type: "string" },
      state: { type: "string" },
      repeat: { type: "string" },
      timeout: { type: "string" },
      memory: { type: "string" },
      env: { type: "string", multiple: true },
      "env-file": { type: "string", multiple: true },
      name: { type: "string" },
      watch: { type: "boolean" },
      docker: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    true,
  );
  const { values, positionals } = parsed;
  const help = values.help === true;
  if (help) return { ...defaults(), help: true };
  if (positionals.length !== 1) throw new UsageError(`expected one handler, FILE.R:FUNCTION\n\n${INVOKE_USAGE}`);
  const spec = positionals[0] ?? "";
  const colon = spec.lastIndexOf(":");
  const file = colon > 0 ? spec.slice(0, colon) : "";
  const functionName = colon > 0 ? spec.slice(colon + 1) : "";
  if (!file.endsWith(".R") || !/^[A-Za-z.][A-Za-z0-9._]*$/.test(functionName)) {
    throw new UsageError(`the handler must be FILE.R:FUNCTION (e.g. fn/handler.R:main), not "${spec}"`);
  }
  if (values.r !== undefined && (values.layer ?? []).length === 0) throw new UsageError("--r applies to --layer");
  const event: InvokeOptions["event"] =
    values.event === undefined ? { kind: "none" } : values.event === "-" ? { kind: "stdin" } : looksLikeJson(values.event) ? { kind: "text", text: values.event } : { kind: "file", path: values.event };
  const manifest = values.manifest ?? "layers.yaml";
  return {
    file,
    functionName,
    event,
    layers: values.layer ?? [],
    ...(values.r !== undefined ? { rVersion: values.r } : {}),
    manifest,
    state: values.state ?? defaultStateDir(manifest),
    repeat: positiveNumber("--repeat", values.repeat, 1, true),
    timeoutSeconds: positiveNumber("--timeout", values.timeout, 3),
    memoryMb: positiveNumber("--memory", values.memory, 128, true),
    env: Object.fromEntries((values.env ?? []).map((pair) => envPair(pair, "--env"))),
    envFiles: values["env-file"] ?? [],
    ...(values.name !== undefined ? { name: values.name } : {}),
    watch: values.watch === true,
    docker: values.docker === true,
    help: false,
  };
}

function defaults(): InvokeOptions {
  return { file: "", functionName: "", event: { kind: "none" }, layers: [], manifest: "layers.yaml", state: ".layers", repeat: 1, timeoutSeconds: 3, memoryMb: 128, env: {}, envFiles: [], watch: false, docker: false, help: false };
}

/** JSON text rather than a file name: starts like a JSON value. */
function looksLikeJson(text: string): boolean {
  return /^\s*([{["\d-]|true\b|false\b|null\b)/.test(text);
}

/** NAME=VALUE lines; blank lines and `#` comments are skipped; quotes around a value are removed. */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const [name, value] = envPair(line.replace(/^export\s+/, ""), `${file}:${i + 1}`);
    out[name] = /^(["']).*\1$/.test(value) ? value.slice(1, -1) : value;
  }
  return out;
}

async function readEvent(options: InvokeOptions, io: InvokeIo): Promise<string> {
  const event = options.event;
  switch (event.kind) {
    case "text":
      return event.text;
    case "file":
      try {
        return await readFile(event.path, "utf8");
      } catch (error) {
        throw new UsageError(`--event ${event.path}: not JSON, and cannot read it as a file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
    case "stdin":
      return io.readStdin();
    case "none":
      return io.stdinIsTty ? "{}" : io.readStdin();
  }
}

function pretty(body: Buffer): string {
  const text = body.toString("utf8");
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/** Runs the command; resolves with 0 when every invocation succeeded, throws otherwise. */
export async function invokeCommand(options: InvokeOptions, io: InvokeIo): Promise<number> {
  if (options.help) {
    io.stdout(`${INVOKE_USAGE}\n`);
    return 0;
  }
  const file = resolve(options.file);
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new UsageError(`${options.file}: no such file`);
  const taskRoot = dirname(file);
  const env: Record<string, string> = {};
  for (const envFile of options.envFiles) {
    const text = await readFile(envFile, "utf8").catch((error: unknown) => {
      throw new UsageError(`--env-file ${envFile}: ${(error as Error).message}`);
    });
    Object.assign(env, parseEnvFile(text, envFile));
  }
  Object.assign(env, options.env);
  const event = await readEvent(options, io);

  const tmp = await mkdtemp(join(tmpdir(), "r-invoke-"));
  let instance: LocalInstance | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    instance?.killNow();
    rmSync(tmp, { recursive: true, force: true });
    // Let the default action end the process, as if we had not been listening.
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const repoBootstrap = join(TOOL_ROOT, "runtime", "bootstrap");
    let setup: RuntimeSetup;
    if (options.layers.length > 0) {
      const manifest = await loadManifest(options.manifest);
      const rVersion = options.rVersion ?? manifest.rVersions[0] ?? "";
      setup = await prepareLayers(manifest, options.state, { layers: options.layers, rVersion, arch: hostArch() }, tmp, repoBootstrap);
    } else {
      setup = hostSetup(tmp, repoBootstrap);
    }
    if (setup.note) io.stderr(`${setup.note}\n`);
    if (setup.layers.length > 0) io.stderr(`layers: ${setup.layers.join(", ")} (unzipped into ${setup.opt})\n`);
    const functionTmp = join(tmp, "tmp");
    await mkdir(functionTmp);
    const config: FunctionConfig = {
      taskRoot,
      handler: `${basename(file, ".R")}.${options.functionName}`,
      functionName: options.name ?? (basename(taskRoot) || "function"),
      memoryMb: options.memoryMb,
      timeoutSeconds: options.timeoutSeconds,
      env,
      bootstrap: setup.bootstrap,
      runtimeEnv: setup.env,
      tmpDir: functionTmp,
      region: process.env.AWS_REGION ?? "us-east-1",
    };
    if (options.docker) return await runInDocker(config, setup, event, io);

    const runAll = async (): Promise<string[]> => {
      instance = new LocalInstance(config, io.stderr);
      const failures: string[] = [];
      try {
        for (let i = 0; i < options.repeat; i++) {
          const report = await invokeOnce(instance, event, io);
          const type = verdictErrorType(report.verdict);
          if (type !== undefined) failures.push(type);
          if (report.verdict.kind === "init-error") break;
        }
      } finally {
        await instance.stop();
      }
      return failures;
    };
    let failures = await runAll();
    if (options.watch) {
      failures = await watchAndRun(taskRoot, runAll, io);
    }
    if (failures.length > 0) {
      const kinds = [...new Set(failures)].join(", ");
      throw new PipelineError("FUNCTION_FAILED", `the function failed (${kinds}) in ${failures.length} of ${options.repeat} invocation${options.repeat === 1 ? "" : "s"}`);
    }
    return 0;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    await instance?.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

async function invokeOnce(instance: LocalInstance, event: string, io: InvokeIo): Promise<InvocationReport> {
  // The request id is known only once the event is queued: START is written with the report.
  const report = await instance.invoke(event, (requestId) => io.stderr(`${startLine(requestId)}\n`));
  if (report.verdict.kind === "timeout" || report.verdict.kind === "out-of-memory" || report.verdict.kind === "exited") {
    const message = JSON.parse(report.verdict.body.toString("utf8")) as { errorMessage: string };
    io.stderr(`${new Date().toISOString()} ${report.requestId} ${message.errorMessage}\n`);
  }
  io.stderr(`${endLine(report.requestId)}\n${reportLine(report)}\n`);
  io.stdout(`${pretty(report.verdict.body)}\n`);
  return report;
}

/** Runs `runAll` again on every change under `root` (debounced) until a signal ends the process. */
function watchAndRun(root: string, runAll: () => Promise<string[]>, io: InvokeIo): Promise<string[]> {
  return new Promise((_resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let running = Promise.resolve();
    io.stderr(`watching ${root} for changes (Ctrl-C to stop)\n`);
    const watcher = watch(root, { recursive: true }, () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        running = running.then(async () => {
          io.stderr(`\nchanged: running again\n`);
          await runAll();
        }).catch((error: unknown) => {
          watcher.close();
          reject(error instanceof Error ? error : new Error(String(error)));
        });
      }, 200);
    });
  });
}

async function runInDocker(config: FunctionConfig, setup: RuntimeSetup, event: string, io: InvokeIo): Promise<number> {
  if (!setup.opt || !setup.layers.length || setup.bootstrap !== join(setup.opt, "bootstrap")) {
    throw new UsageError("--docker needs built layers including the runtime layer (--layer runtime ...): the Lambda image has no R");
  }
  const port = 9000 + Math.floor(Math.random() * 900);
  const argv = dockerArgv({ ...config, opt: setup.opt, port, arch: hostArch(), env: config.env });
  io.stderr(`docker ${argv.join(" ")}\n`);
  const child = startProcess("docker", argv, { stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise<number | null>((resolvePromise) => {
    child.once("error", (error) => {
      io.stderr(`cannot start docker: ${error.message}\n`);
      resolvePromise(null);
    });
    child.once("close", (code) => resolvePromise(code));
  });
  try {
    const until = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || Date.now() > until) {
        throw new PipelineError("BACKEND_UNAVAILABLE", `docker did not start the Lambda image (exit ${String(await Promise.race([exited, Promise.resolve("still running")]))})`);
      }
      try {
        const response = await fetch(`http://127.0.0.1:${port}${RIE_INVOKE_PATH}`, { method: "POST", body: event });
        const body = Buffer.from(await response.arrayBuffer());
        io.stdout(`${pretty(body)}\n`);
        if (response.headers.get("x-amz-function-error")) throw new PipelineError("FUNCTION_FAILED", "the function failed in the Lambda image");
        return 0;
      } catch (error) {
        if (error instanceof PipelineError) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
}
