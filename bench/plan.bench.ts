/**
 * Validate + hash + plan for 50 layers x 4 R versions x 2 architectures x 6 regions, everything
 * already published (a no-op plan): the cost of the dry run on a large manifest. Target from
 * issue 2: under 1 s and under 150 MB.
 */
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { readSourceDigests } from "../pipeline/lib/keys/sources.ts";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { plan } from "../pipeline/lib/plan/planner.ts";
import { observe } from "../pipeline/lib/plan/observe.ts";
import { memoryBackend } from "../test/support/memory-backend.ts";
import { seedReconciled } from "../test/support/seed.ts";
import { generatedManifest } from "./support/generate.ts";

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export default async function (): Promise<void> {
  const yaml = generatedManifest(50, 4, 6);
  const backend = memoryBackend();
  await seedReconciled(backend, computeBuildGraph(parseManifest(yaml, "bench.yaml"), await readSourceDigests()));

  const runs: { validate: number; hash: number; plan: number; total: number; actions: number; unchanged: number }[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const manifest = parseManifest(yaml, "bench.yaml");
    const t1 = performance.now();
    const graph = computeBuildGraph(manifest, await readSourceDigests());
    const t2 = performance.now();
    const observed = await observe(graph, backend, { prune: false });
    const result = plan({ manifestFile: "bench.yaml", graph, observed, now: new Date(0), prune: false });
    const t3 = performance.now();
    runs.push({ validate: t1 - t0, hash: t2 - t1, plan: t3 - t2, total: t3 - t0, actions: result.actions.length, unchanged: result.summary.unchanged });
  }
  const first = runs[0];
  if (!first) return;
  const warm = runs.slice(1);
  console.log("manifest: 50 layers x 4 R versions x 2 architectures x 6 regions, all published (no-op plan)");
  console.log(`lines of YAML: ${yaml.split("\n").length}; layer builds: ${50 * 4 * 2}; publications: ${first.unchanged}; actions: ${first.actions}`);
  console.log(`first run (cold: schema compile, module warm-up): total ${first.total.toFixed(1)} ms (validate ${first.validate.toFixed(1)}, hash ${first.hash.toFixed(1)}, observe+plan ${first.plan.toFixed(1)})`);
  console.log(
    `warm median of ${warm.length}: total ${median(warm.map((r) => r.total)).toFixed(1)} ms (validate ${median(warm.map((r) => r.validate)).toFixed(1)}, hash ${median(warm.map((r) => r.hash)).toFixed(1)}, observe+plan ${median(warm.map((r) => r.plan)).toFixed(1)})`,
  );
  const usage = process.memoryUsage();
  console.log(`memory: rss ${mb(usage.rss)}, heap used ${mb(usage.heapUsed)} (whole process, including the in-memory state of 2400 published versions)`);
}
