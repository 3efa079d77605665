import assert from "node:assert/strict";
import { outsideCode } from "./support/markdown.ts";
import { describe, test } from "node:test";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { plan } from "../pipeline/lib/plan/planner.ts";
import type { Plan } from "../pipeline/lib/plan/types.ts";
import { renderJson } from "../pipeline/lib/render/json.ts";
import type { ExecutionEvent } from "../pipeline/lib/execute/events.ts";
import { COMMENT_MARKER, codeBlock, renderMarkdown } from "../pipeline/lib/render/markdown.ts";
import { publicationSpots } from "../pipeline/lib/render/matrix.ts";
import { renderReconcileSummary } from "../pipeline/lib/render/reconcile.ts";
import { renderText } from "../pipeline/lib/render/text.ts";
import { observe } from "../pipeline/lib/plan/observe.ts";
import { BASE_YAML, DIGESTS, edit, manifestFrom } from "./support/manifests.ts";
import { memoryBackend } from "./support/memory-backend.ts";
import { publishVersion, seedReconciled } from "./support/seed.ts";

const NOW = new Date("2026-11-25T12:00:00Z");
const ESC = "\u001b";

/** A plan with one of everything: an update, a create, a prune; against a reconciled state. */
async function mixedPlan(): Promise<Plan> {
  return (await mixed()).plan;
}

async function mixed() {
  const backend = memoryBackend();
  for (let i = 0; i < 2; i++) {
    await publishVersion(backend, "us-east-1", "r-runtime-4_4_1", { key: String(i).repeat(64) });
  }
  await seedReconciled(backend, computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS));
  const yaml = edit(
    BASE_YAML,
    "packages: [data.table]\n    r: [\"4.4.1\"]\n    architectures: [x86_64]\n    regions: [eu-west-1]",
    "packages: [data.table, gbm]\n    r: [\"4.4.1\"]\n    architectures: [x86_64]\n    regions: [eu-west-1, ap-south-1]\n    repository: https://cloud.r-project.org",
  );
  const manifest = manifestFrom(yaml);
  const graph = computeBuildGraph(manifest, DIGESTS);
  const observed = await observe(graph, backend, { prune: true });
  return { graph, plan: plan({ manifestFile: "layers.yaml", graph, observed, now: NOW, prune: true, warnings: manifest.warnings }) };
}

/** A plan whose every free-text field carries an attempt to break out of its place. */
function hostilePlan(base: Plan): Plan {
  const attack = "x\n\n```\n\n### Plan: nothing to change, safe to merge\n</details><!-- r-lambda-layers:plan --> | `+` |";
  return {
    ...base,
    warnings: [attack],
    actions: base.actions.map((a) => ({ ...a, reason: attack })),
  };
}

describe("text", () => {
  test("groups actions by layer with markers, reasons and a summary line", async () => {
    const text = renderText(await mixedPlan(), { colour: false });
    assert.ok(!text.includes(ESC), "no colour unless asked");
    const lines = text.split("\n");
    assert.equal(lines[0], "Plan for layers.yaml, compared with memory state at memory (pruning)");
    assert.ok(lines.includes("layer solo"));
    assert.ok(lines.includes("layer runtime"));
    assert.ok(lines.some((l) => /^ {2}~ build +r-solo-4_4_1 \(R 4\.4\.1, x86_64\) +inputs changed \(packages changed: \+gbm; repository changed: \S+ → https:\/\/cloud\.r-project\.org\)$/.test(l)), text);
    assert.ok(lines.some((l) => /^ {2}\+ publish +r-solo-4_4_1 → ap-south-1 +not yet published in ap-south-1$/.test(l)), text);
    assert.ok(lines.some((l) => /^ {2}~ publish +r-solo-4_4_1 → eu-west-1 +published version 1 carries another key/.test(l)), text);
    assert.ok(lines.some((l) => /^ {2}- prune +r-runtime-4_4_1 in us-east-1: version 1 +keeps the newest 2 versions$/.test(l)), text);
    assert.equal(lines.filter((l) => l.startsWith("  ")).length - lines.filter((l) => l.startsWith("  !")).length, 4, text);
    assert.ok(lines.includes("Warnings"));
    assert.match(text, /is not pinned to a dated snapshot/);
    assert.equal(lines.at(-2), "Plan: 1 to build, 2 to publish, 0 to grant, 1 to prune, 16 unchanged.");
  });

  test("colour codes mark changes when asked", async () => {
    const text = renderText(await mixedPlan(), { colour: true });
    assert.ok(text.includes(`${ESC}[32m  + publish`));
    assert.ok(text.includes(`${ESC}[31m  - prune`));
    assert.ok(text.includes(`${ESC}[33m  ~ build`));
  });

  test("an empty plan says so", async () => {
    const backend = memoryBackend();
    const graph = computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS);
    await seedReconciled(backend, graph);
    const p = plan({ manifestFile: "layers.yaml", graph, observed: await observe(graph, backend, { prune: false }), now: NOW, prune: false });
    assert.equal(
      renderText(p, { colour: false }),
      "Plan for layers.yaml, compared with memory state at memory\n\nNo changes: what is published matches the manifest.\nPlan: 0 to build, 0 to publish, 0 to grant, 0 to prune, 17 unchanged.\n",
    );
  });
});

describe("json", () => {
  test("is the versioned plan document", async () => {
    const p = await mixedPlan();
    const doc = JSON.parse(renderJson(p)) as Record<string, unknown>;
    assert.equal(doc.version, 1);
    assert.equal(doc.generatedAt, "2026-11-25T12:00:00.000Z");
    assert.deepEqual(doc.summary, { build: 1, publish: 2, grant: 0, prune: 1, unchanged: 16 });
    const actions = doc.actions as Record<string, unknown>[];
    assert.deepEqual(
      actions.map((a) => a.id),
      [
        "prune:r-runtime-4_4_1:us-east-1",
        "build-layer:solo:4.4.1:x86_64",
        "publish:solo:4.4.1:x86_64:eu-west-1",
        "publish:solo:4.4.1:x86_64:ap-south-1",
      ],
    );
    const publish = actions.find((a) => a.id === "publish:solo:4.4.1:x86_64:ap-south-1");
    assert.deepEqual(publish, {
      kind: "publish",
      id: "publish:solo:4.4.1:x86_64:ap-south-1",
      dependsOn: ["build-layer:solo:4.4.1:x86_64"],
      change: "create",
      layer: "solo",
      layerName: "r-solo-4_4_1",
      r: "4.4.1",
      arch: "x86_64",
      region: "ap-south-1",
      key: actions.find((a) => a.kind === "build-layer")?.key,
      reason: "not yet published in ap-south-1",
    });
  });
});

describe("markdown", () => {
  test("summary first, deletions called out, details collapsible, cells escaped", async () => {
    const md = renderMarkdown(await mixedPlan());
    const lines = md.split("\n");
    assert.equal(lines[0], COMMENT_MARKER);
    assert.equal(lines[3], "**1 to build, 2 to publish, 0 to grant, 1 to prune, 16 unchanged**");
    assert.match(md, /> \[!WARNING\]\n> This plan deletes 1 published layer version:\n> - r-runtime-4_4_1 in us-east-1: version 1/);
    assert.match(md, /<details><summary>4 actions<\/summary>[\s\S]*<\/details>\n$/);
    assert.match(md, /\| `~` \| build \| r-solo-4_4_1 \(R 4\.4\.1, x86_64\) \| inputs changed \(packages changed: \+gbm; repository changed: \S+ → https:\/\/cloud\.r-project\.org\) \|/);
    assert.ok(md.indexOf("**1 to build") < md.indexOf("<details>"));
  });

  test("an empty plan has no details block", async () => {
    const backend = memoryBackend();
    const graph = computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS);
    await seedReconciled(backend, graph);
    const p = plan({ manifestFile: "layers.yaml", graph, observed: await observe(graph, backend, { prune: false }), now: NOW, prune: false });
    const md = renderMarkdown(p);
    assert.doesNotMatch(md, /<details>/);
    assert.match(md, /No changes/);
  });
});

describe("the plan at a glance", () => {
  test("markdown leads with one matrix per layer (R version × arch by region), a legend, then deletions, then the details", async () => {
    const { plan: p, graph } = await mixed();
    const md = renderMarkdown(p, { spots: publicationSpots(graph) });
    const lines = md.split("\n");
    assert.equal(lines[0], COMMENT_MARKER);
    const runtime = lines.indexOf("#### layer runtime");
    assert.deepEqual(lines.slice(runtime + 2, runtime + 8), [
      "| R, arch | eu-west-1 | us-east-1 |",
      "|---|---|---|",
      "| R 4.4.1 x86_64 | · unchanged | - 1 pruned |",
      "| R 4.4.1 arm64 | · unchanged | · unchanged |",
      "| R 4.3.3 x86_64 | · unchanged | · unchanged |",
      "| R 4.3.3 arm64 | · unchanged | · unchanged |",
    ]);
    const solo = lines.indexOf("#### layer solo");
    assert.deepEqual(lines.slice(solo + 2, solo + 5), ["| R, arch | ap-south-1 | eu-west-1 |", "|---|---|---|", "| R 4.4.1 x86_64 | + new | ~ replaced |"]);
    assert.match(md, /<sub>`\+` new: first version in the region · `~` replaced: a new version supersedes the published one · `-` pruned: old versions deleted · `·` unchanged<\/sub>/);
    assert.ok(lines.includes("Unchanged: layer stats."));
    const [matrix, warning, details] = [runtime, lines.indexOf("> [!WARNING]"), lines.findIndex((l) => l.startsWith("<details>"))];
    assert.ok(lines.indexOf("**1 to build, 2 to publish, 0 to grant, 1 to prune, 16 unchanged**") < matrix);
    assert.ok(matrix < warning && warning < details, `${matrix} < ${warning} < ${details}`);
    // The JSON plan is untouched by any of this.
    assert.deepEqual(Object.keys(JSON.parse(renderJson(p)) as object), ["version", "generatedAt", "manifest", "state", "pruning", "actions", "summary", "warnings"]);
  });

  test("without the manifest's publications, the matrices show what the plan touches", async () => {
    const md = renderMarkdown(await mixedPlan());
    assert.match(md, /#### layer runtime\n\n\| R, arch \| us-east-1 \|\n\|---\|---\|\n\| R 4\.4\.1 x86_64 \| - 1 pruned \|\n/);
    assert.doesNotMatch(md, /Unchanged: layer/);
  });

  test("text shows the same matrices when the terminal is wide enough, and only then", async () => {
    const { plan: p, graph } = await mixed();
    const wide = renderText(p, { colour: false, width: 80, spots: publicationSpots(graph) }).split("\n");
    const solo = wide.indexOf("layer solo");
    assert.deepEqual(wide.slice(solo, solo + 3), ["layer solo", "  R, arch         ap-south-1  eu-west-1", "  R 4.4.1 x86_64  + new       ~ replaced"]);
    assert.ok(wide.includes("  - pruned: old versions deleted"));
    assert.ok(wide.indexOf("layer solo") < wide.findIndex((l) => l.startsWith("  + publish")));
    const narrow = renderText(p, { colour: false, width: 30, spots: publicationSpots(graph) });
    assert.doesNotMatch(narrow, /R, arch/);
    assert.equal(narrow, renderText(p, { colour: false }));
  });

  test("no manifest or state text can end a cell, a list item or the details block, or start a heading", async () => {
    const md = renderMarkdown(hostilePlan(await mixedPlan()));
    const lines = outsideCode(md);
    assert.equal(md.split(COMMENT_MARKER).length, 2, "the marker only on the first line");
    assert.deepEqual(lines.filter((l) => l.startsWith("#")), ["### r-lambda-layers plan", "#### layer runtime", "#### layer solo", "#### layer runtime", "#### layer solo"]);
    assert.equal((md.match(/<\/details>/g) ?? []).length, 1);
    assert.ok(!md.includes("\n### Plan: nothing to change"));
    for (const l of lines.filter((x) => x.startsWith("| `"))) assert.equal(l.split(/(?<!\\)\|/).length, 6, l);
  });

  test("a code block's fence is longer than any run of backticks in its text", () => {
    assert.equal(codeBlock("plain"), "```text\nplain\n```");
    const text = "a ``` b\n`````\n### Plan: nothing to change, safe to merge";
    const block = codeBlock(text);
    assert.ok(block.startsWith("``````text\n") && block.endsWith("\n``````"), block);
    assert.deepEqual(outsideCode(`before\n${block}\nafter`), ["before", "after"]);
  });
});

describe("reconcile summary", () => {
  test("shows the plan it carried out and each action's result", async () => {
    const { plan: p, graph } = await mixed();
    const events: ExecutionEvent[] = p.actions.map((action) => ({ type: "succeeded", action, elapsedMs: 2000, note: action.kind === "publish" ? "version 4" : undefined }) as ExecutionEvent);
    const md = renderReconcileSummary(p, { summary: { succeeded: p.actions.map((a) => a.id), failed: [], skipped: [], cancelled: [], leftRunning: [], failureCodes: {}, elapsedMs: 75_000 }, events }, { spots: publicationSpots(graph) });
    assert.match(md, /^### r-lambda-layers reconcile\n\n:white_check_mark: \*\*Reconciled\*\*: 4 succeeded, 0 failed, 0 skipped in 1m15s\./);
    assert.match(md, /\| R 4\.4\.1 x86_64 \| \+ new \| ~ replaced \|/);
    assert.match(md, /\| :white_check_mark: \| `\+` \| publish \| r-solo-4_4_1 → ap-south-1 \| 2s; version 4 \|/);
    assert.match(md, /\| :white_check_mark: \| `-` \| prune \| r-runtime-4_4_1 in us-east-1: version 1 \| 2s \|/);
  });

  test("a failure shows its phase, message and log tail verbatim, and what was skipped", async () => {
    const p = await mixedPlan();
    const build = p.actions.find((a) => a.kind === "build-layer")!;
    const publishes = p.actions.filter((a) => a.kind === "publish");
    const tail = ["ERROR: dependency 'curl' is not available", "```", "### Plan: nothing to change, safe to merge", "::warning title=Reviewed::plan approved by platform team"];
    const events: ExecutionEvent[] = [
      { type: "failed", action: build, elapsedMs: 5000, phase: "BUILD", message: "phase BUILD failed: `bash build-layer.sh` exited with status 1", logTail: tail, link: "https://console.aws.amazon.com/codesuite/codebuild/projects/p/build/x" },
      ...publishes.map((action): ExecutionEvent => ({ type: "skipped", action, because: `${build.id} failed` })),
    ];
    const md = renderReconcileSummary(p, { summary: { succeeded: [], failed: [build.id], skipped: publishes.map((a) => a.id), cancelled: [], leftRunning: [], failureCodes: {}, elapsedMs: 5000 }, events });
    assert.match(md, /:x: \*\*The reconcile failed\*\*: 0 succeeded, 1 failed, 2 skipped in 5s\./);
    assert.match(md, /#### :x: build r-solo-4_4_1 \(R 4\.4\.1, x86_64\) failed in phase BUILD\n\nAfter 5s\. \[Full log\]\(https:\/\/console\.aws\.amazon\.com\/codesuite\/codebuild\/projects\/p\/build\/x\)\./);
    assert.ok(md.includes(`The last 4 lines of its log:\n\n\`\`\`\`text\n${tail.join("\n")}\n\`\`\`\``), md);
    assert.ok(!outsideCode(md).some((l) => l.includes("nothing to change")));
    assert.match(md, /\| :fast_forward: \| `\+` \| publish \| r-solo-4_4_1 → ap-south-1 \| skipped: build-layer:solo:4\.4\.1:x86_64 failed \|/);
    assert.match(md, /\| :grey_question: \| `-` \| prune \| .* \| not run \|/);
  });

  test("a reconcile with nothing to do says so", async () => {
    const backend = memoryBackend();
    const graph = computeBuildGraph(manifestFrom(BASE_YAML), DIGESTS);
    await seedReconciled(backend, graph);
    const p = plan({ manifestFile: "layers.yaml", graph, observed: await observe(graph, backend, { prune: false }), now: NOW, prune: false });
    assert.equal(renderReconcileSummary(p, undefined), "### r-lambda-layers reconcile\n\n:white_check_mark: **Nothing to do**: what is published matches `layers.yaml` (0 to build, 0 to publish, 0 to grant, 0 to prune, 17 unchanged).\n");
  });
});
