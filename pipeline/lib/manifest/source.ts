/**
 * The YAML text of a manifest kept alongside its data, so any problem found later (by the schema
 * or a semantic rule) can be pointed at the line and column it comes from.
 *
 * Reading is linear in the size of the text: data is built from the parsed document in one walk
 * (anchors looked up in a map, repeated keys found with a set, aliases counted as they expand),
 * and positions are found through an index of each mapping's keys built on first use.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node, Pair, YAMLMap } from "yaml";
import type { Problem } from "../errors.ts";
import { quote, sanitize } from "./quote.ts";

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

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `layers[2].packages[0]`, the form paths take in messages; a key that is not a plain word is JSON-quoted, `defaults["a b"]`. */
export function formatPath(path: ManifestPath): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (!IDENTIFIER.test(seg)) out += `[${quote(seg)}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

/**
 * How far aliases may expand the document: the nodes aliases copy may number four times the
 * nodes written so far, plus this. Real manifests reuse a share list or a defaults block a few
 * dozen times; an alias bomb (each level repeating the one before) passes the bound within a few
 * levels. Everything after reading (schema, rules) is then linear in the text too.
 */
const ALIAS_EXPANSION_ALLOWANCE = 100_000;

/** The one YAML directive a manifest may carry: YAML 1.1 would read `yes` as true, `010` as 8, `1:30` as 90. */
const ALLOWED_DIRECTIVE = /^%YAML[ \t]+1\.2[ \t]*(#.*)?$/;

class ManifestSyntax extends Error {
  readonly offset: number;
  constructor(offset: number, message: string) {
    super(message);
    this.offset = offset;
  }
}

const keyText = (value: unknown): string | undefined =>
  value === null ? "" : typeof value === "string" || typeof value === "number" || typeof value === "boolean" ? String(value) : undefined;

/** The document's data, built in one walk; throws ManifestSyntax for what YAML allows but a manifest does not. */
function buildData(doc: Document): unknown {
  const anchors = new Map<string, { value: unknown; size: number }>();
  let written = 0;
  let copied = 0;

  const build = (node: unknown): { value: unknown; size: number } => {
    let built: { value: unknown; size: number };
    if (node === null || node === undefined) {
      built = { value: null, size: 1 };
    } else if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (!target) throw new ManifestSyntax(node.range?.[0] ?? 0, `alias ${quote(`*${node.source}`)} has no anchor before it`);
      copied += target.size;
      if (copied > 4 * written + ALIAS_EXPANSION_ALLOWANCE) throw new ManifestSyntax(node.range?.[0] ?? 0, "aliases expand the manifest too far (an alias bomb?): write the values out");
      return target;
    } else if (isScalar(node)) {
      built = { value: node.value, size: 1 };
    } else if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const seen = new Map<string, number>();
      let size = 1;
      for (const pair of node.items) {
        const keyNode = pair.key as Node | null;
        const key = keyText(isScalar(keyNode) ? keyNode.value : keyNode === null ? null : undefined);
        const at = keyNode?.range?.[0] ?? 0;
        if (key === undefined) throw new ManifestSyntax(at, "a mapping key must be a plain value, not a list, mapping or alias");
        if (seen.has(key)) throw new ManifestSyntax(at, `map keys must be unique: ${quote(key)} is repeated`);
        seen.set(key, at);
        const value = build(pair.value);
        size += value.size;
        // `__proto__` is data here, never the object's prototype.
        Object.defineProperty(out, key, { value: value.value, enumerable: true, writable: true, configurable: true });
      }
      built = { value: out, size };
    } else if (isSeq(node)) {
      const out: unknown[] = [];
      let size = 1;
      for (const item of node.items) {
        const value = build(item);
        size += value.size;
        out.push(value.value);
      }
      built = { value: out, size };
    } else {
      throw new ManifestSyntax(0, "unexpected YAML node");
    }
    written += 1;
    const anchor = (node as Node).anchor;
    if (anchor) anchors.set(anchor, built);
    return built;
  };
  return build(doc.contents).value;
}

/** Each mapping's keys in a map, built the first time a position in it is asked for. */
const keyIndex = new WeakMap<YAMLMap, Map<string, Pair>>();
function pairIn(map: YAMLMap, seg: PathSegment): Pair | undefined {
  let index = keyIndex.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) {
      if (isPair(p) && isScalar(p.key)) {
        const k = keyText(p.key.value);
        if (k !== undefined && !index.has(k)) index.set(k, p);
      }
    }
    keyIndex.set(map, index);
  }
  return index.get(String(seg));
}

function nodeAt(doc: Document, path: ManifestPath, keyOf: boolean): Node | undefined {
  let node: unknown = doc.contents;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i] as PathSegment;
    const last = i === path.length - 1;
    if (isAlias(node)) return node;
    if (isMap(node)) {
      const pair = pairIn(node, seg);
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

/** The directive lines at the top of the text, with their offsets. */
function directives(text: string): { offset: number; line: string }[] {
  const found: { offset: number; line: string }[] = [];
  let offset = 0;
  while (offset < text.length) {
    const end = text.indexOf("\n", offset);
    const line = text.slice(offset, end < 0 ? text.length : end);
    const trimmed = line.trim();
    if (line.startsWith("%")) found.push({ offset, line });
    else if (trimmed !== "" && !trimmed.startsWith("#") && trimmed !== "\ufeff") break;
    if (end < 0) break;
    offset = end + 1;
  }
  return found;
}

export function parseManifestSource(text: string, file: string): ManifestSource {
  // Line ends must not change positions or content: CRLF files are read as LF.
  const normalized = text.replace(/\r\n?/g, "\n");
  const lineCounter = new LineCounter();
  // Repeated keys are found while building the data (the parser's own check is quadratic).
  const doc = parseDocument(normalized, { lineCounter, prettyErrors: false, uniqueKeys: false, strict: true, version: "1.2" });

  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const syntaxProblem = (offset: number, message: string): Problem => ({ file, ...position(offset), path: "", message: sanitize(message) });

  const syntaxProblems: Problem[] = [];
  for (const d of directives(normalized)) {
    if (!ALLOWED_DIRECTIVE.test(d.line)) {
      syntaxProblems.push(syntaxProblem(d.offset, `the directive ${quote(d.line)} is not allowed: a manifest is YAML 1.2 (write %YAML 1.2 or no directive)`));
    }
  }
  const tags = Object.keys(doc.directives?.tags ?? {}).filter((h) => h !== "!" && h !== "!!");
  if (syntaxProblems.length === 0 && ((doc.directives?.yaml.version ?? "1.2") !== "1.2" || tags.length > 0)) {
    syntaxProblems.push(syntaxProblem(0, "YAML directives other than %YAML 1.2 are not allowed"));
  }
  syntaxProblems.push(...[...doc.errors, ...doc.warnings].map((e) => syntaxProblem(e.pos[0], e.message.split("\n")[0] ?? e.message)));

  let data: unknown;
  if (syntaxProblems.length === 0) {
    try {
      data = buildData(doc);
    } catch (error) {
      if (!(error instanceof ManifestSyntax)) throw error;
      syntaxProblems.push(syntaxProblem(error.offset, error.message));
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
    problem: (path, message, options) => ({ file, ...locate(path, options), path: formatPath(path), message: sanitize(message) }),
  };
}
