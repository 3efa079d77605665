import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ExecutionEvent } from "../pipeline/lib/execute/events.ts";
import { createProgressRenderer, formatElapsed, progressStyle, summaryText } from "../pipeline/lib/render/progress.ts";
import type { BuildLayerAction } from "../pipeline/lib/plan/types.ts";

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

function render(style: "terminal" | "plain" | "github"): string {
  let out = "";
  const renderer = createProgressRenderer(style, (t) => (out += t));
  EVENTS.forEach(renderer);
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
    const out = render("github");
    assert.ok(out.includes("::group::build r-runtime-4_4_1 (R 4.4.1, x86_64) (log)\ninstalling jsonlite\ndone\n::endgroup::\n✔ build r-runtime-4_4_1"));
    assert.ok(out.includes("::group::build r-runtime-4_3_3 (R 4.3.3, x86_64) (log)\ninstalling httr\n::endgroup::\n✖ build r-runtime-4_3_3"));
    assert.match(out, /^::error title=build-layer:runtime:4\.3\.3:x86_64 failed::phase BUILD failed/m);
    assert.doesNotMatch(out, /│ r-runtime/);
  });

  test("style follows the environment", () => {
    assert.equal(progressStyle({ GITHUB_ACTIONS: "true" }, true), "github");
    assert.equal(progressStyle({}, true), "terminal");
    assert.equal(progressStyle({}, false), "plain");
  });

  test("elapsed times and the summary line read naturally", () => {
    assert.deepEqual([formatElapsed(400), formatElapsed(59_400), formatElapsed(61_000), formatElapsed(3_725_000)], ["0s", "59s", "1m01s", "1h02m"]);
    assert.equal(summaryText({ succeeded: ["a", "b"], failed: ["c"], skipped: [], elapsedMs: 75_000 }), "Reconcile: 2 succeeded, 1 failed, 0 skipped in 1m15s");
  });
});
