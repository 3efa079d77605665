/** Chooses and builds the state backend an entry point reads from. */
import { relative, resolve } from "node:path";
import { PipelineError } from "../errors.ts";
import type { Backend } from "../state/observe.ts";
import { LocalArtifactStore, LocalPublishedLayers } from "../state/local.ts";

export type BackendName = "local" | "aws";

export function createBackend(name: BackendName, stateDir: string): Backend {
  switch (name) {
    case "local": {
      const root = resolve(stateDir);
      return {
        description: { backend: "local", location: relative(process.cwd(), root) || "." },
        artifacts: new LocalArtifactStore(root),
        layers: new LocalPublishedLayers(root),
      };
    }
    case "aws":
      throw new PipelineError(
        "BACKEND_UNAVAILABLE",
        "the AWS backend is not available in this version yet; plan against the local backend (--backend local)",
      );
  }
}
