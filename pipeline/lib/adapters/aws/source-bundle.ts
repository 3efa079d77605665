/**
 * The build scripts as CodeBuild receives them: `r-compile/`, `runtime/` and `buildspecs/` of
 * the tool checkout, zipped. The bundle is keyed by a digest of paths, modes and contents (not
 * of the zip bytes, which depend on the zlib at hand): builds from different scripts never
 * share a key, and the same scripts give the same key on any machine.
 */
import { createHash } from "node:crypto";
import { readFile, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { normalizedContent } from "../../keys/sources.ts";
import { sourceBundleKey } from "../../naming.ts";
import { createZip } from "./zip.ts";
import type { ZipEntry } from "./zip.ts";

export const BUNDLE_FOLDERS = ["r-compile", "runtime", "buildspecs"] as const;

export interface SourceBundle {
  readonly digest: string;
  /** Object key in the builder-region bucket. */
  readonly objectKey: string;
  readonly zip: Buffer;
  readonly files: number;
}

async function collect(root: string, path: string, out: ZipEntry[]): Promise<void> {
  const entries = await readdir(join(root, path), { withFileTypes: true });
  for (const entry of entries) {
    const child = `${path}/${entry.name}`;
    if (entry.isDirectory()) {
      await collect(root, child, out);
    } else if (entry.isFile()) {
      const file = join(root, child);
      const executable = ((await stat(file)).mode & 0o111) !== 0;
      // Line ends as checked out on Linux, whatever the checkout's autocrlf: the scripts run in bash.
      out.push({ path: child, content: normalizedContent(await readFile(file)), mode: executable ? 0o755 : 0o644 });
    }
  }
}

export function bundleDigest(entries: readonly ZipEntry[]): string {
  const lines = entries
    .map((e) => `${e.path}\u0000${e.mode.toString(8)}\u0000${createHash("sha256").update(e.content).digest("hex")}`)
    .sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}

export async function createSourceBundle(toolRoot: string): Promise<SourceBundle> {
  const entries: ZipEntry[] = [];
  for (const folder of BUNDLE_FOLDERS) await collect(toolRoot, folder, entries);
  const digest = bundleDigest(entries);
  return { digest, objectKey: sourceBundleKey(digest), zip: createZip(entries), files: entries.length };
}
