/**
 * CodeBuild buildspecs: parsing, validation against `schema/buildspec.schema.json` (the 0.2
 * format as AWS's reference describes it), and the narrower subset the local runner carries
 * out. A key the runner does not implement is an error, never silently ignored: a build that
 * passes locally must not depend on something only CodeBuild would have done.
 */
import { readFile } from "node:fs/promises";
import { schemaValidator } from "../util/json-schema.ts";
import type { ErrorObject, ValidateFunction } from "../util/json-schema.ts";
import { parseDocument } from "yaml";
import { PipelineError } from "../errors.ts";

export const BUILDSPEC_SCHEMA_PATH = new URL("../../../schema/buildspec.schema.json", import.meta.url);

export const PHASES = ["install", "pre_build", "build", "post_build"] as const;
export type PhaseName = (typeof PHASES)[number];

export type OnFailure = "ABORT" | "CONTINUE";
export type Shell = "bash" | "/bin/sh";

export interface Phase {
  readonly commands: readonly string[];
  readonly finally: readonly string[];
  /** Undefined when the buildspec does not say: CodeBuild's default phase transitions apply. */
  readonly onFailure?: OnFailure;
}

/** The part of a buildspec the local runner implements, in a typed form. */
export interface Buildspec {
  readonly version: "0.2";
  readonly shell: Shell;
  /** `env.variables`, values as strings (YAML numbers and booleans as written). */
  readonly variables: Readonly<Record<string, string>>;
  readonly exportedVariables: readonly string[];
  readonly phases: Readonly<Partial<Record<PhaseName, Phase>>>;
}

/** One finding, `path: message`, with a dotted path into the buildspec. */
export interface BuildspecProblem {
  readonly path: string;
  readonly message: string;
}

export class BuildspecError extends PipelineError {
  readonly file: string;
  readonly problems: readonly BuildspecProblem[];

  constructor(file: string, problems: readonly BuildspecProblem[]) {
    const lines = problems.map((p) => `  ${p.path || "(root)"}: ${p.message}`).join("\n");
    super("BUILD_FAILED", `${file}: ${problems.length} problem${problems.length === 1 ? "" : "s"} in the buildspec\n${lines}`);
    this.name = "BuildspecError";
    this.file = file;
    this.problems = problems;
  }
}

function validator(): ValidateFunction {
  return schemaValidator("buildspec", BUILDSPEC_SCHEMA_PATH, { allowUnionTypes: true });
}

function dotted(instancePath: string): string {
  return instancePath
    .slice(1)
    .split("/")
    .filter((s) => s !== "")
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"))
    .join(".");
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function describe(e: ErrorObject): BuildspecProblem {
  const path = dotted(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties":
      return { path: join(path, String(params.additionalProperty)), message: "is not a buildspec key" };
    case "required":
      return { path: join(path, String(params.missingProperty)), message: "is required" };
    case "enum":
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}` };
    case "propertyNames":
      return { path: join(path, String(params.propertyName)), message: "is not an allowed name" };
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

/** Schema validation only: every problem, in document order of paths. */
export function validateBuildspec(value: unknown): BuildspecProblem[] {
  const validate = validator();
  if (validate(value)) return [];
  const seen = new Set<string>();
  const problems: BuildspecProblem[] = [];
  for (const e of validate.errors ?? []) {
    // propertyNames reports once for the name and once for the pattern; keep one of each path.
    if (e.keyword === "pattern" && e.propertyName !== undefined) continue;
    const p = describe(e);
    const id = `${p.path}\u0000${p.message}`;
    if (!seen.has(id)) {
      seen.add(id);
      problems.push(p);
    }
  }
  return problems;
}

/** Parses YAML text; syntax errors become problems rather than exceptions. */
export function parseBuildspecYaml(text: string): { value: unknown; problems: BuildspecProblem[] } {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { value: undefined, problems: doc.errors.map((e) => ({ path: "", message: `YAML: ${e.message}` })) };
  }
  return { value: doc.toJS() as unknown, problems: [] };
}

const IMPLEMENTED: Readonly<Record<string, readonly string[]>> = {
  "": ["version", "env", "phases"],
  env: ["shell", "variables", "exported-variables"],
  phase: ["commands", "finally", "on-failure"],
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * What the local runner cannot do for a schema-valid buildspec: each key outside the subset it
 * implements, and values it does not support (version 0.1, a Windows shell, RETRY).
 */
export function unsupportedByRunner(value: unknown): BuildspecProblem[] {
  const problems: BuildspecProblem[] = [];
  if (!isRecord(value)) return [{ path: "", message: "a buildspec is a mapping" }];
  const notImplemented = (path: string): void => {
    problems.push({ path, message: "is not implemented by the local runner" });
  };
  for (const key of Object.keys(value)) if (!IMPLEMENTED[""]!.includes(key)) notImplemented(key);
  if (String(value.version) !== "0.2") {
    problems.push({ path: "version", message: "only version 0.2 is implemented by the local runner" });
  }
  const env = value.env;
  if (isRecord(env)) {
    for (const key of Object.keys(env)) if (!IMPLEMENTED.env!.includes(key)) notImplemented(`env.${key}`);
    if (env.shell !== undefined && env.shell !== "bash" && env.shell !== "/bin/sh") {
      problems.push({ path: "env.shell", message: "only bash and /bin/sh are implemented by the local runner" });
    }
  }
  const phases = value.phases;
  if (isRecord(phases)) {
    for (const [name, phase] of Object.entries(phases)) {
      if (!isRecord(phase)) continue;
      for (const key of Object.keys(phase)) if (!IMPLEMENTED.phase!.includes(key)) notImplemented(`phases.${name}.${key}`);
      const onFailure = phase["on-failure"];
      if (onFailure !== undefined && onFailure !== "ABORT" && onFailure !== "CONTINUE") {
        problems.push({ path: `phases.${name}.on-failure`, message: "only ABORT and CONTINUE are implemented by the local runner" });
      }
    }
  }
  return problems;
}

function toPhase(raw: Record<string, unknown>): Phase {
  const onFailure = raw["on-failure"] as OnFailure | undefined;
  return {
    commands: (raw.commands as string[] | undefined) ?? [],
    finally: (raw.finally as string[] | undefined) ?? [],
    ...(onFailure ? { onFailure } : {}),
  };
}

/**
 * Validates a parsed buildspec (schema, then the runner's subset) and returns its typed form.
 * Throws BuildspecError with every problem found.
 */
export function toBuildspec(value: unknown, file: string): Buildspec {
  const problems = validateBuildspec(value);
  if (problems.length === 0) problems.push(...unsupportedByRunner(value));
  if (problems.length > 0) throw new BuildspecError(file, problems);
  const raw = value as Record<string, unknown>;
  const env = (raw.env as Record<string, unknown> | undefined) ?? {};
  const variables: Record<string, string> = {};
  for (const [name, v] of Object.entries((env.variables as Record<string, unknown> | undefined) ?? {})) {
    variables[name] = String(v);
  }
  const phases: Partial<Record<PhaseName, Phase>> = {};
  const rawPhases = raw.phases as Record<string, Record<string, unknown>>;
  for (const name of PHASES) {
    const phase = rawPhases[name];
    if (phase) phases[name] = toPhase(phase);
  }
  return {
    version: "0.2",
    shell: (env.shell as Shell | undefined) ?? "/bin/sh",
    variables,
    exportedVariables: (env["exported-variables"] as string[] | undefined) ?? [],
    phases,
  };
}

export function parseBuildspec(text: string, file: string): Buildspec {
  const { value, problems } = parseBuildspecYaml(text);
  if (problems.length > 0) throw new BuildspecError(file, problems);
  return toBuildspec(value, file);
}

export async function loadBuildspec(file: string): Promise<Buildspec> {
  return parseBuildspec(await readFile(file, "utf8"), file);
}
