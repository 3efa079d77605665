import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ExecutionEvent } from "../pipeline/lib/execute/events.ts";
import { createProgressRenderer, formatElapsed, progressStyle, summaryText } from "../pipeline/lib/render/progress.ts";
import type { BuildLayerAction } from "../pipeline/lib/plan/types.ts";
import { effectiveCommands, runnerCommands } from "./support/runner-log.ts";

const action = (r: string): BuildLayerAction => ({
  kind: "build-layer",
  id: `build-layer:runtime:${r}:x86_64`,
  dependsOn: [],
  change: "create",
  layer: "runtime",
  layerName: `r-runtime-${r.replaceAll(".", "_")}`,
  r,
  arch: "x86_64",
  key: "k".repeat(64),
  rBuildKey: "r".repeat(64),
  stackKeys: [],
  reason: "not yet built",
});

const a = action("4.4.1");
const b = action("4.3.3");
const EVENTS: ExecutionEvent[] = [
  { type: "started", action: a },
  { type: "started", action: b },
  { type: "log", action: a, line: "installing jsonlite" },
  { type: "log", action: b, line: "installing httr" },
  { type: "log", action: a, line: "done" },
  { type: "succeeded", action: a, elapsedMs: 192_000, note: "1.0 MB zipped, 3.0 MB unzipped" },
  {
    type: "failed",
    action: b,
    elapsedMs: 5_000,
    phase: "BUILD",
    message: "phase BUILD failed: `bash r-compile/layer/build-layer.sh` exited with status 1",
    logTail: ["ERROR: dependency 'curl' is not available"],
    link: "https://console.aws.amazon.com/codesuite/codebuild/projects/p/build/x",
  },
];

const TOKEN = "0123456789abcdef0123456789abcdef";

function render(style: "terminal" | "plain" | "github", events: readonly ExecutionEvent[] = EVENTS, token?: () => string): string {
  let out = "";
  const renderer = createProgressRenderer(style, (t) => (out += t), token ? { token } : {});
  events.forEach(renderer);
  return out;
}

describe("progress", () => {
  test("terminal and plain logs stream build output live, prefixed by the build", () => {
    assert.equal(
      render("plain"),
      [
        "▶ build r-runtime-4_4_1 (R 4.4.1, x86_64)",
        "▶ build r-runtime-4_3_3 (R 4.3.3, x86_64)",
        "  │ r-runtime-4_4_1 │ installing jsonlite",
        "  │ r-runtime-4_3_3 │ installing httr",
        "  │ r-runtime-4_4_1 │ done",
        "✔ build r-runtime-4_4_1 (R 4.4.1, x86_64) (3m12s; 1.0 MB zipped, 3.0 MB unzipped)",
        "✖ build r-runtime-4_3_3 (R 4.3.3, x86_64) failed in phase BUILD after 5s: phase BUILD failed: `bash r-compile/layer/build-layer.sh` exited with status 1",
        "  last 1 lines of the log:",
        "  │ ERROR: dependency 'curl' is not available",
        "  full log: https://console.aws.amazon.com/codesuite/codebuild/projects/p/build/x",
        "",
      ].join("\n"),
    );
  });

  test("GitHub Actions gets one collapsible group per build, not interleaved lines, and an error annotation", () => {
    const out = render("github", EVENTS, () => TOKEN);
    const stop = `::stop-commands::${TOKEN}`;
    assert.ok(out.includes(`::group::build r-runtime-4_4_1 (R 4.4.1, x86_64) (log)\n${stop}\ninstalling jsonlite\ndone\n::${TOKEN}::\n::endgroup::\n✔ build r-runtime-4_4_1`), out);
    assert.ok(out.includes(`::group::build r-runtime-4_3_3 (R 4.3.3, x86_64) (log)\n${stop}\ninstalling httr\n::${TOKEN}::\n::endgroup::\n✖ build r-runtime-4_3_3`), out);
    assert.match(out, /^::error title=build-layer%3Aruntime%3A4\.3\.3%3Ax86_64 failed::phase BUILD failed/m);
    assert.doesNotMatch(out, /│ r-runtime/);
    assert.deepEqual(
      effectiveCommands(out).map((c) => c.name),
      ["group", "endgroup", "group", "endgroup", "error"],
    );
  });

  test("no line of build output or of a failure can become a workflow command in GitHub Actions", () => {
    const forged = [
      "::warning title=Reviewed::plan approved by platform team",
      "   ::error::indented, which the runner trims",
      "curl: ##[warning]legacy form, read anywhere in a line",
      "::endgroup::",
      "::stop-commands::mine",
      "::add-mask::hide-the-evidence",
    ];
    const events: ExecutionEvent[] = [
      { type: "started", action: a },
      ...forged.map((line): ExecutionEvent => ({ type: "log", action: a, line })),
      { type: "succeeded", action: a, elapsedMs: 1000 },
      { type: "started", action: b },
      {
        type: "failed",
        action: b,
        elapsedMs: 1000,
        phase: "BUILD",
        message: "build failed\n::warning title=Reviewed::plan approved by platform team\n##[notice]also this",
        logTail: forged,
      },
    ];
    const out = render("github", events);
    // Every forged line is in the raw log, untouched …
    for (const line of forged) assert.ok(out.split("\n").some((l) => l.endsWith(line)), line);
    // … and the runner reads none of them: only our groups and one escaped annotation.
    const commands = effectiveCommands(out);
    assert.deepEqual(commands.map((c) => c.name), ["group", "endgroup", "error"]);
    const error = commands.at(-1)!;
    assert.equal(error.data, "build failed%0A::warning title=Reviewed::plan approved by platform team%0A##[notice]also this");
    // A fresh random token for every block, never one the text contains.
    const tokens = runnerCommands(out).filter((c) => c.name === "stop-commands").map((c) => c.data);
    assert.ok(tokens.length >= 2);
    assert.equal(new Set(tokens).size, tokens.length);
    for (const t of tokens) assert.match(t, /^[0-9a-f]{32}$/);
  });

  test("a token the text contains is drawn again", () => {
    const draws = ["0000000000000000", TOKEN];
    const events: ExecutionEvent[] = [
      { type: "started", action: a },
      { type: "log", action: a, line: "::0000000000000000::" },
      { type: "succeeded", action: a, elapsedMs: 1000 },
    ];
    const out = render("github", events, () => draws.shift() ?? TOKEN);
    assert.match(out, new RegExp(`::stop-commands::${TOKEN}\n::0000000000000000::\n::${TOKEN}::`));
    assert.deepEqual(effectiveCommands(out).map((c) => c.name), ["group", "endgroup"]);
  });

  test("style follows the environment", () => {
    assert.equal(progressStyle({ GITHUB_ACTIONS: "true" }, true), "github");
    assert.equal(progressStyle({}, true), "terminal");
    assert.equal(progressStyle({}, false), "plain");
  });

  test("elapsed times and the summary line read naturally", () => {
    assert.deepEqual([formatElapsed(400), formatElapsed(59_400), formatElapsed(61_000), formatElapsed(3_725_000)], ["0s", "59s", "1m01s", "1h02m"]);
    assert.equal(summaryText({ succeeded: ["a", "b"], failed: ["c"], skipped: [], cancelled: [], leftRunning: [], failureCodes: {}, elapsedMs: 75_000 }), "Reconcile: 2 succeeded, 1 failed, 0 skipped in 1m15s");
  });
});
