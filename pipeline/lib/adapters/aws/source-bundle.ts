/**
 * The build scripts as CodeBuild receives them: `r-compile/`, `runtime/` and `buildspecs/` of
 * the tool checkout, zipped. The bundle is keyed by a digest of paths, modes and contents (not
 * of the zip bytes, which depend on the zlib at hand): builds from different scripts never
 * share a key, and the same scripts give the same key on any machine.
 */
import { digestFiles, normalizedContent, readTree } from "../../keys/sources.ts";
import type { SourceFile } from "../../keys/sources.ts";
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

/** The bundle's key: its files' paths, execute bits and contents (line ends as checked out on Linux). */
export function bundleDigest(files: readonly SourceFile[]): string {
  return digestFiles(files, BUNDLE_FOLDERS, true);
}

export async function createSourceBundle(toolRoot: string): Promise<SourceBundle> {
  const files = await readTree(toolRoot, BUNDLE_FOLDERS);
  const digest = bundleDigest(files);
  // Line ends as checked out on Linux, whatever the checkout's autocrlf: the scripts run in bash.
  const entries: ZipEntry[] = files.map((f) => ({ path: f.path, content: normalizedContent(f.content), mode: f.executable ? 0o755 : 0o644 }));
  return { digest, objectKey: sourceBundleKey(digest), zip: createZip(entries), files: entries.length };
}
