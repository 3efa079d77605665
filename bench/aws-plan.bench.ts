/**
 * A no-op plan against emulated AWS: 50 layers x 4 R versions x 2 architectures x 6 regions, all
 * published with their grants and the outputs index of the last reconcile, every call delayed by
 * 50 ms. The emulators run in a process of their own (as AWS would be elsewhere), so the time is
 * the client's. Reports wall time and API calls per operation, for a plan (grants from the index)
 * and for a plan with --refresh-grants (every policy read, as the drift check and reconciles do).
 * Target from issue 5: list calls proportional to regions, under 3 seconds.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { readSourceDigests, TOOL_ROOT } from "../pipeline/lib/keys/sources.ts";
import { createAwsBackend } from "../pipeline/lib/adapters/aws/backend.ts";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { plan } from "../pipeline/lib/plan/planner.ts";
import { observe } from "../pipeline/lib/plan/observe.ts";
import { TEST_RETRY, useEmulatorCredentials } from "../test/support/aws/setup.ts";
import { generatedManifest } from "./support/generate.ts";

const SERVER = fileURLToPath(new URL("./support/aws-emulators-process.ts", import.meta.url));

export default async function (): Promise<void> {
  const manifest = parseManifest(generatedManifest(50, 4, 6), "bench.yaml");
  const graph = computeBuildGraph(manifest, await readSourceDigests());
  const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), SERVER, "50", "4", "6", "50"], { stdio: ["pipe", "pipe", "inherit"] });
  const replies = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, string | number>> => JSON.parse(String((await replies.next()).value)) as Record<string, string | number>;
  const ask = async (command: string) => {
    child.stdin.write(`${command}\n`);
    return next();
  };
  try {
    const env = (await next()) as Record<string, string>;
    useEmulatorCredentials(env);
    const runs: { ms: number; cpuMs: number; calls: Record<string, string | number>; actions: number }[] = [];
    for (let i = 0; i < 4; i++) {
      const refreshGrants = i === 3;
      const aws = createAwsBackend({ manifest, toolRoot: TOOL_ROOT, env, retryTuning: TEST_RETRY });
      await ask("reset");
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const observed = await observe(graph, aws.backend, { prune: false, refreshGrants });
      const result = plan({ manifestFile: "bench.yaml", graph, observed, now: new Date(0), prune: false });
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      runs.push({ ms, cpuMs: (cpu.user + cpu.system) / 1000, calls: await ask("calls"), actions: result.actions.length });
      aws.close();
    }
    const plans = runs.slice(0, 3);
    const refreshed = runs[3];
    const last = plans.at(-1);
    if (!last || !refreshed) return;
    const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const calls = (c: Record<string, string | number>) =>
      Object.entries(c)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([op, n]) => `${op} ${n}`)
        .join(", ");
    console.log("no-op plan against emulated AWS (separate process), 50 ms added to every call");
    console.log(`manifest: 50 layers x 4 R versions x 2 architectures x 6 regions = ${graph.layerBuilds.length * 6} published layer versions; actions planned: ${last.actions}`);
    console.log(`plan, 3 runs: wall ${plans.map((r) => secs(r.ms)).join(", ")}; client CPU ${plans.map((r) => secs(r.cpuMs)).join(", ")}`);
    console.log(`  API calls: ${calls(last.calls)}`);
    const lists = Object.entries(last.calls).filter(([op]) => op.startsWith("lambda.List")).reduce((n, [, c]) => n + Number(c), 0);
    console.log(`  list calls: ${lists} for 6 regions (${(lists / 6).toFixed(1)} pages of 50 layers per region)`);
    console.log(`plan --refresh-grants (drift check, reconcile): wall ${secs(refreshed.ms)}; client CPU ${secs(refreshed.cpuMs)}; actions ${refreshed.actions}`);
    console.log(`  API calls: ${calls(refreshed.calls)}`);
  } finally {
    child.stdin.end();
    await new Promise((r) => child.on("close", r));
  }
}
