/** Small manifests for tests, written as YAML so positions in error messages are real. */
import { parseManifest } from "../../pipeline/lib/manifest/load.ts";
import type { Manifest } from "../../pipeline/lib/manifest/types.ts";
import type { SourceDigests } from "../../pipeline/lib/keys/sources.ts";

export const DIGESTS: SourceDigests = { rBuild: "a".repeat(64), layerBuild: "b".repeat(64), runtime: "c".repeat(64) };

/** Two R versions, both architectures, two regions, a runtime layer and two package layers. */
export const BASE_YAML = `version: 1
r:
  versions: ["4.4.1", "4.3.3"]
defaults:
  architectures: [x86_64, arm64]
  regions: [us-east-1, eu-west-1]
  repository: https://packagemanager.posit.co/cran/2024-11-01
  retain: 2
artifacts:
  bucket: acme-r-layers-{region}
builder:
  project: r-lambda-layers
  region: us-east-1
  images:
    x86_64: public.ecr.aws/sam/build-provided.al2023:x86
    arm64: public.ecr.aws/sam/build-provided.al2023:arm
layers:
  - name: runtime
    type: runtime
    packages: [jsonlite, httr]
  - name: stats
    packages: [survival, gbm]
  - name: solo
    packages: [data.table]
    r: ["4.4.1"]
    architectures: [x86_64]
    regions: [eu-west-1]
`;

export function manifestFrom(yaml: string, file = "layers.yaml"): Manifest {
  return parseManifest(yaml, file);
}

/** Replaces one exact line fragment, failing loudly if it is not there (so an edit cannot silently miss). */
export function edit(yaml: string, from: string, to: string): string {
  if (!yaml.includes(from)) throw new Error(`fixture edit: "${from}" not found`);
  return yaml.replace(from, to);
}
