/**
 * `npm run invoke` (pipeline/invoke.ts) run as a process, as a function author runs it, with the
 * host's R against examples/hello; and the pieces that need no process (arguments, env files,
 * the REPORT line, the docker argv, the layer stack). No timing is asserted.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { dockerArgv, LAMBDA_BASE_IMAGE } from "../pipeline/lib/invoke/docker.ts";
import { parseEnvFile, parseInvokeArgs } from "../pipeline/lib/invoke/command.ts";
import { reportLine } from "../pipeline/lib/invoke/report.ts";
import { UsageError } from "../pipeline/lib/errors.ts";

const ROOT = resolve(fileURLToPath(new URL("..", import.meta.url)));
const HELLO = "examples/hello/handler.R:main";
const REPORT = /^REPORT RequestId: (\S+)\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: (\d+) MB\tMax Memory Used: \d+ MB(\tInit Duration: \d+\.\d\d ms)?(\tStatus: \w+)?$/gm;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run invoke -- ARGS`, as package.json runs it: node with tsx, from the repository root. */
function invoke(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "pipeline/invoke.ts", ...args], {
      cwd: ROOT,
      env: { ...process.env, R_DEFAULT_PACKAGES: "NULL", ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.once("error", reject);
    child.once("close", (code) => resolvePromise({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

/** The JSON documents printed on stdout, one per invocation. */
function documents(stdout: string): unknown[] {
  return stdout
    .split(/\n(?=[{["\d-tfn])/)
    .filter((part) => part.trim() !== "")
    .map((part) => JSON.parse(part) as unknown);
}

function reports(stderr: string): RegExpMatchArray[] {
  return [...stderr.matchAll(REPORT)];
}

async function invokeTemps(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((name) => name.startsWith("r-invoke-"));
}

describe("npm run invoke", () => {
  it("runs examples/hello with the host's R: JSON result on stdout, logs and a REPORT line on stderr, status 0", async () => {
    const before = await invokeTemps();
    const run = await invoke([HELLO, "--event", '{"name": "R"}']);
    assert.equal(run.code, 0, run.stderr);
    const [result] = documents(run.stdout) as Record<string, unknown>[];
    assert.equal(result?.message, "Hello, R!");
    assert.equal(result?.calls, 1);
    assert.match(String(result?.r), /^\d+\.\d+\.\d+$/);
    const [report] = reports(run.stderr);
    assert.ok(report, `no REPORT line in:\n${run.stderr}`);
    assert.equal(report[2], "128");
    assert.ok(report[3], "a cold start reports its Init Duration");
    assert.match(run.stderr, new RegExp(`^START RequestId: ${report[1]} Version: \\$LATEST$`, "m"));
    assert.match(run.stderr, new RegExp(`^greeting R \\(call 1 of this instance, request ${report[1]}\\)$`, "m"), "the function's log");
    assert.match(run.stderr, /^note: .*this machine's R/m, "says it is not the layers' R");
    assert.deepEqual(await invokeTemps(), before, "temporary folders removed");
  });

  it("exits non-zero on a function error and prints the error document", async () => {
    const run = await invoke([HELLO, "--event", '{"fail": true}']);
    assert.equal(run.code, 1);
    const [error] = documents(run.stdout) as Record<string, unknown>[];
    assert.equal(error?.errorType, "simpleError");
    assert.equal(error?.errorMessage, "asked to fail for world");
    assert.match(run.stderr, /^error\[FUNCTION_FAILED\]: the function failed \(Function\.simpleError\)/m);
    assert.equal(reports(run.stderr).length, 1);
  });

  it("--repeat reuses the warm process (state kept, one Init Duration); --env and stdin events reach the function", async () => {
    const run = await invoke([HELLO, "--repeat", "3", "--env", "GREETING=Hi", "--memory", "256"], { stdin: '{"name": "stdin"}' });
    assert.equal(run.code, 0, run.stderr);
    const results = documents(run.stdout) as Record<string, unknown>[];
    assert.deepEqual(results.map((r) => [r.message, r.calls]), [["Hi, stdin!", 1], ["Hi, stdin!", 2], ["Hi, stdin!", 3]]);
    const lines = reports(run.stderr);
    assert.equal(lines.length, 3);
    assert.deepEqual(lines.map((m) => m[3] !== undefined), [true, false, false], "Init Duration only on the cold start");
    assert.deepEqual(lines.map((m) => m[2]), ["256", "256", "256"]);
  });

  it("kills a function that runs past --timeout, as Lambda does, and starts a fresh one for the next event", async () => {
    const dir = await mkdtemp(join(tmpdir(), "invoke-test-"));
    try {
      await writeFile(join(dir, "event.json"), '{"sleep": 30}');
      await writeFile(join(dir, "env"), "# a comment\nGREETING='Hey'\n");
      const run = await invoke([HELLO, "--event", join(dir, "event.json"), "--timeout", "1", "--repeat", "2", "--env-file", join(dir, "env")]);
      assert.equal(run.code, 1);
      const errors = documents(run.stdout) as Record<string, unknown>[];
      assert.deepEqual(errors.map((e) => e.errorType), ["Sandbox.Timedout", "Sandbox.Timedout"]);
      assert.match(run.stderr, /Task timed out after 1\.00 seconds/);
      const lines = reports(run.stderr);
      assert.deepEqual(lines.map((m) => [m[3] !== undefined, m[4]]), [[true, "\tStatus: timeout"], [true, "\tStatus: timeout"]], "each event after a timeout is a cold start");
      assert.match(run.stderr, /greeting world \(call 1 of this instance/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a handler that is not FILE.R:FUNCTION with a usage error", async () => {
    const run = await invoke(["examples/hello/handler.main"]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error\[USAGE\]: the handler must be FILE\.R:FUNCTION/m);
  });
});

describe("invoke's pieces", () => {
  it("parses arguments: JSON text, a file or stdin for the event; repeatable --env; numbers checked", () => {
    const options = parseInvokeArgs(["fn/handler.R:main", "--event", '{"x": 1}', "--env", "A=1", "--env", "B=x=y", "--repeat", "2", "--timeout", "1.5"]);
    assert.deepEqual(
      [options.file, options.functionName, options.event, options.env, options.repeat, options.timeoutSeconds, options.memoryMb],
      ["fn/handler.R", "main", { kind: "text", text: '{"x": 1}' }, { A: "1", B: "x=y" }, 2, 1.5, 128],
    );
    assert.deepEqual(parseInvokeArgs(["h.R:f", "--event", "event.json"]).event, { kind: "file", path: "event.json" });
    assert.deepEqual(parseInvokeArgs(["h.R:f", "--event", "-"]).event, { kind: "stdin" });
    assert.throws(() => parseInvokeArgs(["h.R:f", "--repeat", "0"]), UsageError);
    assert.throws(() => parseInvokeArgs(["h.R:f", "--env", "1X=2"]), UsageError);
    assert.throws(() => parseInvokeArgs(["h.R:f", "--r", "4.4.1"]), /--r applies to --layer/);
  });

  it("reads env files: comments, blank lines, export, quotes", () => {
    assert.deepEqual(parseEnvFile('# c\n\nA=1\nexport B="two words"\nC=\'x\'\n', "f"), { A: "1", B: "two words", C: "x" });
    assert.throws(() => parseEnvFile("not a pair\n", "f"), /f:1/);
  });

  it("writes the REPORT line in Lambda's form", () => {
    const line = reportLine({
      requestId: "r-1",
      verdict: { kind: "response", body: Buffer.from("{}") },
      durationMs: 1.234,
      memorySizeMb: 128,
      maxMemoryUsedMb: 61,
      initDurationMs: 95.5,
    });
    assert.equal(line, "REPORT RequestId: r-1\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 61 MB\tInit Duration: 95.50 ms");
  });

  it("builds the docker argv for the Lambda base image (argv only: no Docker engine in the tests)", () => {
    const argv = dockerArgv({
      taskRoot: "/work/fn",
      opt: "/tmp/r-invoke-x/opt",
      handler: "handler.main",
      functionName: "fn",
      memoryMb: 512,
      timeoutSeconds: 10,
      env: { GREETING: "Hi" },
      port: 9123,
      arch: "x86_64",
    });
    assert.deepEqual(argv, [
      "run", "--rm", "--platform", "linux/amd64", "--memory", "512m", "--read-only", "--tmpfs", "/tmp",
      "-p", "127.0.0.1:9123:8080", "-v", "/work/fn:/var/task:ro", "-v", "/tmp/r-invoke-x/opt:/opt:ro",
      "-e", "_HANDLER=handler.main", "-e", "AWS_LAMBDA_FUNCTION_NAME=fn", "-e", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512",
      "-e", "AWS_LAMBDA_FUNCTION_TIMEOUT=10", "-e", "GREETING=Hi",
      "--entrypoint", "/usr/local/bin/aws-lambda-rie", LAMBDA_BASE_IMAGE, "/opt/bootstrap",
    ]);
  });
});

describe("invoke with --layer", () => {
  it("unzips the built layers of the stack from the state folder into a private /opt and runs the runtime layer's bootstrap", async () => {
    const { loadManifest } = await import("../pipeline/lib/manifest/load.ts");
    const { computeBuildGraph } = await import("../pipeline/lib/keys/graph.ts");
    const { readSourceDigests } = await import("../pipeline/lib/keys/sources.ts");
    const { layerStack, hostArch } = await import("../pipeline/lib/invoke/layers.ts");
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const { cp, mkdir } = await import("node:fs/promises");
    const manifest = await loadManifest(join(ROOT, "layers.yaml"));
    const rVersion = manifest.rVersions[0] ?? "";
    const stack = layerStack(manifest, computeBuildGraph(manifest, await readSourceDigests()).layerBuilds, {
      layers: ["recommended"],
      rVersion,
      arch: hostArch(),
    });
    assert.deepEqual(stack.map((b) => b.layer.name), ["runtime", "recommended"], "the runtime layer under the layer it carries");
    const state = await mkdtemp(join(tmpdir(), "invoke-state-"));
    try {
      // Not built: the host's R, with a note.
      const missing = await invoke([HELLO, "--layer", "recommended", "--state", state, "--event", "{}"]);
      assert.equal(missing.code, 0, missing.stderr);
      assert.match(missing.stderr, /^note: r-runtime-\S+, r-recommended-\S+ not built in .*running on this machine's R/m);
      // Built (stand-ins: the runtime's files, and an R that is the host's R under LAMBDA_R_PREFIX).
      for (const build of stack) {
        const content = await mkdtemp(join(tmpdir(), "invoke-zip-"));
        if (build.layer.type === "runtime") {
          await cp(join(ROOT, "runtime"), content, { recursive: true });
          await mkdir(join(content, "R", "bin"), { recursive: true });
          await writeFile(join(content, "R", "bin", "Rscript"), '#!/bin/sh\nunset RHOME\nexport FROM_LAYER=yes\nexec Rscript "$@"\n', { mode: 0o755 });
        } else {
          await mkdir(join(content, "R", "library", "fakepkg"), { recursive: true });
        }
        await mkdir(join(state, "artifacts", "layers"), { recursive: true });
        await promisify(execFile)("zip", ["-q", "-r", join(state, "artifacts", "layers", `${build.key}.zip`), "."], { cwd: content });
        await writeFile(join(state, "artifacts", "layers", `${build.key}.json`), "{}");
        await rm(content, { recursive: true, force: true });
      }
      const dir = await mkdtemp(join(tmpdir(), "invoke-fn-"));
      await writeFile(join(dir, "where.R"), 'where <- function() list(from_layer = Sys.getenv("FROM_LAYER"), libs = I(.libPaths()[1]), fakepkg = dir.exists(file.path(.libPaths()[1], "fakepkg")))\n');
      const built = await invoke([join(dir, "where.R:where"), "--layer", "recommended", "--state", state, "--event", "{}"]);
      await rm(dir, { recursive: true, force: true });
      assert.equal(built.code, 0, built.stderr);
      const [result] = documents(built.stdout) as Record<string, unknown>[];
      assert.equal(result?.from_layer, "yes");
      assert.equal(result?.fakepkg, true);
      assert.match(String((result?.libs as string[])[0]), /r-invoke-[^/]+\/opt\/R\/library$/);
      assert.match(built.stderr, /^layers: r-runtime-\S+, r-recommended-\S+ \(unzipped into /m);
      assert.doesNotMatch(built.stderr, /^note:/m);
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  });
});
