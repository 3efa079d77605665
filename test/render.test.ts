import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { plan } from "../pipeline/lib/plan/planner.ts";
import type { Plan } from "../pipeline/lib/plan/types.ts";
import { renderJson } from "../pipeline/lib/render/json.ts";
import { COMMENT_MARKER, renderMarkdown } from "../pipeline/lib/render/markdown.ts";
import { renderText } from "../pipeline/lib/render/text.ts";
import { observe } from "../pipeline/lib/plan/observe.ts";
import { BASE_YAML, DIGESTS, edit, manifestFrom } from "./support/manifests.ts";
import { memoryBackend } from "./support/memory-backend.ts";
import { publishVersion, seedReconciled } from "./support/seed.ts";

const NOW = new Date("2026-11-25T12:00:00Z");
const ESC = "\u001b";

/** A plan with one of everything: an update, a create, a prune; against a reconciled state. */
async function mixedPlan(): Promise<Plan> {
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
  return plan({ manifestFile: "layers.yaml", graph, observed, now: NOW, prune: true, warnings: manifest.warnings });
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
