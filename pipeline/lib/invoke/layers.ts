/**
 * Where `npm run invoke` takes R from: the layers of a manifest entry, as built in the local
 * state folder (`.layers/artifacts/layers/<key>.zip`, found by the same build keys the plan
 * computes), unzipped in stack order into a private `/opt`-like folder as Lambda merges them;
 * or, when they are not built, the host's R, with a note saying what differs.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { computeBuildGraph, layerBuildId } from "../keys/graph.ts";
import type { LayerBuild } from "../keys/graph.ts";
import { readSourceDigests } from "../keys/sources.ts";
import { UsageError } from "../errors.ts";
import type { Arch, Manifest } from "../manifest/types.ts";
import { LocalArtifactStore } from "../adapters/local/state.ts";
import { artifactObjectKey } from "../naming.ts";
import { runChecked } from "../runner/process.ts";

export interface LayerRequest {
  readonly layers: readonly string[];
  readonly rVersion: string;
  readonly arch: Arch;
}

/** How the runtime will be started. */
export interface RuntimeSetup {
  /** The `bootstrap` to start. */
  readonly bootstrap: string;
  /** Environment for it (`LAMBDA_R_PREFIX`, `RHOME`). */
  readonly env: Readonly<Record<string, string>>;
  /** One line for the user when this is not what Lambda would run. */
  readonly note?: string;
  /** The layers unzipped, bottom first. */
  readonly layers: readonly string[];
  /** The `/opt`-like folder, when layers were unzipped. */
  readonly opt?: string;
}

export function hostArch(arch: string = process.arch): Arch {
  return arch === "arm64" ? "arm64" : "x86_64";
}

/** The builds to unzip for the requested layers, bottom of the stack first, each once. */
export function layerStack(manifest: Manifest, builds: readonly LayerBuild[], request: LayerRequest): LayerBuild[] {
  const byId = new Map(builds.map((b) => [b.id, b]));
  const out: LayerBuild[] = [];
  const visit = (build: LayerBuild) => {
    for (const below of build.stacks) visit(below);
    if (!out.includes(build)) out.push(build);
  };
  for (const name of request.layers) {
    const layer = manifest.layers.find((l) => l.name === name);
    if (!layer) throw new UsageError(`--layer ${name}: no such layer in ${manifest.file} (layers: ${manifest.layers.map((l) => l.name).join(", ")})`);
    const build = byId.get(layerBuildId(name, request.rVersion, request.arch));
    if (!build) {
      throw new UsageError(`--layer ${name} is not built for R ${request.rVersion} on ${request.arch} (R versions: ${layer.rVersions.join(", ")}; architectures: ${layer.architectures.join(", ")})`);
    }
    visit(build);
  }
  return out;
}

/**
 * The runtime setup for the requested layers: unzipped into `<tmp>/opt` when every build of
 * the stack is in the state folder, otherwise the host's R (with the note).
 */
export async function prepareLayers(
  manifest: Manifest,
  stateDir: string,
  request: LayerRequest,
  tmp: string,
  repoBootstrap: string,
): Promise<RuntimeSetup> {
  const graph = computeBuildGraph(manifest, await readSourceDigests());
  const stack = layerStack(manifest, graph.layerBuilds, request);
  const store = new LocalArtifactStore(stateDir);
  const missing: LayerBuild[] = [];
  for (const build of stack) if (!(await store.has({ kind: "layer", key: build.key }))) missing.push(build);
  const hostEnv = { LAMBDA_R_PREFIX: join(tmp, "no-opt", "R") };
  if (missing.length > 0) {
    return {
      bootstrap: repoBootstrap,
      env: hostEnv,
      layers: [],
      note:
        `note: ${missing.map((b) => b.layerName).join(", ")} not built in ${stateDir} (run a local reconcile to build); ` +
        `running on this machine's R and packages instead of the layers' R ${request.rVersion}`,
    };
  }
  const opt = join(tmp, "opt");
  await mkdir(opt, { recursive: true });
  for (const build of stack) {
    // Later layers overwrite equal paths, as Lambda merges layers into /opt.
    await runChecked({ command: "unzip", args: ["-q", "-o", store.path(artifactObjectKey("layer", build.key)), "-d", opt] }, "STATE_UNREADABLE");
  }
  const hasRuntime = stack.some((b) => b.layer.type === "runtime");
  return {
    bootstrap: hasRuntime ? join(opt, "bootstrap") : repoBootstrap,
    // R built with --prefix=/opt/R runs from another folder when told its home (r-compile/README.md).
    env: { LAMBDA_R_PREFIX: join(opt, "R"), RHOME: join(opt, "R", "lib", "R") },
    layers: stack.map((b) => b.layerName),
    opt,
    ...(hasRuntime ? {} : { note: "note: no runtime layer among the layers: using this checkout's runtime/bootstrap" }),
  };
}

/** The setup without layers: the host's R and this checkout's runtime. */
export function hostSetup(tmp: string, repoBootstrap: string): RuntimeSetup {
  return {
    bootstrap: repoBootstrap,
    env: { LAMBDA_R_PREFIX: join(tmp, "no-opt", "R") },
    layers: [],
    note: "note: no --layer given: running on this machine's R and packages, not a layer's R (add --layer NAME --r VERSION to use built layers)",
  };
}
