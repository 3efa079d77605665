/**
 * Validation alone (read, schema, rules, defaults) on large manifests: 100,000 package names
 * (about 1 MB) in one list and spread over 1,000 layers, and a 165 KB file dense with anchors and
 * aliases. Target from issue 10: under 2 s for the 1 MB manifest, growing linearly (the
 * quarter-size run shows the slope). Measures only; nothing here passes or fails on a time.
 */
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { aliasHeavyManifest, packageHeavyManifest } from "./support/generate.ts";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const kb = (text: string) => `${(Buffer.byteLength(text) / 1024).toFixed(0)} KB`;

function time(label: string, yaml: string, runs: number): void {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    parseManifest(yaml, "bench.yaml");
    times.push(performance.now() - t0);
  }
  console.log(`${label} (${kb(yaml)}): first ${(times[0] as number).toFixed(0)} ms, median of ${runs} ${median(times).toFixed(0)} ms`);
}

export default async function (): Promise<void> {
  time("25,000 packages in one layer", packageHeavyManifest(25_000, 25_000), 3);
  time("100,000 packages in one layer", packageHeavyManifest(100_000, 100_000), 3);
  time("100,000 packages in 1,000 layers", packageHeavyManifest(100_000, 100), 3);
  time("anchors and aliases", aliasHeavyManifest(165 * 1024), 3);
  await Promise.resolve();
}
