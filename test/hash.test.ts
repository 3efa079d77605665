import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { canonicalJson } from "../pipeline/lib/keys/canonical.ts";
import { buildKey, computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import type { LayerBuildInputs, RBuildInputs } from "../pipeline/lib/keys/inputs.ts";
import { digestFiles, readSourceDigests } from "../pipeline/lib/keys/sources.ts";
import type { SourceDigests } from "../pipeline/lib/keys/sources.ts";
import { BASE_YAML, DIGESTS, edit, manifestFrom } from "./support/manifests.ts";

const R_INPUTS: RBuildInputs = {
  kind: "r",
  rVersion: "4.4.1",
  arch: "x86_64",
  image: "public.ecr.aws/sam/build-provided.al2023:x86",
  scripts: "a".repeat(64),
};

const LAYER_INPUTS: LayerBuildInputs = {
  kind: "layer",
  layer: "stats",
  type: "packages",
  rVersion: "4.4.1",
  arch: "x86_64",
  rBuildKey: "1".repeat(64),
  packages: ["gbm", "survival"],
  repository: "https://packagemanager.posit.co/cran/2024-11-01",
  systemLibraries: ["libgomp.so.1"],
  stacks: [{ layer: "runtime", key: "2".repeat(64) }],
  scripts: "b".repeat(64),
};

const keysOf = (yaml: string, digests: SourceDigests = DIGESTS) => {
  const graph = computeBuildGraph(manifestFrom(yaml), digests);
  return new Map([...graph.rBuilds, ...graph.layerBuilds].map((b) => [b.id, b.key]));
};

const temps: string[] = [];
after(async () => {
  await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true })));
});

async function checkout(files: Record<string, string | Buffer>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "rll-checkout-"));
  temps.push(root);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

const SCRIPTS = {
  "r-compile/r/build-r.sh": "#!/bin/bash\n./configure --prefix=/opt/R\n",
  "r-compile/layer/build-layer.sh": "#!/bin/bash\nRscript install.R\n",
  "r-compile/layer/install.R": "install.packages(pkgs)\n",
  "r-compile/common/zip.sh": "#!/bin/bash\nzip -X\n",
  "buildspecs/r-compile.yml": "version: 0.2\n",
  "buildspecs/layer.yml": "version: 0.2\n",
  "runtime/bootstrap": "#!/bin/sh\nexec Rscript runtime.R\n",
  "runtime/runtime.R": "loop()\n",
};

describe("build keys are stable", () => {
  test("a fixed input always has the same key (changing this value rebuilds every layer of every user)", () => {
    // sha256 of the canonical JSON, checked independently with `printf '%s' '<json>' | sha256sum`.
    assert.equal(
      canonicalJson(R_INPUTS),
      `{"arch":"x86_64","image":"public.ecr.aws/sam/build-provided.al2023:x86","kind":"r","rVersion":"4.4.1","scripts":"${"a".repeat(64)}"}`,
    );
    assert.equal(buildKey(R_INPUTS), "890f1d3b21fb73f7e29c1fdab8c70bb85405fae8eaf3924b3b434ee68b33dedf");
  });

  test("object key order does not matter", () => {
    const reordered = Object.fromEntries(Object.entries(LAYER_INPUTS).reverse()) as unknown as LayerBuildInputs;
    assert.equal(buildKey(reordered), buildKey(LAYER_INPUTS));
  });

  test("reordered packages and manifest keys give the same keys", () => {
    const reordered = edit(
      edit(BASE_YAML, "packages: [survival, gbm]", "packages: [gbm, survival]"),
      "    type: runtime\n    packages: [jsonlite, httr]",
      "    packages: [httr, jsonlite]\n    type: runtime",
    );
    assert.deepEqual(keysOf(reordered), keysOf(BASE_YAML));
  });

  test("CRLF and LF checkouts, at different paths, give the same digests", async () => {
    const lf = await checkout(SCRIPTS);
    const crlf = await checkout(Object.fromEntries(Object.entries(SCRIPTS).map(([p, c]) => [p, c.replaceAll("\n", "\r\n")])));
    assert.notEqual(lf, crlf);
    assert.deepEqual(await readSourceDigests(crlf), await readSourceDigests(lf));
  });

  test("file order does not matter, but binary content is hashed as it is", () => {
    const a = { path: "r-compile/r/a", content: Buffer.from("x\r\n") };
    const b = { path: "r-compile/r/b", content: Buffer.from("y") };
    assert.equal(digestFiles([a, b], ["r-compile/r"]), digestFiles([b, a], ["r-compile/r"]));
    const binLf = { path: "r-compile/r/blob", content: Buffer.from([0, 10]) };
    const binCrlf = { path: "r-compile/r/blob", content: Buffer.from([0, 13, 10]) };
    assert.notEqual(digestFiles([binLf], ["r-compile/r"]), digestFiles([binCrlf], ["r-compile/r"]));
  });
});

describe("build keys are sensitive to every input", () => {
  const rChanges: Partial<RBuildInputs>[] = [
    { rVersion: "4.4.2" },
    { arch: "arm64" },
    { image: "public.ecr.aws/sam/build-provided.al2023:other" },
    { scripts: "c".repeat(64) },
  ];
  for (const change of rChanges) {
    test(`R build: ${Object.keys(change)[0]}`, () => {
      assert.notEqual(buildKey({ ...R_INPUTS, ...change }), buildKey(R_INPUTS));
    });
  }

  const layerChanges: Partial<LayerBuildInputs>[] = [
    { layer: "other" },
    { type: "runtime" },
    { rVersion: "4.3.3" },
    { arch: "arm64" },
    { rBuildKey: "3".repeat(64) },
    { packages: ["gbm"] },
    { packages: ["gbm", "survival", "xgboost"] },
    { repository: "https://packagemanager.posit.co/cran/2025-01-01" },
    { systemLibraries: [] },
    { stacks: [] },
    { stacks: [{ layer: "runtime", key: "4".repeat(64) }] },
    { scripts: "d".repeat(64) },
    { runtimeFiles: "e".repeat(64) },
  ];
  for (const change of layerChanges) {
    test(`layer build: ${Object.keys(change)[0]} = ${JSON.stringify(Object.values(change)[0]).slice(0, 40)}`, () => {
      assert.notEqual(buildKey({ ...LAYER_INPUTS, ...change }), buildKey(LAYER_INPUTS));
    });
  }

  test("each source set sees only its own files", async () => {
    const base = await readSourceDigests(await checkout(SCRIPTS));
    const changed = async (path: string, content = "changed\n") =>
      readSourceDigests(await checkout({ ...SCRIPTS, [path]: content }));

    const r = await changed("r-compile/r/build-r.sh");
    assert.deepEqual([r.rBuild !== base.rBuild, r.layerBuild !== base.layerBuild, r.runtime !== base.runtime], [true, false, false]);
    const layer = await changed("buildspecs/layer.yml");
    assert.deepEqual([layer.rBuild !== base.rBuild, layer.layerBuild !== base.layerBuild, layer.runtime !== base.runtime], [false, true, false]);
    const common = await changed("r-compile/common/zip.sh");
    assert.deepEqual([common.rBuild !== base.rBuild, common.layerBuild !== base.layerBuild, common.runtime !== base.runtime], [true, true, false]);
    const runtime = await changed("runtime/runtime.R");
    assert.deepEqual([runtime.rBuild !== base.rBuild, runtime.layerBuild !== base.layerBuild, runtime.runtime !== base.runtime], [false, false, true]);
    const added = await changed("r-compile/layer/new-helper.R");
    assert.notEqual(added.layerBuild, base.layerBuild);
    const renamed = await readSourceDigests(
      await checkout({ ...Object.fromEntries(Object.entries(SCRIPTS).filter(([p]) => p !== "runtime/runtime.R")), "runtime/main.R": "loop()\n" }),
    );
    assert.notEqual(renamed.runtime, base.runtime, "a renamed file changes the digest");
    const deleted = await readSourceDigests(
      await checkout(Object.fromEntries(Object.entries(SCRIPTS).filter(([p]) => p !== "buildspecs/r-compile.yml"))),
    );
    assert.notEqual(deleted.rBuild, base.rBuild, "a deleted buildspec changes the digest");
  });

  test("changing one layer's packages changes only that layer's keys", () => {
    const before = keysOf(BASE_YAML);
    const after = keysOf(edit(BASE_YAML, "packages: [survival, gbm]", "packages: [survival, gbm, xgboost]"));
    const changed = [...before.keys()].filter((id) => before.get(id) !== after.get(id)).sort();
    assert.deepEqual(changed, ["stats/4.3.3/arm64", "stats/4.3.3/x86_64", "stats/4.4.1/arm64", "stats/4.4.1/x86_64"]);
  });

  test("bumping an R version changes that R build and every layer built on it, nothing else", () => {
    const before = keysOf(BASE_YAML);
    const after = keysOf(edit(BASE_YAML, `versions: ["4.4.1", "4.3.3"]`, `versions: ["4.4.2", "4.3.3"]`).replace(`r: ["4.4.1"]`, `r: ["4.4.2"]`));
    const same = [...before.keys()].filter((id) => after.has(id) && before.get(id) === after.get(id)).sort();
    assert.deepEqual(same, [
      "4.3.3/arm64",
      "4.3.3/x86_64",
      "runtime/4.3.3/arm64",
      "runtime/4.3.3/x86_64",
      "stats/4.3.3/arm64",
      "stats/4.3.3/x86_64",
    ]);
    assert.equal([...after.keys()].filter((id) => id.includes("4.4.2")).length, 7);
  });
});
