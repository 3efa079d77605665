/** Chooses and builds the state backend (and, for a reconcile, the builder and lock) an entry point uses. */
import { dirname, join, relative, resolve } from "node:path";
import { PipelineError } from "../errors.ts";
import type { LocalBuildMode } from "../build/local-build.ts";
import { LocalBuilder } from "../builders/local.ts";
import type { Manifest } from "../manifest/types.ts";
import type { Backend } from "../state/observe.ts";
import { LocalArtifactStore, LocalPublishedLayers, LocalStateLock } from "../state/local.ts";
import type { Builder, StateLock } from "../state/ports.ts";

export type BackendName = "local" | "aws";

/** The local backend's folder unless told otherwise: `.layers` beside the manifest. */
export function defaultStateDir(manifest: string): string {
  return join(dirname(manifest), ".layers");
}

export interface Workspace {
  readonly backend: Backend;
  readonly lock: StateLock;
  readonly builder: Builder;
}

export interface WorkspaceOptions {
  readonly stateDir: string;
  /** How the local backend builds: on this machine, or in the Lambda image with Docker. */
  readonly buildMode?: LocalBuildMode;
  readonly buildEnv?: Readonly<Record<string, string>>;
}

export function createWorkspace(name: BackendName, _manifest: Manifest, options: WorkspaceOptions): Workspace {
  switch (name) {
    case "local": {
      const root = resolve(options.stateDir);
      return {
        backend: {
          description: { backend: "local", location: relative(process.cwd(), root) || "." },
          artifacts: new LocalArtifactStore(root),
          layers: new LocalPublishedLayers(root),
        },
        lock: new LocalStateLock(root),
        builder: new LocalBuilder(root, options.buildMode, options.buildEnv),
      };
    }
    case "aws":
      throw new PipelineError(
        "BACKEND_UNAVAILABLE",
        "the AWS backend is not available in this version yet; use the local backend (--backend local)",
      );
  }
}
