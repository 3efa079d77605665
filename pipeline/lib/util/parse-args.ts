/** Strict command-line parsing for every entry point: an unknown or malformed option is a usage error with the usage text. */
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.ts";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export function parseStrict<const O extends OptionSpec>(argv: readonly string[], usage: string, options: O, allowPositionals = false) {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals, options });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${usage}`);
  }
}
