/**
 * `npx tsx bench/run.ts runtime`: start-up and per-invocation figures of the R runtime
 * (runtime/bootstrap), side by side with a bare Rscript measured in the same run.
 *
 * - Start-up: process start -> first `GET next`, against bare `Rscript -e 'cat(1)'`
 *   (process start -> first byte on stdout), each with the default packages and with only
 *   base attached (`R_DEFAULT_PACKAGES=NULL`); median and minimum of several interleaved runs.
 *   A bare Rscript that opens one socket shows what R's socket module alone costs.
 * - Overhead: 500 sequential trivial invocations; from the emulator handing out an event to
 *   the runtime asking for the next one (the billed span), median / p95 / max, and the R
 *   process's CPU time per invocation (less sensitive to a busy machine).
 * - First invocations: in fresh processes, the 1st, 2nd and 3rd invocation against a warm one
 *   (the median of invocations 11-30), for a trivial handler and a bigger one (a few R functions
 *   with loops, the kind R's JIT compiles); median over several processes.
 * - Large payloads: 5 MB in / 5 MB out (one string; an array of 500k numbers; 110k records
 *   echoed; 110k data frame rows made by the handler), time from handing out to the
 *   response, and the R process's peak RSS (VmHWM).
 *
 * It measures and prints; it never fails on a figure.
 */
import { spawn } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { RuntimeApiEmulator } from "../test/support/runtime/emulator.ts";
import { startRuntime, writeTaskRoot } from "../test/support/runtime/process.ts";
import type { RuntimeProcess } from "../test/support/runtime/process.ts";

const STARTS = 11;
const INVOCATIONS = 500;
const FRESH = 9;

export const SCRIPT = `
echo <- function(...) list(...)
trivial <- function(x) x
text <- function(s) s
numbers <- function(v) v * 2
records <- function(rows) rows
frame <- function(n) data.frame(id = seq_len(n), name = paste0("name-", seq_len(n)), score = seq_len(n) / 7)
summarise <- function(values) {
  total <- 0
  for (v in values) total <- total + v
  s <- 0
  for (v in values) s <- s + (v - total / length(values))^2
  list(n = length(values), mean = total / length(values), sd = sqrt(s / max(1, length(values) - 1)))
}
bucket <- function(values, width) {
  out <- integer(0)
  for (v in values) {
    key <- as.character(floor(v / width))
    out[key] <- if (is.na(out[key])) 1L else out[key] + 1L
  }
  out
}
clean <- function(values) {
  kept <- numeric(0)
  i <- 0L
  while (i < length(values)) {
    i <- i + 1L
    v <- values[[i]]
    if (is.finite(v) && v >= 0) kept <- c(kept, v)
  }
  kept
}
bigger <- function(values, width = 10) {
  v <- clean(values)
  list(summary = summarise(v), buckets = as.list(bucket(v, width)))
}
`;

export default async function (): Promise<void> {
  const root = await writeTaskRoot({ "bench.R": SCRIPT });
  try {
    console.log(`R: ${await rVersion()}`);
    await startup(root);
    await overhead(root);
    await firstInvocations(root);
    await large(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function startup(root: string): Promise<void> {
  const base = { R_DEFAULT_PACKAGES: "NULL" };
  const socket = "try(close(socketConnection('127.0.0.1', 9, timeout = 1)), silent = TRUE); ";
  const rows: [string, () => Promise<number>][] = [
    ["bare Rscript, default packages", () => bareRscript({}, "cat(1)")],
    ["runtime,      default packages", () => runtimeStart(root, {})],
    ["bare Rscript, base only (R_DEFAULT_PACKAGES=NULL)", () => bareRscript(base, "cat(1)")],
    ["runtime,      base only (R_DEFAULT_PACKAGES=NULL)", () => runtimeStart(root, base)],
    ["bare Rscript, base only, + first socketConnection()", () => bareRscript(base, `${socket}cat(1)`)],
  ];
  const values: number[][] = rows.map(() => []);
  for (let i = 0; i < STARTS; i++) {
    for (const [k, row] of rows.entries()) values[k]?.push(await row[1]());
  }
  console.log(`\nstart-up (process start -> first GET next; bare: -> first output), ${STARTS} interleaved runs each`);
  for (const [k, [label]] of rows.entries()) {
    const v = values[k] ?? [];
    console.log(`  ${label.padEnd(52)} median ${ms(median(v))}  min ${ms(Math.min(...v))}`);
  }
  const diff = (a: number, b: number, f: (v: number[]) => number) => f(values[a] ?? []) - f(values[b] ?? []);
  const min = (v: number[]) => Math.min(...v);
  console.log(
    `  runtime - bare Rscript: default packages ${ms(diff(1, 0, median))} (min ${ms(diff(1, 0, min))}), ` +
      `base only ${ms(diff(3, 2, median))} (min ${ms(diff(3, 2, min))})`,
  );
}

async function overhead(root: string): Promise<void> {
  const emulator = await RuntimeApiEmulator.start();
  const runtime = startRuntime({ api: emulator.address, handler: "bench.trivial", taskRoot: root });
  try {
    await emulator.nextRequest(1);
    const cpuBefore = await cpuMs(runtime);
    for (let i = 0; i < INVOCATIONS; i++) await emulator.invoke('{"x": 1}');
    await emulator.nextRequest(INVOCATIONS + 1);
    const cpu = ((await cpuMs(runtime)) - cpuBefore) / INVOCATIONS;
    const spans = emulator.handedOut.map((event, i) => (emulator.nextRequestsAt[i + 1] ?? NaN) - event.at);
    const sorted = [...spans].sort((a, b) => a - b);
    console.log(`\nper-invocation overhead (event handed out -> next GET next), ${INVOCATIONS} trivial invocations`);
    console.log(
      `  median ${ms(median(sorted))}  p95 ${ms(quantile(sorted, 0.95))}  max ${ms(sorted.at(-1) ?? NaN)}  ` +
        `first ${ms(spans[0] ?? NaN)}  (R process CPU ${ms(cpu)} per invocation)`,
    );
  } finally {
    await runtime.stop();
    await emulator.close();
  }
}

export async function firstInvocations(root: string): Promise<void> {
  const cases: [string, string, string][] = [
    ["trivial handler", "bench.trivial", '{"x": 1}'],
    ["bigger handler (loops, 4 functions)", "bench.bigger", JSON.stringify({ values: Array.from({ length: 50 }, (_, i) => (i * 7) % 43) })],
  ];
  console.log(`\nfirst invocations of a fresh process (event handed out -> next GET next), median of ${FRESH} processes`);
  for (const [label, handler, body] of cases) {
    const firsts: number[][] = [[], [], []];
    const warm: number[] = [];
    for (let p = 0; p < FRESH; p++) {
      const emulator = await RuntimeApiEmulator.start();
      const runtime = startRuntime({ api: emulator.address, handler, taskRoot: root, env: { R_DEFAULT_PACKAGES: "NULL" } });
      try {
        await emulator.nextRequest(1);
        for (let i = 0; i < 30; i++) {
          const outcome = await emulator.invoke(body);
          if (outcome.kind !== "response") throw new Error(`${handler}: ${outcome.kind} ${outcome.body.toString()}`);
        }
        await emulator.nextRequest(31);
        const spans = emulator.handedOut.map((event, i) => (emulator.nextRequestsAt[i + 1] ?? NaN) - event.at);
        for (let k = 0; k < 3; k++) firsts[k]?.push(spans[k] ?? NaN);
        warm.push(median(spans.slice(10)));
      } finally {
        await runtime.stop();
        await emulator.close();
      }
    }
    const w = median(warm);
    const cell = (v: number[]) => `${ms(median(v))} (+${ms(median(v) - w)})`;
    console.log(
      `  ${label.padEnd(36)} 1st ${cell(firsts[0] ?? [])}  2nd ${cell(firsts[1] ?? [])}  3rd ${cell(firsts[2] ?? [])}  warm ${ms(w)}`,
    );
  }
}

async function large(root: string): Promise<void> {
  const size = 5 * 1024 * 1024;
  const text = "abcdefghij\u00e9\"\\\n".repeat(Math.ceil(size / 15)).slice(0, size - 20);
  const numbers = Array.from({ length: 500_000 }, (_, i) => Math.round(Math.sin(i) * 1e6) / 1e3);
  const rows = Array.from({ length: 110_000 }, (_, i) => ({ id: i, name: `name-${i}`, score: i / 7 }));
  const cases: [string, string, string][] = [
    ["one 5 MB string", "bench.text", JSON.stringify({ s: text })],
    ["500k numbers", "bench.numbers", JSON.stringify({ v: numbers })],
    ["records in, records out", "bench.records", JSON.stringify({ rows })],
    ["a data frame out", "bench.frame", JSON.stringify({ n: rows.length })],
  ];
  console.log("\nlarge payloads (event handed out -> response received; peak RSS of the R process)");
  for (const [label, handler, body] of cases) {
    const emulator = await RuntimeApiEmulator.start({ maxResponseBytes: 64 * 1024 * 1024 });
    const runtime = startRuntime({ api: emulator.address, handler, taskRoot: root });
    try {
      await emulator.nextRequest(1);
      const before = await peakRss(runtime);
      const id = emulator.enqueue({ body });
      const outcome = await emulator.outcome(id, 120_000);
      const handed = emulator.handedOut.find((h) => h.requestId === id)?.at ?? NaN;
      const after = await peakRss(runtime);
      console.log(
        `  ${label.padEnd(24)} in ${mb(Buffer.byteLength(body))}  out ${mb(outcome.body.length)} (${outcome.kind})  ` +
          `${ms(outcome.at - handed)}  peak RSS ${mb(after)} (idle ${mb(before)})`,
      );
    } finally {
      await runtime.stop();
      await emulator.close();
    }
  }
}

async function runtimeStart(root: string, env: Record<string, string>): Promise<number> {
  const emulator = await RuntimeApiEmulator.start();
  const runtime = startRuntime({ api: emulator.address, handler: "bench.trivial", taskRoot: root, env });
  try {
    return (await emulator.nextRequest(1)) - runtime.startedAt;
  } finally {
    await runtime.stop();
    await emulator.close();
  }
}

function bareRscript(env: Record<string, string>, code: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const startedAt = performance.now();
    const child = spawn("Rscript", ["-e", code], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "ignore"] });
    let first = NaN;
    child.stdout.once("data", () => (first = performance.now() - startedAt));
    child.once("error", reject);
    child.once("close", () => resolve(first));
  });
}

function rVersion(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("Rscript", ["-e", "cat(R.version.string)"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.once("error", reject);
    child.once("close", () => resolve(out.trim()));
  });
}

/** User + system CPU time of the R process so far, in ms (clock ticks of 10 ms). */
async function cpuMs(runtime: RuntimeProcess): Promise<number> {
  const fields = (await readFile(`/proc/${runtime.pid}/stat`, "utf8")).split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function peakRss(runtime: RuntimeProcess): Promise<number> {
  const status = await readFile(`/proc/${runtime.pid}/status`, "utf8");
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  return kb === undefined ? NaN : Number(kb) * 1024;
}

function median(values: number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? NaN;
}

function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 2 : 0)} ms`;
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
