/**
 * Slow, opt-in (`npm run test:slow`): compiles R from a local source tarball with the real
 * buildspec (buildspecs/r-compile.yml) twice, in the same work folder one after the other, and
 * checks that the two zips are the same bytes (naming the files that differ when they are not);
 * builds a runtime layer on it with buildspecs/layer.yml (the real runtime/ files plus a package
 * with C code compiled against the new R), unpacks the layer and serves an invocation through
 * the real bootstrap and a Runtime API emulator.
 *
 * The R source: R_SOURCE_TARBALL, or else Debian's (fetched with `apt-get source
 * --download-only r-base`, which needs a deb-src line; see r-compile/README.md). Each compile
 * takes several minutes on 2 cores. SLOW_TEST_R_ZIP=<an R build zip> skips the compiles (and
 * the reproducibility check) for iterating on the later steps only.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { makeCranRepo } from "../support/build/cran-repo.ts";
import { ARCH, R_BUILDSPEC, REPO_ROOT, buildLayer, keyOf, layerKey, sha256File, zipEntries } from "../support/build/layer.ts";
import { runBuildspecFile } from "../../pipeline/lib/runner/runner.ts";
import { HostExecutor } from "../../pipeline/lib/runner/targets.ts";
import { RuntimeApiEmulator } from "../support/runtime/emulator.ts";
import { startRuntime, writeTaskRoot } from "../support/runtime/process.ts";

const exec = promisify(execFile);

async function findSourceTarball(): Promise<string> {
  if (process.env.R_SOURCE_TARBALL) return process.env.R_SOURCE_TARBALL;
  const dir = join(tmpdir(), "r-lambda-layers-r-source");
  await mkdir(dir, { recursive: true });
  const find = async () => (await readdir(dir)).find((f) => /^r-base_.*\.orig\.tar\.(gz|xz)$/.test(f));
  let found = await find();
  if (!found) {
    try {
      await exec("apt-get", ["source", "--download-only", "r-base"], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      throw new Error(
        "no R source tarball: set R_SOURCE_TARBALL, or add a deb-src line for Debian and let this test run " +
          `\`apt-get source --download-only r-base\` (see r-compile/README.md): ${(error as Error).message}`,
      );
    }
    found = await find();
  }
  if (!found) throw new Error(`apt-get source left no r-base_*.orig.tar.* in ${dir}`);
  return join(dir, found);
}

describe("R compiled from source, runtime layer, one invocation (slow)", { timeout: 3_600_000 }, () => {
  let root: string;
  let store: string;
  let againStore: string;
  let rVersion: string;
  const rKey = keyOf("slow r build");
  const runtimeKey = keyOf("slow runtime layer");
  const rObject = `artifacts/r/${rKey}.zip`;
  const figures: string[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "slow-build-"));
    store = join(root, "store");
    againStore = join(root, "store-again");
    const tarball = await findSourceTarball();
    const { stdout } = await exec("tar", ["-xzOf", tarball, "--wildcards", "*/VERSION"]);
    rVersion = stdout.trim().split(/\s+/)[0] ?? "";
    assert.match(rVersion, /^\d+\.\d+\.\d+$/);

    if (process.env.SLOW_TEST_R_ZIP) {
      await mkdir(join(store, "artifacts", "r"), { recursive: true });
      const target = join(store, ...rObject.split("/"));
      await copyFile(process.env.SLOW_TEST_R_ZIP, target);
      const metadata = JSON.parse(await readFile(process.env.SLOW_TEST_R_ZIP.replace(/\.zip$/, ".metadata.json"), "utf8")) as object;
      await writeFile(target.replace(/\.zip$/, ".metadata.json"), JSON.stringify({ ...metadata, buildKey: rKey }));
    } else {
      for (const [target, label] of [[store, "first"], [againStore, "second"]] as const) {
        const buildStarted = Date.now();
        const logFile = join(root, `r-build-${label}.log`);
        const lines: string[] = [];
        const result = await runBuildspecFile(R_BUILDSPEC, {
          executor: new HostExecutor(REPO_ROOT),
          baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", LANG: "C.UTF-8" },
          env: {
            BUILD_KEY: rKey,
            ARCH,
            R_VERSION: rVersion,
            ARTIFACT_STORE: `file://${target}`,
            ARTIFACT_KEY: rObject,
            METADATA_KEY: rObject.replace(/\.zip$/, ".metadata.json"),
            R_SOURCE_TARBALL: tarball,
            R_SOURCE_SHA256: await sha256File(tarball),
          },
          logger: (l) => lines.push(l.text),
        });
        await writeFile(logFile, `${lines.join("\n")}\n`);
        assert.equal(result.status, "SUCCEEDED", `R build failed (log: ${logFile}):\n${result.log.slice(-40).join("\n")}`);
        figures.push(
          `R ${rVersion} compiled (${label} build) in ${Math.round((Date.now() - buildStarted) / 1000)} s: ` +
            `${result.exportedVariables.ARTIFACT_SIZE} bytes zipped, ${result.exportedVariables.UNZIPPED_SIZE} unzipped, ` +
            `sha256 ${result.exportedVariables.ARTIFACT_SHA256}`,
        );
      }
    }

    const repo = await makeCranRepo(join(root, "cran"));
    const layerStarted = Date.now();
    const layer = await buildLayer({
      BUILD_KEY: runtimeKey,
      ARCH,
      R_VERSION: rVersion,
      ARTIFACT_STORE: `file://${store}`,
      ARTIFACT_KEY: layerKey(runtimeKey),
      METADATA_KEY: layerKey(runtimeKey).replace(/\.zip$/, ".metadata.json"),
      LAYER_NAME: "runtime",
      LAYER_TYPE: "runtime",
      R_PACKAGES: "rjson rtpkg",
      R_REPOSITORY: repo,
      R_BUILD_ARTIFACT_KEY: rObject,
    });
    assert.equal(layer.status, "SUCCEEDED", layer.log.slice(-40).join("\n"));
    figures.push(
      `runtime layer built in ${Math.round((Date.now() - layerStarted) / 1000)} s: ` +
        `${layer.exportedVariables.ARTIFACT_SIZE} bytes zipped, ${layer.exportedVariables.UNZIPPED_SIZE} unzipped`,
    );
  });

  after(async () => {
    for (const f of figures) console.log(`# ${f}`);
    if (root && process.env.KEEP_SLOW_TEST_DIR !== "1") await rm(root, { recursive: true, force: true });
  });

  const runtimeZip = (): string => join(store, ...layerKey(runtimeKey).split("/"));

  it("builds R to the same bytes twice from the same source tarball", { skip: process.env.SLOW_TEST_R_ZIP ? "SLOW_TEST_R_ZIP: no compile" : false }, async () => {
    const first = join(store, ...rObject.split("/"));
    const second = join(againStore, ...rObject.split("/"));
    const [a, b] = [await readFile(first), await readFile(second)];
    if (a.equals(b)) return;
    // Name the files that differ: unpack both and compare them file by file.
    const dirs = [join(root, "unzip-first"), join(root, "unzip-second")] as const;
    for (const [zip, dir] of [[first, dirs[0]], [second, dirs[1]]] as const) await exec("unzip", ["-q", "-o", zip, "-d", dir]);
    const diff = await exec("diff", ["-rq", "--no-dereference", dirs[0], dirs[1]], { maxBuffer: 16 * 1024 * 1024 }).then(
      (r) => r.stdout,
      (error: { stdout?: string }) => error.stdout ?? "",
    );
    const files = diff.split("\n").filter((l) => l !== "").map((l) => l.replaceAll(`${dirs[0]}/`, "").replaceAll(`${dirs[1]}/`, ""));
    assert.fail(
      `two builds of R ${rVersion} from the same tarball differ: ${a.length} and ${b.length} bytes; ` +
        (files.length ? `${files.length} entries differ:\n${files.join("\n")}` : "the same files, so the zip layout differs"),
    );
  });

  it("lays the runtime layer out as Lambda expects: bootstrap at the root, R under R/", async () => {
    const entries = await zipEntries(runtimeZip());
    for (const expected of ["bootstrap", "runtime.R", "R/bin/R", "R/bin/Rscript", "R/lib/R/bin/exec/R", "R/lib/R/lib/libR.so"]) {
      assert.ok(entries.includes(expected), `${expected} missing`);
    }
    assert.ok(entries.some((e) => e.startsWith("R/library/rtpkg/libs/rtpkg.so")));
    assert.ok(!entries.some((e) => e.endsWith(".md")), "runtime/*.md are documentation, not layer content");
    const metadata = JSON.parse(await readFile(join(store, "artifacts", "r", `${rKey}.metadata.json`), "utf8")) as Record<string, unknown>;
    assert.equal(metadata.rVersion, rVersion);
    assert.equal(metadata.buildKey, rKey);
  });

  it("serves an invocation through the real bootstrap and a Runtime API emulator", async () => {
    const opt = join(root, "opt");
    await mkdir(opt, { recursive: true });
    await exec("unzip", ["-q", "-o", runtimeZip(), "-d", opt]);
    assert.ok((await stat(join(opt, "bootstrap"))).mode & 0o100, "bootstrap is executable");
    const emulator = await RuntimeApiEmulator.start();
    const taskRoot = await writeTaskRoot({
      "script.R": "handler <- function(x) list(twice = rtpkg::twice(unlist(x)), home = R.home(), version = R.version$minor)\n",
    });
    const runtime = startRuntime({
      api: emulator.address,
      handler: "script.handler",
      taskRoot,
      bootstrap: join(opt, "bootstrap"),
      // On Lambda the layer is at /opt and R finds itself there; unpacked elsewhere, the
      // layer's Rscript is told where its R home is.
      env: { LAMBDA_R_PREFIX: join(opt, "R"), RHOME: join(opt, "R", "lib", "R") },
    });
    try {
      const outcome = await emulator.invoke('{"x": [1, 2.5]}', 120_000).catch((error: Error) => {
        throw new Error(`${error.message}\nruntime stderr:\n${runtime.stderr()}\nruntime stdout:\n${runtime.stdout()}`);
      });
      assert.equal(outcome.kind, "response", `${outcome.body.toString()}\n${runtime.stderr()}`);
      const body = JSON.parse(outcome.body.toString()) as { twice: number[]; home: string; version: string };
      assert.deepEqual(body.twice, [2, 5]);
      assert.equal(body.home, join(opt, "R", "lib", "R"), "the layer's own R served the invocation");
      assert.equal(`${rVersion.split(".")[0]}.${body.version}`, rVersion);
      assert.deepEqual(emulator.protocolErrors, []);
    } finally {
      await runtime.stop();
      await emulator.close();
      await rm(taskRoot, { recursive: true, force: true });
    }
  });
});
