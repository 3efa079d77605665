/**
 * The lock end to end with real R: `lock` against a CRAN-like repository made for the test, a
 * local reconcile that installs exactly the locked versions and records them in the outputs
 * index, a one-package bump planned as one layer's rebuild, and builds that verify each
 * tarball's checksum (over HTTP on the loopback) and take older versions from the Archive.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalArtifactStore } from "../pipeline/lib/adapters/local/state.ts";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { readSourceDigests } from "../pipeline/lib/keys/sources.ts";
import { lockStatus } from "../pipeline/lib/lock/current.ts";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { artifactObjectKey } from "../pipeline/lib/naming.ts";
import { makeCranRepo } from "./support/build/cran-repo.ts";
import { ARCH, buildLayer, exec, hostR, keyOf, layerKey } from "./support/build/layer.ts";
import { runPipeline } from "./support/lock/cli.ts";
import { serveFolder } from "./support/lock/repo-server.ts";
import type { RepoServer } from "./support/lock/repo-server.ts";

const md5 = async (file: string) => createHash("md5").update(await readFile(file)).digest("hex");

describe("locked builds (real R, real buildspec)", { timeout: 600_000 }, () => {
  let root: string;
  let repoDir: string;
  let contrib: string;
  let rVersion: string;
  let r: string;
  let server: RepoServer;
  let manifest: string;
  let state: string;

  // The test repository is a folder (file://), which only local builds may use, and only when asked.
  const cli = (entry: string, ...args: string[]) => runPipeline(entry, ["--manifest", manifest, "--allow-file-repository", ...args]);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "rll-lock-build-"));
    ({ r, version: rVersion } = await hostR());
    await makeCranRepo(root);
    repoDir = join(root, "repo");
    contrib = join(repoDir, "src", "contrib");
    server = await serveFolder(repoDir);
    manifest = join(root, "work", "layers.yaml");
    state = join(root, "work", ".layers");
    await mkdir(join(root, "work"), { recursive: true });
    await writeFile(
      manifest,
      `version: 1
r:
  versions: ["${rVersion}"]
defaults:
  architectures: [${ARCH}]
  regions: [us-east-1]
  repository: file://${repoDir}
artifacts:
  bucket: lock-e2e-{region}
builder:
  project: lock-e2e
  region: us-east-1
layers:
  - name: base
    packages: [basepkg, chainC]
  - name: main
    packages: [chainA]
    stacksOn: [base]
`,
    );
  });
  after(async () => {
    await server?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  /** The installed R stands in for an R build: a zip whose R/lib/R is a link to it, with its record. */
  async function seedRBuild(): Promise<void> {
    const text = await readFile(manifest, "utf8");
    const parsed = parseManifest(text, manifest, { allowFileRepositories: true });
    const [rBuild] = computeBuildGraph(parsed, await readSourceDigests(), lockStatus(parsed, undefined)).rBuilds;
    assert.ok(rBuild);
    const tree = join(root, "rbuild");
    await mkdir(join(tree, "R", "lib"), { recursive: true });
    const { stdout: rhome } = await exec(r, ["RHOME"]);
    await symlink(rhome.trim(), join(tree, "R", "lib", "R"));
    const zip = join(state, ...artifactObjectKey("r", rBuild.key).split("/"));
    await mkdir(join(zip, ".."), { recursive: true });
    await exec("zip", ["-qry", zip, "R"], { cwd: tree });
    await new LocalArtifactStore(state).writeRecord({ kind: "r", key: rBuild.key }, { version: 1, key: rBuild.key, inputs: rBuild.inputs });
  }

  async function publishChainA(version: string): Promise<void> {
    const src = join(root, "sources-next", "chainA");
    await mkdir(join(src, "R"), { recursive: true });
    await writeFile(
      join(src, "DESCRIPTION"),
      `Package: chainA\nVersion: ${version}\nTitle: Test Package chainA\nDescription: A newer chainA.\nAuthors@R: person("Test", "Author", email = "test@example.org", role = c("aut", "cre"))\nLicense: MIT + file LICENSE\nImports: chainB\n`,
    );
    await writeFile(join(src, "LICENSE"), "YEAR: 2024\nCOPYRIGHT HOLDER: r-lambda-layers tests\n");
    await writeFile(join(src, "NAMESPACE"), "export(a_value)\nimportFrom(chainB, b_value)\n");
    await writeFile(join(src, "R", "a.R"), `a_value <- function() paste0("A${version}", b_value())\n`);
    const env = { ...process.env, R_LIBS_USER: join(root, "none"), R_LIBS_SITE: join(root, "none") };
    await exec(r, ["CMD", "build", "--no-build-vignettes", "--no-manual", src], { cwd: contrib, env });
    await mkdir(join(contrib, "Archive", "chainA"), { recursive: true });
    await rename(join(contrib, "chainA_1.0.0.tar.gz"), join(contrib, "Archive", "chainA", "chainA_1.0.0.tar.gz"));
    await exec("Rscript", ["--vanilla", "-e", `tools::write_PACKAGES(${JSON.stringify(contrib)}, type = "source")`], { env });
  }

  test("lock, reconcile the locked versions, bump one package: one layer rebuilt, its new version in the outputs", async () => {
    const locked = await cli("lock.ts");
    assert.equal(locked.status, 0, locked.stderr);
    assert.match(locked.stdout, /main \(R [\d.]+\): new entry \(2 packages: chainA 1\.0\.0, chainB 1\.0\.0\)/);
    await seedRBuild();

    const first = await cli("reconcile.ts");
    assert.equal(first.status, 0, `${first.stdout}\n${first.stderr}`);
    assert.match(first.stdout, /chainB 1\.0\.0: md5 [0-9a-f]{32} verified/);
    assert.match(first.stdout, /installed the 2 locked packages/);
    const shown = await cli("outputs.ts", "--layer", "main", "--packages");
    assert.equal(shown.status, 0, shown.stderr);
    assert.match(shown.stdout, /^r-main-\d_\d_\d\S*:1 \(main, R [\d.]+, \w+, us-east-1\)\n {2}chainA {2}1\.0\.0\n {2}chainB {2}1\.0\.0\n$/);

    await publishChainA("1.0.1");
    const upgraded = await cli("lock.ts", "--upgrade", "chainA");
    assert.equal(upgraded.status, 0, upgraded.stderr);
    assert.match(upgraded.stdout, /main \(R [\d.]+\): chainA 1\.0\.0 → 1\.0\.1\n$/);
    const plan = await cli("plan.ts");
    assert.equal(plan.status, 0, plan.stderr);
    assert.equal(plan.stdout.match(/^ {2}[~+] build /gm)?.length, 1, plan.stdout);
    assert.match(plan.stdout, /~ build +r-main-\S+ \(R [\d.]+, \w+\) +inputs changed \(packages changed: chainA 1\.0\.0 → 1\.0\.1\)/);
    assert.match(plan.stdout, /Plan: 1 to build, 1 to publish, 0 to grant, 0 to prune, 1 unchanged\./);

    const second = await cli("reconcile.ts");
    assert.equal(second.status, 0, `${second.stdout}\n${second.stderr}`);
    const index = JSON.parse(await readFile(join(state, "outputs", "index.json"), "utf8")) as { layers: { layer: string; version: number; packages?: { name: string; version: string }[] }[] };
    assert.deepEqual(
      index.layers.map((e) => [e.layer, e.version, e.packages?.map((p) => `${p.name} ${p.version}`)]),
      [
        ["base", 1, ["basepkg 1.0.0", "chainC 1.0.0"]],
        ["main", 2, ["chainA 1.0.1", "chainB 1.0.0"]],
      ],
    );
  });

  const common = (label: string, packages: string, locked: string): Record<string, string> => ({
    BUILD_KEY: keyOf(label),
    ARCH,
    R_VERSION: rVersion,
    ARTIFACT_STORE: `file://${join(root, "store")}`,
    ARTIFACT_KEY: layerKey(keyOf(label)),
    METADATA_KEY: layerKey(keyOf(label)).replace(/\.zip$/, ".metadata.json"),
    LAYER_NAME: "locked",
    LAYER_TYPE: "packages",
    R_PACKAGES: packages,
    R_REPOSITORY: server.url,
    R_LOCKED_PACKAGES: locked,
    HOST_R: r,
  });

  test("a tarball whose checksum differs from the lock fails the build, naming the package, before anything installs", async () => {
    const good = await md5(join(contrib, "chainB_1.0.0.tar.gz"));
    const result = await buildLayer(common("checksum mismatch", "chainB", `chainC/1.0.0/md5/${"0".repeat(32)} chainB/1.0.0/md5/${good}`));
    assert.equal(result.status, "FAILED");
    const log = result.log.join("\n");
    assert.match(log, /checksum mismatch for package chainC 1\.0\.0: the lock file says md5 0{32}, the tarball from http:\/\/127\.0\.0\.1:\d+\/src\/contrib\/chainC_1\.0\.0\.tar\.gz has [0-9a-f]{32}/);
    assert.doesNotMatch(log, /installing \*source\* package/);
  });

  // After the bump above, chainA 1.0.0 lives in src/contrib/Archive/chainA/.
  test("an older locked version comes from the repository's Archive, over HTTP", async () => {
    const archived = join(contrib, "Archive", "chainA", "chainA_1.0.0.tar.gz");
    const locked = [
      `chainC/1.0.0/md5/${await md5(join(contrib, "chainC_1.0.0.tar.gz"))}`,
      `chainB/1.0.0/md5/${await md5(join(contrib, "chainB_1.0.0.tar.gz"))}`,
      `chainA/1.0.0/md5/${await md5(archived)}`,
    ].join(" ");
    const result = await buildLayer(common("archived", "chainA", locked));
    assert.equal(result.status, "SUCCEEDED", result.log.slice(-30).join("\n"));
    const metadata = JSON.parse(await readFile(join(root, "store", ...layerKey(keyOf("archived")).split("/")).replace(/\.zip$/, ".metadata.json"), "utf8")) as {
      packages: { name: string; version: string }[];
    };
    assert.deepEqual(metadata.packages.map((p) => `${p.name} ${p.version}`), ["chainA 1.0.0", "chainB 1.0.0", "chainC 1.0.0"]);
    assert.ok((server.requests.get("/src/contrib/Archive/chainA/chainA_1.0.0.tar.gz") ?? 0) >= 1);
  });
});
