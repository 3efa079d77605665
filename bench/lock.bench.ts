/**
 * Lock resolution for the generated 50-layer manifest against a generated index of 20,000
 * packages, the index already downloaded: parsing PACKAGES, then resolving every layer and R
 * version from scratch. Target from issue 14: under 1 s.
 */
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { parsePackagesIndex } from "../pipeline/lib/lock/packages-index.ts";
import { resolveLock } from "../pipeline/lib/lock/resolve.ts";
import { formatLockFile } from "../pipeline/lib/lock/format.ts";
import { generatedManifest, generatedPackagesIndex } from "./support/generate.ts";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

export default async function (): Promise<void> {
  const yaml = generatedManifest(50, 4, 6);
  const manifest = parseManifest(yaml, "bench.yaml");
  const text = generatedPackagesIndex(20_000, manifest.layers.flatMap((l) => l.packages));
  const repository = manifest.layers[0]?.repository ?? "";
  const runs: { parse: number; resolve: number; format: number; packages: number; entries: number; locked: number }[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const index = parsePackagesIndex(text);
    const t1 = performance.now();
    const { lock, problems } = resolveLock({ manifest, indexes: new Map([[repository, index]]), mode: { kind: "keep" } });
    if (problems.length) throw new Error(problems[0]?.message);
    const t2 = performance.now();
    formatLockFile(lock);
    const t3 = performance.now();
    const entries = Object.values(lock.layers).flatMap((vs) => Object.values(vs));
    runs.push({ parse: t1 - t0, resolve: t2 - t1, format: t3 - t2, packages: index.size, entries: entries.length, locked: entries.reduce((k, e) => k + Object.keys(e.packages).length, 0) });
  }
  const warm = runs.slice(1);
  const first = runs[0];
  if (!first) return;
  console.log(`index: ${first.packages} packages (${(text.length / 1e6).toFixed(1)} MB of PACKAGES); manifest: 50 layers x 4 R versions; entries: ${first.entries} (${first.locked} locked packages in all)`);
  console.log(`first run: parse ${first.parse.toFixed(1)} ms, resolve ${first.resolve.toFixed(1)} ms, write ${first.format.toFixed(1)} ms`);
  console.log(
    `warm median of ${warm.length}: total ${median(warm.map((r) => r.parse + r.resolve + r.format)).toFixed(1)} ms (parse ${median(warm.map((r) => r.parse)).toFixed(1)}, resolve ${median(warm.map((r) => r.resolve)).toFixed(1)}, write ${median(warm.map((r) => r.format)).toFixed(1)})`,
  );
}
