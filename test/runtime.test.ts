/**
 * The R runtime (runtime/bootstrap + runtime/*.R), driven as a child process with real R
 * against the Runtime API emulator on 127.0.0.1. Timings are never asserted here (see
 * bench/runtime.bench.ts); only behaviour.
 */
import assert from "node:assert/strict";
import { cp, lstat, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { errorDocument, RuntimeApiEmulator } from "./support/runtime/emulator.ts";
import type { EmulatorOptions, Outcome } from "./support/runtime/emulator.ts";
import { runtimeDir, startRuntime, writeTaskRoot } from "./support/runtime/process.ts";
import type { RuntimeProcess } from "./support/runtime/process.ts";

interface Session {
  api: RuntimeApiEmulator;
  runtime: RuntimeProcess;
  root: string;
}

interface SessionOptions {
  files: Record<string, string>;
  handler: string;
  env?: Record<string, string | undefined>;
  emulator?: EmulatorOptions;
  cwd?: string;
  bootstrap?: string;
  /** Most tests attach only base, which starts R three times faster. */
  defaultPackages?: boolean;
}

/** Runs `body` against a fresh emulator and runtime; always stops both and cleans up. */
async function session<T>(options: SessionOptions, body: (s: Session) => Promise<T>): Promise<T> {
  const root = await writeTaskRoot(options.files);
  const api = await RuntimeApiEmulator.start(options.emulator);
  const runtime = startRuntime({
    api: api.address,
    handler: options.handler,
    taskRoot: root,
    env: { R_DEFAULT_PACKAGES: options.defaultPackages ? undefined : "NULL", ...options.env },
    cwd: options.cwd,
    bootstrap: options.bootstrap,
  });
  // Whatever a test awaits fails at once, with the output, if the runtime dies meanwhile.
  void runtime.exited.then((exit) => api.failWaiters(new Error(`the runtime exited (code ${exit.code}, signal ${exit.signal})`)));
  try {
    const result = await body({ api, runtime, root });
    assert.deepEqual(api.protocolErrors, [], "requests outside the Runtime API protocol");
    return result;
  } catch (error) {
    const output = `\n--- runtime stdout ---\n${runtime.stdout()}\n--- runtime stderr ---\n${runtime.stderr()}`;
    if (error instanceof Error) error.message += output;
    throw error;
  } finally {
    await runtime.stop();
    await api.close();
    await rm(root, { recursive: true, force: true });
  }
}

function json(outcome: Outcome): unknown {
  assert.equal(outcome.kind, "response", `expected a response, got ${outcome.kind}: ${outcome.body.toString()}`);
  return JSON.parse(outcome.body.toString("utf8"));
}

/** The error document posted, and `apiType`: the error type the Runtime API kept from the header. */
function failed(outcome: Outcome) {
  assert.equal(outcome.kind, "error", `expected an error, got ${outcome.kind}: ${outcome.body.toString()}`);
  const document = errorDocument(outcome.body);
  return { ...document, apiType: outcome.kind === "error" ? outcome.errorType : "" };
}

async function eventually(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** path -> size and mtime of everything under `dir`. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true })) {
    const info = await lstat(join(dir, entry));
    out.set(entry, `${info.size}:${info.mtimeMs}`);
  }
  return out;
}

const EXAMPLE = `
sourced <- if (exists("sourced")) sourced + 1 else 1
calls <- 0
handler <- function(x, y = "default") {
  calls <<- calls + 1
  list(x = x, y = y, calls = calls, sourced = sourced, packages = I(search()))
}
describe_args <- function(...) {
  args <- list(...)
  list(
    n = length(args),
    names = I(if (is.null(names(args))) character() else names(args)),
    first = if (length(args)) args[[1]] else NULL,
    class = if (length(args)) class(args[[1]]) else NULL
  )
}
`;

describe("R runtime", () => {
  it("sources script.R once, calls handler with the event's fields as named arguments, keeps state", async () => {
    await session({ files: { "script.R": EXAMPLE }, handler: "script.handler", defaultPackages: true }, async ({ api }) => {
      const first = json(await api.invoke('{"x": 1, "y": "b"}')) as Record<string, unknown>;
      assert.deepEqual({ ...first, packages: undefined }, { x: 1, y: "b", calls: 1, sourced: 1, packages: undefined });
      assert.ok((first.packages as string[]).includes("package:stats"), "default packages are attached");
      const second = json(await api.invoke('{"x": [1, 2, 3]}')) as Record<string, unknown>;
      assert.deepEqual([second.x, second.y, second.calls, second.sourced], [[1, 2, 3], "default", 2, 1]);
      assert.equal(api.connections, 1, "one keep-alive connection for everything");
    });
  });

  it("finds a handler in a subfolder (lib/script.handler), attaches only base with R_DEFAULT_PACKAGES=NULL, works without pipelining", async () => {
    const env = { LAMBDA_R_PIPELINING: "0" };
    await session({ files: { "lib/script.R": EXAMPLE }, handler: "lib/script.handler", env }, async ({ api }) => {
      const result = json(await api.invoke('{"x": "sub"}')) as Record<string, unknown>;
      assert.equal(result.x, "sub");
      assert.deepEqual(result.packages, [".GlobalEnv", "Autoloads", "package:base"]);
      assert.match(failed(await api.invoke('{"nope": 1}')).errorMessage, /unused argument \(nope = event\[\[1\]\]\)/);
      assert.equal((json(await api.invoke('{"x": 2}')) as Record<string, unknown>).calls, 2);
    });
  });

  it("applies the payload rules: object fields by name, nothing for empty or null, other JSON as one argument", async () => {
    await session({ files: { "script.R": EXAMPLE }, handler: "script.describe_args" }, async ({ api }) => {
      const cases: [string, unknown][] = [
        ['{"a": 1, "b": [true, false], "c": null}', { n: 3, names: ["a", "b", "c"], first: 1, class: "numeric" }],
        ["{}", { n: 0, names: [], first: null, class: null }],
        ["", { n: 0, names: [], first: null, class: null }],
        [" \n ", { n: 0, names: [], first: null, class: null }],
        ["null", { n: 0, names: [], first: null, class: null }],
        ["[1, 2, 3]", { n: 1, names: [], first: [1, 2, 3], class: "numeric" }],
        ['  "text"', { n: 1, names: [], first: "text", class: "character" }],
        ["42", { n: 1, names: [], first: 42, class: "numeric" }],
        ["false", { n: 1, names: [], first: false, class: "logical" }],
        ['[{"k": 1}, {"k": 2}]', { n: 1, names: [], first: [{ k: 1 }, { k: 2 }], class: "list" }],
        ['{"s": "caf\\u00e9 \u2603"}', { n: 1, names: ["s"], first: "café ☃", class: "character" }],
      ];
      for (const [event, expected] of cases) {
        assert.deepEqual(json(await api.invoke(event)), expected, `event ${JSON.stringify(event)}`);
      }
      for (const bad of ['{"a": ', "{bad}", "[1, 2] trailing", "'single'"]) {
        const error = failed(await api.invoke(bad));
        assert.equal(error.errorType, "Runtime.UnmarshalError", `event ${bad}`);
        assert.equal(error.apiType, "Runtime.UnmarshalError", `event ${bad}`);
        assert.match(error.errorMessage, /not valid JSON/);
      }
      // still serving after the bad events
      assert.deepEqual(json(await api.invoke('{"z": 0}')), { n: 1, names: ["z"], first: 0, class: "numeric" });
    });
  });

  it("turns return values into JSON: scalars unboxed, NULL as null, data frames row by row", async () => {
    const script = `
shapes <- function(kind) switch(kind,
  number = 1.5, integer = 2L, string = "s", true = TRUE, null = NULL, na = NA, nan = NaN, inf = Inf,
  vector = c(1, 2, 3), boxed = I(7), empty = character(), named_vector = c(a = 1, b = 2),
  list = list(a = 1, b = list(c = "d", e = NULL), f = list(1, "two")),
  empty_object = structure(list(), names = character()),
  data_frame = data.frame(id = 1:3, name = c("a", NA, "c"), score = c(0.5, 1, NA), ok = c(TRUE, FALSE, NA)),
  nested_df = list(rows = data.frame(x = 1)),
  records = lapply(1:3, function(i) list(id = i, name = letters[i], score = i / 4)),
  mixed_records = list(list(a = 1), list(a = "x"), list(b = TRUE)),
  matrix = matrix(1:6, nrow = 2),
  factor = factor(c("lo", "hi", "lo")),
  date = as.Date("2024-02-29"),
  time = as.POSIXct("2024-02-29 12:34:56", tz = "UTC"),
  json = structure('{"verbatim": [1, 2]}', class = "json"),
  text = "quote \\" backslash \\\\ newline \\n tab \\t control \\u0001 caf\\u00e9",
  precise = 0.1 + 0.2,
  large = 123456789012,
  closure = function() 1
)
`;
    await session({ files: { "shapes.R": script }, handler: "shapes.shapes" }, async ({ api }) => {
      const expected: Record<string, unknown> = {
        number: 1.5,
        integer: 2,
        string: "s",
        true: true,
        null: null,
        na: null,
        nan: null,
        inf: null,
        vector: [1, 2, 3],
        boxed: [7],
        empty: [],
        named_vector: { a: 1, b: 2 },
        list: { a: 1, b: { c: "d", e: null }, f: [1, "two"] },
        empty_object: {},
        data_frame: [
          { id: 1, name: "a", score: 0.5, ok: true },
          { id: 2, name: null, score: 1, ok: false },
          { id: 3, name: "c", score: null, ok: null },
        ],
        nested_df: { rows: [{ x: 1 }] },
        records: [
          { id: 1, name: "a", score: 0.25 },
          { id: 2, name: "b", score: 0.5 },
          { id: 3, name: "c", score: 0.75 },
        ],
        mixed_records: [{ a: 1 }, { a: "x" }, { b: true }],
        matrix: [
          [1, 3, 5],
          [2, 4, 6],
        ],
        factor: ["lo", "hi", "lo"],
        date: "2024-02-29",
        time: "2024-02-29T12:34:56.000Z",
        json: { verbatim: [1, 2] },
        text: 'quote " backslash \\ newline \n tab \t control \u0001 café',
        precise: 0.3,
        large: 123456789012,
      };
      for (const [kind, value] of Object.entries(expected)) {
        assert.deepEqual(json(await api.invoke(JSON.stringify({ kind }))), value, kind);
      }
      const raw = await api.invoke('{"kind": "null"}');
      assert.equal(raw.body.toString(), "null");
      const marshal = failed(await api.invoke('{"kind": "closure"}'));
      assert.equal(marshal.errorType, "Runtime.MarshalError");
      assert.equal(marshal.apiType, "Runtime.MarshalError");
      assert.match(marshal.errorMessage, /closure/);
    });
  });

  it("posts handler errors with message, condition class and R call stack, then serves the next event", async () => {
    const script = [
      "handler <- function(v) outer(v)", // line 1
      "outer <- function(v) inner(v)", // line 2
      "inner <- function(v) {", // line 3
      '  if (v == "stop") stop("too big: ", 42)', // line 4
      '  if (v == "custom") stop(structure(class = c("quota_exceeded", "error", "condition"),', // line 5
      '    list(message = "over quota", call = sys.call())))',
      '  if (v == "builtin") return(1 + "a")',
      '  list(ok = v)',
      "}",
    ].join("\n");
    await session({ files: { "errors.R": script }, handler: "errors.handler" }, async ({ api, runtime }) => {
      const plain = failed(await api.invoke('{"v": "stop"}'));
      assert.equal(plain.errorType, "simpleError");
      assert.equal(plain.apiType, "Function.simpleError", "the header the Runtime API keeps, not Runtime.Unknown");
      assert.equal(plain.errorMessage, "too big: 42");
      assert.deepEqual(plain.stackTrace, [
        'stop("too big: ", 42) at errors.R#4',
        "inner(v) at errors.R#2",
        "outer(v) at errors.R#1",
        "handler(v = event[[1]])",
      ]);
      const custom = failed(await api.invoke('{"v": "custom"}'));
      assert.equal(custom.errorType, "quota_exceeded");
      assert.equal(custom.apiType, "Function.quota_exceeded");
      assert.equal(custom.errorMessage, "over quota");
      assert.equal(custom.stackTrace[0], 'stop(structure(class = c("quota_exceeded", "error", "condition"), list(message = "over quota", call = sys.call()))) at errors.R#5');
      const builtin = failed(await api.invoke('{"v": "builtin"}'));
      assert.equal(builtin.errorType, "simpleError");
      assert.match(builtin.errorMessage, /non-numeric argument/);
      assert.deepEqual(builtin.stackTrace.slice(-2), ["outer(v) at errors.R#1", "handler(v = event[[1]])"]);
      const wrongArgs = failed(await api.invoke('{"nope": 1}'));
      assert.match(wrongArgs.errorMessage, /unused argument/);
      assert.deepEqual(json(await api.invoke('{"v": "fine"}')), { ok: "fine" });
      assert.match(runtime.stderr(), /\[ERROR\]\t\S+\t\S+\tsimpleError: too big: 42/);
    });
  });

  it("logs warnings and messages, does not hold printed output back, and still responds", async () => {
    const script = `
noisy <- function() {
  warning("careful now")
  message("a message line")
  print("printed line")
  as.integer("x")
  list(done = TRUE)
}
`;
    await session({ files: { "noisy.R": script }, handler: "noisy.noisy" }, async ({ api, runtime }) => {
      const id = api.enqueue({ body: "{}" });
      assert.deepEqual(json(await api.outcome(id)), { done: true });
      // printed while the process is still running
      await eventually(() => runtime.stdout().includes("printed line"), "printed output");
      await eventually(() => runtime.stderr().includes("NAs introduced by coercion"), "the second warning");
      const stderr = runtime.stderr();
      assert.match(stderr, new RegExp(`\\[WARN\\]\\t\\S+\\t${id}\\tsimpleWarning: In noisy\\(\\): careful now`));
      assert.match(stderr, /a message line/);
      assert.equal(runtime.exited instanceof Promise, true);
      assert.equal(runtime.child.exitCode, null, "still running");
    });
  });

  it("passes the invocation context and sets _X_AMZN_TRACE_ID", async () => {
    const script = `
with_context <- function(context, ...) {
  list(context = context[setdiff(names(context), "remaining_time_ms")],
       remaining = context$remaining_time_ms(),
       trace_env = Sys.getenv("_X_AMZN_TRACE_ID"),
       extra = I(as.character(names(list(...)))))
}
`;
    await session({ files: { "ctx.R": script }, handler: "ctx.with_context" }, async ({ api }) => {
      const deadline = Date.now() + 60_000;
      const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
      const first = json(
        await api.invoke({
          body: '{"a": 1, "context": "from the event"}',
          requestId: "req-1",
          deadlineMs: deadline,
          traceId: trace,
          functionArn: "arn:aws:lambda:eu-west-1:123456789012:function:ctx",
          clientContext: '{"client": {"app_title": "demo"}, "custom": {"k": "v"}}',
          cognitoIdentity: '{"cognitoIdentityId": "eu-west-1:abc", "cognitoIdentityPoolId": "eu-west-1:pool"}',
        }),
      ) as { context: Record<string, unknown>; remaining: number; trace_env: string; extra: string[] };
      assert.deepEqual(first.context, {
        aws_request_id: "req-1",
        deadline_ms: deadline,
        invoked_function_arn: "arn:aws:lambda:eu-west-1:123456789012:function:ctx",
        function_name: "r-test",
        function_version: "$LATEST",
        memory_limit_in_mb: 512,
        log_group_name: "/aws/lambda/r-test",
        log_stream_name: "2025/01/01/[$LATEST]0123456789abcdef",
        trace_id: trace,
        client_context: { client: { app_title: "demo" }, custom: { k: "v" } },
        identity: { cognitoIdentityId: "eu-west-1:abc", cognitoIdentityPoolId: "eu-west-1:pool" },
      });
      assert.ok(first.remaining > 50_000 && first.remaining <= 60_000, `remaining ${first.remaining}`);
      assert.equal(first.trace_env, trace);
      assert.deepEqual(first.extra, ["a"]);
      const second = json(await api.invoke({ body: "{}", traceId: null })) as typeof first;
      assert.equal(second.context.trace_id, null);
      assert.equal(second.context.client_context, null);
      assert.equal(second.trace_env, "", "no trace id leaks into the next invocation");
    });
  });

  describe("init errors go to /runtime/init/error, then the process exits non-zero", () => {
    const cases: { name: string; files: Record<string, string>; handler: string; type: string; apiType?: string; message: RegExp; trace?: string[] }[] = [
      { name: "missing file", files: { "other.R": "" }, handler: "missing.handler", type: "Runtime.HandlerFileNotFound", message: /missing\.R not found/ },
      { name: "missing function", files: { "script.R": "helper <- function() 1\n" }, handler: "script.handler", type: "Runtime.HandlerNotFound", message: /does not define a function handler/ },
      { name: "syntax error", files: { "script.R": "handler <- function( {\n" }, handler: "script.handler", type: "Runtime.UserCodeSyntaxError", message: /script\.R:1:\d+: unexpected '\{'/ },
      { name: "package that fails to load", files: { "script.R": "library(notapackage123)\nhandler <- function() 1\n" }, handler: "script.handler", type: "Runtime.ImportModuleError", message: /notapackage123/ },
      {
        name: "error at the top of the script",
        files: { "script.R": 'load_model <- function() stop("no model file")\nx <- 1\nmodel <- load_model()\n' },
        handler: "script.handler",
        type: "simpleError",
        apiType: "Function.simpleError",
        message: /^error while sourcing script\.R: no model file$/,
        trace: ['stop("no model file") at script.R#1', "load_model() at script.R#3"],
      },
      { name: "malformed handler name", files: { "script.R": "" }, handler: "handler", type: "Runtime.MalformedHandlerName", message: /file\.function/ },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        await session({ files: c.files, handler: c.handler }, async ({ api, runtime }) => {
          const init = await api.initError();
          const document = errorDocument(init.body);
          assert.equal(document.errorType, c.type);
          assert.match(document.errorMessage, c.message);
          assert.equal(init.errorType, c.apiType ?? c.type, "the error type the Runtime API keeps");
          if (c.trace) assert.deepEqual(document.stackTrace, c.trace);
          const exit = await runtime.exited;
          assert.equal(exit.code, 1);
          assert.equal(api.nextRequestsAt.length, 0, "never asked for an event");
          assert.match(runtime.stderr(), new RegExp(`\\[ERROR\\].*${c.type.replace(".", "\\.")}`));
        });
      });
    }
  });

  it("is quiet by default, logs its steps with LOGLEVEL=DEBUG, and never logs the payload", async () => {
    const secret = "SECRET-PAYLOAD-5f3a";
    const run = async (env: Record<string, string>) =>
      session({ files: { "script.R": EXAMPLE }, handler: "script.handler", env }, async ({ api, runtime }) => {
        const id = api.enqueue({ body: JSON.stringify({ x: secret }) });
        assert.equal((json(await api.outcome(id)) as { x: string }).x, secret);
        failed(await api.invoke(`{"x": "${secret}`)); // not JSON
        failed(await api.invoke(JSON.stringify({ x: secret, nope: secret })));
        await runtime.stop();
        return { id, stderr: runtime.stderr(), stdout: runtime.stdout() };
      });
    const eventBytes = Buffer.byteLength(JSON.stringify({ x: secret }));
    const quiet = await run({});
    assert.doesNotMatch(quiet.stderr, /\[(DEBUG|INFO)\]/);
    assert.equal(quiet.stderr.split("\n").filter((line) => line !== "").length, 2, "only the two errors");
    assert.equal(quiet.stdout, "");
    const debug = await run({ LOGLEVEL: "debug" });
    assert.match(debug.stderr, /\[DEBUG\]\t\S+\t-\tinit: ready after/);
    assert.match(debug.stderr, new RegExp(`\\[DEBUG\\]\\t\\S+\\t${debug.id}\\tinvoke: event of ${eventBytes} bytes`));
    assert.match(debug.stderr, new RegExp(`\\[DEBUG\\]\\t\\S+\\t${debug.id}\\tinvoke: response of \\d+ bytes posted`));
    for (const log of [quiet.stderr, debug.stderr]) assert.ok(!log.includes(secret), "payload in the log");
  });

  it("writes nothing outside /tmp", async () => {
    const home = await mkdtempIn("r-home-");
    const before = { home: await snapshot(home), runtime: await snapshot(runtimeDir) };
    let taskBefore = new Map<string, string>();
    await session(
      { files: { "script.R": EXAMPLE }, handler: "script.handler", env: { HOME: home } },
      async ({ api, root, runtime }) => {
        taskBefore = await snapshot(root);
        json(await api.invoke('{"x": 1}'));
        failed(await api.invoke('{"nope": 1}'));
        await runtime.stop();
        assert.deepEqual(await snapshot(root), taskBefore, "task root (the working directory) changed");
      },
    );
    assert.deepEqual(await snapshot(home), before.home, "HOME changed");
    assert.deepEqual(await snapshot(runtimeDir), before.runtime, "runtime/ changed");
    await rm(home, { recursive: true, force: true });
  });

  it("echoes a 5 MB payload", async () => {
    const script = "echo <- function(s) list(n = nchar(s), s = s)\n";
    await session({ files: { "echo.R": script }, handler: "echo.echo" }, async ({ api }) => {
      const text = "line\twith \"quotes\" \\ and caf\u00e9 \u2603\n".repeat(150_000);
      assert.ok(Buffer.byteLength(text) > 5_000_000);
      const outcome = await api.invoke(JSON.stringify({ s: text }), 60_000);
      const result = json(outcome) as { n: number; s: string };
      assert.equal(result.n, [...text].length);
      assert.ok(result.s === text, "echoed text differs");
      assert.ok(outcome.body.length > 5_000_000);
      assert.deepEqual(json(await api.invoke('{"s": "small"}')), { n: 5, s: "small" });
    });
  });

  it("survives a long wait for an event and a handler slower than a client timeout", async () => {
    const script = 'slow <- function(seconds) { Sys.sleep(seconds); list(slept = seconds) }\n';
    await session(
      {
        files: { "slow.R": script },
        handler: "slow.slow",
        // R's own default timeout, used by connections unless told otherwise, is now 1 s;
        // the server drops a connection idle for 300 ms.
        env: { R_DEFAULT_INTERNET_TIMEOUT: "1", LOGLEVEL: "DEBUG" },
        emulator: { keepAliveTimeoutMs: 300 },
      },
      async ({ api, runtime }) => {
        await api.nextRequest(1);
        await new Promise((resolve) => setTimeout(resolve, 1600)); // GET next held longer than 1 s
        assert.deepEqual(json(await api.invoke('{"seconds": 1.6}')), { slept: 1.6 });
        assert.match(runtime.stderr(), /closed the connection; reconnecting/);
        assert.equal(api.connections, 2);
        assert.deepEqual(json(await api.invoke('{"seconds": 0}')), { slept: 0 });
      },
    );
  });

  it("posts nothing more for a request after the Runtime API refuses its response as too large (413), logs one line, and goes on", async () => {
    const script = "sized <- function(n) strrep(\"x\", n)\n";
    await session({ files: { "sized.R": script }, handler: "sized.sized", emulator: { maxResponseBytes: 1000 } }, async ({ api, runtime }) => {
      // small enough to be pipelined with the next GET, and too large to be
      const ids: string[] = [];
      for (const n of [3000, 1_500_000]) {
        const id = api.enqueue({ body: JSON.stringify({ n }) });
        ids.push(id);
        const outcome = await api.outcome(id);
        assert.equal(outcome.kind, "refused");
        assert.equal(outcome.kind === "refused" ? outcome.errorType : "", "Function.ResponseSizeTooLarge");
        // the runtime serves the next event only after it is done with this one
        assert.equal(json(await api.invoke('{"n": 3}')), "xxx");
      }
      assert.equal(api.refusedResponses.length, 2);
      // nothing posted after the 413 (the session also checks that no post was refused with 403)
      assert.deepEqual(
        [...api.outcomes.values()].filter((o) => ids.includes(o.requestId)).map((o) => o.kind),
        ["refused", "refused"],
      );
      const lines = runtime.stderr().split("\n").filter((line) => line !== "");
      assert.equal(lines.length, 2, `one line per refused response:\n${runtime.stderr()}`);
      for (const [i, n] of [3000, 1_500_000].entries()) {
        assert.match(lines[i] ?? "", new RegExp(`^\\[ERROR\\]\\t\\S+\\t${ids[i]}\\tFunction\\.ResponseSizeTooLarge: the response \\(${n + 2} bytes\\)`));
      }
    });
  });

  it("byte-compiles the handler and the functions it calls at init, so that the JIT compiles nothing during the first invocations", async () => {
    const script = `
compiled <- function(f) typeof(.Internal(bodyCode(f))) == "bytecode"
helper <- function(x) x + 1
deeper <- function(x) helper(x) * 2
unused <- function(x) x
handler <- function(x = 1) {
  if (x < 0) deeper(x)
  list(handler = compiled(handler), helper = compiled(helper), deeper = compiled(deeper), unused = compiled(get("unused")))
}
`;
    await session({ files: { "jit.R": script }, handler: "jit.handler" }, async ({ api }) => {
      assert.deepEqual(json(await api.invoke("{}")), { handler: true, helper: true, deeper: true, unused: false });
    });
    await session({ files: { "jit.R": script }, handler: "jit.handler", env: { R_ENABLE_JIT: "0" } }, async ({ api }) => {
      assert.deepEqual(json(await api.invoke("{}")), { handler: false, helper: false, deeper: false, unused: false });
    });
  });

  it("reads events sent chunked in 2 KB chunks, as the Runtime API sends them, and with a Content-Length", async () => {
    const script = "echo <- function(s) list(n = nchar(s), s = s)\n";
    for (const chunkedEvents of [true, false]) {
      await session({ files: { "echo.R": script }, handler: "echo.echo", emulator: { chunkedEvents } }, async ({ api }) => {
        // multi-byte characters across the 2 KB chunk boundaries
        const text = "ab\u00e9\u2603\ud83d\ude00".repeat(3000);
        const id = api.enqueue({ body: JSON.stringify({ s: text }) });
        assert.deepEqual(json(await api.outcome(id)), { n: [...text].length, s: text });
        const headers = api.handedOut.find((h) => h.requestId === id)?.headers ?? {};
        assert.equal("Content-Length" in headers, !chunkedEvents, "chunked events have no Content-Length");
        assert.deepEqual(json(await api.invoke('{"s": ""}')), { n: 0, s: "" });
      });
    }
  });

  it("exits with status 2 when the Runtime API goes away", async () => {
    await session({ files: { "script.R": EXAMPLE }, handler: "script.handler" }, async ({ api, runtime }) => {
      await api.nextRequest(1);
      await api.close();
      const exit = await runtime.exited;
      assert.equal(exit.code, 2);
      assert.match(runtime.stderr(), /\[ERROR\].*Runtime API/);
    });
  });

  it("runs from a copy of the layer, with R, packages and libraries from LAMBDA_R_PREFIX", async () => {
    const base = await mkdtempIn("r-layer-");
    const layer = join(base, "opt");
    await cp(runtimeDir, layer, { recursive: true });
    const prefix = join(layer, "R");
    await mkdir(join(prefix, "bin"), { recursive: true });
    await mkdir(join(prefix, "library"));
    await mkdir(join(prefix, "lib"));
    await writeFile(join(prefix, "bin", "Rscript"), '#!/bin/sh\nexport R_VIA_PREFIX=yes\nexec Rscript "$@"\n', { mode: 0o755 });
    const script = 'where <- function() list(via = Sys.getenv("R_VIA_PREFIX"), libs = I(.libPaths()), ld = Sys.getenv("LD_LIBRARY_PATH"))\n';
    try {
      await session(
        { files: { "where.R": script }, handler: "where.where", bootstrap: join(layer, "bootstrap"), env: { LAMBDA_R_PREFIX: prefix } },
        async ({ api }) => {
          const result = json(await api.invoke("{}")) as { via: string; libs: string[]; ld: string };
          assert.equal(result.via, "yes");
          assert.equal(result.libs[0], join(prefix, "library"));
          assert.ok(result.ld.split(":").includes(join(prefix, "lib")), result.ld);
        },
      );
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});

function mkdtempIn(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
