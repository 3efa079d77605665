/**
 * Building in the Lambda image with Docker: the command lines the runner would run, the
 * engine check (no engine runs here: the client exists, the daemon does not), and the
 * container executor's sequence of calls, with a recording process runner.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { detectDockerEngine, dockerExecArgv, dockerRunArgv } from "../pipeline/lib/runner/docker.ts";
import type { DockerOptions } from "../pipeline/lib/runner/docker.ts";
import { DockerExecutor } from "../pipeline/lib/runner/targets.ts";
import { runLocalBuild } from "../pipeline/lib/adapters/local/local-build.ts";
import { buildEnvironment } from "../pipeline/lib/contract.ts";
import { runBuildspec } from "../pipeline/lib/runner/runner.ts";
import { parseBuildspec } from "../pipeline/lib/runner/buildspec.ts";
import type { ProcessRunner, ProcessSpec } from "../pipeline/lib/runner/process.ts";
import type { LayerBuildInputs, RBuildInputs } from "../pipeline/lib/keys/inputs.ts";
import { PipelineError } from "../pipeline/lib/errors.ts";

const options: DockerOptions = {
  image: "public.ecr.aws/lambda/provided:al2023",
  arch: "arm64",
  sourceMount: "/codebuild/output/src",
  mounts: [
    { host: "/home/me/r-lambda-layers", container: "/codebuild/output/src", readOnly: true },
    { host: "/home/me/r-lambda-layers/.layers", container: "/codebuild/artifacts" },
  ],
  user: { uid: 1000, gid: 1000 },
};

describe("docker command lines", () => {
  it("starts one long-lived container per build, for the architecture, with the mounts", () => {
    assert.deepEqual(dockerRunArgv(options, "r-lambda-build-1", { host: "/tmp/state", container: "/codebuild/state" }), [
      "run", "--detach", "--rm", "--name", "r-lambda-build-1", "--platform", "linux/arm64",
      "--volume", "/home/me/r-lambda-layers:/codebuild/output/src:ro",
      "--volume", "/home/me/r-lambda-layers/.layers:/codebuild/artifacts",
      "--volume", "/tmp/state:/codebuild/state",
      "--workdir", "/codebuild/output/src", "--entrypoint", "sleep", "public.ecr.aws/lambda/provided:al2023", "infinity",
    ]);
    assert.equal(dockerRunArgv({ ...options, arch: "x86_64" }, "n", { host: "/s", container: "/c" })[6], "linux/amd64");
  });

  it("runs the install phase as root and the rest as the caller, so outputs are not root-owned", () => {
    assert.deepEqual(dockerExecArgv(options, "c1", true, "bash", "/codebuild/state/cmd-1.sh"), [
      "exec", "--user", "0:0", "c1", "/bin/bash", "--noprofile", "--norc", "/codebuild/state/cmd-1.sh",
    ]);
    assert.deepEqual(dockerExecArgv(options, "c1", false, "/bin/sh", "/codebuild/state/cmd-2.sh"), [
      "exec", "--user", "1000:1000", "--env", "HOME=/tmp", "c1", "/bin/sh", "/codebuild/state/cmd-2.sh",
    ]);
  });

  it("refuses a mount path that docker would split at a colon", () => {
    assert.throws(() => dockerRunArgv({ ...options, mounts: [{ host: "/a:b", container: "/c" }] }, "n", { host: "/s", container: "/t" }));
  });
});

describe("docker engine detection", () => {
  const fake = (code: number, lines: string[]): ProcessRunner => async (_spec, onLine) => {
    lines.forEach(onLine);
    return code;
  };

  it("reports an engine that answers, with its version", async () => {
    assert.deepEqual(await detectDockerEngine(fake(0, ["27.3.1"])), { available: true, version: "27.3.1" });
  });

  it("reports a client without a daemon as unavailable, with what it said", async () => {
    const status = await detectDockerEngine(fake(1, ["Cannot connect to the Docker daemon at unix:///var/run/docker.sock."]));
    assert.equal(status.available, false);
    assert.match(!status.available ? status.reason : "", /no Docker engine answers \(docker version exited 1: Cannot connect/);
  });

  it("reports a missing client as unavailable instead of throwing", async () => {
    const status = await detectDockerEngine(undefined, "/nonexistent/docker");
    assert.equal(status.available, false);
  });

  it("does not throw on this machine, whatever it has", async () => {
    const status = await detectDockerEngine();
    assert.equal(typeof status.available, "boolean");
  });
});

describe("container executor", () => {
  it("runs each command with docker exec in one container, root only for install, and removes it", async () => {
    const calls: ProcessSpec[] = [];
    const scripts: string[] = [];
    let stateDir = "";
    const recorder: ProcessRunner = async (spec, onLine) => {
      calls.push(spec);
      if (spec.args[0] === "run") {
        const volume = spec.args.find((a) => a.endsWith(":/codebuild/state")) ?? "";
        stateDir = volume.slice(0, -":/codebuild/state".length);
      }
      if (spec.args[0] === "exec") {
        const script = spec.args.at(-1) ?? "";
        scripts.push(await readFile(join(stateDir, script.slice("/codebuild/state/".length)), "utf8"));
        onLine("output from the container");
      }
      return 0;
    };
    const spec = parseBuildspec(
      "version: 0.2\nenv:\n  shell: bash\nphases:\n  install:\n    commands: [dnf install -y zip]\n  build:\n    commands: [make]\n",
      "spec.yml",
    );
    const result = await runBuildspec(spec, { executor: new DockerExecutor(options, recorder), env: { X: "1" } });
    assert.equal(result.status, "SUCCEEDED");
    assert.deepEqual(
      calls.map((c) => [c.command, ...c.args.slice(0, c.args[0] === "rm" ? 2 : 3)].join(" ")),
      ["docker run --detach --rm", "docker exec --user 0:0", "docker exec --user 1000:1000", `docker rm --force`],
    );
    assert.match(calls[3]?.args[2] ?? "", /^r-lambda-build-/);
    assert.match(scripts[0] ?? "", /\ndnf install -y zip\n$/);
    assert.match(scripts[1] ?? "", /__cb_state='\/codebuild\/state'/);
    assert.ok(result.log.includes("output from the container"));
  });

  it("fails a local build cleanly when no engine answers", async () => {
    const noEngine: ProcessRunner = async (_spec, onLine) => {
      onLine("Cannot connect to the Docker daemon");
      return 1;
    };
    const inputs: RBuildInputs = { kind: "r", rVersion: "4.4.1", arch: "x86_64", image: "img", scripts: "s" };
    await assert.rejects(
      runLocalBuild({ inputs, key: "a".repeat(64), storeRoot: "/tmp/x", mode: { kind: "docker" }, runProcess: noEngine }),
      (error: unknown) => error instanceof PipelineError && error.code === "BACKEND_UNAVAILABLE" && /no Docker engine answers/.test(error.message),
    );
  });
});

describe("build environment (the scripts' inputs)", () => {
  it("maps an R build's inputs to its variables", () => {
    const inputs: RBuildInputs = { kind: "r", rVersion: "4.4.1", arch: "arm64", image: "img", scripts: "s" };
    assert.deepEqual(buildEnvironment(inputs, "b".repeat(64), "s3://bucket/prefix"), {
      BUILD_KEY: "b".repeat(64),
      ARCH: "arm64",
      R_VERSION: "4.4.1",
      ARTIFACT_STORE: "s3://bucket/prefix",
      ARTIFACT_KEY: `artifacts/r/${"b".repeat(64)}.zip`,
      METADATA_KEY: `artifacts/r/${"b".repeat(64)}.metadata.json`,
    });
  });

  it("maps a layer's inputs, with the R build and the stacked layers as object keys", () => {
    const inputs: LayerBuildInputs = {
      kind: "layer",
      layer: "geo",
      type: "packages",
      rVersion: "4.4.1",
      arch: "x86_64",
      rBuildKey: "1".repeat(64),
      packages: ["sf", "terra"],
      repository: "https://packagemanager.example.org/cran/2024-11-01",
      systemLibraries: ["libgdal", "libproj.so.25"],
      stacks: [{ layer: "runtime", key: "2".repeat(64) }],
      scripts: "s",
    };
    assert.deepEqual(buildEnvironment(inputs, "3".repeat(64), "file:///work/.layers"), {
      BUILD_KEY: "3".repeat(64),
      ARCH: "x86_64",
      R_VERSION: "4.4.1",
      ARTIFACT_STORE: "file:///work/.layers",
      ARTIFACT_KEY: `artifacts/layers/${"3".repeat(64)}.zip`,
      METADATA_KEY: `artifacts/layers/${"3".repeat(64)}.metadata.json`,
      LAYER_NAME: "geo",
      LAYER_TYPE: "packages",
      R_PACKAGES: "sf terra",
      SYSTEM_LIBRARIES: "libgdal libproj.so.25",
      R_REPOSITORY: "https://packagemanager.example.org/cran/2024-11-01",
      R_BUILD_ARTIFACT_KEY: `artifacts/r/${"1".repeat(64)}.zip`,
      STACK_ARTIFACT_KEYS: `artifacts/layers/${"2".repeat(64)}.zip`,
    });
  });
});
