/**
 * The build scripts' argument handling and failure paths, run for real with bash but without
 * compiling anything: every input is an environment variable that must match a strict
 * pattern, and each failure says what is wrong. Also the shared shell helpers: deterministic
 * zips, the size check, the result file the buildspecs export from.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, chown, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { makeFakeRSource } from "./support/build/fake-r-source.ts";
import { ARCH, REPO_ROOT, keyOf } from "./support/build/layer.ts";

const exec = promisify(execFile);
const BUILD_R = join(REPO_ROOT, "r-compile", "r", "build-r.sh");
const BUILD_LAYER = join(REPO_ROOT, "r-compile", "layer", "build-layer.sh");
const COMMON = join(REPO_ROOT, "r-compile", "common");
const PATH = process.env.PATH ?? "/usr/bin:/bin";

interface Run {
  readonly code: number;
  readonly output: string;
}

async function script(file: string, env: Record<string, string>): Promise<Run> {
  try {
    const { stdout, stderr } = await exec("bash", [file], { env: { PATH, ...env } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

/** Runs bash code with the common helpers sourced. */
async function helpers(code: string, env: Record<string, string> = {}): Promise<Run> {
  const prelude = `set -euo pipefail\nCOMMON_DIR=${JSON.stringify(COMMON)}\n. "$COMMON_DIR/lib.sh"\n. "$COMMON_DIR/zip.sh"\n`;
  try {
    const { stdout, stderr } = await exec("bash", ["-c", prelude + code], { env: { PATH, ...env } });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "scripts-test-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const OTHER_ARCH = ARCH === "x86_64" ? "arm64" : "x86_64";

describe("build-r.sh inputs", () => {
  const key = keyOf("script test r");
  const valid = (): Record<string, string> => ({
    BUILD_KEY: key,
    ARCH,
    R_VERSION: "4.4.1",
    ARTIFACT_STORE: `file://${join(root, "store")}`,
    ARTIFACT_KEY: `artifacts/r/${key}.zip`,
    METADATA_KEY: `artifacts/r/${key}.metadata.json`,
  });

  const cases: [string, Record<string, string | undefined>, RegExp][] = [
    ["a missing build key", { BUILD_KEY: undefined }, /BUILD_KEY is required/],
    ["an upper-case build key", { BUILD_KEY: key.toUpperCase() }, /BUILD_KEY=.* is invalid: expected 64 lowercase hexadecimal digits/],
    ["a version with a command in it", { R_VERSION: "4.4.1; touch /tmp/pwned" }, /R_VERSION=.* is invalid: expected a version such as 4\.4\.1/],
    ["a version with a newline", { R_VERSION: "4.4.1\nx" }, /R_VERSION=.* is invalid/],
    ["an unknown architecture", { ARCH: "i386" }, /ARCH=i386 is invalid: expected x86_64 or arm64/],
    ["the other architecture", { ARCH: OTHER_ARCH }, new RegExp(`ARCH=${OTHER_ARCH} but this machine is ${ARCH}`)],
    ["an object key climbing out", { ARTIFACT_KEY: "artifacts/../../etc/x.zip" }, /ARTIFACT_KEY=artifacts\/\.\.\/\.\.\/etc\/x\.zip is invalid/],
    ["an absolute object key", { ARTIFACT_KEY: "/etc/x.zip" }, /ARTIFACT_KEY=.* is invalid/],
    ["a store that is neither s3 nor file", { ARTIFACT_STORE: "http://example.org/x" }, /ARTIFACT_STORE=.* is invalid: expected s3:\/\/bucket/],
    ["a relative file store", { ARTIFACT_STORE: "file://relative/x" }, /ARTIFACT_STORE=.* is invalid/],
    ["a source URL with a shell character", { R_SOURCE_URL: "https://cran.example.org/R-4.tar.gz;id" }, /R_SOURCE_URL=.* is invalid: expected an http\(s\) URL/],
    ["a short checksum", { R_SOURCE_SHA256: "abc" }, /R_SOURCE_SHA256=abc is invalid/],
    ["a tarball that does not exist", { R_SOURCE_TARBALL: "/nonexistent/R.tar.gz" }, /R_SOURCE_TARBALL: no such file/],
    ["a relative tarball path", { R_SOURCE_TARBALL: "R.tar.gz" }, /R_SOURCE_TARBALL=.* is invalid: expected an absolute path/],
  ];
  for (const [what, change, message] of cases) {
    it(`refuses ${what}, with status 2`, async () => {
      const env = { ...valid(), ...change };
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
      const result = await script(BUILD_R, env as Record<string, string>);
      assert.equal(result.code, 2, result.output);
      assert.match(result.output, message);
    });
  }

  it("fails on a checksum mismatch before compiling anything", async () => {
    const tarball = join(root, "fake-r.tar.gz");
    await mkdir(join(root, "fake", "R-4.4.1"), { recursive: true });
    await writeFile(join(root, "fake", "R-4.4.1", "VERSION"), "4.4.1\n");
    await exec("tar", ["-czf", tarball, "-C", join(root, "fake"), "R-4.4.1"]);
    const result = await script(BUILD_R, { ...valid(), R_SOURCE_TARBALL: tarball, R_SOURCE_SHA256: "0".repeat(64) });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /checksum mismatch for the R source: expected 0{64}, got [0-9a-f]{64}/);
  });

  it("fails when the source is another R version than R_VERSION says", async () => {
    const tarball = join(root, "other-r.tar.gz");
    const dir = join(root, "other", "R-patched");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "VERSION"), "4.3.3 Patched\n");
    await writeFile(join(dir, "configure"), "#!/bin/sh\nexit 1\n");
    await chmod(join(dir, "configure"), 0o755);
    await exec("tar", ["-czf", tarball, "-C", join(root, "other"), "R-patched"]);
    const result = await script(BUILD_R, { ...valid(), R_SOURCE_TARBALL: tarball });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /the source is R 4\.3\.3, not R 4\.4\.1 as R_VERSION says/);
  });
});

describe("build-r.sh: the same bytes from the same source (a fake R source that builds in seconds)", () => {
  const key = keyOf("script test reproducible r");
  const env = (store: string, tarball: string, afmTime: string): Record<string, string> => ({
    BUILD_KEY: key,
    ARCH,
    R_VERSION: "4.4.1",
    ARTIFACT_STORE: `file://${join(root, store)}`,
    ARTIFACT_KEY: `artifacts/r/${key}.zip`,
    METADATA_KEY: `artifacts/r/${key}.metadata.json`,
    R_SOURCE_TARBALL: tarball,
    FAKE_AFM_TIME: afmTime,
  });
  const zipIn = (store: string): string => join(root, store, "artifacts", "r", `${key}.zip`);

  it("stamps the source's time, fixes R's clock readings, recompresses gzip files: two builds, one zip", async () => {
    const tarball = await makeFakeRSource(await mkdtemp(join(root, "fake-r-")), { version: "4.4.1" });
    // The two builds see different clocks and different .afm times, as two real builds would.
    const first = await script(BUILD_R, env("repro-1", tarball, "@1000000000"));
    assert.equal(first.code, 0, first.output);
    const second = await script(BUILD_R, env("repro-2", tarball, "@2000000000"));
    assert.equal(second.code, 0, second.output);
    assert.deepEqual(await readFile(zipIn("repro-1")), await readFile(zipIn("repro-2")));
    assert.match(first.output, /build time stamp \(the newest file in the source\): 2022-11-10 08:45:00 UTC \(SOURCE_DATE_EPOCH=1668069900\)/);
    assert.match(first.output, /tools\/Makefile\.in: 1 call\(s\) given PKG_BUILT_STAMP/);
    assert.match(first.output, /methods\/R\/trace\.R: 1 Sys\.time\(\) prototype\(s\) fixed to the source time/);
    const { stdout: description } = await exec("unzip", ["-p", zipIn("repro-1"), "R/lib/R/library/stats/DESCRIPTION"]);
    assert.match(description, /^Built: R 4\.4\.1; x86_64-pc-linux-gnu; 2022-11-10 08:45:00 UTC; unix$/m);
    const { stdout: gz } = await exec("unzip", ["-p", zipIn("repro-1"), "R/lib/R/library/grDevices/afm/Courier.afm.gz"], { encoding: "buffer" });
    assert.equal(gz[3], 0, "no FNAME or other header flags");
    assert.equal(gz.readUInt32LE(4), 0, "no modification time");
  });

  it("fails naming the package when a Built: field does not carry the fixed time", async () => {
    const tarball = await makeFakeRSource(await mkdtemp(join(root, "fake-r-")), { version: "4.4.1", stamp: "clock" });
    const result = await script(BUILD_R, env("repro-clock", tarball, "@1000000000"));
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /R\/lib\/R\/library\/(base|stats)\/DESCRIPTION does not carry the fixed build time 2022-11-10 08:45:00 UTC: Built: R 4\.4\.1; /);
  });

  it("fails when methods still takes the clock's time", async () => {
    const tarball = await makeFakeRSource(await mkdtemp(join(root, "fake-r-")), { version: "4.4.1", methodsText: "dateCreated = Sys.time( )" });
    const result = await script(BUILD_R, env("repro-methods", tarball, "@1000000000"));
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /methods\/R\/trace\.R: 0 Sys\.time\(\) prototype/);
    assert.match(result.output, /methods was built with the clock's time \([0-9.]+\), not the source's \(1668069900\)/);
  });
});

describe("build-layer.sh inputs", () => {
  const key = keyOf("script test layer");
  const valid = (): Record<string, string> => ({
    BUILD_KEY: key,
    ARCH,
    R_VERSION: "4.4.1",
    ARTIFACT_STORE: `file://${join(root, "store")}`,
    ARTIFACT_KEY: `artifacts/layers/${key}.zip`,
    METADATA_KEY: `artifacts/layers/${key}.metadata.json`,
    LAYER_NAME: "test",
    LAYER_TYPE: "packages",
    R_PACKAGES: "jsonlite data.table",
    SYSTEM_LIBRARIES: "libgomp.so.1 libgfortran",
    R_REPOSITORY: "https://packagemanager.example.org/cran/2024-11-01",
    R_BUILD_ARTIFACT_KEY: `artifacts/r/${keyOf("some r")}.zip`,
    STACK_ARTIFACT_KEYS: `artifacts/layers/${keyOf("runtime")}.zip`,
  });

  const cases: [string, Record<string, string | undefined>, RegExp][] = [
    ["a package name with a shell character", { R_PACKAGES: "jsonlite $(id)" }, /R_PACKAGES contains characters that no R package name can have/],
    ["a package name R does not allow", { R_PACKAGES: "jsonlite 2pkg" }, /R_PACKAGES: 2pkg is not a valid R package name/],
    ["a package name ending in a dot", { R_PACKAGES: "pkg." }, /R_PACKAGES: pkg\. is not a valid R package name/],
    ["an option as a system library", { SYSTEM_LIBRARIES: "--force" }, /SYSTEM_LIBRARIES: --force is not a valid shared library name/],
    ["a packages layer with nothing in it", { R_PACKAGES: "", SYSTEM_LIBRARIES: "" }, /a packages layer needs R_PACKAGES/],
    ["an unknown layer type", { LAYER_TYPE: "extension" }, /LAYER_TYPE=extension is invalid: expected runtime or packages/],
    ["a layer name with a slash", { LAYER_NAME: "a/b" }, /LAYER_NAME=a\/b is invalid/],
    ["a repository that is not a URL", { R_REPOSITORY: "javascript:alert(1)" }, /R_REPOSITORY=.* is invalid/],
    ["a missing repository", { R_REPOSITORY: undefined }, /R_REPOSITORY is required/],
    ["a missing R build", { R_BUILD_ARTIFACT_KEY: undefined }, /R_BUILD_ARTIFACT_KEY is required/],
    ["a stacked key climbing out", { STACK_ARTIFACT_KEYS: "artifacts/../x.zip" }, /STACK_ARTIFACT_KEYS: artifacts\/\.\.\/x\.zip is not a valid object key/],
    ["HOST_R with an R build as well", { HOST_R: "/bin/sh" }, /set R_BUILD_ARTIFACT_KEY or HOST_R, not both/],
    ["HOST_R for a runtime layer", { HOST_R: "/bin/sh", LAYER_TYPE: "runtime", R_BUILD_ARTIFACT_KEY: undefined }, /HOST_R can only build a packages layer/],
    ["a runtime layer without a bootstrap", { LAYER_TYPE: "runtime", RUNTIME_DIR: "/nonexistent" }, /no bootstrap in \/nonexistent/],
  ];
  for (const [what, change, message] of cases) {
    it(`refuses ${what}, with status 2`, async () => {
      const env = { ...valid(), ...change };
      for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
      const result = await script(BUILD_LAYER, env as Record<string, string>);
      assert.equal(result.code, 2, result.output);
      assert.match(result.output, message);
    });
  }

  it("fails clearly when the R build it needs is not in the store", async () => {
    const result = await script(BUILD_LAYER, { ...valid(), STACK_ARTIFACT_KEYS: "" });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /artifact not found: .*\/artifacts\/r\/[0-9a-f]{64}\.zip \(build it first\)/);
  });
});

describe("shell helpers", () => {
  it("zips the same tree to the same bytes whatever the times, modes and creation order", async () => {
    const make = async (dir: string, order: string[], mode: number, time: Date) => {
      for (const f of order) {
        await mkdir(join(dir, f, ".."), { recursive: true });
        await writeFile(join(dir, f), `content of ${f}\n`);
        await chmod(join(dir, f), f.endsWith(".sh") ? mode | 0o100 : mode);
        await utimes(join(dir, f), time, time);
      }
    };
    const files = ["R/library/a/DESCRIPTION", "R/lib/libx.so.1", "bootstrap.sh", "R/library/b/R/b"];
    await make(join(root, "z1"), files, 0o644, new Date("2020-01-01T00:00:00Z"));
    await make(join(root, "z2"), [...files].reverse(), 0o600, new Date("2024-06-30T12:34:56Z"));
    const r = await helpers(
      `deterministic_zip ${JSON.stringify(join(root, "z1"))} ${JSON.stringify(join(root, "1.zip"))}\n` +
        `TZ=Pacific/Auckland deterministic_zip ${JSON.stringify(join(root, "z2"))} ${JSON.stringify(join(root, "2.zip"))}`,
    );
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(await readFile(join(root, "1.zip")), await readFile(join(root, "2.zip")));
    const { stdout } = await exec("unzip", ["-Z1", join(root, "1.zip")]);
    assert.deepEqual(stdout.trim().split("\n"), [...files].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)));
    const { stdout: verbose } = await exec("zipinfo", [join(root, "1.zip"), "bootstrap.sh"]);
    assert.match(verbose, /^-rwxr-xr-x/);
  });

  it("makes its fixed work folder private and atomically, and never builds in a folder it does not own", async () => {
    const base = join(root, "work-base");
    await mkdir(base, { recursive: true });
    const env = { BUILD_WORK_DIR: base };
    const fresh = await helpers(`d=$(make_work_dir key1); stat -c %a "$d"; cat "$d/.owner"`, env);
    assert.equal(fresh.code, 0, fresh.output);
    assert.match(fresh.output, /^700\n\d+$/m);

    // A link planted where the folder goes (the /tmp race): refused, nothing followed.
    const target = join(root, "planted");
    await mkdir(target, { recursive: true });
    await symlink(target, join(base, "r-lambda-key2"));
    const linked = await helpers("make_work_dir key2", env);
    assert.notEqual(linked.code, 0);
    assert.match(linked.output, /r-lambda-key2 is a symbolic link: refusing to build there/);

    // Another user's folder at the path: refused.
    await mkdir(join(base, "r-lambda-key3"));
    await chown(join(base, "r-lambda-key3"), 65534, 65534);
    const foreign = await helpers("make_work_dir key3", env);
    assert.notEqual(foreign.code, 0);
    assert.match(foreign.output, /r-lambda-key3 exists and is not this user's folder/);

    // A live build of the same key: refused, naming it; a killed one's leftovers: taken over.
    await mkdir(join(base, "r-lambda-key4"), { mode: 0o700 });
    await writeFile(join(base, "r-lambda-key4", ".owner"), `${process.pid}\n`);
    const busy = await helpers("make_work_dir key4", env);
    assert.notEqual(busy.code, 0);
    assert.match(busy.output, new RegExp(`another build of the same key \\(pid ${process.pid}\\) is using`));
    await writeFile(join(base, "r-lambda-key4", ".owner"), "999999999\n");
    await writeFile(join(base, "r-lambda-key4", "stale"), "x");
    const reused = await helpers(`d=$(make_work_dir key4); ls -A "$d"`, env);
    assert.equal(reused.code, 0, reused.output);
    assert.match(reused.output, /^\.owner$/m, "a fresh folder");
    assert.doesNotMatch(reused.output, /^stale$/m);
  });

  it("fails above Lambda's limit and warns above 80% of it, naming the sizes", async () => {
    const over = await helpers("check_stack_size 200000000 62144001");
    assert.equal(over.code, 1);
    assert.match(over.output, /too large for Lambda: this layer unzips to 200000000 bytes and the layers below it to 62144001 bytes, 262144001 in all, over Lambda's limit of 262144000 bytes/);
    const near = await helpers("check_stack_size 150000000 60000000");
    assert.equal(near.code, 0, near.output);
    assert.match(near.output, /WARNING: .* 210000000 bytes, 80% of Lambda's 262144000-byte limit/);
    const fine = await helpers("check_stack_size 1000 2000");
    assert.equal(fine.code, 0);
    assert.doesNotMatch(fine.output, /WARNING/);
  });

  it("finds system libraries by soname or stem and bundles them, unless provided below", async () => {
    const dest = join(root, "named-bundle");
    const below = join(root, "named-below");
    await mkdir(below, { recursive: true });
    const code = [
      '. "$COMMON_DIR/bundle-libs.sh"',
      "load_provided_list",
      'printf "stem:%s\\n" "$(find_system_library libyaml | cut -f1)"',
      'printf "soname:%s\\n" "$(find_system_library libz.so.1 | cut -f1)"',
      "find_system_library libnosuchthing || echo missing:libnosuchthing",
      `touch ${JSON.stringify(join(below, "libz.so.1"))}`,
      `provide_files_in ${JSON.stringify(below)}`,
      `bundle_named_libraries ${JSON.stringify(dest)} libyaml libz.so.1`,
      'printf "bundled:%s\\n" "${BUNDLED[@]}"',
    ].join("\n");
    const r = await helpers(code);
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /stem:libyaml-0\.so\.\d+\n/);
    assert.match(r.output, /soname:libz\.so\.1\n/);
    assert.match(r.output, /missing:libnosuchthing/);
    assert.match(r.output, /system library libz\.so\.1 is already provided below/);
    assert.deepEqual(r.output.match(/^bundled:.*$/gm), [r.output.match(/^bundled:libyaml-0\.so\.\d+$/m)?.[0]]);
  });

  it("looks system libraries up on LD_LIBRARY_PATH first, as the loader does", async () => {
    const dir = join(root, "ld-path-lib");
    await mkdir(dir, { recursive: true });
    const code = [
      '. "$COMMON_DIR/bundle-libs.sh"',
      'cp -L "$(find_system_library libz.so.1 | cut -f2)" "$DIR/libz.so.1"',
      'printf "plain:%s\\n" "$(find_system_library libz.so.1 | cut -f2)"',
      'printf "ld:%s\\n" "$(LD_LIBRARY_PATH="relative:/nonexistent:$DIR" find_system_library libz.so.1 | cut -f2)"',
      'printf "stem:%s\\n" "$(LD_LIBRARY_PATH="$DIR" find_system_library libz | cut -f2)"',
    ].join("\n");
    const r = await helpers(code, { DIR: dir });
    assert.equal(r.code, 0, r.output);
    assert.doesNotMatch(r.output, new RegExp(`plain:${dir}`));
    assert.match(r.output, new RegExp(`ld:${dir}/libz\\.so\\.1\\n`));
    assert.match(r.output, new RegExp(`stem:${dir}/libz\\.so\\.1\\n`));
  });

  it("exports only well-formed results (export-result.sh)", async () => {
    const file = join(root, "result.env");
    const source = `. ${JSON.stringify(join(COMMON, "export-result.sh"))} && env | grep -E '^(ARTIFACT|UNZIPPED)' | sort`;
    await writeFile(file, `ARTIFACT_SHA256=${"a".repeat(64)}\nARTIFACT_SIZE=12\nUNZIPPED_SIZE=34\n`);
    const good = await helpers(source, { BUILD_RESULT_FILE: file });
    assert.equal(good.code, 0, good.output);
    assert.match(good.output, new RegExp(`ARTIFACT_SHA256=a{64}\\nARTIFACT_SIZE=12\\nUNZIPPED_SIZE=34`));
    await writeFile(file, "ARTIFACT_SIZE=12; rm -rf /\n");
    const bad = await helpers(source, { BUILD_RESULT_FILE: file });
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /bad line/);
    await writeFile(file, "PATH=/evil\n");
    const other = await helpers(source, { BUILD_RESULT_FILE: file });
    assert.notEqual(other.code, 0);
    assert.match(other.output, /unexpected line/);
  });
});
