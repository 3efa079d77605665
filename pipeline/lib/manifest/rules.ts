/**
 * Checks the schema cannot express: names that must be unique or must refer to something
 * declared, limits that depend on several fields, and findings that only deserve a warning.
 * Each rule reads the raw data defensively, so they all run even when the schema found
 * problems elsewhere, and everything is reported in one go.
 */
import type { Problem } from "../errors.ts";
import { LAYER_NAME_MAX } from "../lambda.ts";
import { bucketName, longestPublishedName } from "../naming.ts";
import { DEFAULT_ARCHITECTURES, effectiveStacksOn } from "./resolve.ts";
import type { ManifestPath, ManifestSource } from "./source.ts";
import type { Arch, LayerType } from "./types.ts";

export interface RuleFindings {
  readonly errors: Problem[];
  readonly warnings: Problem[];
}

type Rec = Record<string, unknown>;

function rec(value: unknown): Rec | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Rec) : undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Packages that ship inside R itself and cannot be installed from a repository. */
const BASE_PACKAGES = new Set([
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

/** A dated snapshot in the URL path (Posit Package Manager, R-universe snapshots, MRAN-style mirrors). */
const PINNED_REPOSITORY = /\/(\d{4}-\d{2}-\d{2})(\/|$)|^file:\/\//;

/** Longest code the region pattern admits (e.g. `us-isob-northeast-1` and a little margin). */
const LONGEST_REGION_CODE = 20;

interface LayerView {
  index: number;
  name?: string;
  type: LayerType;
  raw: Rec;
  /** Explicit `stacksOn`, or the default one resolution will apply. */
  stacksOn: string[];
}

export function checkRules(source: ManifestSource): RuleFindings {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const error = (path: ManifestPath, message: string) => errors.push(source.problem(path, message));
  const warn = (path: ManifestPath, message: string) => warnings.push(source.problem(path, message));

  const root = rec(source.data);
  if (!root) return { errors, warnings };
  const defaults = rec(root.defaults) ?? {};
  const declared = new Set(strings(rec(root.r)?.versions));
  const rawLayers = Array.isArray(root.layers) ? root.layers : [];

  const layers: LayerView[] = [];
  rawLayers.forEach((raw, index) => {
    const r = rec(raw);
    if (!r) return;
    layers.push({
      index,
      name: typeof r.name === "string" ? r.name : undefined,
      type: r.type === "runtime" ? "runtime" : "packages",
      raw: r,
      stacksOn: [],
    });
  });
  const runtimeNames = layers.flatMap((l) => (l.type === "runtime" && l.name !== undefined ? [l.name] : []));
  for (const layer of layers) {
    layer.stacksOn = effectiveStacksOn(layer.type, layer.raw.stacksOn === undefined ? undefined : strings(layer.raw.stacksOn), runtimeNames);
  }
  const byName = new Map<string, LayerView>();

  // Names: unique, and short enough for Lambda once the R version and arch are appended.
  for (const layer of layers) {
    if (layer.name === undefined) continue;
    const first = byName.get(layer.name);
    if (first) {
      const at = source.locate(["layers", first.index, "name"]);
      error(["layers", layer.index, "name"], `layer name "${layer.name}" is already used (line ${at.line})`);
      continue;
    }
    byName.set(layer.name, layer);
  }

  const effective = (layer: LayerView, key: string): unknown => layer.raw[key] ?? defaults[key];
  const rVersionsOf = (layer: LayerView): string[] =>
    layer.raw.r !== undefined ? strings(layer.raw.r) : defaults.r !== undefined ? strings(defaults.r) : [...declared];
  const archesOf = (layer: LayerView): Arch[] => {
    const a = effective(layer, "architectures");
    return (a === undefined ? [...DEFAULT_ARCHITECTURES] : strings(a).filter((x) => x === "x86_64" || x === "arm64")) as Arch[];
  };

  // R versions a default or a layer targets must be declared under r.versions.
  const checkDeclared = (path: ManifestPath, versions: unknown) => {
    strings(versions).forEach((v, i) => {
      if (!declared.has(v)) {
        error([...path, i], `R ${v} is not declared under r.versions (declared: ${[...declared].join(", ") || "none"})`);
      }
    });
  };
  if (defaults.r !== undefined) checkDeclared(["defaults", "r"], defaults.r);


  for (const layer of layers) {
    const at = (...rest: ManifestPath) => ["layers", layer.index, ...rest];
    if (layer.raw.r !== undefined) checkDeclared(at("r"), layer.raw.r);

    if (layer.name !== undefined) {
      const longest = longestPublishedName(layer.name, rVersionsOf(layer), archesOf(layer));
      if (longest.length > LAYER_NAME_MAX) {
        error(
          at("name"),
          `published name "${longest}" would be ${longest.length} characters; Lambda allows ${LAYER_NAME_MAX}`,
        );
      }
    }

    strings(layer.raw.packages).forEach((pkg, i) => {
      if (BASE_PACKAGES.has(pkg)) error(at("packages", i), `"${pkg}" is part of R itself and cannot be installed`);
    });

    for (const key of ["regions", "repository"] as const) {
      if (effective(layer, key) === undefined) {
        error(at(), `layer "${layer.name ?? layer.index}" has no ${key}: set "${key}" on the layer or under defaults`);
      }
    }

    // Stacking: the named layers must exist, must not loop, and must cover every R version and
    // architecture this layer is built for (their libraries are what it builds against).
    const stacksOn = layer.raw.stacksOn;
    if (stacksOn === undefined && layer.type === "packages" && runtimeNames.length > 1) {
      error(
        at(),
        `layer "${layer.name ?? layer.index}" must say which runtime layer it stacks on ("stacksOn"): there are ${runtimeNames.length} (${runtimeNames.join(", ")})`,
      );
    }
    strings(stacksOn).forEach((other, i) => {
      const target = byName.get(other);
      if (other === layer.name) {
        error(at("stacksOn", i), `a layer cannot stack on itself`);
      } else if (!target) {
        error(at("stacksOn", i), `no layer named "${other}" in this manifest`);
      } else {
        const missingR = rVersionsOf(layer).filter((v) => !rVersionsOf(target).includes(v));
        const missingArch = archesOf(layer).filter((a) => !archesOf(target).includes(a));
        if (missingR.length || missingArch.length) {
          error(
            at("stacksOn", i),
            `"${other}" is not built for ${[...missingR.map((v) => `R ${v}`), ...missingArch].join(", ")}, which "${layer.name}" needs`,
          );
        }
      }
    });
  }
  checkStackCycles(layers, byName, error);

  // Repositories should be dated snapshots, or the same key can install different packages.
  const repoPaths: [ManifestPath, unknown][] = [
    [["defaults", "repository"], defaults.repository],
    ...layers.map((l): [ManifestPath, unknown] => [["layers", l.index, "repository"], l.raw.repository]),
  ];
  for (const [path, repo] of repoPaths) {
    if (typeof repo === "string" && !PINNED_REPOSITORY.test(repo)) {
      warn(
        path,
        `repository ${repo} is not pinned to a dated snapshot (e.g. https://packagemanager.posit.co/cran/2024-11-01): the same build key may install different package versions`,
      );
    }
  }

  // One bucket name cannot serve several regions: Lambda reads layer content from its own region.
  const artifacts = rec(root.artifacts);
  if (artifacts && typeof artifacts.bucket === "string") {
    const template = artifacts.bucket;
    const regions = new Set<string>();
    for (const layer of layers) strings(effective(layer, "regions")).forEach((r) => regions.add(r));
    const builderRegion = rec(root.builder)?.region;
    if (typeof builderRegion === "string") regions.add(builderRegion);
    if (regions.size > 1 && !template.includes("{region}")) {
      error(
        ["artifacts", "bucket"],
        `bucket "${template}" has no {region}, but layers target ${regions.size} regions and Lambda needs a bucket in each layer's region`,
      );
    }
    const stripped = template.replaceAll("{region}", "");
    if (/[{}]/.test(stripped)) {
      error(["artifacts", "bucket"], `only {region} may be used in the bucket template`);
    } else {
      const longest = bucketName(template, "x".repeat(LONGEST_REGION_CODE));
      if (template.includes("{region}") ? longest.length > 63 : template.length > 63) {
        error(["artifacts", "bucket"], `bucket names are at most 63 characters; "${template}" can exceed that`);
      }
    }
  }

  // A declared R version no layer targets would never be built: say so rather than ignore it.
  const targeted = new Set(layers.flatMap(rVersionsOf));
  strings(rec(root.r)?.versions).forEach((v, i) => {
    if (!targeted.has(v)) warn(["r", "versions", i], `R ${v} is declared but no layer targets it, so it is not built`);
  });

  return { errors, warnings };
}

function checkStackCycles(
  layers: LayerView[],
  byName: Map<string, LayerView>,
  error: (path: ManifestPath, message: string) => void,
): void {
  const state = new Map<string, "visiting" | "done">();
  const visit = (layer: LayerView, trail: string[]): void => {
    if (layer.name === undefined) return;
    const mark = state.get(layer.name);
    if (mark === "done") return;
    if (mark === "visiting") {
      const cycle = [...trail.slice(trail.indexOf(layer.name)), layer.name];
      error(["layers", layer.index, "stacksOn"], `layers stack on each other in a loop: ${cycle.join(" → ")}`);
      return;
    }
    state.set(layer.name, "visiting");
    for (const other of layer.stacksOn) {
      const target = byName.get(other);
      if (target && target !== layer) visit(target, [...trail, layer.name]);
    }
    state.set(layer.name, "done");
  };
  for (const layer of layers) visit(layer, []);
}
