/**
 * `npm run layers -- add | remove | import`, run as a process on copies of the repository's
 * layers.yaml: the edit keeps every byte outside the edited block (comments included), an edit
 * that would make the manifest invalid writes nothing, and an imported layer validates and plans.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { REPO, runEntry } from "./support/cli.ts";

const FIXTURES = join(REPO, "test/fixtures/import");
let work: string;
let original: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), "rll-layers-"));
  original = await readFile(join(REPO, "layers.yaml"), "utf8");
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A folder of its own holding a copy of the repository's layers.yaml (its state goes to .layers beside it). */
async function copy(text = original): Promise<string> {
  const dir = await mkdtemp(join(work, "m-"));
  const file = join(dir, "layers.yaml");
  await writeFile(file, text);
  return file;
}

const layers = (file: string, ...args: string[]) => runEntry("layers.ts", [...args, "--manifest", file]);

/**
 * Where two texts differ, as 1-based line ranges: the lines before `from` and after the last
 * `toBefore`/`toAfter` are the same bytes in both (a common start and a common end).
 */
function changedLines(a: string, b: string): { from: number; toBefore: number; toAfter: number } {
  const x = a.split("\n");
  const y = b.split("\n");
  let start = 0;
  while (start < x.length && start < y.length && x[start] === y[start]) start++;
  let end = 0;
  while (end < x.length - start && end < y.length - start && x[x.length - 1 - end] === y[y.length - 1 - end]) end++;
  return { from: start + 1, toBefore: x.length - end, toAfter: y.length - end };
}

/** The 1-based lines of `text` from the line holding `first` through the line holding `last` after it. */
function linesOf(text: string, first: string, last: string): { from: number; to: number } {
  const lines = text.split("\n");
  const from = lines.findIndex((l) => l.includes(first));
  const to = lines.findIndex((l, i) => i >= from && l.includes(last));
  assert.ok(from >= 0 && to >= from, `fixture: ${first} … ${last} not found`);
  return { from: from + 1, to: to + 1 };
}

const comments = (text: string) => text.split("\n").filter((l) => l.trimStart().startsWith("#"));
const layerOf = (text: string, name: string) => parseManifest(text, "layers.yaml").layers.find((l) => l.name === name);

describe("npm run layers -- add", () => {
  test("adds to a wrapped, sorted flow list in place: sorted, still flow, nothing else changed; prints the plan difference", async () => {
    const file = await copy();
    const r = await layers(file, "add", "recommended", "zoo", "Rcpp");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^added to layer "recommended": zoo, Rcpp$/m);
    assert.match(r.stdout, /^Wrote .*layers\.yaml\.$/m);
    // Against an empty state every action exists before and after; the recommended builds change key.
    assert.match(r.stdout, /^Plan difference \(compared with local state at .*\): 0 more, 0 fewer, \d+ changed actions\.$/m);
    assert.match(r.stdout, /^ {2}~ build +r-recommended-4_4_1 \(R 4\.4\.1, x86_64\) {2}\(/m);
    assert.doesNotMatch(r.stdout, /r-awspack|r-origent/);

    const edited = await readFile(file, "utf8");
    const block = linesOf(original, "[KernSmooth", "spatial, survival]");
    const changed = changedLines(original, edited);
    assert.ok(changed.from >= block.from && changed.toBefore <= block.to, `only the list changed: ${JSON.stringify(changed)} within ${JSON.stringify(block)}`);
    const list = edited.split("\n").slice(changed.from - 1, changed.toAfter);
    assert.match(list[0] ?? "", /^ {6}\[KernSmooth, MASS, Matrix, Rcpp, /, "sorted as the list was (C order), still a flow list");
    assert.ok(list.every((l) => l.length <= Math.max(...original.split("\n").slice(block.from - 1, block.to).map((o) => o.length))), "wrapped no wider than before");
    assert.deepEqual(layerOf(edited, "recommended")?.packages.includes("zoo"), true);
    assert.deepEqual(comments(edited), comments(original));
  });

  test("a layer that does not exist is created as a packages layer after the last one, and the output says so", async () => {
    const file = await copy();
    const r = await layers(file, "add", "extras", "zoo", "data.table");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /created layer "extras" as a packages layer with zoo, data\.table \(it did not exist; the layers were runtime, recommended, awspack, origent\)/);
    assert.match(r.stdout, /^ {2}\+ build +r-extras-4_4_1 /m);
    const edited = await readFile(file, "utf8");
    assert.ok(edited.startsWith(original), "appended: every byte before it kept");
    assert.equal(edited.slice(original.length), "\n  - name: extras\n    packages: [data.table, zoo]\n");
    assert.deepEqual(layerOf(edited, "extras")?.stacksOn, ["runtime"]);
  });

  test("a block list gains `- item` lines in order; everything else stays", async () => {
    const block = original.replace("    packages: [survival, gbm]\n", "    packages:\n      # the scoring models\n      - gbm\n      - survival\n");
    const file = await copy(block);
    const r = await layers(file, "add", "origent", "xgboost", "glmnet");
    assert.equal(r.status, 0, r.stderr);
    const edited = await readFile(file, "utf8");
    assert.equal(edited, block.replace("      - gbm\n      - survival\n", "      - gbm\n      - glmnet\n      - survival\n      - xgboost\n"));
  });

  test("packages already there: nothing to change, the file is not written", async () => {
    const file = await copy();
    const r = await layers(file, "add", "origent", "gbm");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /already in layer "origent": gbm\nNothing to change: .* was not written\./);
    assert.equal(await readFile(file, "utf8"), original);
  });

  test("an edit that makes the manifest invalid is refused: problems printed, exit 1, file untouched", async () => {
    const file = await copy();
    const r = await layers(file, "add", "origent", "stats");
    assert.equal(r.status, 1);
    assert.match(r.stderr, /layers\.yaml \(edited\):\d+:\d+: layers\[3\]\.packages\[2\]: "stats" is part of R itself and cannot be installed/);
    assert.match(r.stderr, /error\[MANIFEST_INVALID\]: 1 problem in the manifest \(the edit would make it, so .*layers\.yaml was not written\)/);
    assert.match(r.stdout, /^\+ {4}packages: \[survival, gbm, stats\]$/m, "the refused edit is shown");
    assert.equal(await readFile(file, "utf8"), original);
    const dir = join(file, "..");
    assert.deepEqual(await readdir(dir), ["layers.yaml"], "no temporary file, no state folder");
  });

  test("names that are not R packages or layers are usage errors", async () => {
    const file = await copy();
    const bad = await layers(file, "add", "origent", "not_a_package");
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /error\[USAGE\]: not R package names: "not_a_package"/);
    const layer = await layers(file, "add", "Origent", "gbm");
    assert.match(layer.stderr, /error\[USAGE\]: "Origent" is not a layer name/);
    assert.equal(await readFile(file, "utf8"), original);
  });

  test("--dry-run prints the diff of the manifest and the plan difference, and writes nothing", async () => {
    const file = await copy();
    const r = await layers(file, "add", "origent", "xgboost", "--dry-run");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^@@ -\d+,7 \+\d+,7 @@$/m);
    assert.match(r.stdout, /^- {4}packages: \[survival, gbm\]\n\+ {4}packages: \[survival, gbm, xgboost\]$/m, "an unsorted list gets new names at its end");
    assert.match(r.stdout, /~ build +r-origent-4_4_1 /);
    assert.match(r.stdout, /^Dry run: .*layers\.yaml was not written\.$/m);
    assert.equal(await readFile(file, "utf8"), original);
  });
});

describe("npm run layers -- remove", () => {
  test("removes packages from a list, and a whole layer with its separating blank line", async () => {
    const file = await copy();
    const packages = await layers(file, "remove", "awspack", "aws.s3", "aws.sns");
    assert.equal(packages.status, 0, packages.stderr);
    assert.match(packages.stdout, /^removed from layer "awspack": aws\.s3, aws\.sns$/m);
    const once = await readFile(file, "utf8");
    const block = linesOf(original, "[aws.signature", "aws.transcribe]");
    const changed = changedLines(original, once);
    assert.ok(changed.from >= block.from && changed.toBefore <= block.to, JSON.stringify(changed));
    assert.deepEqual(layerOf(once, "awspack")?.packages.includes("aws.s3"), false);

    const layer = await layers(file, "remove", "origent");
    assert.equal(layer.status, 0, layer.stderr);
    assert.match(layer.stdout, /^removed layer "origent"$/m);
    assert.match(layer.stdout, /^ {2}- build +r-origent-4_4_1 \(R 4\.4\.1, x86_64\) {2}\(no longer needed\)$/m);
    const twice = await readFile(file, "utf8");
    const origent = original.slice(original.indexOf("\n  - name: origent"));
    assert.equal(twice, once.replace(origent, ""), "the layer and the blank line before it are gone; the file still ends with a line break");
    assert.deepEqual(comments(twice), comments(original));
  });

  test("a layer others stack on is not removed; naming a package the layer lacks changes nothing", async () => {
    const file = await copy();
    const runtime = await layers(file, "remove", "runtime");
    assert.equal(runtime.status, 1);
    assert.match(runtime.stderr, /error\[USAGE\]: layer "runtime" cannot be removed: "recommended", "awspack", "origent" stack on it/);
    const missing = await layers(file, "remove", "origent", "gbm", "xgboost");
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /layer "origent" has no package "xgboost" \(it has survival, gbm\); nothing was changed/);
    const empty = await layers(file, "remove", "origent", "gbm", "survival");
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /nothing to build: a packages layer needs packages/);
    assert.equal(await readFile(file, "utf8"), original);
  });
});

describe("npm run layers -- import", () => {
  test("serveRmore.yaml (modelled on issue 11): survival and gbm become a layer that validates and plans; comments kept byte for byte", async () => {
    const file = await copy();
    const r = await layers(file, "import", join(FIXTURES, "serveRmore.yaml"));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Imported .*serveRmore\.yaml \(serveRmore\):$/m);
    assert.match(r.stdout, /^ {2}mapped {6}builder\.cran_r_package_names: packages: survival, gbm$/m);
    assert.match(r.stdout, /^ {2}mapped {6}region: regions: \[eu-west-1\]/m);
    assert.match(r.stdout, /^ {2}not needed {2}builder\.instance_type: m5\.2xlarge \(8 vCPUs\) is at most BUILD_GENERAL1_LARGE; builder\.computeType is already BUILD_GENERAL1_LARGE$/m);
    assert.match(r.stdout, /^ {2}not needed {2}builder\.ami_id: builds run in CodeBuild/m);
    assert.match(r.stdout, /^ {2}not needed {2}s3_bucket: artifacts go to artifacts\.bucket/m);
    assert.match(r.stdout, /^ {2}not mapped {2}notify_email: unknown serveRmore key/m, "unknown keys are reported");
    assert.match(r.stdout, /^created layer "imported" as a packages layer with survival, gbm/m);
    assert.match(r.stdout, /^ {2}\+ publish r-imported-4_4_1 → eu-west-1$/m);

    const edited = await readFile(file, "utf8");
    assert.ok(edited.startsWith(original), "every byte of the manifest before the new block is kept");
    assert.equal(
      edited.slice(original.length),
      "\n  - name: imported\n    description: imported from serveRmore.yaml\n    packages: [gbm, survival]\n    regions: [eu-west-1]\n",
    );
    const layer = layerOf(edited, "imported");
    assert.deepEqual(layer?.packages, ["gbm", "survival"]);
    assert.deepEqual(layer?.regions, ["eu-west-1"]);

    const plan = await runEntry("plan.ts", ["--manifest", file]);
    assert.equal(plan.status, 0, plan.stderr);
    assert.match(plan.stdout, /^layer imported$/m);
    assert.match(plan.stdout, /\+ publish +r-imported-4_3_3-arm64 → eu-west-1/);
  });

  test("serveRmore.yaml: a bigger build instance raises builder.computeType, a region already published to is not needed", async () => {
    const config = (await readFile(join(FIXTURES, "serveRmore.yaml"), "utf8"))
      .replace("instance_type: m5.2xlarge", "instance_type: c5.9xlarge")
      .replace("region: eu-west-1", "region: eu-central-1");
    const source = join(work, "serveRmore.yaml");
    await writeFile(source, config);
    const file = await copy();
    const r = await layers(file, "import", source, "--layer", "origent-models");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /mapped {6}builder\.instance_type: builder\.computeType: BUILD_GENERAL1_XLARGE \(c5\.9xlarge has 36 vCPUs/);
    assert.match(r.stdout, /not needed {2}region: eu-central-1 is already in defaults\.regions/);
    assert.match(r.stdout, /^set builder\.computeType to BUILD_GENERAL1_XLARGE \(was BUILD_GENERAL1_LARGE\)$/m);
    const edited = await readFile(file, "utf8");
    const expected = `${original.replace("computeType: BUILD_GENERAL1_LARGE", "computeType: BUILD_GENERAL1_XLARGE")}\n  - name: origent-models\n    description: imported from serveRmore.yaml\n    packages: [gbm, survival]\n`;
    assert.equal(edited, expected);
  });

  test("renv.lock: top-level packages, the dated snapshot as the layer's repository (source, not Ubuntu binaries), R version noted", async () => {
    const file = await copy();
    const r = await layers(file, "import", join(FIXTURES, "renv.lock"), "--layer", "scoring");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /mapped {6}Packages: packages: data\.table, lifecycle \(the 3 other packages in the lock are their dependencies/);
    assert.match(r.stdout, /mapped {6}R\.Repositories\.CRAN: repository: https:\/\/packagemanager\.posit\.co\/cran\/2024-10-01 \(the source packages of .*__linux__\/jammy\/2024-10-01/);
    assert.match(r.stdout, /note {8}R\.Version: R 4\.4\.1: the layer is built for every declared R version/);
    assert.match(r.stdout, /not needed {2}Packages\.renv: /);
    assert.match(r.stdout, /not mapped {2}Packages\.mytools: installed from GitHub someone\/mytools/);
    const layer = layerOf(await readFile(file, "utf8"), "scoring");
    assert.deepEqual(layer?.packages, ["data.table", "lifecycle"]);
    assert.equal(layer?.repository, "https://packagemanager.posit.co/cran/2024-10-01");
  });

  test("DESCRIPTION: Imports and Depends without R and base packages, constraints dropped and reported; the layer is named after the package", async () => {
    const file = await copy();
    const r = await layers(file, "import", join(FIXTURES, "DESCRIPTION"), "--dry-run");
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /mapped {6}Imports\/Depends: packages: data\.table, jsonlite, xgboost$/m);
    assert.match(r.stdout, /version constraints dropped: data\.table \(>= 1\.14\.0\), xgboost \(>= 1\.7\.0\)/);
    assert.match(r.stdout, /not needed {2}Imports\/Depends: stats: part of R itself/);
    assert.match(r.stdout, /note {8}Depends\.R: R >= 4\.1\.0/);
    assert.match(r.stdout, /not mapped {2}Suggests: testthat/);
    assert.match(r.stdout, /^\+ {2}- name: scorer$/m);
    assert.match(r.stdout, /^\+ {4}packages: \[data\.table, jsonlite, xgboost\]$/m);
    assert.equal(await readFile(file, "utf8"), original, "a dry run writes nothing");
  });

  test("a file that is none of the three is refused", async () => {
    const source = join(work, "notes.txt");
    await writeFile(source, "just some notes\n");
    const file = await copy();
    const r = await layers(file, "import", source);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /error\[USAGE\]: cannot tell what .*notes\.txt is/);
    assert.equal(await readFile(file, "utf8"), original);
  });
});
