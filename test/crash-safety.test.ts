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
import { finished, runEntry, startEntry } from "./support/cli.ts";
import type { CliResult, EntryProcess } from "./support/cli.ts";
import { startAwsEmulators } from "./support/aws/stack.ts";
import type { AwsEmulators } from "./support/aws/stack.ts";
import { fakeExecutor } from "./support/aws/executors.ts";
import { storeArtifact } from "./support/seed.ts";

const MANIFEST = `version: 1
r:
  versions: ["4.4.1"]
defaults:
  regions: [us-east-1, eu-west-1]
  repository: https://packagemanager.posit.co/cran/2024-11-01
  share:
    accounts: ["111111111111"]
artifacts:
  bucket: r-layers-{region}
builder:
  project: r-lambda-layers
  region: us-east-1
  parallelism: 2
  timeoutMinutes: 10
layers:
  - name: runtime
    type: runtime
    packages: [jsonlite]
  - name: stats
    packages: [survival]
  - name: extra
    packages: [data.table]
    regions: [us-east-1]
`;

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "rll-crash-"));
  await writeFile(join(work, "layers.yaml"), MANIFEST);
});
after(async () => rm(work, { recursive: true, force: true }));

/** Starts a reconcile and SIGKILLs it once `when` says so, judging from its output so far. */
async function killWhen(child: EntryProcess, when: (stdout: string) => boolean): Promise<CliResult> {
  let seen = "";
  child.stdout.on("data", (chunk: Buffer) => {
    seen += chunk.toString();
    if (when(seen)) child.kill("SIGKILL");
  });
  return finished(child);
}

/**
 * A run that was killed really died by the signal (had the kill hit a wrapper, the reconcile would
 * have exited by itself). `early`: it also died before its summary (not while writing the outputs).
 */
function assertKilled(result: CliResult, label: string, early = false): void {
  assert.equal(result.signal, "SIGKILL", `${label}: the reconcile itself was killed\n${result.stdout}\n${result.stderr}`);
  if (early) assert.doesNotMatch(result.stdout, /^Reconcile: /m, `${label}: killed before its summary`);
}

const finishedSteps = (stdout: string) => (stdout.match(/^✔ /gm) ?? []).length;

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
  const regions = ["us-east-1", "eu-west-1"];
  const args = ["--manifest", "layers.yaml", "--backend", "aws", "--unlocked"];
  const start = (emu: AwsEmulators) => startEntry("reconcile.ts", args, { cwd: work, env: emu.env });

  /** Every layer name per region with its versions' keys and grant counts. */
  function published(emu: AwsEmulators): string[] {
    return regions.flatMap((region) =>
      emu.lambda
        .layerNames(region)
        .sort()
        .map((name) => `${region} ${name}: ${emu.lambda.versions(region, name).map((v) => `${/key=([0-9a-f]{12})/.exec(v.description ?? "")?.[1]}+${v.statements.length}`).join(" ")}`),
    );
  }

  /** Records without their zip would be artifacts counted as built that are not there. */
  function recordsWithoutZip(emu: AwsEmulators): string[] {
    const keys = emu.s3.keys("r-layers-us-east-1");
    return keys.filter((k) => /^artifacts\/.*[0-9a-f]{64}\.json$/.test(k)).filter((k) => !keys.includes(k.replace(/\.json$/, ".zip")));
  }

  let expected: string[];
  before(async () => {
    const emu = await startAwsEmulators({ regions });
    try {
      const clean = await runEntry("reconcile.ts", args, { cwd: work, env: emu.env });
      assert.equal(clean.status, 0, clean.stderr);
      expected = published(emu);
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
      assert.deepEqual(published(emu), expected, "the same published state as a clean run, one version each");
      assert.deepEqual(recordsWithoutZip(emu), []);
    } finally {
      await emu.close();
    }
  });

  test("killed in the middle of a build: the next run re-attaches to that build instead of starting another", async () => {
    const emu = await startAwsEmulators({ regions, executor: (s3) => fakeExecutor({ s3, phaseMs: 700 }) });
    try {
      const killed = await killWhen(start(emu), (out) => /│ r-\S+ │ install \S+ line 1/.test(out));
      assertKilled(killed, "mid-build", true);
      const startedBefore = emu.codebuild.allBuilds().length;
      assert.ok(startedBefore >= 1);
      emu.s3.deleteObject("r-layers-us-east-1", "locks/reconcile.json");
      const rerun = await runEntry("reconcile.ts", args, { cwd: work, env: emu.env });
      assert.equal(rerun.status, 0, rerun.stderr);
      assert.match(rerun.stdout, /re-attached to CodeBuild build/);
      assert.equal(emu.codebuild.allBuilds().length, 4, "one build per artifact across both runs");
      assert.deepEqual(published(emu), expected);
    } finally {
      await emu.close();
    }
  });

  test("SIGINT mid-build: exits 130 with the lock released, and the next run re-attaches to the running build", async () => {
    const emu = await startAwsEmulators({ regions, executor: (s3) => fakeExecutor({ s3, phaseMs: 1500 }) });
    try {
      const child = start(emu);
      let sent = false;
      child.stdout.on("data", (chunk: Buffer) => {
        if (!sent && /│ r-\S+ │ install/.test(chunk.toString())) {
          sent = true;
          child.kill("SIGINT");
        }
      });
      const result = await finished(child);
      assert.equal(result.status, 130, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, /error\[INTERRUPTED\]: cancelled by SIGINT/);
      assert.match(result.stdout, /cancelled; not waiting for the build/);
      assert.equal(emu.s3.getObject("r-layers-us-east-1", "locks/reconcile.json"), undefined, "the lock is released");
      const startedBefore = emu.codebuild.allBuilds().length;
      const rerun = await runEntry("reconcile.ts", args, { cwd: work, env: emu.env });
      assert.equal(rerun.status, 0, rerun.stderr);
      assert.match(rerun.stdout, /re-attached to CodeBuild build/);
      assert.ok(startedBefore >= 1);
      assert.equal(emu.codebuild.allBuilds().length, 4, "the running builds were re-attached, not started again");
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
