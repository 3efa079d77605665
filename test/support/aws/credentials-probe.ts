/**
 * Run as a separate process by the credentials test: makes one call of each kind through the
 * AWS backend with whatever credentials the SDK's default chain finds in this environment, and
 * prints each failure's message on its own line (or "ok").
 */
import { createAwsBackend } from "../../../pipeline/lib/adapters/aws/backend.ts";
import { testManifest } from "./setup.ts";

const aws = createAwsBackend({ manifest: testManifest(), toolRoot: process.cwd(), maxAttempts: 2 });
const calls: [string, () => Promise<unknown>][] = [
  ["lambda", () => aws.backend.layers.listLatest("us-east-1")],
  ["s3", () => aws.backend.artifacts.has({ kind: "layer", key: "0".repeat(64) })],
];
for (const [name, run] of calls) {
  try {
    await run();
    console.log(`${name}: ok`);
  } catch (error) {
    console.log(`${name}: ${(error as Error).message}`);
  }
}
aws.close();
