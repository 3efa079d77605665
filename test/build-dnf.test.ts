/**
 * The build scripts' dnf paths, run on this Debian machine against a stand-in for Amazon Linux
 * 2023's `dnf`, `microdnf` and `rpm` (test/support/build/al2023-standin.sh), as on the images
 * CodeBuild builds on: the AL2023 image (dnf 4), AL2023 minimal (microdnf) and the Lambda image
 * provided.al2023 (microdnf, `dnf` a link to it). Ends with the README's
 * `systemLibraries: [libgomp.so.1]` example through the real buildspec: install-deps installs
 * libgomp, the layer build bundles the copy that install made visible.
 *
 * Where the stand-in's behaviour comes from (sources read for this test):
 * - Capabilities: rpm's elfdeps (rpm 4.16.1.3, tools/elfdeps.c, mkmarker) gives every soname of
 *   a 64-bit ELF file the marker "(64bit)" on every machine but Alpha, so libgomp.so.1 is
 *   `libgomp.so.1()(64bit)` on x86_64 and aarch64 alike; symbol versions add
 *   `libgomp.so.1(GOMP_1.0)(64bit)`. Package names and NEVRAs as in AL2023's package list
 *   (docs.aws.amazon.com/linux/al2023/release-notes/all-packages-AL2023.3.html: libgomp
 *   11.4.1-2.amzn2023.0.2); the name differs from the soname for zlib (libz.so.1) and libyaml
 *   (libyaml-0.so.2).
 * - `rpm -q --whatprovides CAP...` (rpm 4.16.1.3, lib/query.c): the NEVRA of each installed
 *   package providing CAP, or "no package provides CAP" logged at NOTICE level, which
 *   rpmio/rpmlog.c writes to stdout; the status is the number of arguments nothing provides
 *   (rpmcliArgIter adds them up; cliutils.h RETVAL caps it at 254).
 * - `dnf install -y SPEC...` (dnf 4.14.0, which AL2023 ships: dnf/cli/commands/install.py,
 *   dnf/cli/main.py): a spec is a name, NEVRA or provide; one nothing matches is logged as
 *   "No match for argument: SPEC", then "Error: Unable to find a match: SPECS" and status 1
 *   with nothing installed (strict is the default). `dnf provides` with no match: "Error: No
 *   matches found. ..." (dnf/cli/cli.py), status 1.
 * - `microdnf install -y SPEC...` (microdnf 3.10, dnf/plugins/install/dnf-command-install.c):
 *   calls libdnf's dnf_context_install for each spec in order and stops at the first failure;
 *   dnf_context_install (libdnf dnf-context.cpp) selects with hy_subject_get_best_selector,
 *   provides included, else "No package matches 'SPEC'"; dnf-main.c prints "error: MESSAGE"
 *   and exits with EXIT_FAILURE. The same message on AL2023 in devcontainers/features#1449
 *   (`microdnf -y install epel-release`). microdnf has no `provides` command and its
 *   `repoquery` has no --whatprovides and ignores provides (with_provides FALSE).
 * - The Lambda image: provided.al2023 "is based on the AL2023-minimal image ... it uses
 *   microdnf as the package manager ... dnf is a symlink for microdnf" (AWS, in
 *   aws/aws-lambda-base-images#59); `rpm -qa` runs in the Lambda images
 *   (amazonlinux/amazon-linux-2023#585), so the rpm command is there.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { al2023 } from "./support/build/al2023.ts";
import type { Al2023, Al2023Image } from "./support/build/al2023.ts";
import { makeCranRepo } from "./support/build/cran-repo.ts";
import { ARCH, REPO_ROOT, buildLayer, hostR, keyOf, layerKey, zipEntries } from "./support/build/layer.ts";

const exec = promisify(execFile);
const LAYER_DEPS = join(REPO_ROOT, "r-compile", "layer", "install-deps.sh");
const R_DEPS = join(REPO_ROOT, "r-compile", "r", "install-deps.sh");
const COMMON = join(REPO_ROOT, "r-compile", "common");
const RPM_ARCH = ARCH === "arm64" ? "aarch64" : "x86_64";
const TOOLCHAIN = ["gcc", "gcc-c++", "gcc-gfortran", "make", "tar", "gzip", "zip", "unzip", "binutils", "findutils", "glibc-common"];

interface Run {
  readonly code: number;
  readonly output: string;
}

async function run(command: string, args: string[], env: Record<string, string>): Promise<Run> {
  try {
    const { stdout, stderr } = await exec(command, args, { env });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, output: e.stdout + e.stderr };
  }
}

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "dnf-test-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function deps(image: Al2023Image, env: Record<string, string>, preinstalled: readonly string[] = [], script = LAYER_DEPS) {
  const al = await al2023(root, image, preinstalled);
  const result = await run("bash", [script], { ...al.env(), ...env });
  return { al, ...result };
}

const installCalls = async (al: Al2023): Promise<string[]> => (await al.calls()).filter((c) => / install /.test(c));

describe("the stand-in answers as AL2023's tools do", () => {
  it("rpm -q --whatprovides: NEVRA or 'no package provides' on stdout, status = unanswered arguments", async () => {
    const al = await al2023(root, "dnf", ["libgomp", "zlib"]);
    const r = await exec("rpm", ["-q", "--whatprovides", "libgomp.so.1()(64bit)", "libz.so.1()(64bit)"], { env: al.env() });
    assert.equal(r.stdout, `libgomp-11.4.1-2.amzn2023.0.2.${RPM_ARCH}\nzlib-1.2.11-33.amzn2023.0.5.${RPM_ARCH}\n`);
    const missing = await run("rpm", ["-q", "--whatprovides", "libgomp.so.1()(64bit)", "libgfortran.so.5()(64bit)", "nosuch"], al.env());
    assert.equal(missing.code, 2);
    assert.match(missing.output, /no package provides libgfortran\.so\.5\(\)\(64bit\)\nno package provides nosuch\n/);
  });

  it("dnf provides fails for no match; microdnf has no provides command", async () => {
    const dnf = await al2023(root, "dnf");
    const found = await run("dnf", ["provides", "libyaml-0.so.2()(64bit)"], dnf.env());
    assert.equal(found.code, 0, found.output);
    assert.match(found.output, new RegExp(`^libyaml-0\\.2\\.5-5\\.amzn2023\\.0\\.2\\.${RPM_ARCH} : `, "m"));
    const none = await run("dnf", ["provides", "libnosuch.so.7()(64bit)"], dnf.env());
    assert.equal(none.code, 1);
    assert.match(none.output, /^Error: No matches found\./m);
    const lambda = await al2023(root, "lambda");
    const micro = await run("dnf", ["provides", "libgomp.so.1()(64bit)"], lambda.env());
    assert.equal(micro.code, 1);
    assert.match(micro.output, /This is microdnf.*\nerror: Unknown command: 'provides'/);
  });
});

describe("layer/install-deps.sh on Amazon Linux 2023", () => {
  for (const image of ["dnf", "microdnf", "lambda"] as const) {
    it(`installs the package that provides SYSTEM_LIBRARIES libgomp.so.1 (${image})`, async () => {
      const { al, code, output } = await deps(image, { SYSTEM_LIBRARIES: "libgomp.so.1" });
      assert.equal(code, 0, output);
      const program = image === "dnf" ? "dnf[dnf]" : image === "lambda" ? "dnf[microdnf]" : "microdnf[microdnf]";
      const installs = await installCalls(al);
      assert.equal(installs.length, 1, installs.join("\n"));
      assert.ok(installs[0]?.startsWith(`${program} install -y `), installs[0]);
      assert.ok(installs[0]?.endsWith(" libgomp.so.1()(64bit)"), installs[0]);
      assert.deepEqual((await al.installed()).sort(), [...TOOLCHAIN, "libgomp"].sort());
      assert.match(output, new RegExp(`SYSTEM_LIBRARIES libgomp\\.so\\.1 \\(libgomp\\.so\\.1\\(\\)\\(64bit\\)\\) is provided by libgomp-11\\.4\\.1-2\\.amzn2023\\.0\\.2\\.${RPM_ARCH}`));
      assert.ok((await stat(join(al.libDir, "libgomp.so.1"))).size > 0);
    });
  }

  it("resolves versioned sonames whose package has another name (libz.so.1 -> zlib, libyaml-0.so.2 -> libyaml)", async () => {
    const { al, code, output } = await deps("lambda", { SYSTEM_LIBRARIES: "libz.so.1 libyaml-0.so.2 libgfortran.so.5" });
    assert.equal(code, 0, output);
    const installed = await al.installed();
    for (const p of ["zlib", "libyaml", "libgfortran"]) assert.ok(installed.includes(p), `${p} installed: ${installed.join(" ")}`);
    assert.match(output, /SYSTEM_LIBRARIES libz\.so\.1 \(libz\.so\.1\(\)\(64bit\)\) is provided by zlib-1\.2\.11-/);
    assert.match(output, /SYSTEM_LIBRARIES libyaml-0\.so\.2 \(libyaml-0\.so\.2\(\)\(64bit\)\) is provided by libyaml-0\.2\.5-/);
  });

  it("installs nothing when everything is there already, and still says what provides the library", async () => {
    const { al, code, output } = await deps("dnf", { SYSTEM_LIBRARIES: "libgomp.so.1" }, [...TOOLCHAIN, "libgomp"]);
    assert.equal(code, 0, output);
    assert.deepEqual(await installCalls(al), []);
    assert.match(output, /system packages already installed: .* libgomp\.so\.1\(\)\(64bit\)/);
    assert.match(output, /is provided by libgomp-11\.4\.1/);
  });

  for (const image of ["dnf", "lambda"] as const) {
    it(`fails naming every library no package provides, and installs the rest (${image})`, async () => {
      const { al, code, output } = await deps(image, { SYSTEM_LIBRARIES: "libnosuch.so.3 libgomp.so.1 libother.so.1.2" });
      assert.equal(code, 1, output);
      assert.match(
        output,
        /ERROR: (dnf|microdnf) could not install: SYSTEM_LIBRARIES libnosuch\.so\.3 \(libnosuch\.so\.3\(\)\(64bit\)\) SYSTEM_LIBRARIES libother\.so\.1\.2 \(libother\.so\.1\.2\(\)\(64bit\)\); no package in this image/,
      );
      // the package manager's own words are in the log too
      assert.match(output, image === "dnf" ? /Error: Unable to find a match: libnosuch/ : /error: No package matches 'libnosuch\.so\.3\(\)\(64bit\)'/);
      assert.ok((await al.installed()).includes("libgomp"));
    });
  }

  it("does not install stems (no soname, no capability), and says so", async () => {
    const { al, code, output } = await deps("lambda", { SYSTEM_LIBRARIES: "libgfortran" });
    assert.equal(code, 0, output);
    assert.ok(!(await installCalls(al)).some((c) => c.includes("libgfortran")));
    assert.match(output, /SYSTEM_LIBRARIES libgfortran: not a versioned soname, so no package is installed for it/);
  });

  it("adds the AWS CLI for an s3:// store", async () => {
    const { al, code, output } = await deps("lambda", { ARTIFACT_STORE: "s3://my-bucket/prefix" });
    assert.equal(code, 0, output);
    assert.ok((await al.installed()).includes("awscli-2"));
  });

  const refused: [string, string, RegExp][] = [
    ["a capability written by hand", "libgomp.so.1()(64bit)", /SYSTEM_LIBRARIES contains characters that no shared library name/],
    ["a command", "libgomp.so.1;id", /SYSTEM_LIBRARIES contains characters/],
    ["a substitution", "lib$(id).so.1", /SYSTEM_LIBRARIES contains characters/],
    ["an option", "--nogpgcheck", /SYSTEM_LIBRARIES: --nogpgcheck is not a valid shared library name/],
  ];
  for (const [what, value, message] of refused) {
    it(`refuses ${what} in SYSTEM_LIBRARIES with status 2, before calling any package tool`, async () => {
      const { al, code, output } = await deps("dnf", { SYSTEM_LIBRARIES: value });
      assert.equal(code, 2, output);
      assert.match(output, message);
      assert.deepEqual(await al.calls(), []);
    });
  }
});

describe("install_system_packages accepts exactly what install-deps generates", () => {
  const check = async (pm: string, item: string): Promise<Run> => {
    const al = await al2023(root, pm === "apt-get" ? "dnf" : "lambda", ["libgomp", "gcc"]);
    const code = `set -euo pipefail\n. ${JSON.stringify(join(COMMON, "lib.sh"))}\n. ${JSON.stringify(join(COMMON, "system-packages.sh"))}\n` +
      `install_system_packages ${pm} "$ITEM"`;
    return run("bash", ["-c", code], { ...al.env(), ITEM: item });
  };

  it("makes a capability only from a versioned soname", async () => {
    const code = `. ${JSON.stringify(join(COMMON, "lib.sh"))}; . ${JSON.stringify(join(COMMON, "system-packages.sh"))}\n` +
      "for n in libgomp.so.1 libyaml-0.so.2 libfoo.so.1.2.3 libgfortran libfoo.so; do soname_capability \"$n\" || echo \"none:$n\"; done";
    const { stdout } = await exec("bash", ["-c", code]);
    assert.equal(stdout, "libgomp.so.1()(64bit)\nlibyaml-0.so.2()(64bit)\nlibfoo.so.1.2.3()(64bit)\nnone:libgfortran\nnone:libfoo.so\n");
  });

  it("accepts a soname capability and a package name with dnf", async () => {
    for (const item of ["libgomp.so.1()(64bit)", "gcc"]) {
      const r = await check("dnf", item);
      assert.equal(r.code, 0, `${item}: ${r.output}`);
    }
  });

  const bad = [
    "libgomp.so.1()(64bit);id",
    "libgomp.so.1()(64bit) gcc",
    "libgomp.so()(64bit)",
    "libgomp.so.1()(32bit)",
    "libgomp.so.1()",
    "$(id)()(64bit)",
    "-y",
    "lib/../x.so.1()(64bit)",
  ];
  for (const item of bad) {
    it(`refuses ${JSON.stringify(item)}`, async () => {
      const r = await check("dnf", item);
      assert.equal(r.code, 2, r.output);
      assert.match(r.output, /is not a package name/);
    });
  }

  it("refuses a capability for apt-get, which has none", async () => {
    const r = await check("apt-get", "libgomp.so.1()(64bit)");
    assert.equal(r.code, 2, r.output);
    assert.match(r.output, /is not a package name/);
  });
});

describe("r/install-deps.sh on Amazon Linux 2023", () => {
  for (const image of ["dnf", "microdnf", "lambda"] as const) {
    it(`installs R's build dependencies by their AL2023 names (${image})`, async () => {
      const { al, code, output } = await deps(image, { ARTIFACT_STORE: "file:///tmp/x" }, [], R_DEPS);
      assert.equal(code, 0, output);
      const installed = await al.installed();
      for (const p of ["gcc-gfortran", "perl", "xz", "bzip2-devel", "xz-devel", "pcre2-devel", "libcurl-devel", "zlib-devel"]) {
        assert.ok(installed.includes(p), `${p}: ${installed.join(" ")}`);
      }
      assert.ok(!installed.includes("awscli-2"));
    });
  }
});

describe("README example end to end: systemLibraries [libgomp.so.1] through the stand-in (real buildspec)", { timeout: 600_000 }, () => {
  it("install-deps installs libgomp and the layer bundles the copy it installed", async () => {
    const al = await al2023(root, "lambda");
    const { r, version } = await hostR();
    const repo = await makeCranRepo(join(root, "cran"));
    const store = join(root, "e2e-store");
    const key = keyOf("dnf e2e libgomp");
    const lines: string[] = [];
    const result = await buildLayer(
      {
        ...al.env(),
        // The Lambda image's LD_LIBRARY_PATH includes /usr/lib64, where packages put libraries.
        LD_LIBRARY_PATH: al.libDir,
        BUILD_KEY: key,
        ARCH,
        R_VERSION: version,
        ARTIFACT_STORE: `file://${store}`,
        ARTIFACT_KEY: layerKey(key),
        METADATA_KEY: layerKey(key).replace(/\.zip$/, ".metadata.json"),
        LAYER_NAME: "origent",
        LAYER_TYPE: "packages",
        R_PACKAGES: "basepkg",
        SYSTEM_LIBRARIES: "libgomp.so.1",
        R_REPOSITORY: repo,
        HOST_R: r,
      },
      lines,
    );
    const log = lines.join("\n");
    assert.equal(result.status, "SUCCEEDED", log.slice(-4000));
    assert.ok((await installCalls(al)).some((c) => c.endsWith(" libgomp.so.1()(64bit)")), (await al.calls()).join("\n"));
    assert.ok((await al.installed()).includes("libgomp"));
    assert.match(log, /is provided by libgomp-11\.4\.1-2\.amzn2023\.0\.2/);
    // Bundled from where the install put it, not from Debian's own copy.
    assert.ok(log.includes(`bundled libgomp.so.1 (asked for as libgomp.so.1, from ${join(al.libDir, "libgomp.so.1")})`), log.slice(-4000));
    const zip = join(store, ...layerKey(key).split("/"));
    const entries = await zipEntries(zip);
    assert.ok(entries.includes("R/lib/libgomp.so.1"), entries.join("\n"));
    assert.ok(entries.some((e) => e.startsWith("R/library/basepkg/")));
    const metadata = JSON.parse(await readFile(zip.replace(/\.zip$/, ".metadata.json"), "utf8")) as { bundledLibraries: string[] };
    assert.ok(metadata.bundledLibraries.includes("libgomp.so.1"), metadata.bundledLibraries.join(" "));
  });
});
