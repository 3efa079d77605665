/**
 * The manifest accepts a repository URL exactly when the build script would. The one definition
 * of the form is `definitions.repository.pattern` in schema/layers.schema.json; this test runs
 * the real check (r-compile/layer/build-layer.sh, with the patterns of r-compile/common/lib.sh)
 * on every case and compares. Only the syntax is compared here: https and loopback http and
 * file:// (allowed), since the scheme policy on top of it is the manifest's own (see
 * validation-rules.test.ts).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { ManifestError } from "../pipeline/lib/errors.ts";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { BASE_YAML, edit } from "./support/manifests.ts";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const BUILD_LAYER = join(REPO, "r-compile", "layer", "build-layer.sh");

/** What the script does with R_REPOSITORY: exit 2 naming it, or go on (to fail later, on something else). */
function shellAccepts(url: string): boolean {
  const r = spawnSync("bash", [BUILD_LAYER], {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      BUILD_KEY: "a".repeat(64),
      ARCH: "x86_64",
      R_VERSION: "4.4.1",
      ARTIFACT_KEY: "artifacts/layers/x.zip",
      METADATA_KEY: "artifacts/layers/x.metadata.json",
      LAYER_NAME: "t",
      LAYER_TYPE: "packages",
      R_PACKAGES: "chainA",
      R_REPOSITORY: url,
      // Unset on purpose: the script fails here, after the repository check, when it accepts the URL.
      R_BUILD_ARTIFACT_KEY: "",
    },
  });
  assert.equal(r.status, 2, r.stderr);
  if (/R_REPOSITORY/.test(r.stderr)) return false;
  assert.match(r.stderr, /R_BUILD_ARTIFACT_KEY is required/, "the script went past the repository check");
  return true;
}

/** What the pipeline hands the script: the resolved value (trailing slashes dropped). */
function manifestAccepts(url: string): { accepted: boolean; passed: string } {
  const yaml = edit(BASE_YAML, "repository: https://packagemanager.posit.co/cran/2024-11-01", `repository: ${JSON.stringify(url)}`);
  try {
    const m = parseManifest(yaml, "layers.yaml", { allowFileRepositories: true });
    return { accepted: true, passed: m.layers[0]?.repository ?? "" };
  } catch (error) {
    assert.ok(error instanceof ManifestError);
    assert.ok(
      error.problems.every((p) => p.path === "defaults.repository"),
      error.problems.map((p) => p.message).join("\n"),
    );
    return { accepted: false, passed: url.replace(/\/+$/, "") };
  }
}

const CASES = [
  "https://packagemanager.posit.co/cran/2024-11-01",
  "https://packagemanager.posit.co/cran/2024-11-01/",
  "https://cloud.r-project.org",
  "https://x.org:8443/cran",
  "https://x.org/~user/cran%20mirror/+x:y@z=w",
  "https://x.org/./cran",
  "https://x.org//cran//",
  "http://127.0.0.1:39001",
  "http://127.0.0.1:39001/",
  "http://localhost/cran",
  "file:///srv/cran",
  "file:///srv/my cran/+@~",
  "file:///srv/cran/",
  // Refused by the script:
  "https://x.org/cran/../2024-11-01",
  "https://x.org/..",
  "https://x.org/../",
  "file:///srv/../etc",
  "file:///..",
  "file://host/srv/cran",
  "file://srv/cran",
  "file:///",
  "file:////",
  "https://x.org:port/cran",
  "https://x.org:123456",
  "https://x.org:",
  "https://x.org/a?b=c",
  "https://x.org/a#frag",
  "https://user@x.org/cran",
  "https://x.org/a b",
  "https://x_y.org/cran",
  "https://",
  "HTTPS://x.org",
  "ftp://x.org/cran",
  "https://x.org/$(id)",
  "https://x.org/`id`",
  "file:///srv/cran%20x",
  "file:///srv/cran:1",
];

describe("repository URLs: the manifest and the build script agree", () => {
  test("the schema holds the one pattern", () => {
    const schema = JSON.parse(readFileSync(join(REPO, "schema", "layers.schema.json"), "utf8")) as {
      definitions: { repository: { pattern: string } };
    };
    assert.ok(schema.definitions.repository.pattern.includes("file:///"));
  });

  for (const url of CASES) {
    test(JSON.stringify(url), () => {
      const manifest = manifestAccepts(url);
      assert.equal(manifest.accepted, shellAccepts(manifest.passed), `manifest ${manifest.accepted ? "accepts" : "refuses"} what the script is given as ${JSON.stringify(manifest.passed)}`);
    });
  }
});
