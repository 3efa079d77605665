/**
 * Builds real package layers with the real buildspec (buildspecs/layer.yml) through the local
 * runner, against the installed R, from a CRAN-like repository made for the test; then checks
 * what a function would get on Lambda: every package loads in a fresh R from the unpacked
 * layer (and the layer below it), nothing below is repeated, the system library R does not
 * provide is bundled, and a second build gives the same bytes.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { makeCranRepo } from "./support/build/cran-repo.ts";
import { runLocalBuild } from "../pipeline/lib/adapters/local/local-build.ts";
import type { LayerBuildInputs } from "../pipeline/lib/keys/inputs.ts";
import { ARCH, REPO_ROOT, buildLayer, exec, freshR, hostR, keyOf, layerKey, sha256File, zipEntries } from "./support/build/layer.ts";

const run = promisify(execFile);

describe("package layer build (real R, real buildspec)", { timeout: 600_000 }, () => {
  let root: string;
  let repo: string;
  let store: string;
  let r: string;
  let rVersion: string;
  const baseKey = keyOf("base layer");
  const mainKey = keyOf("main layer");
  const mainLog: string[] = [];
  let mainSha: string;

  const common = (key: string, name: string, packages: string): Record<string, string> => ({
    BUILD_KEY: key,
    ARCH,
    R_VERSION: rVersion,
    ARTIFACT_STORE: `file://${store}`,
    ARTIFACT_KEY: layerKey(key),
    METADATA_KEY: layerKey(key).replace(/\.zip$/, ".metadata.json"),
    LAYER_NAME: name,
    LAYER_TYPE: "packages",
    R_PACKAGES: packages,
    R_REPOSITORY: repo,
    HOST_R: r,
  });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "layer-test-"));
    store = join(root, "store");
    ({ r, version: rVersion } = await hostR());
    repo = await makeCranRepo(root);
    const base = await buildLayer(common(baseKey, "base", "basepkg chainC"));
    assert.equal(base.status, "SUCCEEDED", base.log.slice(-30).join("\n"));
    const main = await buildLayer(
      { ...common(mainKey, "main", "yamlz chainA basepkg"), STACK_ARTIFACT_KEYS: layerKey(baseKey) },
      mainLog,
    );
    assert.equal(main.status, "SUCCEEDED", main.log.slice(-40).join("\n"));
    mainSha = main.exportedVariables.ARTIFACT_SHA256 ?? "";
  });

  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  const zipOf = (key: string): string => join(store, ...layerKey(key).split("/"));

  it("exports the zip's digest and sizes, and stores metadata beside the zip", async () => {
    const zip = zipOf(mainKey);
    assert.equal(mainSha, await sha256File(zip));
    const metadata = JSON.parse(await readFile(zip.replace(/\.zip$/, ".metadata.json"), "utf8")) as {
      buildKey: string;
      layer: string;
      zippedSize: number;
      unzippedSize: number;
      packages: { name: string; version: string; unzippedSize: number }[];
      bundledLibraries: string[];
    };
    assert.equal(metadata.buildKey, mainKey);
    assert.equal(metadata.layer, "main");
    assert.equal(metadata.zippedSize, (await stat(zip)).size);
    assert.deepEqual(
      metadata.packages.map((p) => `${p.name} ${p.version}`),
      ["chainA 1.0.0", "chainB 1.0.0", "yamlz 1.0.0"],
    );
    assert.ok(metadata.packages.every((p) => p.unzippedSize > 0));
    assert.ok(metadata.bundledLibraries.some((l) => l.startsWith("libyaml")), metadata.bundledLibraries.join(" "));
  });

  it("holds the packages not provided below, the transitive ones included, and nothing else", async () => {
    const entries = await zipEntries(zipOf(mainKey));
    const packages = [...new Set(entries.filter((e) => e.startsWith("R/library/")).map((e) => e.split("/")[2]))].sort();
    assert.deepEqual(packages, ["chainA", "chainB", "yamlz"]);
    assert.ok(entries.every((e) => e.startsWith("R/library/") || e.startsWith("R/lib/")), entries.join("\n"));
    // LinkingTo-only packages are build tools, not run-time dependencies.
    assert.ok(mainLog.some((l) => l.includes("lzhdrs is needed only to compile")));
    assert.ok(mainLog.some((l) => l.includes("basepkg 1.0.0 is provided below")));
    // Help, HTML and documentation are pruned.
    assert.ok(!entries.some((e) => /^R\/library\/[^/]+\/(help|html|doc)\//.test(e)));
  });

  it("bundles the system library R does not load, and not the one R provides", async () => {
    const entries = await zipEntries(zipOf(mainKey));
    const libs = entries.filter((e) => e.startsWith("R/lib/"));
    assert.ok(libs.some((l) => /^R\/lib\/libyaml-0\.so\.\d+$/.test(l)), libs.join(" "));
    assert.ok(!libs.some((l) => l.startsWith("R/lib/libz.")), "zlib is loaded by R itself: provided by the R build");
    assert.ok(!libs.some((l) => /libc\.so|ld-linux|libR\.so/.test(l)), libs.join(" "));
  });

  it("loads every package in a fresh R with only the layer and the layer below on the path", async () => {
    const unpacked = join(root, "unpacked");
    await mkdir(unpacked, { recursive: true });
    await run("unzip", ["-q", "-o", zipOf(baseKey), "-d", join(unpacked, "base")]);
    await run("unzip", ["-q", "-o", zipOf(mainKey), "-d", join(unpacked, "main")]);
    const libs = [join(unpacked, "main", "R", "library"), join(unpacked, "base", "R", "library")];
    const out = await freshR(
      r,
      libs,
      [
        "library(chainA); library(yamlz); library(basepkg)",
        "cat(a_value(), base_value(), yaml_version(), greeting(), sep = '|')",
        "cat('|', find.package('chainC'))",
      ].join("; "),
      [join(unpacked, "main", "R", "lib")],
    );
    const [a, b, yamlVersion, greeting, chainC] = out.split("|");
    assert.equal(a, "ABC");
    assert.equal(b, "base");
    assert.match(yamlVersion ?? "", /^\d+\.\d+\.\d+$/);
    assert.equal(greeting, "from a LinkingTo header");
    assert.equal(chainC?.trim(), join(unpacked, "base", "R", "library", "chainC"));
    // The bundled copy is the one the package's shared object resolves to.
    const { stdout } = await exec("ldd", [join(unpacked, "main", "R", "library", "yamlz", "libs", "yamlz.so")], {
      env: { LD_LIBRARY_PATH: join(unpacked, "main", "R", "lib") },
    });
    assert.match(stdout, new RegExp(`libyaml-0\\.so\\.\\d+ => ${join(unpacked, "main", "R", "lib")}/`));
  });

  it("gives the same zip bytes when built again", async () => {
    const again = await buildLayer({ ...common(mainKey, "main", "yamlz chainA basepkg"), STACK_ARTIFACT_KEYS: layerKey(baseKey) });
    assert.equal(again.status, "SUCCEEDED", again.log.slice(-30).join("\n"));
    assert.equal(again.exportedVariables.ARTIFACT_SHA256, mainSha);
    assert.equal(await sha256File(zipOf(mainKey)), mainSha);
  });

  it("does not bundle a library the provided list names (LAMBDA_PROVIDED_LIBS)", async () => {
    const list = join(root, "provided.txt");
    const unpacked = join(root, "unpacked-provided");
    await mkdir(unpacked, { recursive: true });
    await run("unzip", ["-q", "-o", zipOf(mainKey), "-d", unpacked]);
    const { stdout: sonames } = await exec("bash", ["-c", `ls ${JSON.stringify(join(unpacked, "R", "lib"))}`]);
    await writeFile(list, `# test list\nlibc.so.6\n${sonames}`);
    const script = [
      "set -euo pipefail",
      `COMMON_DIR=${JSON.stringify(join(REPO_ROOT, "r-compile", "common"))}`,
      '. "$COMMON_DIR/lib.sh"; . "$COMMON_DIR/bundle-libs.sh"',
      "load_provided_list",
      'provide_files_in "$(R RHOME)/lib"; provide_sonames_of "$(R RHOME)/lib/libR.so"',
      'bundle_dependencies "$DEST" "$SO"',
      'printf "bundled:%s\\n" "${BUNDLED[@]}"',
    ].join("\n");
    const dest = join(root, "bundle-check");
    const { stdout } = await exec("bash", ["-c", script], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        LAMBDA_PROVIDED_LIBS: list,
        DEST: dest,
        SO: join(unpacked, "R", "library", "yamlz", "libs", "yamlz.so"),
      },
    });
    assert.equal(stdout.trim(), "bundled:", "every library is provided: nothing to bundle");
  });

  it("fails, with the compiler's error in the log, when a package does not install", async () => {
    const key = keyOf("broken layer");
    const result = await buildLayer(common(key, "broken", "broken"));
    assert.equal(result.status, "FAILED");
    assert.equal(result.failedPhase, "build");
    const log = result.log.join("\n");
    assert.match(log, /this is not C/);
    assert.match(log, /package installation failed/);
    assert.match(log, /installing the packages of layer broken failed/);
    // post_build still ran (as in CodeBuild) and exported nothing.
    assert.match(log, /the build failed; nothing to export/);
    assert.equal(result.exportedVariables.ARTIFACT_SHA256, "");
    await assert.rejects(stat(zipOf(key)), { code: "ENOENT" });
  });

  it("builds from a layer's inputs into the local backend's folder (runLocalBuild, host mode)", async () => {
    const key = keyOf("local build");
    const inputs: LayerBuildInputs = {
      kind: "layer",
      layer: "local",
      type: "packages",
      rVersion,
      arch: ARCH,
      rBuildKey: keyOf("no r build: HOST_R stands in"),
      packages: ["chainB"],
      repository: repo,
      systemLibraries: [],
      stacks: [{ layer: "base", key: baseKey }],
      scripts: "digest",
    };
    const localStore = join(root, "local-store");
    await mkdir(join(localStore, "artifacts", "layers"), { recursive: true });
    await run("cp", [zipOf(baseKey), join(localStore, ...layerKey(baseKey).split("/"))]);
    const result = await runLocalBuild({
      inputs,
      key,
      storeRoot: localStore,
      mode: { kind: "host" },
      toolRoot: REPO_ROOT,
      extraEnv: { HOST_R: r, R_BUILD_ARTIFACT_KEY: "" },
    });
    assert.equal(result.status, "SUCCEEDED", result.log.slice(-30).join("\n"));
    assert.equal(result.zipPath, join(localStore, "artifacts", "layers", `${key}.zip`));
    assert.equal(result.metadata?.buildKey, key);
    assert.equal(result.exportedVariables.ARTIFACT_SHA256, await sha256File(result.zipPath));
    assert.deepEqual(
      [...new Set((await zipEntries(result.zipPath)).map((e) => e.split("/")[2]))],
      ["chainB"],
      "chainC comes from the stacked base layer",
    );
  });

  it("fails clearly when everything asked for is provided below", async () => {
    const result = await buildLayer({ ...common(keyOf("all below"), "empty", "basepkg"), STACK_ARTIFACT_KEYS: layerKey(baseKey) });
    assert.equal(result.status, "FAILED");
    assert.match(result.log.join("\n"), /nothing to put in layer empty: everything it asks for is provided by the layers below it/);
  });

  it("fails clearly for a package the repository does not have", async () => {
    const result = await buildLayer(common(keyOf("missing package"), "missing", "nosuchpkg"));
    assert.equal(result.status, "FAILED");
    assert.match(result.log.join("\n"), /not in the repository file:\/\/.*: nosuchpkg/);
  });

  it("fails above Lambda's unzipped size limit, and warns above 80% of it", async () => {
    const over = await buildLayer({ ...common(keyOf("too big"), "big", "basepkg"), LAMBDA_UNZIPPED_LIMIT_OVERRIDE: "1000" });
    assert.equal(over.status, "FAILED");
    const message = /too large for Lambda: this layer unzips to (\d+) bytes .* over Lambda's limit of 1000 bytes/.exec(over.log.join("\n"));
    assert.ok(message, over.log.slice(-20).join("\n"));
    const size = Number(message[1]);
    assert.ok(size > 0);
    const near = await buildLayer({
      ...common(keyOf("near limit"), "near", "basepkg"),
      LAMBDA_UNZIPPED_LIMIT_OVERRIDE: String(Math.floor(size / 0.9)),
    });
    assert.equal(near.status, "SUCCEEDED", near.log.slice(-20).join("\n"));
    assert.match(near.log.join("\n"), /WARNING: this layer and the layers below it unzip to \d+ bytes, (8\d|9\d)% of Lambda's/);
  });
});
