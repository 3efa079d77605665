/** Chooses and builds the state backend (and, for a reconcile, the builder and lock) an entry point uses. */
import { dirname, join, relative, resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { createAwsBackend } from "../adapters/aws/backend.ts";
import { TOOL_ROOT } from "../keys/sources.ts";
import type { LocalBuildMode } from "../adapters/local/local-build.ts";
import { LocalBuilder } from "../adapters/local/builder.ts";
import type { Manifest } from "../manifest/types.ts";
import type { Backend } from "../ports.ts";
import { LocalArtifactStore, LocalPublishedLayers, LocalStateLock } from "../adapters/local/state.ts";
import { LocalLayerParameters } from "../adapters/local/parameters.ts";
import type { Builder, StateLock } from "../ports.ts";

export type BackendName = "local" | "aws";

/** The local backend's folder unless told otherwise: `.layers` beside the manifest. */
export function defaultStateDir(manifest: string): string {
  return join(dirname(manifest), ".layers");
}

export interface Workspace {
  readonly backend: Backend;
  readonly lock: StateLock;
  readonly builder: Builder;
  /** Lets go of connections so the process can exit promptly. */
  close(): void;
}

export interface WorkspaceOptions {
  readonly stateDir: string;
  /** How the local backend builds: on this machine, or in the Lambda image with Docker. */
  readonly buildMode?: LocalBuildMode;
  readonly buildEnv?: Readonly<Record<string, string>>;
  /** The commit the build scripts come from (recorded with AWS builds). */
  readonly commit?: string;
}

export function createWorkspace(name: BackendName, manifest: Manifest, options: WorkspaceOptions): Workspace {
  switch (name) {
    case "local": {
      const root = resolve(options.stateDir);
      return {
        backend: {
          description: { backend: "local", location: relative(process.cwd(), root) || "." },
          artifacts: new LocalArtifactStore(root),
          layers: new LocalPublishedLayers(root),
          parameters: new LocalLayerParameters(root),
        },
        lock: new LocalStateLock(root),
        builder: new LocalBuilder(root, options.buildMode, options.buildEnv),
        close: () => undefined,
      };
    }
    case "aws": {
      if (options.buildMode?.kind === "docker") {
        throw new UsageError("--build-mode applies to the local backend; AWS builds run in CodeBuild");
      }
      const aws = createAwsBackend({ manifest, toolRoot: TOOL_ROOT, ...(options.commit ? { commit: options.commit } : {}) });
      return { backend: aws.backend, lock: aws.lock, builder: aws.builder, close: () => aws.close() };
    }
  }
}
