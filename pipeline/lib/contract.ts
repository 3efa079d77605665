/**
 * The contract between the pipeline and a build, the same for CodeBuild and the local runner:
 * which buildspec builds each kind of artifact, and the environment variables that are the build
 * scripts' only inputs (documented in buildspecs/README.md). Object keys come from naming.ts, so
 * the scripts never spell a key themselves.
 */
import { StateError } from "./errors.ts";
import type { BuildInputs, LockedInput } from "./keys/inputs.ts";
import { artifactMetadataKey, artifactObjectKey } from "./naming.ts";
import type { ArtifactKind } from "./naming.ts";

export const BUILDSPECS: Readonly<Record<ArtifactKind, string>> = {
  r: "buildspecs/r-compile.yml",
  layer: "buildspecs/layer.yml",
};

/** The variables a build gets, from its inputs: the scripts' only inputs. */
export function buildEnvironment(inputs: BuildInputs, key: string, artifactStore: string): Record<string, string> {
  const common = {
    BUILD_KEY: key,
    ARCH: inputs.arch,
    R_VERSION: inputs.rVersion,
    ARTIFACT_STORE: artifactStore,
    ARTIFACT_KEY: artifactObjectKey(inputs.kind, key),
    METADATA_KEY: artifactMetadataKey(inputs.kind, key),
  };
  switch (inputs.kind) {
    case "r":
      return common;
    case "layer":
      return {
        ...common,
        LAYER_NAME: inputs.layer,
        LAYER_TYPE: inputs.type,
        R_PACKAGES: inputs.packages.join(" "),
        SYSTEM_LIBRARIES: inputs.systemLibraries.join(" "),
        R_REPOSITORY: inputs.repository,
        R_BUILD_ARTIFACT_KEY: artifactObjectKey("r", inputs.rBuildKey),
        STACK_ARTIFACT_KEYS: inputs.stacks.map((s) => artifactObjectKey("layer", s.key)).join(" "),
        ...(inputs.locked ? { R_LOCKED_PACKAGES: lockedPackagesVariable(inputs.locked) } : {}),
      };
  }
}

/** `name/version/md5/<hex> ...` in install order: what a locked layer installs, exactly. */
export function lockedPackagesVariable(locked: readonly LockedInput[]): string {
  return locked.map((p) => `${p.name}/${p.version}/${p.checksum.replace(":", "/")}`).join(" ");
}

/** The metadata a build wrote beside its zip (sizes, packages): a JSON object, or an error naming where it was read. */
export function metadataObject(data: unknown, where: string): Readonly<Record<string, unknown>> {
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new StateError(`${where} is not the metadata a build writes (a JSON object)`);
  }
  return data as Record<string, unknown>;
}
