/**
 * The plan CLI, run as a process, on manifests that used to pass validation and fail later:
 * each is now a manifest problem (exit 1, file:line:col), never error[INTERNAL]; file://
 * repositories need --allow-file-repository, which only the local backend takes.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runEntry } from "./support/cli.ts";
import { BASE_YAML, edit } from "./support/manifests.ts";


/** The plan CLI with only PATH and HOME inherited, as a fresh shell would run it. */
const plan = (args: readonly string[]) => runEntry("plan.ts", args, { inherit: (name) => name === "PATH" || name === "HOME" });

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "rll-validation-cli-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function manifest(name: string, yaml: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, yaml);
  return file;
}

describe("plan CLI: build-time failures are manifest problems", () => {
  test("a package layer on arm64 over an x86_64-only default runtime layer", async () => {
    const file = await manifest("arm64.yaml", edit(BASE_YAML, "    packages: [jsonlite, httr]\n", "    packages: [jsonlite, httr]\n    architectures: [x86_64]\n"));
    const r = await plan(["--manifest", file, "--state", join(dir, "state")]);
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stderr, /INTERNAL/);
    assert.match(r.stderr, /arm64\.yaml:22:\d+: layers\[1\]\.name: stacks on "runtime" \(by default\), which is not built for arm64/);
    assert.match(r.stderr, /error\[MANIFEST_INVALID\]/);
  });

  test("a key made to forge a plan comes out as one JSON-quoted line", async () => {
    const key = "x\n```\n## Plan: nothing to change";
    const file = await manifest("forged.yaml", edit(BASE_YAML, "  retain: 2\n", `  retain: 2\n  ${JSON.stringify(key)}: 1\n`));
    const r = await plan(["--manifest", file, "--state", join(dir, "state"), "--format", "markdown"]);
    assert.equal(r.status, 1);
    assert.doesNotMatch(r.stdout + r.stderr, /`/);
    assert.ok(!(r.stdout + r.stderr).split("\n").some((l) => l.startsWith("## Plan")), r.stderr);
  });
});

describe("--allow-file-repository", () => {
  const yaml = edit(BASE_YAML, "repository: https://packagemanager.posit.co/cran/2024-11-01", "repository: file:///srv/cran");

  test("without it, a file:// repository is a manifest problem naming the flag", async () => {
    const file = await manifest("file-repo.yaml", yaml);
    const r = await plan(["--manifest", file, "--state", join(dir, "state")]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /file-repo\.yaml:7:\d+: defaults\.repository: .*--allow-file-repository/);
  });

  test("with it, the local backend plans", async () => {
    const file = await manifest("file-repo-ok.yaml", yaml);
    const r = await plan(["--manifest", file, "--state", join(dir, "state"), "--allow-file-repository"]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /to build/);
  });

  test("the aws backend does not take it", async () => {
    const file = await manifest("file-repo-aws.yaml", yaml);
    const r = await plan(["--manifest", file, "--backend", "aws", "--allow-file-repository"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /error\[USAGE\]: --allow-file-repository .*local backend/);
  });
});
