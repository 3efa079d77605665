/**
 * A reconcile interrupted mid-build, by SIGKILL or by SIGINT as GitHub's cancel sends it, against
 * AWS (emulated): the next run re-attaches to the build it left running instead of starting
 * another, and a cancelled run releases its lock and exits 130. The process signalled is the
 * reconcile itself (node with tsx's loader, no wrapper).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { finished, runEntry, startEntry } from "./support/cli.ts";
import { fakeExecutor } from "./support/aws/executors.ts";
import { startAwsEmulators } from "./support/aws/stack.ts";
import type { AwsEmulators } from "./support/aws/stack.ts";
import { MANIFEST, REGIONS, assertKilled, killWhen, publishedInAws } from "./support/crash.ts";

let work: string;
let expected: string[];
const args = ["--manifest", "layers.yaml", "--backend", "aws", "--unlocked"];
const regions = REGIONS;
const start = (emu: AwsEmulators) => startEntry("reconcile.ts", args, { cwd: work, env: emu.env });

before(async () => {
  work = await mkdtemp(join(tmpdir(), "rll-cancel-"));
  await writeFile(join(work, "layers.yaml"), MANIFEST);
  const emu = await startAwsEmulators({ regions });
  try {
    const clean = await runEntry("reconcile.ts", args, { cwd: work, env: emu.env });
    assert.equal(clean.status, 0, clean.stderr);
    expected = publishedInAws(emu);
  } finally {
    await emu.close();
  }
});
after(async () => rm(work, { recursive: true, force: true }));

describe("interrupted mid-build, against AWS (emulated)", () => {
  test("killed in the middle of a build: the next run re-attaches to that build instead of starting another", async () => {
    const emu = await startAwsEmulators({ regions, executor: (s3) => fakeExecutor({ s3, phaseMs: 400 }) });
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
      assert.deepEqual(publishedInAws(emu), expected);
    } finally {
      await emu.close();
    }
  });

  test("SIGINT mid-build: exits 130 with the lock released, and the next run re-attaches to the running build", async () => {
    const emu = await startAwsEmulators({ regions, executor: (s3) => fakeExecutor({ s3, phaseMs: 700 }) });
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
