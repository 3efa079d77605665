import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { readSourceDigests } from "../pipeline/lib/keys/sources.ts";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { LocalArtifactStore, LocalPublishedLayers } from "../pipeline/lib/adapters/local/state.ts";
import { REPO, runEntry } from "./support/cli.ts";
import { BASE_YAML, edit } from "./support/manifests.ts";
import { seedReconciled } from "./support/seed.ts";

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "rll-cli-"));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe("tsx pipeline/plan.ts", () => {
  test("prints the full initial plan for the repository's layers.yaml and creates no state", async () => {
    const state = join(work, "fresh-state");
    const r = await runEntry("plan.ts", ["--state", state]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    assert.match(r.stdout, /^Plan for layers\.yaml, compared with local state at /);
    for (const layer of ["runtime", "recommended", "awspack", "origent"]) assert.match(r.stdout, new RegExp(`^layer ${layer}$`, "m"));
    assert.match(r.stdout, /\+ publish +r-runtime-4_4_1-arm64 → eu-central-1/);
    assert.match(r.stdout, /^Plan: 17 to build, 37 to publish, 0 to grant, 0 to prune, 0 unchanged\.$/m);
    await assert.rejects(stat(state), /ENOENT/, "a plan changes nothing, not even the state folder");
  });

  test("--detailed-exitcode: 2 with changes, 0 without", async () => {
    const manifest = join(work, "layers.yaml");
    await writeFile(manifest, BASE_YAML);
    const state = join(work, "state-detailed");
    const changes = await runEntry("plan.ts", ["--manifest", manifest, "--state", state, "--detailed-exitcode"]);
    assert.equal(changes.status, 2, changes.stderr);

    const root = state;
    const graph = computeBuildGraph(parseManifest(BASE_YAML, manifest), await readSourceDigests());
    await seedReconciled(
      { description: { backend: "local", location: root }, artifacts: new LocalArtifactStore(root), layers: new LocalPublishedLayers(root) },
      graph,
    );
    const none = await runEntry("plan.ts", ["--manifest", manifest, "--state", state, "--detailed-exitcode"]);
    assert.equal(none.status, 0, none.stderr);
    assert.match(none.stdout, /No changes/);
    assert.match(none.stdout, /17 unchanged/);
    const plain = await runEntry("plan.ts", ["--manifest", manifest, "--state", state]);
    assert.equal(plain.status, 0);

    // Editing one layer now shows exactly that layer's work.
    await writeFile(manifest, edit(BASE_YAML, "packages: [data.table]", "packages: [data.table, gbm]"));
    const edited = await runEntry("plan.ts", ["--manifest", manifest, "--state", state, "--format", "json"]);
    assert.equal(edited.status, 0, edited.stderr);
    const doc = JSON.parse(edited.stdout) as { version: number; actions: { id: string; reason: string }[] };
    assert.equal(doc.version, 1);
    assert.deepEqual(
      doc.actions.map((a) => [a.id, a.reason]),
      [
        ["build-layer:solo:4.4.1:x86_64", "inputs changed (packages changed: +gbm)"],
        ["publish:solo:4.4.1:x86_64:eu-west-1", "published version 1 carries another key (packages changed: +gbm)"],
        ["parameter:solo:4.4.1:x86_64:eu-west-1", "points to the version the publish creates (now version 1)"],
      ],
    );
  });

  test("--state defaults to .layers beside the manifest", async () => {
    const dir = await mkdtemp(join(work, "beside-"));
    await writeFile(join(dir, "layers.yaml"), BASE_YAML);
    await cp(join(REPO, "package.json"), join(dir, "unrelated.json"));
    const r = await runEntry("plan.ts", ["--manifest", join(dir, "layers.yaml")], { cwd: work });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /compared with local state at beside-\w+\/\.layers/);
  });

  test("markdown output is the pull-request comment", async () => {
    const r = await runEntry("plan.ts", ["--state", join(work, "md-state"), "--format", "markdown"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^<!-- r-lambda-layers:plan -->\n### r-lambda-layers plan\n\n\*\*17 to build, 37 to publish/);
  });

  test("an invalid manifest: every problem as file:line:col on stderr, exit 1, nothing on stdout", async () => {
    const manifest = join(work, "bad.yaml");
    await writeFile(
      manifest,
      edit(edit(BASE_YAML, "packages: [survival, gbm]", 'packages: [survival, "gbm;reboot"]'), "regions: [eu-west-1]", "regions: [eu-west-9x]"),
    );
    const r = await runEntry("plan.ts", ["--manifest", manifest, "--state", join(work, "bad-state")]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.deepEqual(r.stderr.trim().split("\n"), [
      `${manifest}:22:26: layers[1].packages[1]: "gbm;reboot" is not a valid R package name (letters, digits and dots; starts with a letter; does not end with a dot)`,
      `${manifest}:27:15: layers[2].regions[0]: "eu-west-9x" is not an AWS region code such as us-east-1`,
      "error[MANIFEST_INVALID]: 2 problems in the manifest; nothing was done",
    ]);
  });

  test("a missing manifest, a bad flag and an unknown format are one clear line each, exit 1", async () => {
    const missing = await runEntry("plan.ts", ["--manifest", join(work, "nope.yaml")]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^error\[MANIFEST_UNREADABLE\]: cannot read manifest .*nope\.yaml: no such file\n$/);

    const flag = await runEntry("plan.ts", ["--prnue"]);
    assert.equal(flag.status, 1);
    assert.match(flag.stderr, /^error\[USAGE\]: Unknown option '--prnue'/);

    const format = await runEntry("plan.ts", ["--format", "yaml"]);
    assert.equal(format.status, 1);
    assert.equal(format.stderr, 'error[USAGE]: --format must be one of text, json, markdown, not "yaml"\n');
  });

  test("a corrupt state file fails loudly instead of planning a republish", async () => {
    const state = join(work, "corrupt-state");
    const manifest = join(work, "layers-corrupt.yaml");
    await writeFile(manifest, BASE_YAML);
    await mkdir(join(state, "published", "eu-west-1"), { recursive: true });
    await writeFile(join(state, "published", "eu-west-1", "r-solo-4_4_1.json"), "{ not json");
    const r = await runEntry("plan.ts", ["--manifest", manifest, "--state", state]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error\[STATE_UNREADABLE\]: .*r-solo-4_4_1\.json is not valid JSON .*fix or remove it\n$/);
  });

  test("--help prints usage and exits 0", async () => {
    const r = await runEntry("plan.ts", ["--help"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^Usage: tsx pipeline\/plan\.ts \[options\]/);
    const readme = await readFile(join(REPO, "README.md"), "utf8");
    for (const flag of ["--manifest", "--backend", "--state", "--format", "--prune", "--detailed-exitcode"]) {
      assert.match(r.stdout, new RegExp(flag));
      assert.match(readme, new RegExp(flag), `README documents ${flag}`);
    }
  });
});

test("in GitHub Actions, manifest problems are also annotations on the exact lines", async () => {
  const dir = await mkdtemp(join(tmpdir(), "rll-gha-"));
  const manifest = join(dir, "layers.yaml");
  await writeFile(manifest, edit(BASE_YAML, "packages: [survival, gbm]", "packages: [survival, \"gbm,x: y\"]"));
  const r = await runEntry("plan.ts", ["--manifest", manifest], { env: { GITHUB_ACTIONS: "true" } });
  assert.equal(r.status, 1);
  const annotations = r.stderr.split("\n").filter((l) => l.startsWith("::"));
  assert.deepEqual(annotations, [
    `::error file=${manifest},line=22,col=26,title=layers[1].packages[1]::"gbm,x: y" is not a valid R package name (letters, digits and dots; starts with a letter; does not end with a dot)`,
  ]);
  await rm(dir, { recursive: true, force: true });
});
