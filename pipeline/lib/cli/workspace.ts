/**
 * What every command starts from: the manifest read and validated, the build graph hashed, and
 * the backend opened; and the read-then-plan step that plan and reconcile share.
 */
import { computeBuildGraph } from "../keys/graph.ts";
import type { BuildGraph } from "../keys/graph.ts";
import { readSourceDigests } from "../keys/sources.ts";
import { loadManifest, parseManifest } from "../manifest/load.ts";
import type { Manifest } from "../manifest/types.ts";
import { observe } from "../plan/observe.ts";
import { plan } from "../plan/planner.ts";
import type { Plan } from "../plan/types.ts";
import type { CommonOptions } from "./args.ts";
import { createWorkspace } from "./backend.ts";
import type { Workspace, WorkspaceOptions } from "./backend.ts";
import { readLockView } from "../lock/file.ts";
import type { LockView } from "../lock/file.ts";

export interface Opened {
  readonly manifestFile: string;
  readonly manifest: Manifest;
  readonly graph: BuildGraph;
  readonly workspace: Workspace;
  /** layers.lock beside the manifest: absent only where an Opened is made by hand (tests). */
  readonly lock?: LockView;
}

/** Reads and validates the manifest, hashes the build inputs, and sets up the backend. */
export async function openWorkspace(
  options: Pick<CommonOptions, "manifest" | "backend" | "state" | "allowFileRepository"> & { readonly manifestText?: string },
  workspaceOptions: Omit<WorkspaceOptions, "stateDir"> = {},
): Promise<Opened> {
  // `manifestText`: the manifest's content as it would be (`layers` plans an edit before writing it).
  const manifestOptions = { allowFileRepositories: options.allowFileRepository === true };
  const manifest =
    options.manifestText !== undefined ? parseManifest(options.manifestText, options.manifest, manifestOptions) : await loadManifest(options.manifest, manifestOptions);
  const lock = await readLockView(options.manifest, manifest);
  const workspace = createWorkspace(options.backend, manifest, { stateDir: options.state, ...workspaceOptions });
  const graph = computeBuildGraph(manifest, await readSourceDigests(), lock.status);
  return { manifestFile: options.manifest, manifest, graph, workspace, lock };
}

/** Reads the state the plan needs and plans. */
export async function planFor(opened: Opened, reads: { prune: boolean; refreshGrants: boolean }, now: Date): Promise<Plan> {
  const { prune } = reads;
  const observed = await observe(opened.graph, opened.workspace.backend, reads);
  return plan({
    manifestFile: opened.manifestFile,
    graph: opened.graph,
    observed,
    now,
    prune,
    warnings: opened.manifest.warnings,
  });
}
