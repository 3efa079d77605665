/**
 * The plan at a glance: per layer, one matrix of R version × architecture (rows) by region
 * (columns), each cell saying what happens to that publication, as Terraform marks resources.
 * Pure: the plan in, cells out. The markdown and text renderers lay it out.
 */
import type { Arch } from "../manifest/types.ts";
import { publishedLayerName } from "../naming.ts";
import type { Action, Plan } from "../plan/types.ts";

/** One publication the manifest asks for: a layer build in a region. */
export interface PublicationSpot {
  readonly layer: string;
  readonly r: string;
  readonly arch: Arch;
  readonly region: string;
}

export type CellState = "new" | "replaced" | "pruned" | "grants" | "unchanged";

export const CELL_SYMBOLS: Readonly<Record<CellState, string>> = {
  new: "+",
  replaced: "~",
  pruned: "-",
  grants: "±",
  unchanged: "·",
};

const CELL_LEGEND: Readonly<Record<CellState, string>> = {
  new: "new: first version in the region",
  replaced: "replaced: a new version supersedes the published one",
  pruned: "pruned: old versions deleted",
  grants: "grants change",
  unchanged: "unchanged",
};

export interface Cell {
  readonly states: readonly CellState[];
  /** Versions deleted, when `pruned`. */
  readonly pruned: number;
}

export interface MatrixRow {
  readonly r: string;
  readonly arch: Arch;
  /** Region → cell; a region missing from the map is not a publication of this row. */
  readonly cells: ReadonlyMap<string, Cell>;
}

export interface LayerMatrix {
  readonly layer: string;
  readonly regions: readonly string[];
  readonly rows: readonly MatrixRow[];
}

const ARCH_ORDER: readonly Arch[] = ["x86_64", "arm64"];

/** Newest R first, x86_64 before arm64. */
function compareRows(a: { r: string; arch: Arch }, b: { r: string; arch: Arch }): number {
  const pa = a.r.split(".").map(Number);
  const pb = b.r.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pb[i] ?? 0) - (pa[i] ?? 0);
    if (d !== 0) return d;
  }
  return ARCH_ORDER.indexOf(a.arch) - ARCH_ORDER.indexOf(b.arch);
}

/** Where an action lands in a matrix, if it does (compile-r and prunes of removed layers do not). */
function spotOf(action: Action): { layer: string; r: string; arch: Arch; region?: string } | undefined {
  switch (action.kind) {
    case "compile-r":
      return undefined;
    case "build-layer":
      return { layer: action.layer, r: action.r, arch: action.arch };
    case "publish":
    case "grant":
      return { layer: action.layer, r: action.r, arch: action.arch, region: action.region };
    case "prune":
    case "parameter":
      return undefined;
  }
}

/**
 * One matrix per layer that has a change, in the plan's order. With `spots` (every publication
 * the manifest asks for), cells without an action read `unchanged` and cells that are not a
 * publication stay empty; without them, every cell of a row and region the plan touches that has
 * no action reads `unchanged`.
 */
export function layerMatrices(plan: Plan, spots?: readonly PublicationSpot[]): LayerMatrix[] {
  interface Building {
    regions: Set<string>;
    rows: Map<string, { r: string; arch: Arch; cells: Map<string, { states: Set<CellState>; pruned: number }> }>;
  }
  const layers = new Map<string, Building>();
  const layerOf = (name: string) => {
    let l = layers.get(name);
    if (!l) layers.set(name, (l = { regions: new Set(), rows: new Map() }));
    return l;
  };
  const rowOf = (l: Building, r: string, arch: Arch) => {
    const key = `${r}/${arch}`;
    let row = l.rows.get(key);
    if (!row) l.rows.set(key, (row = { r, arch, cells: new Map() }));
    return row;
  };
  const cellOf = (row: { cells: Map<string, { states: Set<CellState>; pruned: number }> }, region: string) => {
    let cell = row.cells.get(region);
    if (!cell) row.cells.set(region, (cell = { states: new Set(), pruned: 0 }));
    return cell;
  };

  // Retention prunes name the layer build by its published name and region.
  const buildOfName = new Map<string, { r: string; arch: Arch }>();
  for (const a of plan.actions) if (a.kind !== "compile-r" && a.kind !== "prune" && a.kind !== "parameter") buildOfName.set(a.layerName, { r: a.r, arch: a.arch });

  for (const a of plan.actions) {
    const spot = spotOf(a);
    if (spot) {
      const l = layerOf(spot.layer);
      const row = rowOf(l, spot.r, spot.arch);
      if (spot.region !== undefined) {
        l.regions.add(spot.region);
        const cell = cellOf(row, spot.region);
        if (a.kind === "publish") cell.states.add(a.change === "create" ? "new" : "replaced");
        if (a.kind === "grant") cell.states.add("grants");
      }
    } else if (a.kind === "prune" && a.layer !== undefined) {
      const l = layerOf(a.layer);
      const build = buildOfName.get(a.layerName) ?? parseName(a.layer, a.layerName);
      if (!build) continue;
      l.regions.add(a.region);
      const cell = cellOf(rowOf(l, build.r, build.arch), a.region);
      cell.states.add("pruned");
      cell.pruned += a.versions.length;
    }
  }

  const out: LayerMatrix[] = [];
  for (const [layer, l] of layers) {
    const mine = spots?.filter((s) => s.layer === layer);
    for (const s of mine ?? []) {
      l.regions.add(s.region);
      rowOf(l, s.r, s.arch);
    }
    const regions = [...l.regions].sort();
    const rows = [...l.rows.values()].sort(compareRows).map((row) => {
      const cells = new Map<string, Cell>();
      for (const region of regions) {
        const cell = row.cells.get(region);
        const published = mine === undefined || mine.some((s) => s.r === row.r && s.arch === row.arch && s.region === region);
        if (cell && cell.states.size > 0) {
          // Publishing comes before pruning and grants in a cell: it is what a reviewer looks for.
          const order: CellState[] = ["new", "replaced", "grants", "pruned"];
          cells.set(region, { states: order.filter((s) => cell.states.has(s)), pruned: cell.pruned });
        } else if (published) {
          cells.set(region, { states: ["unchanged"], pruned: 0 });
        }
      }
      return { r: row.r, arch: row.arch, cells };
    });
    out.push({ layer, regions, rows });
  }
  return out;
}

/** R version and architecture of a layer's published name: `r-runtime-4_4_1-arm64` → 4.4.1, arm64. */
function parseName(layer: string, layerName: string): { r: string; arch: Arch } | undefined {
  const prefix = publishedLayerName(layer, "", "x86_64");
  if (!layerName.startsWith(prefix)) return undefined;
  const rest = layerName.slice(prefix.length);
  const arch: Arch = rest.endsWith("-arm64") ? "arm64" : "x86_64";
  const r = (arch === "arm64" ? rest.slice(0, -"-arm64".length) : rest).replaceAll("_", ".");
  return /^\d+(\.\d+)*$/.test(r) && publishedLayerName(layer, r, arch) === layerName ? { r, arch } : undefined;
}

/** Every publication a build graph asks for (`computeBuildGraph`): each layer build in each of its regions. */
export function publicationSpots(graph: {
  readonly layerBuilds: readonly { readonly layer: { readonly name: string; readonly regions: readonly string[] }; readonly rVersion: string; readonly arch: Arch }[];
}): PublicationSpot[] {
  return graph.layerBuilds.flatMap((b) => b.layer.regions.map((region) => ({ layer: b.layer.name, r: b.rVersion, arch: b.arch, region })));
}

/** A cell in words: `+ new`, `~ replaced, - 2 pruned`, `· unchanged`. Empty when not a publication. */
export function cellText(cell: Cell | undefined): string {
  if (!cell) return "";
  return cell.states.map((s) => (s === "pruned" ? `${CELL_SYMBOLS[s]} ${cell.pruned} pruned` : `${CELL_SYMBOLS[s]} ${s}`)).join(", ");
}

export function rowLabel(row: { r: string; arch: Arch }): string {
  return `R ${row.r} ${row.arch}`;
}

/** The legend for the states the matrices use, in a fixed order. */
export function legend(matrices: readonly LayerMatrix[]): string[] {
  const used = new Set(matrices.flatMap((m) => m.rows.flatMap((r) => [...r.cells.values()].flatMap((c) => c.states))));
  return (Object.keys(CELL_LEGEND) as CellState[]).filter((s) => used.has(s)).map((s) => `${CELL_SYMBOLS[s]} ${CELL_LEGEND[s]}`);
}
