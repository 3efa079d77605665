/**
 * Edits of layers.yaml that keep the file as its author wrote it. Pure: text in, text out.
 *
 * The text is parsed with the `yaml` package's document API only to find where things are; each
 * edit then replaces exactly the affected node's characters (a flow list `[a, b]` is rewritten in
 * place, keeping its wrapping; a block list gains or loses whole `- item` lines; a new layer is a
 * block appended after the last one, in the style of its neighbours). Everything outside the
 * edited block, comments included, stays byte-for-byte the same. Whether the result is a valid
 * manifest is the caller's question (manifest/load.ts answers it).
 */
import { isMap, isScalar, isSeq, parseDocument, stringify } from "yaml";
import type { Document, Node, YAMLMap, YAMLSeq } from "yaml";
import { UsageError } from "../errors.ts";
import { quote } from "./quote.ts";

export interface EditResult {
  readonly text: string;
  /** What was done and what was left alone, one sentence each (for the user). */
  readonly notes: readonly string[];
  /** False when the text is unchanged (everything asked for was already so). */
  readonly changed: boolean;
}

/** Settings a new layer may be created with, written in this order after `name` (and `description`). */
export interface NewLayerSettings {
  readonly description?: string;
  readonly r?: readonly string[];
  readonly regions?: readonly string[];
  readonly repository?: string;
}

interface Parsed {
  readonly text: string;
  readonly file: string;
  readonly doc: Document;
  readonly eol: string;
}

function parse(text: string, file: string): Parsed {
  const doc = parseDocument(text, { version: "1.2", keepSourceTokens: false, uniqueKeys: false });
  if (doc.errors.length > 0) {
    throw new UsageError(`${file} is not valid YAML (${doc.errors[0]?.message.split("\n")[0] ?? "syntax error"}): fix it before editing it with this command`);
  }
  return { text, file, doc, eol: text.includes("\r\n") ? "\r\n" : "\n" };
}

// --- positions -------------------------------------------------------------------------------

const lineStart = (text: string, offset: number) => text.lastIndexOf("\n", offset - 1) + 1;
const column = (text: string, offset: number) => offset - lineStart(text, offset);
/** The offset just after the end of the line `offset` is on (after its line break, or the text's end). */
function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf("\n", offset);
  return nl < 0 ? text.length : nl + 1;
}
function lineNumber(text: string, offset: number): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) n += 1;
  return n;
}
const range = (node: Node): [number, number, number] => node.range ?? [0, 0, 0];

function refuse(p: Parsed, node: Node | undefined, what: string): never {
  const at = node ? `${p.file}:${lineNumber(p.text, range(node)[0])}: ` : `${p.file}: `;
  throw new UsageError(`${at}${what}; edit this part of ${p.file} by hand`);
}

const splice = (text: string, from: number, to: number, insert: string) => text.slice(0, from) + insert + text.slice(to);

// --- values ----------------------------------------------------------------------------------

/** A scalar as YAML 1.2 writes it: plain when it reads back as the same string, quoted otherwise. */
export function scalarText(value: string): string {
  return stringify(value, { version: "1.2", lineWidth: 0 }).trimEnd();
}

/** C-locale order (what `sort` gives) or case-insensitive order, whichever the list already follows. */
type Order = (a: string, b: string) => number;
const C_ORDER: Order = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
const FOLDED_ORDER: Order = (a, b) => C_ORDER(a.toLowerCase(), b.toLowerCase()) || C_ORDER(a, b);
function orderOf(values: readonly string[]): Order | undefined {
  for (const order of [C_ORDER, FOLDED_ORDER]) {
    if (values.every((v, i) => i === 0 || order(values[i - 1] as string, v) <= 0)) return order;
  }
  return undefined;
}

/** Where new values go: in order when the list is sorted, else at its end (in the order given). */
function merged(existing: readonly string[], added: readonly string[]): string[] {
  const order = orderOf(existing);
  const out = [...existing];
  for (const value of added) {
    const at = order ? out.findIndex((v) => order(value, v) < 0) : -1;
    if (at < 0) out.push(value);
    else out.splice(at, 0, value);
  }
  return out;
}

// --- lookups ---------------------------------------------------------------------------------

function layersSeq(p: Parsed): YAMLSeq {
  const layers = p.doc.get("layers", true);
  if (!isSeq(layers)) refuse(p, layers as Node | undefined, "there is no block list under `layers:`");
  if (layers.flow) refuse(p, layers, "`layers:` is written as a flow list [ … ]");
  return layers;
}

function layerNames(p: Parsed): string[] {
  return layersSeq(p).items.flatMap((item) => (isMap(item) && typeof item.get("name") === "string" ? [item.get("name") as string] : []));
}

function findLayer(p: Parsed, name: string): YAMLMap | undefined {
  const found = layersSeq(p).items.find((item) => isMap(item) && item.get("name") === name);
  return found as YAMLMap | undefined;
}

function stringItems(p: Parsed, seq: YAMLSeq): { value: string; node: Node }[] {
  return seq.items.map((item) => {
    if (!isScalar(item) || typeof item.value !== "string") refuse(p, item as Node, "a package list holds something other than names");
    return { value: item.value, node: item };
  });
}

// --- list rendering --------------------------------------------------------------------------

/** Rewrites a flow list `[a, b]` with `values`, keeping each kept item's source text and the list's wrapping. */
function rewriteFlow(p: Parsed, seq: YAMLSeq, values: readonly string[]): string {
  const { text } = p;
  const [start, end] = range(seq);
  const sourceOf = new Map(stringItems(p, seq).map((i) => [i.value, text.slice(range(i.node)[0], range(i.node)[1])]));
  const items = values.map((v) => sourceOf.get(v) ?? scalarText(v));
  const original = text.slice(start, end);
  const startColumn = column(text, start);
  if (!original.includes("\n")) {
    const oneLine = `[${items.join(", ")}]`;
    if (startColumn + oneLine.length <= 100) return splice(text, start, end, oneLine);
  }
  // Wrapped: continuation lines indented as the original's (or under the first item), no line longer than its longest.
  const lines = original.split("\n");
  const second = lines[1];
  const indent = second !== undefined ? (/^[ \t]*/.exec(second)?.[0] ?? "") : " ".repeat(startColumn + 1);
  const width = second !== undefined ? Math.max(...lines.map((l, i) => (i === 0 ? startColumn : 0) + l.replace(/\r$/, "").length)) : 100;
  let out = "[";
  let col = startColumn + 1;
  items.forEach((item, i) => {
    const tail = i === items.length - 1 ? "]" : ",";
    if (i > 0) {
      if (col + 1 + item.length + tail.length > width) {
        out += p.eol + indent;
        col = indent.length;
      } else {
        out += " ";
        col += 1;
      }
    }
    out += item + tail;
    col += item.length + tail.length;
  });
  if (items.length === 0) out += "]";
  return splice(text, start, end, out);
}

/** Adds and removes `- item` lines of a block list, leaving every other line as it is. */
function rewriteBlock(p: Parsed, seq: YAMLSeq, values: readonly string[]): string {
  const items = stringItems(p, seq);
  const keep = new Set(values);
  const present = new Set(items.map((i) => i.value));
  const dashIndent = " ".repeat(column(p.text, range(seq)[0]));
  // Inserts and deletions, each at a whole line, applied from the end so offsets stay valid.
  const edits: { at: number; to: number; insert: string }[] = [];
  for (const item of items) {
    if (!keep.has(item.value)) {
      const from = lineStart(p.text, range(item.node)[0]);
      if (p.text.slice(from, range(item.node)[0]).trim() !== "-") refuse(p, item.node, "a list item shares its line with something else");
      edits.push({ at: from, to: lineEnd(p.text, range(item.node)[1]), insert: "" });
    }
  }
  const kept = items.filter((i) => keep.has(i.value));
  values.forEach((value, index) => {
    if (present.has(value)) return;
    const next = values.slice(index + 1).find((v) => present.has(v) && keep.has(v));
    const before = kept.find((i) => i.value === next);
    const line = `${dashIndent}- ${scalarText(value)}${p.eol}`;
    if (before) {
      const at = lineStart(p.text, range(before.node)[0]);
      edits.push({ at, to: at, insert: line });
    } else {
      const last = items[items.length - 1];
      const at = last ? lineEnd(p.text, range(last.node)[1]) : lineEnd(p.text, range(seq)[0]);
      const needsBreak = at === p.text.length && !p.text.endsWith("\n");
      edits.push({ at, to: at, insert: (needsBreak ? p.eol : "") + line });
    }
  });
  let text = p.text;
  // Stable for equal offsets: later-listed inserts at the same point go after earlier ones.
  edits
    .map((e, i) => ({ ...e, i }))
    .sort((a, b) => b.at - a.at || b.i - a.i)
    .forEach((e) => (text = splice(text, e.at, e.to, e.insert)));
  return text;
}

function rewriteList(p: Parsed, seq: YAMLSeq, values: readonly string[]): string {
  if (seq.flow) return rewriteFlow(p, seq, values);
  if (seq.items.length === 0) refuse(p, seq, "an empty block list");
  return rewriteBlock(p, seq, values);
}

/** The text of `key: value` lines for a map whose keys start at `indent`. */
function pairLine(indent: string, key: string, value: string | readonly string[], eol: string): string {
  const rendered = typeof value === "string" ? scalarText(value) : `[${value.map(scalarText).join(", ")}]`;
  return `${indent}${key}: ${rendered}${eol}`;
}

/** Adds a `key: value` line after a block map's last entry. */
function appendPair(p: Parsed, map: YAMLMap, key: string, value: string | readonly string[]): string {
  if (map.flow) refuse(p, map, "a mapping is written in flow style { … }");
  const indent = " ".repeat(column(p.text, range(map)[0]));
  const last = map.items[map.items.length - 1];
  const lastNode = (last?.value ?? last?.key) as Node | undefined;
  const at = lastNode ? lineEnd(p.text, range(lastNode)[1]) : lineEnd(p.text, range(map)[0]);
  const needsBreak = at === p.text.length && !p.text.endsWith("\n");
  return splice(p.text, at, at, (needsBreak ? p.eol : "") + pairLine(indent, key, value, p.eol));
}

// --- the edits -------------------------------------------------------------------------------

function packagesOf(p: Parsed, layer: YAMLMap): YAMLSeq | undefined {
  const node = layer.get("packages", true);
  if (node === undefined || node === null) return undefined;
  if (!isSeq(node)) refuse(p, node as Node, `layer ${quote(String(layer.get("name")))}'s packages are not a list (an alias or a value)`);
  return node;
}

/**
 * Adds packages to a layer. A layer that does not exist is created as a packages layer (appended
 * after the last layer, with `settings`), and the notes say so.
 */
export function addPackages(text: string, file: string, layer: string, packages: readonly string[], settings: NewLayerSettings = {}): EditResult {
  const p = parse(text, file);
  const found = findLayer(p, layer);
  const wanted = [...new Set(packages)];
  if (!found) {
    const names = layerNames(p);
    const note = `created layer ${quote(layer)} as a packages layer with ${wanted.join(", ")} (it did not exist${names.length ? `; the layers were ${names.join(", ")}` : ""})`;
    return { text: appendLayer(p, layer, wanted, settings), notes: [note], changed: true };
  }
  const seq = packagesOf(p, found);
  const existing = seq ? stringItems(p, seq).map((i) => i.value) : [];
  const already = wanted.filter((w) => existing.includes(w));
  const added = wanted.filter((w) => !existing.includes(w));
  const notes: string[] = [];
  if (already.length) notes.push(`already in layer ${quote(layer)}: ${already.join(", ")}`);
  if (added.length === 0) return { text, notes, changed: false };
  notes.unshift(`added to layer ${quote(layer)}: ${added.join(", ")}`);
  const result = seq ? rewriteList(p, seq, merged(existing, added)) : appendPair(p, found, "packages", merged([], added));
  return { text: result, notes, changed: true };
}

/** Removes packages from a layer; naming one the layer does not have is a mistake, not a no-op. */
export function removePackages(text: string, file: string, layer: string, packages: readonly string[]): EditResult {
  const p = parse(text, file);
  const found = findLayer(p, layer);
  if (!found) throw new UsageError(`there is no layer ${quote(layer)} in ${file} (the layers are ${layerNames(p).join(", ")})`);
  const seq = packagesOf(p, found);
  const existing = seq ? stringItems(p, seq).map((i) => i.value) : [];
  const missing = packages.filter((w) => !existing.includes(w));
  if (missing.length) {
    throw new UsageError(`layer ${quote(layer)} has no package ${missing.map(quote).join(", ")} (it has ${existing.join(", ") || "none"}); nothing was changed`);
  }
  if (!seq) return { text, notes: [], changed: false };
  const gone = new Set(packages);
  return {
    text: rewriteList(p, seq, existing.filter((v) => !gone.has(v))),
    notes: [`removed from layer ${quote(layer)}: ${[...gone].join(", ")}`],
    changed: true,
  };
}

/**
 * Removes a whole layer: its lines, the comment lines directly above it (at its indentation or
 * deeper, so a section comment stays) and one blank line that separated it. Refused while another
 * layer stacks on it, named or by default (a packages layer stacks on the only runtime layer).
 */
export function removeLayer(text: string, file: string, layer: string): EditResult {
  const p = parse(text, file);
  const seq = layersSeq(p);
  const found = findLayer(p, layer);
  if (!found) throw new UsageError(`there is no layer ${quote(layer)} in ${file} (the layers are ${layerNames(p).join(", ")})`);
  const maps = seq.items.filter((i): i is YAMLMap => isMap(i));
  const runtimes = maps.filter((m) => m.get("type") === "runtime");
  const stackers = maps.filter((m) => {
    if (m === found) return false;
    const explicit = m.get("stacksOn");
    if (isSeq(explicit)) return explicit.items.some((i) => isScalar(i) && i.value === layer);
    return (m.get("type") ?? "packages") === "packages" && runtimes.length === 1 && runtimes[0] === found;
  });
  if (stackers.length) {
    const names = stackers.map((m) => String(m.get("name")));
    throw new UsageError(`layer ${quote(layer)} cannot be removed: ${names.map(quote).join(", ")} ${names.length === 1 ? "stacks" : "stack"} on it; remove or restack ${names.length === 1 ? "it" : "them"} first`);
  }
  const { text: t } = p;
  const dash = t.lastIndexOf("-", range(found)[0]);
  let from = lineStart(t, dash);
  const dashColumn = dash - from;
  // Comment lines right above, indented at least as far as the dash, describe this layer.
  for (;;) {
    if (from === 0) break;
    const prev = lineStart(t, from - 1);
    const line = t.slice(prev, from);
    const indent = /^[ \t]*/.exec(line)?.[0].length ?? 0;
    if (!line.trimStart().startsWith("#") || indent < dashColumn) break;
    from = prev;
  }
  let to = range(found)[1];
  if (to < t.length && t[to - 1] !== "\n") to = lineEnd(t, to);
  const blank = (a: number, b: number) => t.slice(a, b).trim() === "";
  if (from > 0 && blank(lineStart(t, from - 1), from)) from = lineStart(t, from - 1);
  else if (to < t.length && blank(to, lineEnd(t, to))) to = lineEnd(t, to);
  return { text: splice(t, from, to, ""), notes: [`removed layer ${quote(layer)}`], changed: true };
}

/** Appends a packages layer after the last one, indented and spaced as the layers before it are. */
function appendLayer(p: Parsed, name: string, packages: readonly string[], settings: NewLayerSettings): string {
  const seq = layersSeq(p);
  const items = seq.items.filter((i): i is YAMLMap => isMap(i));
  const last = items[items.length - 1];
  if (!last) refuse(p, seq, "`layers:` has no layer to model a new one on");
  const { text } = p;
  const keyColumn = column(text, range(last)[0]);
  const dashColumn = column(text, text.lastIndexOf("-", range(last)[0]));
  // Blank lines between layers when the file has them.
  const previous = items[items.length - 2];
  const spaced = previous !== undefined && /\n[ \t]*\r?\n/.test(text.slice(range(previous)[1] - 1, range(last)[0]));
  const keyIndent = " ".repeat(keyColumn);
  const lines = [
    `${" ".repeat(dashColumn)}-${" ".repeat(keyColumn - dashColumn - 1)}name: ${scalarText(name)}${p.eol}`,
    ...(settings.description ? [pairLine(keyIndent, "description", settings.description, p.eol)] : []),
    pairLine(keyIndent, "packages", merged([], packages), p.eol),
    ...(settings.r ? [pairLine(keyIndent, "r", settings.r, p.eol)] : []),
    ...(settings.regions ? [pairLine(keyIndent, "regions", settings.regions, p.eol)] : []),
    ...(settings.repository ? [pairLine(keyIndent, "repository", settings.repository, p.eol)] : []),
  ];
  let at = range(last)[1];
  if (at < text.length && text[at - 1] !== "\n") at = lineEnd(text, at);
  const needsBreak = at === text.length && text.length > 0 && !text.endsWith("\n");
  return splice(text, at, at, (needsBreak ? p.eol : "") + (spaced ? p.eol : "") + lines.join(""));
}

/** Sets `section.key` (e.g. builder.computeType) to a scalar, replacing the value or adding the line. */
export function setValue(text: string, file: string, section: string, key: string, value: string): EditResult {
  const p = parse(text, file);
  const map = p.doc.get(section, true);
  if (!isMap(map)) refuse(p, map as Node | undefined, `there is no \`${section}:\` mapping`);
  const node = map.get(key, true);
  const where = `${section}.${key}`;
  if (node === undefined) return { text: appendPair(p, map, key, value), notes: [`set ${where} to ${value}`], changed: true };
  if (!isScalar(node)) refuse(p, node as Node, `${where} is not a plain value`);
  if (node.value === value) return { text, notes: [`${where} is already ${value}`], changed: false };
  const [start, end] = range(node);
  return { text: splice(text, start, end, scalarText(value)), notes: [`set ${where} to ${value} (was ${String(node.value)})`], changed: true };
}

/** What the edits need to know of a manifest before choosing them: its layers and a few settings, read as data. */
export interface ManifestFacts {
  readonly layers: readonly string[];
  readonly rVersions: readonly string[];
  readonly defaultRegions: readonly string[];
  readonly defaultRepository?: string;
  readonly computeType?: string;
}

export function manifestFacts(text: string, file: string): ManifestFacts {
  const p = parse(text, file);
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  const data = p.doc.toJS() as { r?: { versions?: unknown }; defaults?: { regions?: unknown; repository?: unknown }; builder?: { computeType?: unknown } } | null;
  const repository = data?.defaults?.repository;
  const computeType = data?.builder?.computeType;
  return {
    layers: layerNames(p),
    rVersions: strings(data?.r?.versions),
    defaultRegions: strings(data?.defaults?.regions),
    ...(typeof repository === "string" ? { defaultRepository: repository } : {}),
    ...(typeof computeType === "string" ? { computeType } : {}),
  };
}
