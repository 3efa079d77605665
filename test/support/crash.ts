/** What the crash and cancellation tests share: a small manifest, and ways to kill a run and read what it left. */
import assert from "node:assert/strict";
import { finished } from "./cli.ts";
import type { CliResult, EntryProcess } from "./cli.ts";
import type { AwsEmulators } from "./aws/stack.ts";

export const MANIFEST = `version: 1
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

export const REGIONS = ["us-east-1", "eu-west-1"];

export /** SIGKILLs a started reconcile once `when` says so, judging from its output so far. */
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
export function assertKilled(result: CliResult, label: string, early = false): void {
  assert.equal(result.signal, "SIGKILL", `${label}: the reconcile itself was killed\n${result.stdout}\n${result.stderr}`);
  if (early) assert.doesNotMatch(result.stdout, /^Reconcile: /m, `${label}: killed before its summary`);
}

export const finishedSteps = (stdout: string) => (stdout.match(/^✔ /gm) ?? []).length;

/** Every layer name per region with its versions' keys and grant counts. */
export function publishedInAws(emu: AwsEmulators): string[] {
  return REGIONS.flatMap((region) =>
    emu.lambda
      .layerNames(region)
      .sort()
      .map((name) => `${region} ${name}: ${emu.lambda.versions(region, name).map((v) => `${/key=([0-9a-f]{12})/.exec(v.description ?? "")?.[1]}+${v.statements.length}`).join(" ")}`),
  );
}

/** Records without their zip would be artifacts counted as built that are not there. */
export function recordsWithoutZip(emu: AwsEmulators): string[] {
  const keys = emu.s3.keys("r-layers-us-east-1");
  return keys.filter((k) => /^artifacts\/.*[0-9a-f]{64}\.json$/.test(k)).filter((k) => !keys.includes(k.replace(/\.json$/, ".zip")));
}
