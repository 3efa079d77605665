/** Plans and reconciles a manifest against in-memory state, in process, as the core tests do. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalStateLock } from "../../pipeline/lib/adapters/local/state.ts";
import { runReconcile } from "../../pipeline/lib/cli/reconcile-command.ts";
import type { Opened } from "../../pipeline/lib/cli/workspace.ts";
import { PipelineError } from "../../pipeline/lib/errors.ts";
import { computeBuildGraph } from "../../pipeline/lib/keys/graph.ts";
import { observe } from "../../pipeline/lib/plan/observe.ts";
import { plan } from "../../pipeline/lib/plan/planner.ts";
import type { Plan } from "../../pipeline/lib/plan/types.ts";
import type { Backend } from "../../pipeline/lib/ports.ts";
import { FakeBuilder } from "./fake-builder.ts";
import { DIGESTS, manifestFrom } from "./manifests.ts";

export async function planInMemory(yaml: string, backend: Backend, prune = false): Promise<Plan> {
  const graph = computeBuildGraph(manifestFrom(yaml), DIGESTS);
  return plan({ manifestFile: "layers.yaml", graph, observed: await observe(graph, backend, { prune }), now: new Date(0), prune });
}

export interface InMemoryReconcile {
  readonly status: number;
  readonly out: string;
  readonly builder: FakeBuilder;
  readonly error: PipelineError | undefined;
}

/** A reconcile's exit status and output (its error's message appended), with builds faked. */
export async function reconcileInMemory(
  yaml: string,
  backend: Backend,
  options: { prune?: boolean; builder?: FakeBuilder; commit?: string; olderCommit?: "allow" | ((commit: string, last: string) => Promise<boolean>) } = {},
): Promise<InMemoryReconcile> {
  const lockDir = await mkdtemp(join(tmpdir(), "rll-lock-"));
  const builder = options.builder ?? new FakeBuilder();
  const manifest = manifestFrom(yaml);
  const opened: Opened = {
    manifestFile: "layers.yaml",
    manifest,
    graph: computeBuildGraph(manifest, DIGESTS),
    workspace: { backend, builder, lock: new LocalStateLock(lockDir), close: () => undefined },
  };
  let out = "";
  try {
    const status = await runReconcile(opened, {
      prune: options.prune ?? false,
      apiConcurrency: 4,
      lockTimeoutSeconds: 0,
      colour: false,
      commit: options.commit ?? "0123456789abcdef0123",
      ...(options.olderCommit ? { olderCommit: options.olderCommit } : {}),
      io: { stdout: (t) => (out += t), now: () => new Date("2026-11-25T12:00:00Z"), env: {}, isTty: false },
    });
    return { status, out, builder, error: undefined };
  } catch (error) {
    if (!(error instanceof PipelineError)) throw error;
    return { status: 1, out: `${out}\n${error.message}`, builder, error };
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
