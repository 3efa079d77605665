import assert from "node:assert/strict";

/** Markdown lines as a reader sees them: those outside fenced code blocks (CommonMark: a fence closes only with as many backticks). */
export function outsideCode(md: string): string[] {
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of md.split("\n")) {
    const m = /^ {0,3}(`{3,})[^`]*$/.exec(line);
    if (fence === undefined) {
      if (m) fence = m[1];
      else out.push(line);
    } else if (m && m[1]!.length >= fence.length && /^ {0,3}`+\s*$/.test(line)) {
      fence = undefined;
    }
  }
  assert.equal(fence, undefined, "every code block is closed");
  return out;
}
