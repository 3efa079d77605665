/**
 * The buildspec schema (schema/buildspec.schema.json, written from AWS's buildspec reference)
 * tested with the validator the runner uses: the repository's buildspecs pass, every valid
 * fixture passes, every invalid fixture fails at the expected path. The buildspecs also keep
 * to the contract: inputs only from variables, outputs exported.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadBuildspec, parseBuildspecYaml, unsupportedByRunner, validateBuildspec } from "../pipeline/lib/runner/buildspec.ts";
import { REPO_ROOT } from "./support/build/layer.ts";

const BUILDSPECS = ["buildspecs/r-compile.yml", "buildspecs/layer.yml"];

function validate(yaml: string): string[] {
  const { value, problems } = parseBuildspecYaml(yaml);
  assert.deepEqual(problems, []);
  return validateBuildspec(value).map((p) => `${p.path}: ${p.message}`);
}

describe("the repository's buildspecs", () => {
  for (const file of BUILDSPECS) {
    it(`${file} is valid against the schema and uses only what the local runner implements`, async () => {
      const { value, problems } = parseBuildspecYaml(await readFile(join(REPO_ROOT, file), "utf8"));
      assert.deepEqual(problems, []);
      assert.deepEqual(validateBuildspec(value), []);
      assert.deepEqual(unsupportedByRunner(value), []);
    });

    it(`${file} exports the artifact's digest and sizes, runs in bash, and reads inputs only from variables`, async () => {
      const spec = await loadBuildspec(join(REPO_ROOT, file));
      assert.deepEqual([...spec.exportedVariables].sort(), ["ARTIFACT_SHA256", "ARTIFACT_SIZE", "UNZIPPED_SIZE"]);
      assert.equal(spec.shell, "bash");
      const commands = Object.values(spec.phases).flatMap((p) => [...p.commands, ...p.finally]);
      // No input variable is expanded on a command line: the scripts read them from the environment.
      for (const name of ["R_VERSION", "R_PACKAGES", "LAYER_NAME", "R_REPOSITORY", "ARTIFACT_KEY", "SYSTEM_LIBRARIES", "BUILD_KEY"]) {
        assert.ok(!commands.some((c) => c.includes(`$${name}`) || c.includes(`\${${name}`)), `${name} spliced into a command`);
      }
    });
  }
});

describe("buildspec schema", () => {
  const valid: [string, string][] = [
    ["the minimal buildspec", "version: 0.2\nphases:\n  build:\n    commands: [make]\n"],
    [
      "every documented top-level key",
      `version: 0.2
run-as: builder
env:
  shell: bash
  variables: { A: "1", B: 2, C: true }
  parameter-store: { P: /path/to/param }
  secrets-manager: { S: "secret-id:json-key:AWSCURRENT:" }
  exported-variables: [A, OUT]
  git-credential-helper: "yes"
proxy: { upload-artifacts: "no", logs: "yes" }
batch: { fast-fail: false, build-list: [] }
phases:
  install:
    run-as: root
    on-failure: CONTINUE
    runtime-versions: { nodejs: 20, python: "3.x" }
    commands: [echo install]
    finally: [echo done]
  pre_build: { on-failure: ABORT, commands: [echo pre] }
  build: { on-failure: RETRY-2, commands: [echo build] }
  post_build: { commands: [echo post], finally: [echo end] }
reports:
  unit:
    files: ["**/*"]
    base-directory: reports
    discard-paths: "yes"
    file-format: JUNITXML
artifacts:
  files: ["**/*"]
  name: out-$(date +%Y)
  base-directory: dist
  exclude-paths: ["*.map"]
  enable-symlinks: "yes"
  s3-prefix: builds
  secondary-artifacts:
    extra: { files: [a.zip], discard-paths: "no" }
cache:
  paths: ["/root/.m2/**/*"]
`,
    ],
    ["an install phase without commands (only runtime versions)", "version: 0.2\nphases:\n  install:\n    runtime-versions: { nodejs: 20 }\n"],
    ["version given as a string", 'version: "0.2"\nphases:\n  build:\n    commands: [make]\n'],
  ];
  for (const [what, yaml] of valid) {
    it(`accepts ${what}`, () => assert.deepEqual(validate(yaml), []));
  }

  const invalid: [string, string, string[]][] = [
    ["no version", "phases:\n  build:\n    commands: [make]\n", ["version: is required"]],
    ["an unknown version", "version: 0.3\nphases:\n  build:\n    commands: [make]\n", ['version: must be one of 0.1, 0.2, "0.1", "0.2"']],
    ["no phases", "version: 0.2\n", ["phases: is required"]],
    ["an unknown phase", "version: 0.2\nphases:\n  test:\n    commands: [make]\n", ["phases.test: is not a buildspec key"]],
    ["a build phase without commands", "version: 0.2\nphases:\n  build:\n    finally: [x]\n", ["phases.build.commands: is required"]],
    ["a command that is not a string", "version: 0.2\nphases:\n  build:\n    commands: [true]\n", ["phases.build.commands.0: must be string"]],
    ["an unknown on-failure", "version: 0.2\nphases:\n  build:\n    on-failure: IGNORE\n    commands: [x]\n", ['phases.build.on-failure: must match pattern "^(ABORT|CONTINUE|RETRY(-[0-9]+)?(-.+)?)$"']],
    ["runtime-versions outside install", "version: 0.2\nphases:\n  build:\n    runtime-versions: { nodejs: 20 }\n    commands: [x]\n", ["phases.build.runtime-versions: is not a buildspec key"]],
    ["a reserved variable name", "version: 0.2\nenv:\n  variables: { CODEBUILD_X: y }\nphases:\n  build:\n    commands: [x]\n", ["env.variables.CODEBUILD_X: is not an allowed name"]],
    ["exporting an AWS_ variable", "version: 0.2\nenv:\n  exported-variables: [AWS_REGION]\nphases:\n  build:\n    commands: [x]\n", ['env.exported-variables.0: must match pattern "^(?!AWS_)[A-Za-z_][A-Za-z0-9_]*$"']],
    ["an unknown shell", "version: 0.2\nenv:\n  shell: zsh\nphases:\n  build:\n    commands: [x]\n", ['env.shell: must be one of "bash", "/bin/sh", "powershell.exe", "cmd.exe"']],
    ["artifacts without files", "version: 0.2\nphases:\n  build:\n    commands: [x]\nartifacts:\n  name: a\n", ["artifacts.files: is required"]],
    ["an unknown artifacts key", "version: 0.2\nphases:\n  build:\n    commands: [x]\nartifacts:\n  files: [a]\n  compress: yes\n", ["artifacts.compress: is not a buildspec key"]],
    ["an unknown top-level key", "version: 0.2\nphases:\n  build:\n    commands: [x]\nsteps: []\n", ["steps: is not a buildspec key"]],
  ];
  for (const [what, yaml, expected] of invalid) {
    it(`refuses ${what}, at the offending path`, () => assert.deepEqual(validate(yaml), expected));
  }
});
