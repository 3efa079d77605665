/**
 * `layers`: edit layers.yaml from the command line. `add` and `remove` change a layer's packages
 * (or remove a layer), `import` makes a layer from a serveRmore.yaml, an renv.lock or a
 * DESCRIPTION. The file keeps its comments and formatting (manifest/edit.ts changes only the
 * edited block); the result is validated before it is written, written whole (a temporary file
 * renamed over it), and the plan difference it causes is printed.
 */
import { writeFileAtomic } from "../util/files.ts";
import { parseStrict } from "../util/parse-args.ts";
import { readFile, stat } from "node:fs/promises";
import { ManifestError, PipelineError, UsageError } from "../errors.ts";
import { decodeManifest } from "../manifest/load.ts";
import { addPackages, manifestFacts, removeLayer, removePackages, setValue } from "../manifest/edit.ts";
import type { EditResult } from "../manifest/edit.ts";
import { importFile } from "../manifest/import/index.ts";
import type { ImportFinding, Imported } from "../manifest/import/index.ts";
import { lockNote } from "../lock/file.ts";
import type { Plan } from "../plan/types.ts";
import { renderPlanDifference } from "../render/plan-difference.ts";
import { unifiedDiff } from "../util/line-diff.ts";
import { oneOf } from "./args.ts";
import { defaultStateDir } from "./backend.ts";
import type { BackendName } from "./backend.ts";
import { openWorkspace, planFor } from "./workspace.ts";

export const LAYERS_USAGE = `Usage: npm run layers -- <command> [options]

Edits layers.yaml in place, keeping its comments and formatting; validates the result before
writing it (an edit that would make the manifest invalid is refused and nothing is written),
then prints the difference it makes to the plan.

Commands:
  add LAYER PACKAGE...     add R packages to a layer; a layer that does not exist is created as a
                           packages layer (stacked on the runtime layer) and the output says so
  remove LAYER PACKAGE...  remove R packages from a layer
  remove LAYER             remove a layer (refused while another layer stacks on it)
  import FILE              make a layer from a serveRmore.yaml (builder.cran_r_package_names),
                           an renv.lock or an R package's DESCRIPTION (Imports and Depends), and
                           report what could not be mapped; into an existing layer it adds packages

Options:
  --manifest FILE        manifest to edit (default: layers.yaml)
  --layer NAME           import: the layer to create or add to (default: from the file, e.g. the
                         DESCRIPTION's Package, else "imported")
  --dry-run              print the change to the manifest as a diff, and the plan difference;
                         write nothing
  --backend local|aws    state the plan difference is computed against (default: local)
  --state DIR            local backend folder (default: .layers beside the manifest)
  --allow-file-repository
                         accept file:// repositories (see plan --help)
  -h, --help             show this help
`;

const PACKAGE_NAME = /^[A-Za-z][A-Za-z0-9.]*[A-Za-z0-9]$/;
const LAYER_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;

export type LayersAction =
  | { readonly kind: "add"; readonly layer: string; readonly packages: readonly string[] }
  | { readonly kind: "remove"; readonly layer: string; readonly packages: readonly string[] }
  | { readonly kind: "import"; readonly file: string; readonly layer?: string };

export interface LayersOptions {
  readonly action?: LayersAction;
  readonly manifest: string;
  readonly backend: BackendName;
  readonly state: string;
  readonly dryRun: boolean;
  readonly help: boolean;
  readonly allowFileRepository?: boolean;
}

function layerName(name: string): string {
  if (!LAYER_NAME.test(name)) throw new UsageError(`${JSON.stringify(name)} is not a layer name: lowercase letters and digits, words joined by single hyphens`);
  return name;
}

function packageNames(names: readonly string[]): string[] {
  const bad = names.filter((p) => !PACKAGE_NAME.test(p));
  if (bad.length) throw new UsageError(`not R package names: ${bad.map((b) => JSON.stringify(b)).join(", ")}`);
  return [...names];
}

export function parseLayersArgs(argv: readonly string[]): LayersOptions {
  const parsed = parseStrict(
    argv,
    LAYERS_USAGE,
    {
      manifest: { type: "string" },
      backend: { type: "string" },
      state: { type: "string" },
      "allow-file-repository": { type: "boolean" },
      layer: { type: "string" },
      "dry-run": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    true,
  );
  const { values, positionals } = parsed;
  const str = (name: keyof typeof values) => (typeof values[name] === "string" ? values[name] : undefined);
  const manifest = str("manifest") ?? "layers.yaml";
  const backend = oneOf("--backend", str("backend") ?? "local", ["local", "aws"] as const);
  const common = {
    manifest,
    backend,
    state: str("state") ?? defaultStateDir(manifest),
    dryRun: values["dry-run"] === true,
    help: values.help === true,
    ...(values["allow-file-repository"] === true ? { allowFileRepository: true } : {}),
  };
  if (common.help) return common;

  const [command, first, ...rest] = positionals;
  const layerFlag = str("layer");
  if (layerFlag !== undefined && command !== "import") throw new UsageError(`--layer goes with import; ${command ?? "add"} names the layer as its first argument`);
  switch (command) {
    case "add":
    case "remove": {
      if (first === undefined) throw new UsageError(`${command} needs a layer name\n\n${LAYERS_USAGE}`);
      if (command === "add" && rest.length === 0) throw new UsageError(`add needs at least one package: npm run layers -- add ${first} PACKAGE...`);
      return { ...common, action: { kind: command, layer: layerName(first), packages: packageNames(rest) } };
    }
    case "import": {
      if (first === undefined || rest.length > 0) throw new UsageError(`import takes one file: npm run layers -- import FILE [--layer NAME]`);
      return { ...common, action: { kind: "import", file: first, ...(layerFlag !== undefined ? { layer: layerName(layerFlag) } : {}) } };
    }
    case undefined:
      throw new UsageError(`a command is needed: add, remove or import\n\n${LAYERS_USAGE}`);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}: add, remove or import\n\n${LAYERS_USAGE}`);
  }
}

export interface LayersIo {
  readonly stdout: (text: string) => void;
  readonly now: () => Date;
}

const OUTCOME: Readonly<Record<ImportFinding["outcome"], string>> = {
  mapped: "mapped",
  "not-needed": "not needed",
  "not-mapped": "not mapped",
  note: "note",
};

function renderImport(file: string, imported: Imported): string {
  const order: ImportFinding["outcome"][] = ["mapped", "note", "not-needed", "not-mapped"];
  const findings = [...imported.findings].sort((a, b) => order.indexOf(a.outcome) - order.indexOf(b.outcome));
  const lines = [`Imported ${file} (${imported.format}):`, ...findings.map((f) => `  ${OUTCOME[f.outcome].padEnd(11)} ${f.key}: ${f.detail}`)];
  return `${lines.join("\n")}\n`;
}

async function readText(file: string, what: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message;
    if (what === "manifest") throw new PipelineError("MANIFEST_UNREADABLE", `cannot read manifest ${file}: ${reason}`, { cause: error });
    throw new UsageError(`cannot read ${file}: ${reason}`);
  }
  return decodeManifest(bytes, file);
}

/** The edit an action makes, and what to print before it. */
async function chooseEdit(action: LayersAction, text: string, file: string): Promise<{ edit: EditResult; preface: string }> {
  switch (action.kind) {
    case "add":
      return { edit: addPackages(text, file, action.layer, action.packages), preface: "" };
    case "remove":
      return {
        edit: action.packages.length ? removePackages(text, file, action.layer, action.packages) : removeLayer(text, file, action.layer),
        preface: "",
      };
    case "import": {
      const source = await readText(action.file, "import");
      const facts = manifestFacts(text, file);
      const imported = importFile(source, { file: action.file, ...facts });
      const preface = renderImport(action.file, imported);
      if (imported.packages.length === 0) throw new UsageError(`${action.file} names no package a layer could install; nothing was changed`);
      const layer = action.layer ?? imported.layerName;
      const exists = facts.layers.includes(layer);
      const added = addPackages(text, file, layer, imported.packages, imported.layer);
      const notes = [...added.notes];
      const settings = Object.keys(imported.layer).filter((k) => k !== "description");
      if (exists && settings.length) notes.push(`layer ${JSON.stringify(layer)} already existed: its ${settings.join(" and ")} ${settings.length === 1 ? "was" : "were"} left as ${settings.length === 1 ? "it was" : "they were"}`);
      if (!imported.computeType) return { edit: { ...added, notes }, preface };
      const sized = setValue(added.text, file, "builder", "computeType", imported.computeType);
      return { edit: { text: sized.text, notes: [...notes, ...sized.notes], changed: added.changed || sized.changed }, preface };
    }
  }
}

/** The manifest written whole (util/files.ts), keeping its mode. */
async function writeAtomically(file: string, text: string): Promise<void> {
  await writeFileAtomic(file, text, { mode: (await stat(file)).mode });
}

/** The plan for the manifest's text against the state, and the lock's note; a ManifestError when the text is not a valid manifest. */
async function planText(options: LayersOptions, text: string, now: Date): Promise<{ plan: Plan; note?: string }> {
  const opened = await openWorkspace({ ...options, manifestText: text });
  try {
    const plan = await planFor(opened, { prune: false, refreshGrants: false }, now);
    const note = opened.lock ? lockNote(opened.lock) : undefined;
    return { plan, ...(note ? { note } : {}) };
  } finally {
    opened.workspace.close();
  }
}

export async function layersCommand(options: LayersOptions, io: LayersIo): Promise<number> {
  if (options.help || !options.action) {
    io.stdout(LAYERS_USAGE);
    return 0;
  }
  const file = options.manifest;
  const text = await readText(file, "manifest");
  const { edit, preface } = await chooseEdit(options.action, text, file);
  io.stdout(preface);
  const notes = edit.notes.map((n) => `${n}\n`).join("");
  if (!edit.changed) {
    io.stdout(`${notes}Nothing to change: ${file} was not written.\n`);
    return 0;
  }
  const diff = unifiedDiff(text, edit.text, { before: `${file}`, after: `${file} (edited)` });

  // The result must be a valid manifest, or nothing is written.
  let after: { plan: Plan; note?: string } | undefined;
  let planProblem: string | undefined;
  try {
    after = await planText(options, edit.text, io.now());
  } catch (error) {
    if (error instanceof ManifestError) {
      io.stdout(`${notes}The edit would give:\n${diff}`);
      throw new ManifestError(
        error.problems.map((p) => ({ ...p, file: `${p.file} (edited)` })),
        `the edit would make ${error.problems.length === 1 ? "it" : "them"}, so ${file} was not written`,
      );
    }
    if (!(error instanceof PipelineError)) throw error;
    planProblem = error.message;
  }
  let before: Plan | undefined;
  if (after) {
    try {
      before = (await planText(options, text, io.now())).plan;
    } catch (error) {
      if (!(error instanceof PipelineError)) throw error;
      // A manifest that was not valid before the edit has no plan to compare with.
    }
  }

  if (options.dryRun) io.stdout(`${notes}${diff}`);
  else {
    await writeAtomically(file, edit.text);
    io.stdout(`${notes}Wrote ${file}.\n`);
  }
  if (after) {
    io.stdout(renderPlanDifference(before, after.plan));
    if (after.note) io.stdout(`note: ${after.note}\n`);
  } else {
    io.stdout(`The plan difference is not shown: ${planProblem ?? "the state could not be read"}\n`);
  }
  if (options.dryRun) io.stdout(`Dry run: ${file} was not written.\n`);
  return 0;
}
