/**
 * The port through which resolution reads repositories: the text of a repository's
 * `src/contrib/PACKAGES`. One adapter fetches it over HTTP(S) (adapters/http/); tests serve a
 * repository on the loopback.
 */
import { parsePackagesIndex } from "./packages-index.ts";
import type { PackagesIndex } from "./packages-index.ts";

export interface PackageIndexSource {
  /** The PACKAGES text of a repository (its URL as the manifest has it); throws REPOSITORY_UNAVAILABLE. */
  readIndex(repository: string): Promise<string>;
}

/** Reads and parses the indexes of several repositories at once. */
export async function readIndexes(source: PackageIndexSource, repositories: readonly string[]): Promise<Map<string, PackagesIndex>> {
  const texts = await Promise.all(repositories.map(async (r) => [r, await source.readIndex(r)] as const));
  return new Map(texts.map(([r, text]) => [r, parsePackagesIndex(text)]));
}

/** Where a repository's index and a package's source tarball are (current, or archived). */
export const indexUrl = (repository: string) => `${repository.replace(/\/+$/, "")}/src/contrib/PACKAGES`;
