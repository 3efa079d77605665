/**
 * Reading a manifest: its bytes (UTF-8 only), YAML syntax, then the JSON Schema, then the
 * semantic rules. Problems from all of them are reported together; a manifest with any problem
 * yields no `Manifest` at all.
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

export interface ManifestOptions {
  /**
   * Accept `file://` repositories. Only local builds can read them (`--allow-file-repository`
   * with `--backend local`); a CodeBuild build has no such folder.
   */
  readonly allowFileRepositories?: boolean;
}

const MAX_SYNTAX_PROBLEMS = 5;

const byPosition = (problems: Problem[]) => problems.sort((a, b) => a.line - b.line || a.column - b.column);

/** Pure: text in, manifest (or a ManifestError listing every problem) out. */
export function parseManifest(text: string, file: string, options: ManifestOptions = {}): Manifest {
  const source = parseManifestSource(text, file);
  if (source.syntaxProblems.length > 0) {
    // One YAML mistake can make the parser report every token after it; the first few say it all.
    const shown = source.syntaxProblems.slice(0, MAX_SYNTAX_PROBLEMS);
    const hidden = source.syntaxProblems.length - shown.length;
    throw new ManifestError(shown, hidden > 0 ? `${hidden} more YAML errors follow from these` : undefined);
  }

  const schema = schemaProblems(source);
  // A value the schema refused is reported once, by the schema: rules say nothing more about it.
  const rules = checkRules(source, { ...options, rejected: (path) => schema.rejected.has(path) });
  const problems = byPosition([...schema.problems, ...rules.errors]);
  if (problems.length > 0) throw new ManifestError(problems);
  return resolveManifest(source.data as RawManifest, file, byPosition(rules.warnings).map(formatProblem));
}

/** The offset of the first byte that is not part of well-formed UTF-8, or -1. */
function firstBadUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i += 1;
      continue;
    }
    // Lead byte: how many continuation bytes, and the range the second byte must fall in
    // (excludes overlong forms, surrogates and code points above U+10FFFF).
    let n: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += n + 1;
  }
  return -1;
}

/** Bytes in: the text, or a ManifestError at the first byte that is not UTF-8 (never a silent replacement). */
export function decodeManifest(bytes: Uint8Array, file: string): string {
  const bad = firstBadUtf8(bytes);
  if (bad < 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  const before = Buffer.from(bytes.buffer, bytes.byteOffset, bad).toString("utf8");
  const lines = before.split(/\r\n?|\n/);
  const column = (lines[lines.length - 1] ?? "").length + 1;
  const hex = (bytes[bad] as number).toString(16).padStart(2, "0");
  throw new ManifestError([
    { file, line: lines.length, column, path: "", message: `the manifest is not valid UTF-8: byte 0x${hex} cannot start or continue a character here (save the file as UTF-8)` },
  ]);
}

export async function loadManifest(file: string, options: ManifestOptions = {}): Promise<Manifest> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    throw new PipelineError("MANIFEST_UNREADABLE", `cannot read manifest ${file}: ${reason}`, { cause: error });
  }
  return parseManifest(decodeManifest(bytes, file), file, options);
}
