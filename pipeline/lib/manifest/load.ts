/**
 * Reading a manifest: YAML syntax, then the JSON Schema, then the semantic rules. Problems from
 * all three are reported together; a manifest with any problem yields no `Manifest` at all.
 */
import { readFile } from "node:fs/promises";
import { ManifestError, PipelineError, formatProblem } from "../errors.ts";
import type { Problem } from "../errors.ts";
import { checkRules } from "./rules.ts";
import { resolveManifest } from "./resolve.ts";
import type { RawManifest } from "./resolve.ts";
import { schemaProblems } from "./schema.ts";
import { parseManifestSource } from "./source.ts";
import type { Manifest } from "./types.ts";

const MAX_SYNTAX_PROBLEMS = 5;

const byPosition = (problems: Problem[]) => problems.sort((a, b) => a.line - b.line || a.column - b.column);

/** Pure: text in, manifest (or a ManifestError listing every problem) out. */
export function parseManifest(text: string, file: string): Manifest {
  const source = parseManifestSource(text, file);
  if (source.syntaxProblems.length > 0) {
    // One YAML mistake can make the parser report every token after it; the first few say it all.
    const shown = source.syntaxProblems.slice(0, MAX_SYNTAX_PROBLEMS);
    const hidden = source.syntaxProblems.length - shown.length;
    throw new ManifestError(shown, hidden > 0 ? `${hidden} more YAML errors follow from these` : undefined);
  }

  const rules = checkRules(source);
  const problems = byPosition([...schemaProblems(source), ...rules.errors]);
  if (problems.length > 0) throw new ManifestError(problems);
  return resolveManifest(source.data as RawManifest, file, byPosition(rules.warnings).map(formatProblem));
}

export async function loadManifest(file: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new PipelineError("MANIFEST_UNREADABLE", `cannot read manifest ${file}: ${reason}`, { cause: error });
  }
  return parseManifest(text, file);
}
