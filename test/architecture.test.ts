/**
 * The layout's rules, checked from the import statements (docs/architecture.md, "Layers"):
 * arrows point one way (entry points → commands → core → ports → adapters), no folder-level
 * cycle, nothing below reaches up to a command, the planner or a renderer, and each thing that
 * touches the outside world (an AWS SDK client, child processes) is imported by exactly one module.
 */
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await tsFiles(path)));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

interface Import {
  readonly from: string;
  /** Repository-relative path for a relative import, the bare specifier otherwise. */
  readonly to: string;
}

/** Every import and re-export in the pipeline's sources (static, dynamic and type-only alike). */
async function imports(): Promise<Import[]> {
  const out: Import[] = [];
  for (const file of await tsFiles(join(ROOT, "pipeline"))) {
    const source = await readFile(file, "utf8");
    for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g)) {
      const spec = (m[1] ?? m[2] ?? m[3]) as string;
      const from = relative(ROOT, file);
      out.push({ from, to: spec.startsWith(".") ? relative(ROOT, resolve(dirname(file), spec)) : spec });
    }
  }
  return out;
}

/** The layout's unit: a folder under pipeline/lib (adapters split by kind), a top-level module, or the entry points. */
function unit(path: string): string {
  const rel = relative("pipeline/lib", path);
  if (rel.startsWith("..")) return "entry";
  const parts = rel.split("/");
  if (parts.length === 1) return (parts[0] as string).replace(/\.ts$/, "");
  return parts[0] === "adapters" ? `adapters/${parts[1]}` : (parts[0] as string);
}

function cycle(edges: ReadonlyMap<string, ReadonlySet<string>>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === "done") return undefined;
    if (state.get(n) === "open") return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, "open");
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      const found = visit(m);
      if (found) return found;
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const n of edges.keys()) {
    const found = visit(n);
    if (found) return found;
  }
  return undefined;
}

describe("layout", () => {
  it("has no cycle between folders (or top-level modules) of pipeline/lib", async () => {
    const edges = new Map<string, Set<string>>();
    for (const { from, to } of await imports()) {
      if (!to.startsWith("pipeline/")) continue;
      const [a, b] = [unit(from), unit(to)];
      if (a === b) continue;
      if (!edges.has(a)) edges.set(a, new Set());
      edges.get(a)?.add(b);
    }
    assert.ok(edges.size > 10, "the import scan found the layout");
    assert.deepEqual(cycle(edges), undefined);
  });

  it("never points from adapters, the runner or the executor up to a command, the planner or a renderer", async () => {
    const below = /^pipeline\/lib\/(adapters|runner|execute|keys|manifest|stored|util)\//;
    const above = /^pipeline\/lib\/(cli|render|github)\/|^pipeline\/lib\/plan\/(?!types\.ts$)|^pipeline\/[^/]+\.ts$/;
    const offending = (await imports()).filter((i) => below.test(i.from) && above.test(i.to)).map((i) => `${i.from} → ${i.to}`);
    assert.deepEqual(offending, []);
  });

  it("keeps the planner pure: it imports no adapter, runner, node: module or SDK", async () => {
    const planner = (await imports()).filter((i) => /^pipeline\/lib\/plan\/(planner|needs|reasons|types)\.ts$/.test(i.from));
    assert.ok(planner.length > 0);
    const offending = planner.filter((i) => !i.to.startsWith("pipeline/lib/") || /\/(adapters|runner|cli)\//.test(i.to));
    assert.deepEqual(offending, []);
  });

  it("imports each AWS SDK client, and whatever starts processes, in exactly one module", async () => {
    const all = await imports();
    const importers = new Map<string, Set<string>>();
    for (const { from, to } of all) {
      const what = /^@aws-sdk\/client-/.test(to) ? to : to === "node:child_process" || to === "child_process" ? "child processes" : undefined;
      if (!what) continue;
      if (!importers.has(what)) importers.set(what, new Set());
      importers.get(what)?.add(from);
    }
    assert.ok(importers.has("@aws-sdk/client-lambda") && importers.has("child processes"));
    const shared = [...importers].filter(([, modules]) => modules.size !== 1).map(([what, modules]) => `${what}: ${[...modules].join(", ")}`);
    assert.deepEqual(shared, []);
  });

  it("every AWS SDK import lives under adapters/aws", async () => {
    const offending = (await imports()).filter((i) => i.to.startsWith("@aws-sdk/") && !i.from.startsWith("pipeline/lib/adapters/aws/"));
    assert.deepEqual(offending, []);
  });
});
