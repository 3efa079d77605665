/**
 * Checks the schema cannot express: names that must be unique or must refer to something
 * declared, limits that depend on several fields, and everything a build, S3 or Lambda would
 * refuse later (stacking, empty layers, bucket names, repository schemes, layers per function),
 * plus findings that only deserve a warning. Each rule reads the raw data defensively, so they
 * all run even when the schema found problems elsewhere, and everything is reported in one go;
 * a value the schema already refused is not reported again (`rejected`). Values appear in
 * messages once, JSON-quoted (quote.ts). Every rule is linear in the size of the manifest.
 */
import type { Problem } from "../errors.ts";
import { DESCRIPTION_MAX, LAYER_NAME_MAX, LAYERS_PER_FUNCTION } from "../lambda.ts";
import {
  DEFAULT_PARAMETER_PREFIX,
  bucketName,
  longestParameterName,
  longestPublishedName,
  longestVersionDescription,
  pipelineOwner,
  s3BucketNameProblem,
} from "../naming.ts";
import { quote } from "./quote.ts";
import { BASE_PACKAGES, DEFAULT_ARCHITECTURES, RUNTIME_PACKAGES, effectiveStacksOn } from "./resolve.ts";
import { formatPath } from "./source.ts";
import type { ManifestPath, ManifestSource } from "./source.ts";
import type { Arch, LayerType } from "./types.ts";

export interface RuleFindings {
  readonly errors: Problem[];
  readonly warnings: Problem[];
}

export interface RuleOptions {
  /** `file://` repositories are allowed (local builds only, `--allow-file-repository`). */
  readonly allowFileRepositories?: boolean;
  /** Whether the schema already refused the value at this path (formatted as in problems). */
  readonly rejected?: (path: string) => boolean;
}

type Rec = Record<string, unknown>;

function rec(value: unknown): Rec | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Rec) : undefined;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}


/** A dated snapshot in the URL path (Posit Package Manager, R-universe snapshots, MRAN-style mirrors). */
const PINNED_REPOSITORY = /\/(\d{4}-\d{2}-\d{2})(\/|$)|^file:\/\//;

/** Plain http is for a repository on this machine (the tests serve one on 127.0.0.1). */
const LOOPBACK_HTTP = /^http:\/\/(localhost|127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})(:[0-9]+)?(\/|$)/;

/** `"a", "b", "c" and 4 more`: a long list named in a message without growing with the manifest. */
function some(items: readonly string[], max = 3): string {
  const shown = items.slice(0, max).join(", ");
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

interface LayerView {
  index: number;
  name?: string;
  type: LayerType;
  raw: Rec;
  /** Explicit `stacksOn`, or the default one resolution will apply. */
  stacksOn: string[];
}

/** What every rule reads: the manifest's data, the layers seen so far, and where problems go. */
interface Rules {
  readonly source: ManifestSource;
  readonly options: RuleOptions;
  readonly root: Rec;
  readonly defaults: Rec;
  readonly declared: ReadonlySet<string>;
  readonly layers: readonly LayerView[];
  readonly byName: Map<string, LayerView>;
  readonly runtimeNames: readonly string[];
  readonly bucketTemplate: string;
  readonly rejected: (path: string) => boolean;
  readonly error: (path: ManifestPath, message: string) => void;
  readonly warn: (path: ManifestPath, message: string) => void;
  readonly effective: (layer: LayerView, key: string) => unknown;
  readonly rVersionsOf: (layer: LayerView) => string[];
  readonly archesOf: (layer: LayerView) => Arch[];
  /** What a layer's zip holds for certain: its own packages, and the runtime's for a runtime layer. */
  readonly provides: (layer: LayerView) => Set<string>;
}

/**
 * The semantic rules the schema cannot express, each a small function below that pushes
 * problems at the line and column of what breaks it.
 */
export function checkRules(source: ManifestSource, options: RuleOptions = {}): RuleFindings {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const rules = ruleContext(source, options, errors, warnings);
  if (!rules) return { errors, warnings };
  checkLayerNames(rules);
  checkDeclaredVersions(rules);
  for (const layer of rules.layers) {
    checkLambdaLimits(rules, layer);
    checkPackagesAndSettings(rules, layer);
    checkStacking(rules, layer);
    checkAddsSomething(rules, layer);
  }
  checkLayersPerFunction(rules.layers, rules.byName, rules.error);
  checkStackCycles(rules.layers, rules.byName, rules.error);
  checkRepositories(rules);
  checkImages(rules);
  checkBucket(rules);
  checkParameterNames(rules.root, rules.layers, rules.rVersionsOf, rules.archesOf, rules.error, rules.rejected);
  checkUnusedVersions(rules);
  return { errors, warnings };
}

function ruleContext(source: ManifestSource, options: RuleOptions, errors: Problem[], warnings: Problem[]): Rules | undefined {
  const rejected = options.rejected ?? (() => false);
  const error = (path: ManifestPath, message: string) => {
    if (!rejected(formatPath(path))) errors.push(source.problem(path, message));
  };
  const warn = (path: ManifestPath, message: string) => {
    if (!rejected(formatPath(path))) warnings.push(source.problem(path, message));
  };
  const root = rec(source.data);
  if (!root) return undefined;
  const defaults = rec(root.defaults) ?? {};
  const declared = new Set(strings(rec(root.r)?.versions));
  const rawLayers = Array.isArray(root.layers) ? root.layers : [];
  const bucketTemplate = typeof rec(root.artifacts)?.bucket === "string" ? (rec(root.artifacts)?.bucket as string) : "";

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
  // What a layer's zip holds for certain: its own packages, and the runtime's for a runtime layer.
  const provided = new Map<LayerView, Set<string>>();
  const provides = (layer: LayerView): Set<string> => {
    let set = provided.get(layer);
    if (!set) {
      set = new Set([...strings(layer.raw.packages), ...(layer.type === "runtime" ? RUNTIME_PACKAGES : [])]);
      provided.set(layer, set);
    }
    return set;
  };

  const effective = (layer: LayerView, key: string): unknown => layer.raw[key] ?? defaults[key];
  const rVersionsOf = (layer: LayerView): string[] =>
    layer.raw.r !== undefined ? strings(layer.raw.r) : defaults.r !== undefined ? strings(defaults.r) : [...declared];
  const archesOf = (layer: LayerView): Arch[] => {
    const a = effective(layer, "architectures");
    return (a === undefined ? [...DEFAULT_ARCHITECTURES] : strings(a).filter((x) => x === "x86_64" || x === "arm64")) as Arch[];
  };

  return { source, options, root, defaults, declared, layers, byName, runtimeNames, bucketTemplate, rejected, error, warn, effective, rVersionsOf, archesOf, provides };
}

/** Names: unique, and short enough for Lambda once the R version and arch are appended. */
function checkLayerNames({ source, layers, byName, error }: Rules): void {
  for (const layer of layers) {
    if (layer.name === undefined) continue;
    const first = byName.get(layer.name);
    if (first) {
      const at = source.locate(["layers", first.index, "name"]);
      error(["layers", layer.index, "name"], `layer name ${quote(layer.name)} is already used (line ${at.line})`);
      continue;
    }
    byName.set(layer.name, layer);
  }

}

/** R versions a default or a layer targets must be declared under r.versions. */
function checkDeclaredVersions({ defaults, declared, layers, error }: Rules): void {
  const checkDeclared = (path: ManifestPath, versions: unknown) => {
    strings(versions).forEach((v, i) => {
      if (!declared.has(v)) {
        error([...path, i], `R version ${quote(v)} is not declared under r.versions (declared: ${[...declared].join(", ") || "none"})`);
      }
    });
  };
  if (defaults.r !== undefined) checkDeclared(["defaults", "r"], defaults.r);


  for (const layer of layers) if (layer.raw.r !== undefined) checkDeclared(["layers", layer.index, "r"], layer.raw.r);
}

/** The published name and each version's description must fit Lambda's limits. */
function checkLambdaLimits({ rVersionsOf, archesOf, bucketTemplate, error }: Rules, layer: LayerView): void {
  const at = (...rest: ManifestPath): ManifestPath => ["layers", layer.index, ...rest];
  if (layer.name !== undefined) {
    const longest = longestPublishedName(layer.name, rVersionsOf(layer), archesOf(layer));
    if (longest.length > LAYER_NAME_MAX) {
      error(
        at("name"),
        `published name ${quote(longest)} would be ${longest.length} characters; Lambda allows ${LAYER_NAME_MAX}`,
      );
    }
  }
  // What each published version's description holds (naming.versionDescription) must fit Lambda's limit.
  const description = longestVersionDescription(rVersionsOf(layer), archesOf(layer), pipelineOwner(bucketTemplate));
  if (description.length > DESCRIPTION_MAX) {
    error(at("r"), `a version's description would be ${description.length} characters; Lambda allows ${DESCRIPTION_MAX}`);
  }

}

/** Packages that can be installed, and the settings every layer needs. */
function checkPackagesAndSettings({ effective, error }: Rules, layer: LayerView): void {
  const at = (...rest: ManifestPath): ManifestPath => ["layers", layer.index, ...rest];
  strings(layer.raw.packages).forEach((pkg, i) => {
    if (BASE_PACKAGES.has(pkg)) error(at("packages", i), `${quote(pkg)} is part of R itself and cannot be installed`);
  });

  for (const key of ["regions", "repository"] as const) {
    if (effective(layer, key) === undefined) {
      error(at(), `layer ${layer.name === undefined ? layer.index : quote(layer.name)} has no ${key}: set "${key}" on the layer or under defaults`);
    }
  }

}

/**
 * Stacking: the named layers must exist, must not loop, and must cover every R version and
 * architecture this layer is built for (their libraries are what it builds against). The
 * default stacking (a package layer on the one runtime layer) is held to the same rule.
 */
function checkStacking({ byName, runtimeNames, rVersionsOf, archesOf, error }: Rules, layer: LayerView): void {
  const at = (...rest: ManifestPath): ManifestPath => ["layers", layer.index, ...rest];
  const stacksOn = layer.raw.stacksOn;
  if (stacksOn === undefined && layer.type === "packages" && runtimeNames.length > 1) {
    error(
      at(),
      `layer ${layer.name === undefined ? layer.index : quote(layer.name)} must say which runtime layer it stacks on ("stacksOn"): there are ${runtimeNames.length} (${some(runtimeNames.map(quote))})`,
    );
  }
  const missingIn = (target: LayerView) => {
    const targetR = new Set(rVersionsOf(target));
    const targetArch = new Set(archesOf(target));
    return { r: rVersionsOf(layer).filter((v) => !targetR.has(v)), arch: archesOf(layer).filter((a) => !targetArch.has(a)) };
  };
  if (stacksOn === undefined) {
    for (const other of layer.stacksOn) {
      const target = byName.get(other);
      if (!target) continue;
      const missing = missingIn(target);
      const what = (items: string[]) => `stacks on ${quote(other)} (by default), which is not built for ${items.join(", ")}`;
      // Point at the layer's own list entry when it has one, else at the layer's name.
      const inherited: string[] = [];
      for (const [key, items, label] of [
        ["r", missing.r, (v: string) => `R ${v}`],
        ["architectures", missing.arch, (a: string) => a],
      ] as const) {
        const own = layer.raw[key] === undefined ? undefined : strings(layer.raw[key]);
        for (const item of items) {
          const i = own?.indexOf(item) ?? -1;
          if (own && i >= 0) error(at(key, i), what([label(item)]));
          else inherited.push(label(item));
        }
      }
      if (inherited.length) error(layer.name === undefined ? at() : at("name"), what(inherited));
    }
  }
  strings(stacksOn).forEach((other, i) => {
    const target = byName.get(other);
    if (other === layer.name) {
      error(at("stacksOn", i), `a layer cannot stack on itself`);
    } else if (!target) {
      error(at("stacksOn", i), `no layer named ${quote(other)} in this manifest`);
    } else {
      const missing = missingIn(target);
      if (missing.r.length || missing.arch.length) {
        error(
          at("stacksOn", i),
          `${quote(other)} is not built for ${[...missing.r.map((v) => `R ${v}`), ...missing.arch].join(", ")}, which ${quote(layer.name ?? "")} needs`,
        );
      }
    }
  });

}

/** A packages layer must add something over the layers below it, or its build has nothing to zip. */
function checkAddsSomething({ byName, provides, error }: Rules, layer: LayerView): void {
  const at = (...rest: ManifestPath): ManifestPath => ["layers", layer.index, ...rest];
  if (layer.type === "packages" && strings(layer.raw.systemLibraries).length === 0) {
    const packages = strings(layer.raw.packages);
    if (packages.length === 0) {
      error(
        layer.raw.packages !== undefined ? at("packages") : layer.name !== undefined ? at("name") : at(),
        `nothing to build: a packages layer needs packages (or systemLibraries)`,
      );
    } else {
      // Stops at the first package no layer below provides (the usual case: at once).
      const below = layer.stacksOn.flatMap((other) => {
        const target = byName.get(other);
        return target && target !== layer ? [target] : [];
      });
      const from: string[] = [];
      for (const pkg of packages) {
        const source = below.find((b) => provides(b).has(pkg));
        if (!source) break;
        from.push(`${quote(pkg)} from ${quote(source.name ?? "")}`);
      }
      if (from.length === packages.length) {
        error(
          at("packages"),
          `adds nothing over its stack: every package comes from a layer below (${some(from)}); the build would have nothing to put in the layer`,
        );
      }
    }
  }
}

/** Repositories: https (http only on the loopback, file:// only when allowed), and dated snapshots. */
function checkRepositories({ defaults, layers, options, error, warn }: Rules): void {
  const repoPaths: [ManifestPath, unknown][] = [
    [["defaults", "repository"], defaults.repository],
    ...layers.map((l): [ManifestPath, unknown] => [["layers", l.index, "repository"], l.raw.repository]),
  ];
  for (const [path, repo] of repoPaths) {
    if (typeof repo !== "string") continue;
    // The form is the schema's (exactly what the build script accepts); the scheme is policy.
    if (repo.startsWith("http://") && !LOOPBACK_HTTP.test(repo)) {
      error(path, `plain http is allowed only for a loopback address (127.0.0.1, localhost): packages are code, fetch them over https`);
    } else if (repo.startsWith("file://") && options.allowFileRepositories !== true) {
      error(
        path,
        `file:// repositories are read on the machine that builds, so only local builds can use them: plan or reconcile with --backend local --allow-file-repository`,
      );
    }
    if (!PINNED_REPOSITORY.test(repo)) {
      warn(
        path,
        `repository ${quote(repo)} is not pinned to a dated snapshot (e.g. https://packagemanager.posit.co/cran/2024-11-01): the same build key may install different package versions`,
      );
    }
  }

}

/** Build images should be pinned by digest, or the same key can build from different bytes. */
function checkImages({ root, warn }: Rules): void {
  // (Images not set here are the defaults, tags of AWS's build images: warned about at builder.)
  const images = rec(rec(root.builder)?.images) ?? {};
  for (const [arch, image] of Object.entries(images)) {
    if (typeof image === "string" && !/@sha256:[0-9a-f]{64}$/.test(image)) {
      warn(["builder", "images", arch], `image ${quote(image)} is not pinned by digest (${quote(`${image.replace(/:[^/:@]*$/, "")}@sha256:…`)}): the same build key may build from different bytes`);
    }
  }
  if (rec(root.builder) && Object.keys(images).length < 2) {
    warn(["builder"], "the default build images are tags (public.ecr.aws/sam/build-provided.al2023:latest-*), not digests: set builder.images to image@sha256:… so a build key names the image its bytes come from");
  }

}

/**
 * One bucket name cannot serve several regions: Lambda reads layer content from its own region.
 * Every region's expanded name must be one S3 accepts.
 */
function checkBucket({ root, layers, effective, rejected, error }: Rules): void {
  const artifacts = rec(root.artifacts);
  if (artifacts && typeof artifacts.bucket === "string") {
    const template = artifacts.bucket;
    const regions = new Set<string>();
    for (const layer of layers) {
      const own = layer.raw.regions !== undefined;
      strings(effective(layer, "regions")).forEach((r, i) => {
        if (!rejected(formatPath(own ? ["layers", layer.index, "regions", i] : ["defaults", "regions", i]))) regions.add(r);
      });
    }
    const builderRegion = rec(root.builder)?.region;
    if (typeof builderRegion === "string" && !rejected("builder.region")) regions.add(builderRegion);
    if (regions.size > 1 && !template.includes("{region}")) {
      error(
        ["artifacts", "bucket"],
        `the bucket has no {region}, but layers target ${regions.size} regions and Lambda needs a bucket in each layer's region`,
      );
    }
    const stripped = template.replaceAll("{region}", "");
    if (/[{}]/.test(stripped)) {
      error(["artifacts", "bucket"], `only {region} may be used in the bucket template`);
    } else {
      // One problem per rule broken, naming the first region whose bucket breaks it.
      const broken = new Map<string, { name: string; region: string; count: number }>();
      for (const region of template.includes("{region}") ? [...regions].sort() : [undefined]) {
        const name = region === undefined ? template : bucketName(template, region);
        const rule = s3BucketNameProblem(name);
        if (rule === undefined) continue;
        const seen = broken.get(rule);
        if (seen) seen.count += 1;
        else broken.set(rule, { name, region: region ?? "", count: 1 });
      }
      for (const [rule, { name, region, count }] of broken) {
        const where = region ? ` (the bucket for ${region}${count > 1 ? ` and ${count - 1} more region${count > 2 ? "s" : ""}` : ""})` : "";
        error(["artifacts", "bucket"], `${quote(name)}${where} ${rule}`);
      }
    }
  }

}

/** A declared R version no layer targets would never be built: say so rather than ignore it. */
function checkUnusedVersions({ root, layers, rVersionsOf, warn }: Rules): void {
  const targeted = new Set(layers.flatMap(rVersionsOf));
  strings(rec(root.r)?.versions).forEach((v, i) => {
    if (!targeted.has(v)) warn(["r", "versions", i], `R version ${quote(v)} is declared but no layer targets it, so it is not built`);
  });

}

/** Parameter Store's limits on a name (PutParameter): the whole name, its depth, its first segment, its characters. */
export const PARAMETER_NAME_MAX = 1011;
export const PARAMETER_DEPTH_MAX = 15;
const PARAMETER_CHARACTERS = /^[A-Za-z0-9_.\-/]+$/;

/**
 * The parameters a reconcile writes (`outputs.parameters`) must be names Parameter Store accepts:
 * the prefix's first segment is not `aws` or `ssm` (reserved), and every layer's longest name
 * (prefix, layer, R version, architecture) fits the length and depth limits.
 */
function checkParameterNames(
  root: Rec,
  layers: readonly LayerView[],
  rVersionsOf: (layer: LayerView) => string[],
  archesOf: (layer: LayerView) => Arch[],
  error: (path: ManifestPath, message: string) => void,
  rejected: (path: string) => boolean,
): void {
  const parameters = rec(root.outputs)?.parameters;
  if (parameters === false || rejected("outputs.parameters") || rejected("outputs.parameters.prefix")) return;
  const raw = rec(parameters)?.prefix;
  const prefix = typeof raw === "string" ? raw : DEFAULT_PARAMETER_PREFIX;
  const at: ManifestPath = typeof raw === "string" ? ["outputs", "parameters", "prefix"] : ["outputs"];
  const first = prefix.split("/")[1] ?? "";
  if (/^(aws|ssm)/i.test(first)) {
    error(at, `Parameter Store reserves names that begin with "aws" or "ssm" (any case); choose another first segment than ${quote(first)}`);
    return;
  }
  for (const layer of layers) {
    if (layer.name === undefined) continue;
    const longest = longestParameterName(prefix, layer.name, rVersionsOf(layer), archesOf(layer));
    const where = typeof raw === "string" ? at : ["layers", layer.index, "name"];
    if (!PARAMETER_CHARACTERS.test(longest)) {
      error(where, `parameter name ${quote(longest)} has characters Parameter Store does not allow: letters, digits, "_", ".", "-" and "/" only`);
    } else if (longest.length > PARAMETER_NAME_MAX) {
      error(where, `parameter name ${quote(longest)} would be ${longest.length} characters; Parameter Store allows ${PARAMETER_NAME_MAX}`);
    } else if (longest.split("/").length - 1 > PARAMETER_DEPTH_MAX) {
      error(where, `parameter name ${quote(longest)} would be ${longest.split("/").length - 1} levels deep; Parameter Store allows ${PARAMETER_DEPTH_MAX}`);
    }
  }
}

/**
 * A function using a layer attaches it and every layer below it; Lambda attaches at most
 * LAYERS_PER_FUNCTION. Each layer's stack is followed only until it passes that limit.
 */
function checkLayersPerFunction(
  layers: readonly LayerView[],
  byName: Map<string, LayerView>,
  error: (path: ManifestPath, message: string) => void,
): void {
  const below = new Map<LayerView, LayerView[]>();
  for (const layer of layers) {
    below.set(layer, layer.stacksOn.flatMap((n) => (byName.get(n) && byName.get(n) !== layer ? [byName.get(n) as LayerView] : [])));
  }
  for (const layer of layers) {
    if (layer.name === undefined || layer.stacksOn.length === 0) continue;
    const needed = new Set<LayerView>([layer]);
    const queue = [layer];
    for (let q = 0; q < queue.length && needed.size <= LAYERS_PER_FUNCTION; q++) {
      for (const target of below.get(queue[q] as LayerView) ?? []) {
        if (needed.has(target)) continue;
        needed.add(target);
        queue.push(target);
        if (needed.size > LAYERS_PER_FUNCTION) break;
      }
    }
    if (needed.size > LAYERS_PER_FUNCTION) {
      const path: ManifestPath = layer.raw.stacksOn !== undefined ? ["layers", layer.index, "stacksOn"] : ["layers", layer.index, "name"];
      error(
        path,
        `a function using this layer needs at least ${needed.size} layers (${[...needed].map((l) => quote(l.name ?? "")).join(", ")}, …); Lambda allows ${LAYERS_PER_FUNCTION} per function`,
      );
    }
  }
}

/** Loops in stacking, found with an explicit stack (a long chain must not overflow the call stack). */
function checkStackCycles(
  layers: readonly LayerView[],
  byName: Map<string, LayerView>,
  error: (path: ManifestPath, message: string) => void,
): void {
  const state = new Map<LayerView, "visiting" | "done">();
  for (const start of layers) {
    if (start.name === undefined || state.has(start)) continue;
    const trail: LayerView[] = [];
    const position = new Map<LayerView, number>();
    const work: { layer: LayerView; next: number }[] = [{ layer: start, next: 0 }];
    state.set(start, "visiting");
    position.set(start, 0);
    trail.push(start);
    while (work.length > 0) {
      const top = work[work.length - 1] as { layer: LayerView; next: number };
      const other = top.layer.stacksOn[top.next++];
      if (other === undefined) {
        state.set(top.layer, "done");
        position.delete(top.layer);
        trail.pop();
        work.pop();
        continue;
      }
      const target = byName.get(other);
      if (!target || target === top.layer || target.name === undefined) continue;
      const mark = state.get(target);
      if (mark === "done") continue;
      if (mark === "visiting") {
        const cycle = [...trail.slice(position.get(target) ?? 0), target].map((l) => quote(l.name ?? ""));
        error(["layers", target.index, "stacksOn"], `layers stack on each other in a loop: ${cycle.join(" → ")}`);
        continue;
      }
      state.set(target, "visiting");
      position.set(target, trail.length);
      trail.push(target);
      work.push({ layer: target, next: 0 });
    }
  }
}
