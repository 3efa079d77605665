/**
 * How each kind of action is carried out through the ports. Every step is safe to run again:
 * builds write content-addressed artifacts, a publish first re-reads the latest version and does
 * nothing when it already carries the key, grants and deletions are idempotent.
 */
import type { BuildGraph, LayerBuild, RBuild } from "../keys/graph.ts";
import type { BuildInputs } from "../keys/inputs.ts";
import type { Manifest } from "../manifest/types.ts";
import { artifactObjectKey, versionDescription } from "../naming.ts";
import { isCurrent } from "../publication.ts";
import type { Action } from "../plan/types.ts";
import type { Backend } from "../ports.ts";
import type { ArtifactRef, Builder } from "../ports.ts";
import { describeGrant } from "../grants.ts";
import { StepFailure } from "./executor.ts";
import { runParameterStep } from "./parameter-step.ts";
import type { StepRunner } from "./executor.ts";
import { InternalError } from "../errors.ts";

export interface StepContext {
  readonly manifest: Manifest;
  readonly graph: BuildGraph;
  readonly backend: Backend;
  readonly builder: Builder;
  /** The commit the manifest and scripts come from, recorded in each version's description. */
  readonly commit?: string;
}

export function createStepRunner(ctx: StepContext): StepRunner {
  const rBuilds = new Map<string, RBuild>(ctx.graph.rBuilds.map((b) => [b.key, b]));
  const layerBuilds = new Map<string, LayerBuild>(ctx.graph.layerBuilds.map((b) => [b.key, b]));
  const { artifacts, layers } = ctx.backend;

  const build = async (actionId: string, ref: ArtifactRef, inputs: BuildInputs, log: (line: string) => void, signal: AbortSignal) => {
    const outcome = await ctx.builder.run(
      {
        actionId,
        key: ref.key,
        inputs,
        image: ctx.manifest.builder.images[inputs.arch],
        timeoutMinutes: ctx.manifest.builder.timeoutMinutes,
      },
      log,
      signal,
    );
    if (signal.aborted) throw new StepFailure("cancelled");
    if (outcome.status === "failed") {
      throw new StepFailure(outcome.message, {
        ...(outcome.phase ? { phase: outcome.phase } : {}),
        logTail: outcome.logTail,
        ...(outcome.link ? { link: outcome.link } : {}),
      });
    }
    // The record is what marks the artifact complete; it goes last.
    const sha256 = outcome.exported.ARTIFACT_SHA256;
    await artifacts.writeRecord(ref, {
      version: 1,
      key: ref.key,
      ...(sha256 && /^[0-9a-f]{64}$/.test(sha256) ? { sha256 } : {}),
      inputs,
      metadata: { ...outcome.metadata, exported: outcome.exported },
    });
    return sizeNote(outcome.exported);
  };

  // A zip is checked against the digest its build recorded before it is copied or published: a
  // replaced or truncated zip fails the publication and is forgotten, so the next run rebuilds it.
  const checks = new Map<string, Promise<void>>();
  const verified = (ref: ArtifactRef): Promise<void> => {
    let check = checks.get(ref.key);
    if (!check) {
      check = (async () => {
        const record = await artifacts.readRecord(ref);
        if (!record?.sha256) return;
        const actual = await artifacts.zipDigest(ref);
        if (actual === record.sha256) return;
        await artifacts.discard(ref);
        throw new StepFailure(
          `the artifact ${artifacts.storeUrl}/${artifactObjectKey(ref.kind, ref.key)} ${actual === undefined ? "is missing" : `does not match the SHA-256 recorded when it was built (${record.sha256.slice(0, 12)}…, now ${actual.slice(0, 12)}…)`}; nothing was published from it, and it no longer counts as built: the next reconcile rebuilds it`,
        );
      })();
      checks.set(ref.key, check);
    }
    return check;
  };

  const layerBuildOf = (key: string): LayerBuild => {
    const found = layerBuilds.get(key);
    if (!found) throw new InternalError(`no layer build with key ${key}`);
    return found;
  };

  return async (action: Action, log, signal) => {
    switch (action.kind) {
      case "compile-r": {
        const rb = rBuilds.get(action.key);
        if (!rb) throw new InternalError(`no R build with key ${action.key}`);
        return build(action.id, { kind: "r", key: rb.key }, rb.inputs, log, signal);
      }
      case "build-layer": {
        const lb = layerBuildOf(action.key);
        return build(action.id, { kind: "layer", key: lb.key }, lb.inputs, log, signal);
      }
      case "publish": {
        const latest = await layers.getLatest(action.region, action.layerName);
        const lb = layerBuildOf(action.key);
        if (isCurrent(latest, lb, ctx.graph.owner)) return `already published as version ${latest?.version}`;
        await verified({ kind: "layer", key: action.key });
        const content = await artifacts.copyToRegion({ kind: "layer", key: action.key }, action.region);
        const published = await layers.publish({
          region: action.region,
          layerName: action.layerName,
          description: versionDescription({
            key: action.key,
            rVersion: action.r,
            arch: action.arch,
            owner: ctx.graph.owner,
            ...(ctx.commit ? { commit: ctx.commit } : {}),
            ...(lb.publication.text ? { text: lb.publication.text } : {}),
          }),
          content,
          architecture: action.arch,
          ...(lb.publication.license ? { license: lb.publication.license } : {}),
          compatibleRuntimes: lb.publication.runtimes,
        });
        return `version ${published.version}`;
      }
      case "grant": {
        let version = action.version;
        if (version === undefined) {
          const latest = await layers.getLatest(action.region, action.layerName);
          if (latest?.key !== action.key) {
            throw new StepFailure(`no published version of ${action.layerName} in ${action.region} carries key ${action.key.slice(0, 12)}`);
          }
          version = latest.version;
        }
        for (const grant of action.add) await layers.addGrant(action.region, action.layerName, version, grant);
        for (const grant of action.remove) await layers.removeGrant(action.region, action.layerName, version, grant);
        const parts = [
          ...action.add.map((g) => `+${describeGrant(g)}`),
          ...action.remove.map((g) => `-${describeGrant(g)}`),
        ];
        return `version ${version}: ${parts.join(", ")}`;
      }
      case "prune": {
        for (const version of action.versions) await layers.deleteVersion(action.region, action.layerName, version);
        return `deleted version${action.versions.length === 1 ? "" : "s"} ${action.versions.join(", ")}`;
      }
      case "parameter":
        return runParameterStep(action, ctx.backend, ctx.graph.owner);
      default:
        // A new action kind without a step here does not compile.
        return unreachable(action);
    }
  };
}

function sizeNote(exported: Readonly<Record<string, string>>): string | undefined {
  const zipped = Number(exported.ARTIFACT_SIZE);
  const unzipped = Number(exported.UNZIPPED_SIZE);
  if (!Number.isFinite(zipped) || !Number.isFinite(unzipped) || !exported.ARTIFACT_SIZE) return undefined;
  const mb = (n: number) => `${(n / 1_000_000).toFixed(1)} MB`;
  return `${mb(zipped)} zipped, ${mb(unzipped)} unzipped`;
}

function unreachable(action: never): never {
  throw new InternalError(`no step for action ${JSON.stringify(action)}`);
}
