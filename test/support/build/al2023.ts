/**
 * Amazon Linux 2023's package tools on this Debian machine: a bin folder with `dnf`,
 * `microdnf`, `rpm` (and `id`) linked to the stand-in al2023-standin.sh, laid out as on one of
 * the images the build scripts run on, and the stand-in's state (what is installed, every call
 * it answered, the root its library packages install into).
 */
import { mkdir, mkdtemp, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const STANDIN = fileURLToPath(new URL("./al2023-standin.sh", import.meta.url));

/**
 * - `dnf`: the AL2023 container image and AMI (dnf 4, no microdnf).
 * - `microdnf`: microdnf alone (AL2023 minimal with `dnf` removed).
 * - `lambda`: the Lambda image provided.al2023, built on AL2023 minimal: microdnf, with `dnf`
 *   a symbolic link to it.
 */
export type Al2023Image = "dnf" | "microdnf" | "lambda";

export interface Al2023 {
  /** The bin folder to put first on PATH. */
  readonly bin: string;
  /** The stand-in's state folder (AL2023_STANDIN_STATE). */
  readonly state: string;
  /** Where library packages "install" their sonames (put on LD_LIBRARY_PATH). */
  readonly libDir: string;
  /** Environment for a script: PATH with the stand-in first, and its state folder. */
  env(): Record<string, string>;
  /** The package names installed so far. */
  installed(): Promise<string[]>;
  /** Every call the stand-in answered, as `called-as[program] arguments`. */
  calls(): Promise<string[]>;
}

/**
 * Makes a stand-in image under ROOT. `preinstalled` package names start out installed.
 * `id` answers `-u` with 0: the install phase runs as root in CodeBuild.
 */
export async function al2023(root: string, image: Al2023Image, preinstalled: readonly string[] = []): Promise<Al2023> {
  const dir = await mkdtemp(join(root, `al2023-${image}-`));
  const bin = join(dir, "bin");
  const state = join(dir, "state");
  await mkdir(bin, { recursive: true });
  await mkdir(state, { recursive: true });
  await writeFile(join(state, "installed"), preinstalled.map((p) => `${p}\n`).join(""));
  await symlink(STANDIN, join(bin, "rpm"));
  await symlink(STANDIN, join(bin, "id"));
  if (image === "dnf") await symlink(STANDIN, join(bin, "dnf"));
  if (image === "microdnf" || image === "lambda") await symlink(STANDIN, join(bin, "microdnf"));
  if (image === "lambda") await symlink("microdnf", join(bin, "dnf"));
  const lines = async (file: string): Promise<string[]> =>
    (await readFile(join(state, file), "utf8").catch(() => "")).split("\n").filter((l) => l !== "");
  return {
    bin,
    state,
    libDir: join(state, "root", "usr", "lib64"),
    env: () => ({ PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, AL2023_STANDIN_STATE: state }),
    installed: () => lines("installed"),
    calls: () => lines("calls.log"),
  };
}
