/**
 * The one way the pipeline compiles a JSON Schema: ajv in strict mode with every error reported,
 * compiled once per schema and kept. The manifest, the buildspecs and every state file read back
 * are checked through here.
 */
import { readFileSync } from "node:fs";
import { Ajv } from "ajv";
import type { ValidateFunction } from "ajv";

export type { ErrorObject, ValidateFunction } from "ajv";

const compiled = new Map<string, ValidateFunction>();

export interface SchemaOptions {
  /** Let a `type` keyword list several types (the buildspec format needs it). */
  readonly allowUnionTypes?: boolean;
  /** Keep the failing value and schema on each error (for messages that quote them). */
  readonly verbose?: boolean;
}

/** A validator for a schema given as a file or as data; `id` names it in the cache. */
export function schemaValidator(id: string, schema: URL | object, options: SchemaOptions = {}): ValidateFunction {
  let validate = compiled.get(id);
  if (!validate) {
    const data = schema instanceof URL ? (JSON.parse(readFileSync(schema, "utf8")) as object) : schema;
    const ajv = new Ajv({ allErrors: true, strict: true, verbose: options.verbose ?? false, allowUnionTypes: options.allowUnionTypes ?? false });
    // A human wording for patterns, read when reporting; editors ignore it.
    ajv.addKeyword({ keyword: "x-hint", schemaType: "string" });
    validate = ajv.compile(data);
    compiled.set(id, validate);
  }
  return validate;
}
