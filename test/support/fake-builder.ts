/**
 * A Builder that builds nothing: it records what it was asked, fails the builds it is told to,
 * and tracks how many run at once. The real builders are tested on their own (build-*.test.ts).
 */
import type { BuildOutcome, BuildRequest, Builder } from "../../pipeline/lib/ports.ts";

export class FakeBuilder implements Builder {
  readonly requests: BuildRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(
    private readonly options: { fail?: (request: BuildRequest) => boolean; delayMs?: number } = {},
  ) {}

  async run(request: BuildRequest, onLog: (line: string) => void): Promise<BuildOutcome> {
    this.requests.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      onLog(`building ${request.actionId}`);
      await new Promise((r) => setTimeout(r, this.options.delayMs ?? 1));
      if (this.options.fail?.(request)) {
        onLog("Error: package 'gbm' had non-zero exit status");
        return {
          status: "failed",
          phase: "BUILD",
          message: "phase BUILD failed: `bash r-compile/layer/build-layer.sh` exited with status 1",
          logTail: ["installing gbm", "Error: package 'gbm' had non-zero exit status"],
          link: "https://console.example/build/1",
        };
      }
      return { status: "succeeded", exported: { ARTIFACT_SIZE: "1000000", UNZIPPED_SIZE: "3000000", ARTIFACT_SHA256: "0".repeat(64) } };
    } finally {
      this.inFlight--;
    }
  }

  built(): string[] {
    return this.requests.map((r) => r.actionId).sort();
  }
}
