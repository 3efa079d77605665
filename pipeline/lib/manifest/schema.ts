/**
 * Validates manifest data against `schema/layers.schema.json` and turns ajv's findings into
 * problems a person can act on, each pinned to the line and column of the offending value.
 */
import { schemaValidator } from "../util/json-schema.ts";
import type { ErrorObject, ValidateFunction } from "../util/json-schema.ts";
import type { Problem } from "../errors.ts";
import { quote, show } from "./quote.ts";
import { formatPath } from "./source.ts";
import type { ManifestPath, ManifestSource } from "./source.ts";

export const SCHEMA_PATH = new URL("../../../schema/layers.schema.json", import.meta.url);

function validator(): ValidateFunction {
  // Union types: `outputs.parameters` is a mapping or true/false.
  return schemaValidator("layers", SCHEMA_PATH, { verbose: true, allowUnionTypes: true });
}

function pathOf(instancePath: string): (string | number)[] {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split("/")
    .map((raw) => raw.replaceAll("~1", "/").replaceAll("~0", "~"))
    .map((seg) => (/^(0|[1-9][0-9]*)$/.test(seg) ? Number(seg) : seg));
}

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return `a ${typeof value}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: "a string",
  integer: "a whole number",
  number: "a number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
};

function describe(e: ErrorObject): { path: ManifestPath; message: string; keyOf?: boolean } {
  const path = pathOf(e.instancePath);
  const hint = (e.parentSchema as Record<string, unknown> | undefined)?.["x-hint"];
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case "additionalProperties": {
      const key = String(params.additionalProperty);
      const known = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}).filter(
        (k) => k !== "$schema",
      );
      // The path ends in the key, so the message does not repeat it.
      return {
        path: [...path, key],
        keyOf: true,
        message: `unknown key${known.length ? ` (expected one of: ${known.join(", ")})` : ""}`,
      };
    }
    case "required":
      return { path, message: `missing required key ${quote(String(params.missingProperty))}` };
    case "type":
      return {
        path,
        message: `expected ${String(params.type).split(",").map((t) => TYPE_WORDS[t] ?? t).join(" or ")}, got ${typeName(e.data)}${
          typeof hint === "string" ? `: write ${hint}` : ""
        }`,
      };
    case "pattern":
      return { path, message: `${show(e.data)} is not ${typeof hint === "string" ? hint : `matching ${String(params.pattern)}`}` };
    case "enum":
      return {
        path,
        message: `${show(e.data)} is not one of: ${(params.allowedValues as unknown[]).map((v) => String(v)).join(", ")}`,
      };
    case "const":
      return { path, message: `must be ${show(params.allowedValue)}` };
    case "uniqueItems": {
      // ajv names the pair in either order, depending on how it compared them.
      const later = Math.max(Number(params.i), Number(params.j));
      const earlier = Math.min(Number(params.i), Number(params.j));
      const items = e.data as unknown[];
      return {
        path: [...path, later],
        message: `${show(items[later])} is listed twice (also item ${earlier + 1})`,
      };
    }
    case "minItems":
      return { path, message: `must list at least ${String(params.limit)} item${params.limit === 1 ? "" : "s"}` };
    case "minimum":
    case "maximum":
      return { path, message: `must be ${e.keyword === "minimum" ? "at least" : "at most"} ${String(params.limit)}` };
    case "maxLength":
      return { path, message: `is longer than ${String(params.limit)} characters` };
    default:
      return { path, message: e.message ?? `fails ${e.keyword}` };
  }
}

export interface SchemaFindings {
  readonly problems: Problem[];
  /** Paths (as formatted in problems) of values the schema refused, so the rules need not speak of them again. */
  readonly rejected: ReadonlySet<string>;
}

export function schemaProblems(source: ManifestSource): SchemaFindings {
  const validate = validator();
  const rejected = new Set<string>();
  if (validate(source.data)) return { problems: [], rejected };
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const error of validate.errors ?? []) {
    const { path, message, keyOf } = describe(error);
    // A missing key is a problem of the mapping, not of any value in it.
    if (error.keyword !== "required") rejected.add(formatPath(path));
    const id = `${formatPath(path)}\u0000${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    problems.push(source.problem(path, message, { keyOf }));
  }
  return { problems, rejected };
}
