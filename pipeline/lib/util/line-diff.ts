/**
 * A unified diff of two texts, line by line (`--dry-run` shows the edit it would make). The common
 * start and end are cut first, so an edit of a few lines costs little whatever the file's size.
 */

type Op = { readonly kind: " " | "-" | "+"; readonly line: string };

/** Longest-common-subsequence alignment of the differing middle. */
function align(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * (m + 1) + j] = a[i] === b[j] ? (lcs[(i + 1) * (m + 1) + j + 1] as number) + 1 : Math.max(lcs[(i + 1) * (m + 1) + j] as number, lcs[i * (m + 1) + j + 1] as number);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: " ", line: a[i++] as string });
      j++;
    } else if (i < n && (j === m || (lcs[(i + 1) * (m + 1) + j] as number) >= (lcs[i * (m + 1) + j + 1] as number))) {
      ops.push({ kind: "-", line: a[i++] as string });
    } else {
      ops.push({ kind: "+", line: b[j++] as string });
    }
  }
  return ops;
}

/** `--- a`/`+++ b` and `@@` hunks with `context` lines around each change; empty when the texts are equal. */
export function unifiedDiff(before: string, after: string, names: { before: string; after: string }, context = 3): string {
  if (before === after) return "";
  // Lines without their breaks; a final line break ends the last line rather than starting an empty one.
  const lines = (text: string) => (text === "" ? [] : text.replace(/\n$/, "").split("\n"));
  const a = lines(before);
  const b = lines(after);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end++;
  const ops: Op[] = [
    ...a.slice(0, start).map((line): Op => ({ kind: " ", line })),
    ...align(a.slice(start, a.length - end), b.slice(start, b.length - end)),
    ...a.slice(a.length - end).map((line): Op => ({ kind: " ", line })),
  ];
  // Hunks: runs of changes with up to 2×context unchanged lines between them.
  const out = [`--- ${names.before}`, `+++ ${names.after}`];
  let k = 0;
  let lineA = 1;
  let lineB = 1;
  const positions = ops.map((op) => {
    const at = { a: lineA, b: lineB };
    if (op.kind !== "+") lineA++;
    if (op.kind !== "-") lineB++;
    return at;
  });
  while (k < ops.length) {
    while (k < ops.length && ops[k]?.kind === " ") k++;
    if (k >= ops.length) break;
    const from = Math.max(0, k - context);
    let to = k;
    for (;;) {
      while (to < ops.length && ops[to]?.kind !== " ") to++;
      let next = to;
      while (next < ops.length && ops[next]?.kind === " ") next++;
      if (next < ops.length && next - to <= 2 * context) to = next;
      else break;
    }
    const stop = Math.min(ops.length, to + context);
    const hunk = ops.slice(from, stop);
    const first = positions[from] ?? { a: 1, b: 1 };
    const countA = hunk.filter((o) => o.kind !== "+").length;
    const countB = hunk.filter((o) => o.kind !== "-").length;
    out.push(`@@ -${first.a},${countA} +${first.b},${countB} @@`, ...hunk.map((o) => `${o.kind}${o.line.replace(/\r$/, "")}`));
    k = stop;
  }
  return `${out.join("\n")}\n`;
}
