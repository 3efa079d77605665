/**
 * Turns schema-valid, rule-checked manifest data into the `Manifest` the planner uses: defaults
 * applied, lists sorted and de-duplicated, stacking made explicit.
 */
import { DEFAULT_PARAMETER_PREFIX } from "../naming.ts";
import type { Arch, Builder, Layer, LayerType, Manifest, Outputs, Sharing } from "./types.ts";

interface RawShare {
  accounts?: string[];
  organization?: string;
  public?: boolean;
}

interface RawLayerFields {
  r?: string[];
  architectures?: Arch[];
  regions?: string[];
  repository?: string;
  retain?: number;
  share?: RawShare;
  license?: string;
}

interface RawLayer extends RawLayerFields {
  name: string;
  type?: LayerType;
  description?: string;
  packages?: string[];
  systemLibraries?: string[];
  stacksOn?: string[];
}

interface RawParameters {
  prefix?: string;
}

interface RawOutputs {
  parameters?: RawParameters | boolean;
}

export interface RawManifest {
  version: 1;
  r: { versions: string[] };
  defaults?: RawLayerFields;
  artifacts: { bucket: string };
  outputs?: RawOutputs;
  builder: {
    project: string;
    region: string;
    computeType?: string;
    images?: Partial<Record<Arch, string>>;
    parallelism?: number;
    timeoutMinutes?: number;
  };
  layers: RawLayer[];
}

/**
 * The fields of each manifest object. `satisfies` ties each list to the type above it (a field
 * missing from either does not compile), and test/manifest-schema.test.ts ties the lists to
 * schema/layers.schema.json: a field added to the schema but not here, or the reverse, fails.
 */
const fields = <T>() => <F extends Record<keyof T, true>>(f: F & Record<Exclude<keyof F, keyof T>, never>) => Object.keys(f).sort();
export const RAW_FIELDS = {
  manifest: fields<RawManifest>()({ version: true, r: true, defaults: true, artifacts: true, outputs: true, builder: true, layers: true }),
  outputs: fields<RawOutputs>()({ parameters: true }),
  parameters: fields<RawParameters>()({ prefix: true }),
  defaults: fields<RawLayerFields>()({ r: true, architectures: true, regions: true, repository: true, retain: true, share: true, license: true }),
  layer: fields<RawLayer>()({
    name: true, type: true, description: true, packages: true, systemLibraries: true, stacksOn: true,
    r: true, architectures: true, regions: true, repository: true, retain: true, share: true, license: true,
  }),
  share: fields<RawShare>()({ accounts: true, organization: true, public: true }),
  builder: fields<RawManifest["builder"]>()({ project: true, region: true, computeType: true, images: true, parallelism: true, timeoutMinutes: true }),
} as const;

export const DEFAULT_RETAIN = 3;
export const DEFAULT_ARCHITECTURES: readonly Arch[] = ["x86_64"];
/** CodeBuild's Lambda build images (AWS SAM's, Amazon Linux 2023), also what local Docker builds run in. */
export const DEFAULT_IMAGES: Readonly<Record<Arch, string>> = {
  x86_64: "public.ecr.aws/sam/build-provided.al2023:latest-x86_64",
  arm64: "public.ecr.aws/sam/build-provided.al2023:latest-arm64",
};

/**
 * The layers a layer builds against: those it names, or else, for a package layer, the one
 * runtime layer when there is exactly one (several make the choice the user's, see rules.ts).
 */
export function effectiveStacksOn(type: LayerType, explicit: readonly string[] | undefined, runtimes: readonly string[]): string[] {
  if (explicit !== undefined) return [...explicit];
  return type === "packages" && runtimes.length === 1 ? [...runtimes] : [];
}

/**
 * R packages the runtime itself loads (runtime/json.R parses events with rjson's C parser).
 * Every runtime-type layer gets them, so removing one from the manifest cannot break the loop.
 */
export const RUNTIME_PACKAGES: readonly string[] = ["rjson"];

const sorted = (xs: readonly string[] | undefined): string[] => [...new Set(xs ?? [])].sort();

function sharing(share: RawShare | undefined): Sharing {
  return {
    accounts: sorted(share?.accounts),
    ...(share?.organization ? { organization: share.organization } : {}),
    public: share?.public ?? false,
  };
}

/** Parameters are on unless `parameters: false`; `true` or `{}` means the default prefix. */
function outputs(raw: RawOutputs | undefined): Outputs {
  const p = raw?.parameters ?? true;
  if (p === false) return { parameters: false };
  return { parameters: { prefix: (p === true ? undefined : p.prefix) ?? DEFAULT_PARAMETER_PREFIX } };
}

export function resolveManifest(raw: RawManifest, file: string, warnings: readonly string[]): Manifest {
  const d = raw.defaults ?? {};
  const runtimes = raw.layers.filter((l) => l.type === "runtime").map((l) => l.name);
  const declared = raw.r.versions;

  const layers: Layer[] = raw.layers.map((l) => {
    const type = l.type ?? "packages";
    const rVersions = l.r ?? d.r ?? declared;
    const stacksOn = effectiveStacksOn(type, l.stacksOn, runtimes);
    const license = l.license ?? d.license;
    return {
      name: l.name,
      type,
      ...(l.description ? { description: l.description } : {}),
      packages: sorted([...(l.packages ?? []), ...(type === "runtime" ? RUNTIME_PACKAGES : [])]),
      systemLibraries: sorted(l.systemLibraries),
      // Keep the manifest's order for versions (newest first reads best) but drop repeats.
      rVersions: [...new Set(rVersions)],
      architectures: [...new Set(l.architectures ?? d.architectures ?? DEFAULT_ARCHITECTURES)],
      regions: [...new Set(l.regions ?? d.regions ?? [])],
      repository: (l.repository ?? d.repository ?? "").replace(/\/+$/, ""),
      retain: l.retain ?? d.retain ?? DEFAULT_RETAIN,
      share: sharing(l.share ?? d.share),
      stacksOn: [...stacksOn],
      ...(license ? { license } : {}),
    };
  });

  const builder: Builder = {
    project: raw.builder.project,
    region: raw.builder.region,
    computeType: raw.builder.computeType ?? "BUILD_GENERAL1_LARGE",
    images: { ...DEFAULT_IMAGES, ...raw.builder.images },
    parallelism: raw.builder.parallelism ?? 4,
    timeoutMinutes: raw.builder.timeoutMinutes ?? 90,
  };

  return {
    file,
    rVersions: [...declared],
    layers,
    artifacts: { bucket: raw.artifacts.bucket },
    outputs: outputs(raw.outputs),
    builder,
    warnings,
  };
}

/** Packages that ship inside R itself and cannot be installed from a repository: never resolved, locked or imported. */
export const BASE_PACKAGES: ReadonlySet<string> = new Set([
  "base",
  "compiler",
  "datasets",
  "grDevices",
  "graphics",
  "grid",
  "methods",
  "parallel",
  "splines",
  "stats",
  "stats4",
  "tcltk",
  "tools",
  "utils",
]);

/** Layers in an order where each comes after those it stacks on (the manifest is checked for loops). */
export function stackOrder(layers: readonly Layer[]): Layer[] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const done = new Set<string>();
  const out: Layer[] = [];
  const visit = (layer: Layer) => {
    if (done.has(layer.name)) return;
    done.add(layer.name);
    for (const name of layer.stacksOn) {
      const below = byName.get(name);
      if (below) visit(below);
    }
    out.push(layer);
  };
  layers.forEach(visit);
  return out;
}
