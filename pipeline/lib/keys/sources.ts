/**
 * The files that build artifacts, and their digests. A digest depends only on each file's
 * repository-relative path and its content with line ends normalised, so the same checkout gives
 * the same digest on any machine, at any path, from any git autocrlf setting.
 */
import { readFile, readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256 } from "./canonical.ts";

/** The repository this tool runs from; build scripts are read from here, not from the manifest's folder. */
export const TOOL_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Which files go into which kind of build. Folders are taken whole. */
export const SOURCE_SETS = {
  rBuild: ["r-compile/r", "r-compile/common", "buildspecs/r-compile.yml"],
  layerBuild: ["r-compile/layer", "r-compile/common", "buildspecs/layer.yml"],
  runtime: ["runtime"],
} as const;

export type SourceSet = keyof typeof SOURCE_SETS;
export type SourceDigests = Readonly<Record<SourceSet, string>>;

export interface SourceFile {
  /** Repository-relative, `/`-separated. */
  readonly path: string;
  readonly content: Uint8Array;
  /** Whether any execute bit is set (the source bundle keeps it; build keys ignore it). */
  readonly executable?: boolean;
}

function isBinary(content: Uint8Array): boolean {
  return content.subarray(0, 8000).includes(0);
}

/** Text files hash as if checked out with LF endings; binary files hash as they are. */
export function normalizedContent(content: Uint8Array): Uint8Array {
  if (isBinary(content)) return content;
  const text = Buffer.from(content).toString("latin1");
  if (!text.includes("\r")) return content;
  return Buffer.from(text.replace(/\r\n/g, "\n"), "latin1");
}

/**
 * Pure: the digest of a set of files, independent of the order they are given in. With
 * `withModes`, whether each file is executable counts too (the source bundle, where it matters).
 */
export function digestFiles(files: readonly SourceFile[], declared: readonly string[], withModes = false): string {
  const lines = files.map((f) => `${f.path}\u0000${withModes ? `${f.executable ? "755" : "644"}\u0000` : ""}${sha256(normalizedContent(f.content))}`);
  // A declared path with no files still counts, so deleting a script changes the digest.
  for (const path of declared) {
    if (!files.some((f) => f.path === path || f.path.startsWith(`${path}/`))) lines.push(`${path}\u0000missing`);
  }
  return sha256(lines.sort().join("\n"));
}

/** The one directory walker: every regular file under `path` (a folder or a file), with its execute bit. */
async function collect(root: string, path: string, out: SourceFile[]): Promise<void> {
  const abs = join(root, path);
  let entries;
  try {
    entries = await readdir(abs, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return;
    if (code !== "ENOTDIR") throw error;
    out.push({ path, content: await readFile(abs), executable: await isExecutable(abs) });
    return;
  }
  for (const entry of entries) {
    const child = `${path}/${entry.name}`;
    if (entry.isDirectory()) await collect(root, child, out);
    else if (entry.isFile()) out.push({ path: child, content: await readFile(join(root, child)), executable: await isExecutable(join(root, child)) });
  }
}

async function isExecutable(file: string): Promise<boolean> {
  return ((await stat(file)).mode & 0o111) !== 0;
}

/** Every file under the given repository-relative paths. */
export async function readTree(root: string, paths: readonly string[]): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  for (const path of paths) await collect(root, path, out);
  return out.map((f) => ({ ...f, path: relative(root, join(root, f.path)).split(sep).join("/") }));
}

export async function readSourceSet(root: string, set: SourceSet): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  for (const path of SOURCE_SETS[set]) await collect(root, path, out);
  return out.map((f) => ({ ...f, path: relative(root, join(root, f.path)).split(sep).join("/") }));
}

export async function readSourceDigests(root: string = TOOL_ROOT): Promise<SourceDigests> {
  const digests = {} as Record<SourceSet, string>;
  for (const set of Object.keys(SOURCE_SETS) as SourceSet[]) {
    digests[set] = digestFiles(await readSourceSet(root, set), SOURCE_SETS[set]);
  }
  return digests;
}
