import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { ManifestError, formatProblem } from "../pipeline/lib/errors.ts";
import type { Problem } from "../pipeline/lib/errors.ts";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { BASE_YAML, edit } from "./support/manifests.ts";

function problemsOf(yaml: string): Problem[] {
  try {
    parseManifest(yaml, "layers.yaml");
  } catch (error) {
    if (error instanceof ManifestError) return [...error.problems];
    throw error;
  }
  return [];
}

/** 1-based line of the first line containing `snippet`, and the column where it starts. */
function positionOf(yaml: string, snippet: string): { line: number; column: number } {
  const lines = yaml.split("\n");
  const index = lines.findIndex((l) => l.includes(snippet));
  assert.ok(index >= 0, `snippet ${snippet} not in fixture`);
  return { line: index + 1, column: (lines[index] as string).indexOf(snippet) + 1 };
}

describe("valid manifests", () => {
  test("the repository's own layers.yaml", async () => {
    const text = await readFile(new URL("../layers.yaml", import.meta.url), "utf8");
    const m = parseManifest(text, "layers.yaml");
    assert.deepEqual(
      m.layers.map((l) => [l.name, l.type]),
      [
        ["runtime", "runtime"],
        ["recommended", "packages"],
        ["awspack", "packages"],
        ["origent", "packages"],
      ],
    );
    assert.deepEqual(m.layers[0]?.packages, ["aws.s3", "httr", "jsonlite", "logging", "rjson", "yaml"], "the runtime's own rjson added");
    assert.deepEqual(m.layers[3]?.packages, ["gbm", "survival"]);
    // No published digest of AWS's build images could be had here, so the repository's own
    // manifest keeps their tags, and the plan says so (docs/guide.md: pin them before production).
    assert.deepEqual(
      m.warnings.map((w) => w.replace(/: image .*/, "")),
      ["layers.yaml:28:13: builder.images.x86_64", "layers.yaml:29:12: builder.images.arm64"],
    );
  });

  test("defaults apply, lists are sorted, package layers stack on the runtime layer", () => {
    const m = parseManifest(BASE_YAML, "layers.yaml");
    const stats = m.layers.find((l) => l.name === "stats");
    assert.ok(stats);
    assert.deepEqual(stats.packages, ["gbm", "survival"]);
    assert.deepEqual(stats.rVersions, ["4.4.1", "4.3.3"]);
    assert.deepEqual(stats.architectures, ["x86_64", "arm64"]);
    assert.deepEqual(stats.regions, ["us-east-1", "eu-west-1"]);
    assert.equal(stats.retain, 2);
    assert.deepEqual(stats.stacksOn, ["runtime"]);
    assert.deepEqual(stats.share, { accounts: [], public: false });
    assert.deepEqual(m.layers.find((l) => l.name === "runtime")?.stacksOn, []);
  });

  test("a minimal manifest gets the documented defaults", () => {
    const m = parseManifest(
      `version: 1
r: {versions: ["4.4.1"]}
artifacts: {bucket: my-layers}
builder: {project: rbuild, region: us-east-1}
layers:
  - name: runtime
    type: runtime
    regions: [us-east-1]
    repository: https://packagemanager.posit.co/cran/2024-11-01
`,
      "layers.yaml",
    );
    assert.deepEqual(m.layers[0]?.architectures, ["x86_64"]);
    assert.deepEqual(m.layers[0]?.packages, ["rjson"], "a runtime layer always carries what the runtime loads");
    assert.equal(m.layers[0]?.retain, 3);
    assert.equal(m.builder.parallelism, 4);
    assert.equal(m.builder.computeType, "BUILD_GENERAL1_LARGE");
    assert.match(m.builder.images.arm64, /provided\.al2023/);
  });

  test("CRLF line ends read the same as LF", () => {
    const lf = parseManifest(BASE_YAML, "layers.yaml");
    const crlf = parseManifest(BASE_YAML.replaceAll("\n", "\r\n"), "layers.yaml");
    assert.deepEqual(crlf, lf);
  });
});

/** One case per rule: an edit of the valid base manifest, where the problem must be reported, and what it says. */
const INVALID: { rule: string; from: string; to: string; path: string; at: string; line?: number; message: RegExp }[] = [
  { rule: "format version", from: "version: 1", to: "version: 2", path: "version", at: "2", message: /must be 1/ },
  { rule: "unknown top-level key", from: "artifacts:", to: "colour: red\nartifacts:", path: "colour", at: "colour", message: /^unknown key \(expected one of: version, r, defaults/ },
  { rule: "unknown layer key", from: "    type: runtime", to: "    type: runtime\n    pakages: [x]", path: "layers[0].pakages", at: "pakages", message: /^unknown key \(expected one of: name, type/ },
  { rule: "unknown defaults key", from: "  retain: 2", to: "  retain: 2\n  region: us-east-1", path: "defaults.region", at: "region: us-east-1", message: /^unknown key \(expected one of: r, architectures, regions/ },
  { rule: "missing layers", from: "layers:\n", to: "lairs:\n", path: "", at: "version", message: /missing required key "layers"/ },
  { rule: "missing layer name", from: "  - name: solo\n", to: "  - description: solo\n", path: "layers[2]", at: "description: solo", message: /missing required key "name"/ },
  { rule: "R version pattern", from: `"4.4.1", "4.3.3"]`, to: `"4.4.1", "4.3"]`, path: "r.versions[1]", at: `"4.3"`, message: /"4\.3" is not an R version such as 4\.4\.1/ },
  { rule: "R version as a number", from: `"4.4.1", "4.3.3"]`, to: `"4.4.1", 4.3]`, path: "r.versions[1]", at: "4.3]", message: /expected a string, got a number/ },
  { rule: "R version with shell", from: `["4.4.1"]`, to: `["4.4.1; curl x|sh"]`, path: "layers[2].r[0]", at: "4.4.1; curl", message: /is not an R version/ },
  { rule: "architecture enum", from: "[x86_64, arm64]", to: "[x86_64, aarch64]", path: "defaults.architectures[1]", at: "aarch64", message: /"aarch64" is not one of: x86_64, arm64/ },
  { rule: "region code", from: "regions: [us-east-1, eu-west-1]", to: "regions: [us-east-1, europe]", path: "defaults.regions[1]", at: "europe", message: /"europe" is not an AWS region code/ },
  { rule: "repository pattern", from: "repository: https://packagemanager.posit.co/cran/2024-11-01", to: "repository: https://x.org/$(id)", path: "defaults.repository", at: "https://x.org", message: /^"https:\/\/x\.org\/\$\(id\)" is not an https:\/\/ URL/ },
  { rule: "repository scheme", from: "repository: https://packagemanager.posit.co/cran/2024-11-01", to: "repository: ftp://cran.org", path: "defaults.repository", at: "ftp://", message: /is not an https/ },
  { rule: "retain minimum", from: "retain: 2", to: "retain: 0", path: "defaults.retain", at: "retain: 0", message: /must be at least 1/ },
  { rule: "retain integer", from: "retain: 2", to: "retain: 2.5", path: "defaults.retain", at: "2.5", message: /expected a whole number/ },
  { rule: "account id", from: "  retain: 2\n", to: "  retain: 2\n  share:\n    accounts: [12345]\n", path: "defaults.share.accounts[0]", at: "12345", message: /expected a string, got a number: write a 12-digit AWS account id/ },
  { rule: "account id digits", from: "  retain: 2\n", to: `  retain: 2\n  share:\n    accounts: ["1234567890ab"]\n`, path: "defaults.share.accounts[0]", at: "1234567890ab", message: /is not a 12-digit AWS account id/ },
  { rule: "organization id", from: "  retain: 2\n", to: "  retain: 2\n  share:\n    organization: org-1\n", path: "defaults.share.organization", at: "org-1", message: /is not an AWS Organizations id/ },
  { rule: "public flag", from: "  retain: 2\n", to: "  retain: 2\n  share:\n    public: yes\n", path: "defaults.share.public", at: "yes", message: /expected true or false/ },
  { rule: "unknown share key", from: "  retain: 2\n", to: "  retain: 2\n  share:\n    everyone: true\n", path: "defaults.share.everyone", at: "everyone", message: /^unknown key \(expected one of: accounts, organization, public\)$/ },
  { rule: "image reference", from: "x86_64: public.ecr.aws/sam/build-provided.al2023:x86", to: "x86_64: Public ECR image", path: "builder.images.x86_64", at: "Public ECR", message: /is not a container image reference/ },
  { rule: "compute type", from: "  region: us-east-1\n  images", to: "  region: us-east-1\n  computeType: HUGE\n  images", path: "builder.computeType", at: "HUGE", message: /is not one of: BUILD_GENERAL1_SMALL/ },
  { rule: "parallelism bound", from: "  region: us-east-1\n  images", to: "  region: us-east-1\n  parallelism: 0\n  images", path: "builder.parallelism", at: "parallelism: 0", message: /must be at least 1/ },
  { rule: "timeout bound", from: "  region: us-east-1\n  images", to: "  region: us-east-1\n  timeoutMinutes: 5000\n  images", path: "builder.timeoutMinutes", at: "5000", message: /must be at most 2160/ },
  { rule: "project name", from: "project: r-lambda-layers", to: "project: r lambda layers", path: "builder.project", at: "r lambda", message: /is not a CodeBuild project name/ },
  { rule: "builder region", from: "  region: us-east-1\n  images", to: "  region: US-EAST-1\n  images", path: "builder.region", at: "US-EAST-1", message: /is not an AWS region code/ },
  { rule: "bucket name", from: "bucket: acme-r-layers-{region}", to: "bucket: Acme_Layers", path: "artifacts.bucket", at: "Acme_Layers", message: /is not an S3 bucket name/ },
  { rule: "layer name pattern", from: "name: solo", to: "name: Solo_Layer", path: "layers[2].name", at: "Solo_Layer", message: /is not lowercase letters and digits/ },
  { rule: "layer type enum", from: "    type: runtime", to: "    type: base", path: "layers[0].type", at: "base", message: /"base" is not one of: runtime, packages/ },
  { rule: "package name", from: "packages: [survival, gbm]", to: "packages: [survival, \"gbm; rm -rf /\"]", path: "layers[1].packages[1]", at: "gbm; rm", message: /is not a valid R package name/ },
  { rule: "package name trailing dot", from: "packages: [survival, gbm]", to: "packages: [survival, gbm.]", path: "layers[1].packages[1]", at: "gbm.]", message: /is not a valid R package name/ },
  { rule: "package listed twice", from: "packages: [survival, gbm]", to: "packages: [survival, gbm, survival]", path: "layers[1].packages[2]", at: "survival, gbm, survival", message: /"survival" is listed twice/ },
  { rule: "system library name", from: "packages: [survival, gbm]", to: "packages: [survival, gbm]\n    systemLibraries: [\"libgomp.so.1 $(reboot)\"]", path: "layers[1].systemLibraries[0]", at: "libgomp", message: /is not a shared library name/ },
  { rule: "stacksOn entry pattern", from: "packages: [survival, gbm]", to: "packages: [survival, gbm]\n    stacksOn: [\"Run Time\"]", path: "layers[1].stacksOn[0]", at: "Run Time", message: /is not the name of another layer/ },
  { rule: "empty layers", from: /layers:\n[\s\S]*$/.source, to: "", path: "", at: "", message: /./ },
  { rule: "description length", from: "  - name: solo\n", to: `  - name: solo\n    description: ${"x".repeat(201)}\n`, path: "layers[2].description", at: "xxxx", message: /longer than 200 characters/ },
  { rule: "license length", from: "  retain: 2\n", to: `  retain: 2\n  license: ${"x".repeat(513)}\n`, path: "defaults.license", at: "xxxx", message: /longer than 512 characters/ },
  // Semantic rules.
  { rule: "duplicate layer name", from: "name: solo", to: "name: stats", path: "layers[2].name", at: "name: stats", line: 23, message: /layer name "stats" is already used \(line 21\)/ },
  { rule: "undeclared R version", from: `r: ["4.4.1"]`, to: `r: ["4.2.0"]`, path: "layers[2].r[0]", at: "4.2.0", message: /^R version "4\.2\.0" is not declared under r\.versions \(declared: 4\.4\.1, 4\.3\.3\)$/ },
  { rule: "undeclared default R version", from: "  retain: 2\n", to: `  retain: 2\n  r: ["4.1.0"]\n`, path: "defaults.r[0]", at: "4.1.0", message: /R version "4\.1\.0" is not declared/ },
  { rule: "published name too long", from: "name: solo", to: `name: ${"s".repeat(135)}`, path: "layers[2].name", at: "sssss", message: /"r-s+-4_4_1" would be 143 characters; Lambda allows 140/ },
  { rule: "base package", from: "packages: [survival, gbm]", to: "packages: [survival, stats]", path: "layers[1].packages[1]", at: "stats]", message: /"stats" is part of R itself/ },
  { rule: "stacks on unknown layer", from: "packages: [survival, gbm]", to: "packages: [survival, gbm]\n    stacksOn: [runtime, nope]", path: "layers[1].stacksOn[1]", at: "nope", message: /no layer named "nope"/ },
  { rule: "stacks on itself", from: "packages: [survival, gbm]", to: "packages: [survival, gbm]\n    stacksOn: [stats]", path: "layers[1].stacksOn[0]", at: "stacksOn: [stats]", message: /cannot stack on itself/ },
  { rule: "stack coverage", from: "packages: [survival, gbm]", to: "packages: [survival, gbm]\n    stacksOn: [solo]", path: "layers[1].stacksOn[0]", at: "stacksOn: [solo]", message: /"solo" is not built for R 4\.3\.3, arm64, which "stats" needs/ },
  { rule: "stack loop", from: "    type: runtime\n", to: "    type: runtime\n    stacksOn: [stats]\n", path: "layers[0].stacksOn", at: "stacksOn: [stats]", message: /loop: "runtime" → "stats" → "runtime"/ },
  { rule: "several runtimes need stacksOn", from: "  - name: solo\n", to: "  - name: solo\n    type: runtime\n", path: "layers[1]", at: "name: stats", message: /must say which runtime layer it stacks on/ },
  { rule: "bucket without {region}", from: "bucket: acme-r-layers-{region}", to: "bucket: acme-r-layers", path: "artifacts.bucket", at: "acme-r-layers", message: /^the bucket has no \{region\}, but layers target 2 regions/ },
  { rule: "bucket placeholder", from: "bucket: acme-r-layers-{region}", to: "bucket: acme-{account}-{region}", path: "artifacts.bucket", at: "acme-{account}", message: /only \{region\} may be used/ },
  { rule: "bucket length", from: "bucket: acme-r-layers-{region}", to: `bucket: ${"a".repeat(50)}-{region}-xyzw`, path: "artifacts.bucket", at: "aaaa", message: /^"a{50}-eu-west-1-xyzw" \(the bucket for eu-west-1 and 1 more region\) is 65 characters long; S3 bucket names are at least 3 and at most 63 characters$/ },
  { rule: "no regions anywhere", from: "  regions: [us-east-1, eu-west-1]\n", to: "", path: "layers[0]", at: "name: runtime", message: /has no regions: set "regions" on the layer or under defaults/ },
];

describe("invalid manifests: every rule reports its problem at the offending line and path", () => {
  for (const c of INVALID) {
    test(c.rule, () => {
      const yaml = c.rule === "empty layers" ? BASE_YAML.replace(/layers:\n[\s\S]*$/, "layers: []\n") : edit(BASE_YAML, c.from, c.to);
      const problems = problemsOf(yaml);
      assert.ok(problems.length > 0, "expected a problem, got a valid manifest");
      if (c.rule === "empty layers") {
        assert.deepEqual(
          problems.map((p) => [p.path, p.message]),
          [["layers", "must list at least 1 item"]],
        );
        return;
      }
      const found = problems.find((p) => p.path === c.path && c.message.test(p.message));
      assert.ok(found, `no problem at ${c.path} matching ${c.message}; got:\n${problems.map(formatProblem).join("\n")}`);
      assert.equal(found.line, c.line ?? positionOf(yaml, c.at).line, `line of ${formatProblem(found)}`);
      assert.equal(found.file, "layers.yaml");
    });
  }
});

describe("problem reporting", () => {
  test("all problems of all kinds are reported together, sorted by position, with line and column", () => {
    const yaml = edit(
      edit(edit(BASE_YAML, "name: solo", "name: stats"), "retain: 2", "retain: 0"),
      "packages: [jsonlite, httr]",
      'packages: [jsonlite, "h ttr"]',
    );
    const problems = problemsOf(yaml);
    assert.deepEqual(problems.map(formatProblem), [
      "layers.yaml:8:11: defaults.retain: must be at least 1",
      'layers.yaml:20:26: layers[0].packages[1]: "h ttr" is not a valid R package name (letters, digits and dots; starts with a letter; does not end with a dot)',
      'layers.yaml:23:11: layers[2].name: layer name "stats" is already used (line 21)',
    ]);
  });

  test("an unknown key is pointed at the key itself", () => {
    const yaml = edit(BASE_YAML, "    type: runtime", "    type: runtime\n    pakages: [x]");
    const [problem] = problemsOf(yaml);
    assert.ok(problem);
    assert.deepEqual([problem.line, problem.column], [20, 5]);
  });

  test("YAML syntax errors are reported with their position and stop before the schema", () => {
    const problems = problemsOf("version: 1\nr:\n  versions: [4.4.1\nlayers: []\n");
    assert.ok(problems.length >= 1);
    assert.equal(problems[0]?.line, 4);
    assert.ok(problems.every((p) => p.path === ""));
  });

  test("duplicate keys are a YAML error at the repeated key", () => {
    const problems = problemsOf(edit(BASE_YAML, "  retain: 2\n", "  retain: 2\n  retain: 3\n"));
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.message ?? "", /unique/i);
    assert.equal(problems[0]?.line, 9);
  });

  test("warnings do not fail the manifest: unpinned repository, R version no layer uses", () => {
    const yaml = edit(
      edit(BASE_YAML, "repository: https://packagemanager.posit.co/cran/2024-11-01", "repository: https://cloud.r-project.org"),
      `versions: ["4.4.1", "4.3.3"]\ndefaults:\n`,
      `versions: ["4.4.1", "4.3.3", "4.2.3"]\ndefaults:\n  r: ["4.4.1", "4.3.3"]\n`,
    );
    const m = parseManifest(yaml, "layers.yaml");
    assert.deepEqual(m.warnings, [
      "layers.yaml:3:32: r.versions[2]: R version \"4.2.3\" is declared but no layer targets it, so it is not built",
      "layers.yaml:8:15: defaults.repository: repository \"https://cloud.r-project.org\" is not pinned to a dated snapshot (e.g. https://packagemanager.posit.co/cran/2024-11-01): the same build key may install different package versions",
      'layers.yaml:16:13: builder.images.x86_64: image "public.ecr.aws/sam/build-provided.al2023:x86" is not pinned by digest ("public.ecr.aws/sam/build-provided.al2023@sha256:…"): the same build key may build from different bytes',
      'layers.yaml:17:12: builder.images.arm64: image "public.ecr.aws/sam/build-provided.al2023:arm" is not pinned by digest ("public.ecr.aws/sam/build-provided.al2023@sha256:…"): the same build key may build from different bytes',
    ]);
  });

  test("a file that is not a mapping is one clear problem", () => {
    const problems = problemsOf("- just\n- a list\n");
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.message ?? "", /expected a mapping, got a list/);
  });
});

test("a YAML mistake that derails the parser reports its first errors, not hundreds", () => {
  const yaml = `version: 1\nartifacts: {bucket: a-{region}}\n${"layers:\n  - name: x\n    packages: [a, b]\n".repeat(20)}`;
  try {
    parseManifest(yaml, "layers.yaml");
    assert.fail("expected a ManifestError");
  } catch (error) {
    assert.ok(error instanceof ManifestError);
    assert.equal(error.problems.length, 5);
    assert.equal(error.problems[0]?.line, 2);
    assert.match(error.message, /^5 problems in the manifest \(\d+ more YAML errors follow from these\)$/);
  }
});

describe("build images pinned by digest", () => {
  test("an image@sha256 is not warned about, and its digest is part of the build key", async () => {
    const { computeBuildGraph } = await import("../pipeline/lib/keys/graph.ts");
    const { DIGESTS } = await import("./support/manifests.ts");
    const digest = (c: string) => `public.ecr.aws/sam/build-provided.al2023@sha256:${c.repeat(64)}`;
    const pinned = (c: string) =>
      BASE_YAML.replace("x86_64: public.ecr.aws/sam/build-provided.al2023:x86", `x86_64: ${digest(c)}`).replace(
        "arm64: public.ecr.aws/sam/build-provided.al2023:arm",
        `arm64: ${digest(c)}`,
      );
    const m = parseManifest(pinned("a"), "layers.yaml");
    assert.deepEqual(m.warnings.filter((w) => /images/.test(w)), []);
    const keyOf = (yaml: string) => computeBuildGraph(parseManifest(yaml, "layers.yaml"), DIGESTS).rBuilds[0]?.key;
    assert.notEqual(keyOf(pinned("a")), keyOf(pinned("b")), "another digest, another R build key");
  });
});
