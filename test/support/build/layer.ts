/**
 * Helpers for tests that build real layers with the real buildspec, on this machine, against
 * the installed R (HOST_R): keys, the installed R's version, zip listings, running R fresh.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { arch } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runBuildspecFile } from "../../../pipeline/lib/runner/runner.ts";
import type { BuildResult } from "../../../pipeline/lib/runner/runner.ts";
import { HostExecutor } from "../../../pipeline/lib/runner/targets.ts";

export const exec = promisify(execFile);
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const LAYER_BUILDSPEC = join(REPO_ROOT, "buildspecs", "layer.yml");
export const R_BUILDSPEC = join(REPO_ROOT, "buildspecs", "r-compile.yml");

export const ARCH = arch() === "arm64" ? "arm64" : "x86_64";

/** A build key for a test: 64 hex digits derived from a label. */
export function keyOf(label: string): string {
  return createHash("sha256").update(`r-lambda-layers test ${label}`).digest("hex");
}

export function layerKey(key: string): string {
  return `artifacts/layers/${key}.zip`;
}

export async function sha256File(file: string): Promise<string> {
  return createHash("sha256").update(await readFile(file)).digest("hex");
}

/** The path of the installed R front end and its version (x.y.z). */
export async function hostR(): Promise<{ r: string; version: string }> {
  const { stdout: path } = await exec("bash", ["-c", "command -v R"]);
  const r = path.trim();
  const { stdout } = await exec(r, ["--vanilla", "-s", "-e", 'cat(paste(R.version$major, R.version$minor, sep = "."))']);
  return { r, version: stdout.trim() };
}

export async function zipEntries(zip: string): Promise<string[]> {
  const { stdout } = await exec("unzip", ["-Z1", zip], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.split("\n").filter((l) => l !== "");
}

/** Runs the real layer buildspec on this machine with the given variables. */
export async function buildLayer(env: Readonly<Record<string, string>>, lines?: string[]): Promise<BuildResult> {
  return runBuildspecFile(LAYER_BUILDSPEC, {
    executor: new HostExecutor(REPO_ROOT),
    baseEnv: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/root",
      LANG: "C.UTF-8",
    },
    env,
    ...(lines ? { logger: (l) => lines.push(l.text) } : {}),
  });
}

/** Runs R code in a fresh R with only the given libraries (plus R's own) on the library path. */
export async function freshR(
  r: string,
  libs: readonly string[],
  code: string,
  ldLibraryPath: readonly string[] = [],
): Promise<string> {
  const none = "/nonexistent/r-lambda-layers";
  const setup = `.libPaths(c(${libs.map((l) => JSON.stringify(l)).join(", ")}))`;
  const { stdout } = await exec(r, ["--vanilla", "-s", "-e", `${setup}; ${code}`], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      R_LIBS_SITE: none,
      R_LIBS_USER: none,
      ...(ldLibraryPath.length ? { LD_LIBRARY_PATH: ldLibraryPath.join(":") } : {}),
    },
  });
  return stdout;
}
