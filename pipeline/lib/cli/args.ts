/**
 * Command-line parsing shared by the entry points: the options every command takes (manifest,
 * backend, state, help) and strict parsing that turns a mistake into a usage error.
 */
import { parseStrict } from "../util/parse-args.ts";
import type { ParseArgsConfig } from "node:util";
import { UsageError } from "../errors.ts";
import { defaultStateDir } from "./backend.ts";
import type { BackendName } from "./backend.ts";

export interface CommonOptions {
  manifest: string;
  backend: BackendName;
  state: string;
  help: boolean;
  /** Accept `file://` repositories in the manifest (local backend only: a CodeBuild build cannot read the folder). */
  allowFileRepository?: boolean;
}

type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

const COMMON: OptionSpec = {
  manifest: { type: "string" },
  backend: { type: "string" },
  state: { type: "string" },
  help: { type: "boolean", short: "h" },
  "allow-file-repository": { type: "boolean" },
};

export const COLOUR_OPTIONS: OptionSpec = { color: { type: "boolean" }, "no-color": { type: "boolean" } };

export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, not "${value}"`);
}

export function wholeNumber(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a whole number, not "${value}"`);
  return Number(value);
}

/** Colour on a terminal unless NO_COLOR, overridden by --color / --no-color. */
export function colourFrom(values: Record<string, unknown>, env: NodeJS.ProcessEnv, isTty: boolean): boolean {
  if (values["no-color"] === true) return false;
  if (values.color === true) return true;
  return isTty && !env.NO_COLOR;
}

/** Parses strictly; returns the common options resolved and the command's own raw values. */
export function parseCommand(
  argv: readonly string[],
  usage: string,
  options: OptionSpec,
): { common: CommonOptions; values: Record<string, string | boolean | undefined> } {
  const { values } = parseStrict(argv, usage, { ...COMMON, ...options });
  const str = (name: string) => (typeof values[name] === "string" ? (values[name] as string) : undefined);
  const manifest = str("manifest") ?? "layers.yaml";
  const backend = oneOf("--backend", str("backend") ?? "local", ["local", "aws"] as const);
  const allowFileRepository = values["allow-file-repository"] === true;
  if (allowFileRepository && backend !== "local") {
    throw new UsageError("--allow-file-repository applies to the local backend only: a CodeBuild build cannot read a folder on this machine");
  }
  return {
    common: {
      manifest,
      backend,
      state: str("state") ?? defaultStateDir(manifest),
      help: values.help === true,
      ...(allowFileRepository ? { allowFileRepository } : {}),
    },
    values: values as Record<string, string | boolean | undefined>,
  };
}
