/**
 * The local build runner against small buildspecs, with real shells: phase order, shell state
 * carried between commands, failures, `finally`, `on-failure`, variables and their precedence,
 * exported variables, logging, and refusal of what it does not implement.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BuildspecError, parseBuildspec } from "../pipeline/lib/runner/buildspec.ts";
import { commandScript, envScript, parseEnvDump } from "../pipeline/lib/runner/targets.ts";
import { runBuildspec } from "../pipeline/lib/runner/runner.ts";
import type { BuildResult, LogLine, RunOptions } from "../pipeline/lib/runner/runner.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "runner-test-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(yaml: string, options: Partial<RunOptions> = {}): Promise<BuildResult> {
  return runBuildspec(parseBuildspec(yaml, "test.yml"), { sourceDir: dir, ...options });
}

/** Lines the commands printed (not the runner's own). */
function printed(result: BuildResult): string[] {
  return result.log.filter((l) => !l.startsWith("[runner] "));
}

describe("local runner: phases and shell state", () => {
  it("runs the phases in order, each command in the state the previous one left", async () => {
    const result = await run(`
version: 0.2
env:
  shell: bash
phases:
  post_build:
    commands:
      - echo "post $STEP $PLAIN $(basename "$PWD")"
  install:
    commands:
      - export STEP=install
      - PLAIN=assigned
      - mkdir -p sub && cd sub
  build:
    commands:
      - echo "build $STEP $PLAIN $(basename "$PWD")"
      - STEP=built
  pre_build:
    commands:
      - echo "pre_build $STEP"
`);
    assert.equal(result.status, "SUCCEEDED");
    assert.deepEqual(printed(result), ["pre_build install", "build install assigned sub", "post built assigned sub"]);
    assert.deepEqual(
      result.phases.map((p) => `${p.phase}:${p.status}`),
      ["install:SUCCEEDED", "pre_build:SUCCEEDED", "build:SUCCEEDED", "post_build:SUCCEEDED"],
    );
  });

  it("gives commands an empty stdin and merges stderr into the log in order", async () => {
    const result = await run(`
version: 0.2
phases:
  build:
    commands:
      - cat; echo out; echo err >&2; echo out2
`);
    assert.equal(result.status, "SUCCEEDED");
    assert.deepEqual(printed(result), ["out", "err", "out2"]);
  });

  it("runs multi-line commands as one command whose status is its last line's", async () => {
    const result = await run(`
version: 0.2
phases:
  build:
    commands:
      - |
        false
        echo still running
`);
    assert.equal(result.status, "SUCCEEDED");
    assert.deepEqual(printed(result), ["still running"]);
  });
});

describe("local runner: failures", () => {
  it("stops a phase at the first failing command, runs finally, skips later phases after install fails", async () => {
    const result = await run(`
version: 0.2
phases:
  install:
    commands:
      - echo one
      - exit 3
      - echo never
    finally:
      - echo cleanup
  pre_build:
    commands:
      - echo never either
  build:
    commands:
      - echo nor this
  post_build:
    commands:
      - echo post_build is skipped too
`);
    assert.equal(result.status, "FAILED");
    assert.equal(result.failedPhase, "install");
    assert.deepEqual(printed(result), ["one", "cleanup"]);
    assert.deepEqual(result.phases[0], { phase: "install", status: "FAILED", failure: { command: "exit 3", exitCode: 3 } });
    assert.deepEqual(
      result.phases.slice(1).map((p) => p.status),
      ["SKIPPED", "SKIPPED", "SKIPPED"],
    );
    assert.ok(result.log.includes("[runner] Command did not exit successfully exit 3 exit status 3"));
  });

  it("runs post_build after a failed build, with CODEBUILD_BUILD_SUCCEEDING=0", async () => {
    const result = await run(`
version: 0.2
phases:
  build:
    commands:
      - echo "build sees $CODEBUILD_BUILD_SUCCEEDING"
      - export SEEN=yes; false
  post_build:
    commands:
      - echo "post_build sees $CODEBUILD_BUILD_SUCCEEDING and SEEN=$SEEN"
`);
    assert.equal(result.status, "FAILED");
    assert.equal(result.failedPhase, "build");
    assert.deepEqual(printed(result), ["build sees 1", "post_build sees 0 and SEEN=yes"]);
  });

  it("on-failure: ABORT ends the build at once, post_build included", async () => {
    const result = await run(`
version: 0.2
phases:
  build:
    on-failure: ABORT
    commands:
      - exit 1
  post_build:
    commands:
      - echo not run
`);
    assert.equal(result.status, "FAILED");
    assert.deepEqual(printed(result), []);
    assert.equal(result.phases[1]?.status, "SKIPPED");
  });

  it("on-failure: CONTINUE goes on to the next phase; the build still fails", async () => {
    const result = await run(`
version: 0.2
phases:
  install:
    on-failure: CONTINUE
    commands:
      - exit 1
  pre_build:
    commands:
      - echo "pre_build runs, succeeding=$CODEBUILD_BUILD_SUCCEEDING"
`);
    assert.equal(result.status, "FAILED");
    assert.equal(result.failedPhase, "install");
    assert.deepEqual(printed(result), ["pre_build runs, succeeding=0"]);
    assert.equal(result.phases[1]?.status, "SUCCEEDED");
  });

  it("fails a phase whose finally fails, after its commands succeeded", async () => {
    const result = await run(`
version: 0.2
phases:
  build:
    commands:
      - echo ok
    finally:
      - exit 7
`);
    assert.equal(result.status, "FAILED");
    assert.deepEqual(result.phases[0]?.failure, { command: "exit 7", exitCode: 7 });
  });
});

describe("local runner: variables", () => {
  it("applies base < buildspec < caller precedence, keeps buildspec values literal, exports at the end", async () => {
    const result = await run(
      `
version: 0.2
env:
  variables:
    FROM_SPEC: spec
    OVERRIDDEN: spec
    LITERAL: $HOME/x
    NUMBER: 42
  exported-variables:
    - RESULT
    - OVERRIDDEN
    - NEVER_SET
phases:
  build:
    commands:
      - echo "$FROM_SPEC $OVERRIDDEN $LITERAL $NUMBER $BASE_ONLY"
      - export RESULT="computed-$FROM_SPEC"
`,
      { baseEnv: { PATH: process.env.PATH ?? "/usr/bin:/bin", BASE_ONLY: "base", OVERRIDDEN: "base" }, env: { OVERRIDDEN: "caller" } },
    );
    assert.equal(result.status, "SUCCEEDED");
    assert.deepEqual(printed(result), ["spec caller $HOME/x 42 base"]);
    assert.deepEqual(result.exportedVariables, { RESULT: "computed-spec", OVERRIDDEN: "caller", NEVER_SET: "" });
  });

  it("does not pass this process's environment to a host build, beyond a few basics", async () => {
    process.env.RUNNER_TEST_SECRET = "do-not-leak";
    try {
      const result = await run(`
version: 0.2
phases:
  build:
    commands:
      - echo "secret=\${RUNNER_TEST_SECRET-unset} src=$CODEBUILD_SRC_DIR"
`);
      assert.deepEqual(printed(result), [`secret=unset src=${dir}`]);
    } finally {
      delete process.env.RUNNER_TEST_SECRET;
    }
  });

  it("keeps values with quotes, newlines and dollar signs intact across commands", async () => {
    const tricky = `it's "quoted" $(not run) \`nor this\`\nsecond line`;
    const result = await run(
      `
version: 0.2
env:
  exported-variables: [TRICKY, COPY]
phases:
  build:
    commands:
      - export COPY="$TRICKY"
      - test "$COPY" = "$TRICKY"
`,
      { env: { TRICKY: tricky } },
    );
    assert.equal(result.status, "SUCCEEDED", result.log.join("\n"));
    assert.deepEqual(result.exportedVariables, { TRICKY: tricky, COPY: tricky });
  });

  it("streams every line to the logger, tagged with its phase and source", async () => {
    const lines: LogLine[] = [];
    await run(
      `
version: 0.2
phases:
  install:
    commands: [echo hello]
`,
      { logger: (l) => lines.push(l) },
    );
    assert.deepEqual(lines.slice(0, 3), [
      { phase: "install", source: "runner", text: "Entering phase INSTALL" },
      { phase: "install", source: "runner", text: "Running command echo hello" },
      { phase: "install", source: "command", text: "hello" },
    ]);
    assert.deepEqual(lines.at(-1), { phase: undefined, source: "runner", text: "Build SUCCEEDED" });
  });
});

describe("local runner: what it refuses", () => {
  const refused: [string, string, RegExp][] = [
    ["runtime-versions", "phases:\n  install:\n    runtime-versions:\n      nodejs: 20\n    commands: [echo]", /phases\.install\.runtime-versions: is not implemented by the local runner/],
    ["artifacts", "phases:\n  build:\n    commands: [echo]\nartifacts:\n  files: ['**/*']", /artifacts: is not implemented by the local runner/],
    ["cache", "phases:\n  build:\n    commands: [echo]\ncache:\n  paths: [x]", /cache: is not implemented/],
    ["run-as", "run-as: builder\nphases:\n  build:\n    commands: [echo]", /run-as: is not implemented/],
    ["phase run-as", "phases:\n  build:\n    run-as: builder\n    commands: [echo]", /phases\.build\.run-as: is not implemented/],
    ["parameter-store", "env:\n  parameter-store:\n    X: /p\nphases:\n  build:\n    commands: [echo]", /env\.parameter-store: is not implemented/],
    ["secrets-manager", "env:\n  secrets-manager:\n    X: s:k\nphases:\n  build:\n    commands: [echo]", /env\.secrets-manager: is not implemented/],
    ["RETRY", "phases:\n  build:\n    on-failure: RETRY-2\n    commands: [echo]", /phases\.build\.on-failure: only ABORT and CONTINUE/],
    ["a Windows shell", "env:\n  shell: powershell.exe\nphases:\n  build:\n    commands: [echo]", /env\.shell: only bash and \/bin\/sh/],
  ];
  for (const [what, body, message] of refused) {
    it(`refuses ${what} rather than ignoring it`, () => {
      assert.throws(() => parseBuildspec(`version: 0.2\n${body}\n`, "spec.yml"), (error: unknown) => {
        assert.ok(error instanceof BuildspecError);
        assert.match(error.message, message);
        return true;
      });
    });
  }

  it("refuses version 0.1, whose commands each run in their own shell", () => {
    assert.throws(() => parseBuildspec("version: 0.1\nphases:\n  build:\n    commands: [echo]\n", "old.yml"), /version: only version 0\.2/);
  });

  it("reports schema problems (unknown keys, missing commands) before anything runs", () => {
    assert.throws(
      () => parseBuildspec("version: 0.2\nphasez: {}\nphases:\n  build: {}\n", "bad.yml"),
      (error: unknown) => {
        assert.ok(error instanceof BuildspecError);
        assert.deepEqual(
          error.problems.map((p) => `${p.path}: ${p.message}`).sort(),
          ["phases.build.commands: is required", "phasez: is not a buildspec key"],
        );
        return true;
      },
    );
  });

  it("reports YAML syntax errors as problems", () => {
    assert.throws(() => parseBuildspec("version: 0.2\nphases: [\n", "broken.yml"), /broken\.yml: 1 problem.*\n.*YAML/);
  });
});

describe("executor scripts", () => {
  it("quotes every variable so that sourcing it sets exactly that value", () => {
    assert.equal(envScript({ A: "x'y", "NOT-A-NAME": "z", PWD: "/skip" }), "export A='x'\\''y'\n");
  });

  it("saves the state on any exit, including `exit` in the command", () => {
    const script = commandScript("exit 4", "/state", 2, "/src");
    assert.match(script, /trap '__cb_rc=\$\?; env -0 > "\$__cb_state\/env-out-2"; pwd > "\$__cb_state\/cwd-out-2"; exit \$__cb_rc' EXIT\nset -a\nexit 4\n$/);
  });

  it("reads an env -0 dump back, leaving out the shell's own variables", () => {
    assert.deepEqual(parseEnvDump("A=1\0B=two\nlines\0PWD=/x\0SHLVL=2\0_=/bin/env\0BASH_FUNC_f%%=() {}\0"), { A: "1", B: "two\nlines" });
  });
});
