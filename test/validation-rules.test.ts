/**
 * Issue 10: every rule a build, S3 or Lambda would enforce is a manifest problem at plan time,
 * with its line and column, never a failed build or an internal error. Each case is an edit of
 * the valid base manifest (test/support/manifests.ts) read through parseManifest/loadManifest.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ManifestError, formatProblem } from "../pipeline/lib/errors.ts";
import type { Problem } from "../pipeline/lib/errors.ts";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { loadManifest, parseManifest } from "../pipeline/lib/manifest/load.ts";
import type { ManifestOptions } from "../pipeline/lib/manifest/load.ts";
import { BASE_YAML, DIGESTS, edit } from "./support/manifests.ts";

function problemsOf(yaml: string, options?: ManifestOptions): Problem[] {
  try {
    const manifest = parseManifest(yaml, "layers.yaml", options);
    // A manifest that validates must also hash: an InternalError here is the bug this file is about.
    computeBuildGraph(manifest, DIGESTS);
  } catch (error) {
    if (error instanceof ManifestError) return [...error.problems];
    throw error;
  }
  return [];
}

function lineOf(yaml: string, snippet: string, nth = 1): number {
  const lines = yaml.split("\n");
  let seen = 0;
  const index = lines.findIndex((l) => l.includes(snippet) && ++seen === nth);
  assert.ok(index >= 0, `snippet ${snippet} not in fixture`);
  return index + 1;
}

function expectProblem(yaml: string, c: { path: string; message: RegExp; at: string; nth?: number }, options?: ManifestOptions): Problem {
  const problems = problemsOf(yaml, options);
  const found = problems.find((p) => p.path === c.path && c.message.test(p.message));
  assert.ok(found, `no problem at ${c.path} matching ${c.message}; got:\n${problems.map(formatProblem).join("\n") || "(valid)"}`);
  assert.equal(found.line, lineOf(yaml, c.at, c.nth), `line of ${formatProblem(found)}`);
  assert.ok(found.column >= 1);
  return found;
}

const runtimeOnly = (extra: string) => edit(BASE_YAML, "    packages: [jsonlite, httr]\n", `    packages: [jsonlite, httr]\n${extra}`);

describe("stacking, default and explicit, for every architecture and R version", () => {
  test("a package layer on arm64 when the (default) runtime layer is x86_64 only", () => {
    const yaml = runtimeOnly("    architectures: [x86_64]\n");
    expectProblem(yaml, { path: "layers[1].name", at: "name: stats", message: /stacks on "runtime" \(by default\), which is not built for arm64/ });
  });

  test("a package layer's own architectures: the missing one is pointed at", () => {
    const yaml = edit(runtimeOnly("    architectures: [x86_64]\n"), "  - name: stats\n", "  - name: stats\n    architectures: [x86_64, arm64]\n");
    expectProblem(yaml, { path: "layers[1].architectures[1]", at: "architectures: [x86_64, arm64]", nth: 2, message: /stacks on "runtime" \(by default\), which is not built for arm64/ });
  });

  test("an R version the default runtime layer lacks", () => {
    const yaml = runtimeOnly(`    r: ["4.4.1"]\n`);
    expectProblem(yaml, { path: "layers[1].name", at: "name: stats", message: /which is not built for R 4\.3\.3/ });
  });

  test("explicit stacksOn still names the stacked layer", () => {
    const yaml = edit(runtimeOnly("    architectures: [x86_64]\n"), "  - name: stats\n", "  - name: stats\n    stacksOn: [runtime]\n");
    expectProblem(yaml, { path: "layers[1].stacksOn[0]", at: "stacksOn: [runtime]", message: /"runtime" is not built for arm64/ });
  });

  test("Lambda attaches at most 5 layers to a function: a stack of 6 is refused", () => {
    const chain = ["a", "b", "c", "d", "e"].map((n, i) => `  - name: ${n}\n    packages: [pkg${n}]\n    stacksOn: [${i === 0 ? "runtime" : ["a", "b", "c", "d"][i - 1]}]\n`).join("");
    const yaml = `${BASE_YAML}${chain}`;
    expectProblem(yaml, { path: "layers[7].stacksOn", at: "stacksOn: [d]", message: /6 layers .*Lambda allows 5/ });
    // Five in all is fine.
    assert.deepEqual(problemsOf(`${BASE_YAML}${chain.split("  - name: e")[0]}`), []);
  });
});

describe("layers that would build nothing", () => {
  test("packages: [] on a packages layer", () => {
    const yaml = edit(BASE_YAML, "packages: [survival, gbm]", "packages: []");
    expectProblem(yaml, { path: "layers[1].packages", at: "packages: []", message: /nothing to build/ });
  });

  test("a packages layer without packages or systemLibraries", () => {
    const yaml = edit(BASE_YAML, "    packages: [data.table]\n", "");
    expectProblem(yaml, { path: "layers[2].name", at: "name: solo", message: /nothing to build/ });
  });

  test("system libraries alone are something to build", () => {
    const yaml = edit(BASE_YAML, "    packages: [data.table]\n", "    systemLibraries: [libgomp.so.1]\n");
    assert.deepEqual(problemsOf(yaml), []);
  });

  test("every package comes from the layer below: adds nothing over its stack", () => {
    const yaml = edit(BASE_YAML, "packages: [survival, gbm]", "packages: [httr, jsonlite]");
    expectProblem(yaml, { path: "layers[1].packages", at: "packages: [httr, jsonlite]", message: /adds nothing over its stack/ });
  });

  test("rjson, which every runtime layer gets, counts as coming from below", () => {
    const yaml = edit(BASE_YAML, "packages: [survival, gbm]", "packages: [rjson]");
    expectProblem(yaml, { path: "layers[1].packages", at: "packages: [rjson]", message: /adds nothing over its stack.*"rjson"/ });
  });
});

describe("repository URLs: https; http only for loopback; file:// only when allowed", () => {
  const withRepo = (url: string) => edit(BASE_YAML, "repository: https://packagemanager.posit.co/cran/2024-11-01", `repository: ${JSON.stringify(url)}`);
  const at = "repository:";

  test("plain http to another host is refused", () => {
    expectProblem(withRepo("http://cran.example.org/2024-11-01"), { path: "defaults.repository", at, message: /plain http.*loopback/ });
  });

  for (const url of ["http://127.0.0.1:8080/cran", "http://localhost:3000", "http://127.1.2.3/x/2024-11-01"]) {
    test(`loopback http is allowed: ${url}`, () => {
      const problems = problemsOf(withRepo(url));
      assert.deepEqual(problems, []);
    });
  }

  test("file:// is refused unless allowed, then accepted", () => {
    const yaml = withRepo("file:///srv/cran");
    expectProblem(yaml, { path: "defaults.repository", at, message: /file:\/\/ repositories .*--allow-file-repository/ });
    assert.deepEqual(problemsOf(yaml, { allowFileRepositories: true }), []);
    const m = parseManifest(yaml, "layers.yaml", { allowFileRepositories: true });
    assert.equal(m.layers[0]?.repository, "file:///srv/cran");
  });

  for (const url of ["https://x.org/cran/../2024-11-01", "file://host/srv/cran", "https://x.org:port/cran", "https://x.org/a?b=c", "file:///"]) {
    test(`a URL the build scripts refuse is refused: ${url}`, () => {
      expectProblem(withRepo(url), { path: "defaults.repository", at, message: /is not an https:\/\// }, { allowFileRepositories: true });
    });
  }
});

describe("S3 bucket names, for every region's expanded name", () => {
  const withBucket = (b: string) => edit(BASE_YAML, "bucket: acme-r-layers-{region}", `bucket: ${JSON.stringify(b)}`);
  const cases: [string, RegExp][] = [
    ["acme..layers-{region}", /two adjacent periods/],
    ["xn--acme-{region}", /must not start with "xn--"/],
    ["sthree-acme-{region}", /must not start with "sthree-"/],
    ["amzn-s3-demo-{region}", /must not start with "amzn-s3-demo-"/],
    ["acme-{region}-s3alias", /must not end with "-s3alias"/],
    ["acme-{region}--ol-s3", /must not end with "--ol-s3"/],
    ["acme-{region}.mrap", /must not end with ".mrap"/],
    ["acme-{region}--x-s3", /must not end with "--x-s3"/],
    ["acme-{region}--table-s3", /must not end with "--table-s3"/],
    [`${"a".repeat(50)}-{region}-x`, /"a{50}-ap-southeast-2-x" .*at most 63 characters/],
  ];
  for (const [bucket, message] of cases) {
    test(bucket.length > 40 ? "length 3-63 for the longest region's name" : bucket, () => {
      let yaml = withBucket(bucket);
      if (bucket.startsWith("aaaa")) yaml = edit(yaml, "regions: [us-east-1, eu-west-1]", "regions: [us-east-1, ap-southeast-2]");
      expectProblem(yaml, { path: "artifacts.bucket", at: "bucket:", message });
    });
  }

  test("an IP-address form is refused", () => {
    const yaml = edit(edit(withBucket("192.168.5.4"), "regions: [us-east-1, eu-west-1]", "regions: [us-east-1]"), "regions: [eu-west-1]", "regions: [us-east-1]");
    expectProblem(yaml, { path: "artifacts.bucket", at: "bucket:", message: /IP address/ });
  });

  test("a template that stays within 63 for every region is fine", () => {
    assert.deepEqual(problemsOf(withBucket(`${"a".repeat(50)}-{region}`)), []);
  });
});

describe("input hygiene", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "rll-validation-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("a byte that is not UTF-8 is a problem at its line and column", async () => {
    const text = edit(BASE_YAML, "  - name: solo\n", "  - name: solo\n    description: caf\u00e9 @@\n");
    const bytes = Buffer.from(text, "utf8");
    const marker = bytes.indexOf(Buffer.from("\u00e9", "utf8"));
    const bad = Buffer.concat([bytes.subarray(0, marker), Buffer.from([0xe9]), bytes.subarray(marker + 2)]);
    const file = join(dir, "latin1.yaml");
    await writeFile(file, bad);
    await assert.rejects(loadManifest(file), (error: unknown) => {
      assert.ok(error instanceof ManifestError, String(error));
      assert.equal(error.problems.length, 1);
      const [p] = error.problems;
      assert.ok(p);
      assert.deepEqual([p.line, p.column], [lineOf(text, "description: caf"), "    description: caf".length + 1]);
      assert.match(p.message, /not valid UTF-8/);
      return true;
    });
  });

  test("valid UTF-8 (and a byte-order mark) still loads", async () => {
    const file = join(dir, "utf8.yaml");
    await writeFile(file, `\ufeff${edit(BASE_YAML, "  - name: solo\n", "  - name: solo\n    description: café ☕\n")}`);
    const m = await loadManifest(file);
    assert.equal(m.layers[2]?.description, "café ☕");
  });

  for (const directive of ["%YAML 1.1", "%YAML 1.3", "%TAG !e! tag:example.com,2000:"]) {
    test(`${directive} is refused`, () => {
      const yaml = `${directive}\n---\n${edit(BASE_YAML, "  retain: 2\n", "  retain: 010\n  share:\n    public: yes\n")}`;
      const problems = problemsOf(yaml);
      const found = problems.find((p) => /directive/.test(p.message));
      assert.ok(found, problems.map(formatProblem).join("\n") || "(valid: the 1.1 document was honoured)");
      assert.equal(found.line, 1);
    });
  }

  test("%YAML 1.2 is accepted and reads as YAML 1.2", () => {
    const yaml = `%YAML 1.2\n---\n${edit(BASE_YAML, "  retain: 2\n", "  retain: 010\n")}`;
    assert.equal(parseManifest(yaml, "layers.yaml").layers[0]?.retain, 10);
  });

  test("a YAML 1.1 sexagesimal stays a string, and is refused where a number is expected", () => {
    const yaml = `%YAML 1.2\n---\n${edit(BASE_YAML, "  retain: 2\n", "  retain: 1:30\n")}`;
    expectProblem(yaml, { path: "defaults.retain", at: "retain: 1:30", message: /expected a whole number, got a string/ });
  });

  test("anchors and aliases read as before", () => {
    const yaml = edit(
      edit(BASE_YAML, "  retain: 2\n", "  retain: 2\n  share: &everyone\n    accounts: [\"111111111111\"]\n"),
      "    packages: [data.table]\n",
      "    packages: [data.table]\n    share: *everyone\n",
    );
    const m = parseManifest(yaml, "layers.yaml");
    assert.deepEqual(m.layers[2]?.share, { accounts: ["111111111111"], public: false });
  });

  test("an alias bomb is refused", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++) levels.push(`${"abcdefghij"[i]}: &${"abcdefghij"[i]} [${Array(10).fill(`*${"abcdefghij"[i - 1]}`).join(", ")}]`);
    const problems = problemsOf(`${levels.join("\n")}\n${BASE_YAML}`);
    assert.ok(problems.some((p) => /alias/i.test(p.message)), problems.map(formatProblem).join("\n"));
  });
});

describe("messages name the bad value once, JSON-quoted", () => {
  const KEY = "x\n```\n## Plan: nothing to change";

  test("a key with a newline and a backtick fence comes out as one JSON-quoted line", () => {
    const yaml = edit(BASE_YAML, "  retain: 2\n", `  retain: 2\n  ${JSON.stringify(KEY)}: 1\n`);
    const problems = problemsOf(yaml);
    assert.equal(problems.length, 1, problems.map(formatProblem).join("\n"));
    const text = formatProblem(problems[0] as Problem);
    assert.doesNotMatch(text, /[\n\r`]/);
    const literals = [...text.matchAll(/"(?:[^"\\]|\\.)*"/g)].map((m) => m[0]).filter((s) => JSON.parse(s) === KEY);
    assert.equal(literals.length, 1, `the key once, JSON-quoted: ${text}`);
  });

  test("control and bidirectional characters in a value are escaped", () => {
    const value = "a\u001b[2Jb\u202ec\u0085d";
    const yaml = edit(BASE_YAML, "packages: [survival, gbm]", `packages: [survival, ${JSON.stringify(value)}]`);
    const problems = problemsOf(yaml);
    assert.equal(problems.length, 1);
    const text = formatProblem(problems[0] as Problem);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(text, /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
    assert.ok(text.includes(JSON.stringify(value).replace("\u202e", "\\u202e").replace("\u0085", "\\u0085")), text);
  });

  const once: [string, string, string, string][] = [
    ["an R version that is not one", `r: ["4.4.1"]`, `r: ["4.4.1; curl x|sh"]`, "layers[2].r[0]"],
    ["a stacksOn entry that is not a name", "packages: [survival, gbm]", `packages: [survival, gbm]\n    stacksOn: ["Run Time"]`, "layers[1].stacksOn[0]"],
    ["a layer name that is not one", "name: solo", `name: "Solo Layer"`, "layers[2].name"],
  ];
  for (const [what, from, to, path] of once) {
    test(`${what}: one problem, not one per rule`, () => {
      const problems = problemsOf(edit(BASE_YAML, from, to)).filter((p) => p.path === path);
      assert.equal(problems.length, 1, problems.map(formatProblem).join("\n"));
    });
  }
});
