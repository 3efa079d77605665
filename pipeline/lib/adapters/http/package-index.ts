/**
 * Reads a CRAN-like repository's package index with node's fetch (`http(s)://`), or from disk
 * for a `file://` repository. Failures become REPOSITORY_UNAVAILABLE naming the URL.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PipelineError } from "../../errors.ts";
import { indexUrl } from "../../lock/index-source.ts";
import type { PackageIndexSource } from "../../lock/index-source.ts";

export class HttpPackageIndexSource implements PackageIndexSource {
  constructor(private readonly fetchImpl: typeof fetch = fetch) {}

  async readIndex(repository: string): Promise<string> {
    const url = indexUrl(repository);
    if (url.startsWith("file://")) {
      try {
        return await readFile(fileURLToPath(url), "utf8");
      } catch (error) {
        throw new PipelineError("REPOSITORY_UNAVAILABLE", `cannot read the package index ${url}: ${(error as Error).message}`, { cause: error });
      }
    }
    let response: Response;
    try {
      response = await this.fetchImpl(url, { redirect: "follow", signal: AbortSignal.timeout(120_000) });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw new PipelineError("REPOSITORY_UNAVAILABLE", `cannot fetch the package index ${url}: ${(error as Error).message}${cause ? ` (${cause})` : ""}`, { cause: error });
    }
    if (!response.ok) {
      throw new PipelineError("REPOSITORY_UNAVAILABLE", `cannot fetch the package index ${url}: HTTP ${response.status} ${response.statusText}`);
    }
    return response.text();
  }
}
