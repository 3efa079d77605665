/**
 * How a manifest value appears in a message: once, as a JSON string literal that cannot break
 * out of the line it is on. JSON.stringify escapes C0 controls, quotes and backslashes; this
 * also escapes what it leaves raw but a terminal, a log or markdown would act on: DEL and C1
 * controls (0x9b is a CSI on some terminals), line and paragraph separators, bidirectional
 * overrides, the byte-order mark, and backticks (a fence or code span in a pull-request comment).
 * The result is still valid JSON: JSON.parse gives the value back.
 */

const UNSAFE = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb`]/g;
// eslint-disable-next-line no-control-regex
const RAW_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

const escape = (c: string) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** A value as a one-line JSON string literal, safe to print anywhere. */
export function quote(value: string): string {
  return JSON.stringify(value).replace(UNSAFE, escape);
}

/** Any value as it appears in a message: strings quoted, other values as JSON. */
export function show(value: unknown): string {
  if (typeof value === "string") return quote(value);
  const json = JSON.stringify(value) as string | undefined;
  // Outside its strings JSON has no character that needs escaping; inside them, \u escapes are valid.
  return json === undefined ? String(value) : json.replace(UNSAFE, escape);
}

/** Text from elsewhere (a YAML parser's message) with control and bidirectional characters escaped. */
export function sanitize(text: string): string {
  return text.replace(RAW_UNSAFE, escape);
}
