/**
 * The YAML text of a manifest kept alongside its data, so any problem found later (by the schema
 * or a semantic rule) can be pointed at the line and column it comes from.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node } from "yaml";
import type { Problem } from "../errors.ts";

export type PathSegment = string | number;
export type ManifestPath = readonly PathSegment[];

export interface ManifestSource {
  readonly file: string;
  readonly data: unknown;
  /** Problems of the YAML itself (syntax, duplicate keys). When there are any, `data` is not usable. */
  readonly syntaxProblems: readonly Problem[];
  /** Where a value lives; `keyOf` points at the key of a mapping entry instead of its value. */
  locate(path: ManifestPath, options?: { keyOf?: boolean }): { line: number; column: number };
  problem(path: ManifestPath, message: string, options?: { keyOf?: boolean }): Problem;
}

/** `layers[2].packages[0]`, the form paths take in messages. */
export function formatPath(path: ManifestPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

function nodeAt(doc: Document, path: ManifestPath, keyOf: boolean): Node | undefined {
  let node: unknown = doc.contents;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return node as Node;
      if (last && keyOf) return pair.key as Node;
      node = pair.value ?? pair.key;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (item === undefined) return node as Node;
      node = item;
    } else {
      return node as Node | undefined;
    }
  }
  return node as Node | undefined;
}

export function parseManifestSource(text: string, file: string): ManifestSource {
  // Line ends must not change positions or content: CRLF files are read as LF.
  const normalized = text.replace(/\r\n?/g, "\n");
  const lineCounter = new LineCounter();
  const doc = parseDocument(normalized, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });

  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  const syntaxProblems: Problem[] = [...doc.errors, ...doc.warnings].map((e) => {
    const at = position(e.pos[0]);
    return { file, ...at, path: "", message: e.message.split("\n")[0] ?? e.message };
  });

  let data: unknown;
  if (syntaxProblems.length === 0) {
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (error) {
      syntaxProblems.push({ file, line: 1, column: 1, path: "", message: (error as Error).message });
    }
  }

  const locate: ManifestSource["locate"] = (path, options) => {
    const node = nodeAt(doc, path, options?.keyOf ?? false);
    const offset = node?.range?.[0] ?? 0;
    return position(offset);
  };

  return {
    file,
    data,
    syntaxProblems,
    locate,
    problem: (path, message, options) => ({ file, ...locate(path, options), path: formatPath(path), message }),
  };
}
