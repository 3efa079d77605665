/** `outputs`: what is published where (ARNs), from the index the last reconcile wrote. */
import { parseArgs } from "node:util";
import { PipelineError, UsageError } from "../errors.ts";
import { renderOutputsMarkdown, renderOutputsText } from "../execute/outputs.ts";
import type { OutputsIndex } from "../state/ports.ts";
import { openWorkspace } from "./plan-command.ts";
import { defaultStateDir } from "./backend.ts";
import type { BackendName } from "./backend.ts";

export const OUTPUTS_USAGE = `Usage: tsx pipeline/outputs.ts [options]

Prints the published layers (layer, R version, architecture, region, ARN with version) from the
index the last reconcile wrote beside the artifacts.

Options:
  --manifest FILE            manifest (default: layers.yaml)
  --backend local|aws        where the index is read (default: local)
  --state DIR                local backend folder (default: .layers beside the manifest)
  --format text|json|markdown
  --layer NAME               only this layer
  --region REGION            only this region
  -h, --help                 show this help
`;

export interface OutputsOptions {
  manifest: string;
  backend: BackendName;
  state: string;
  format: "text" | "json" | "markdown";
  layer?: string;
  region?: string;
  help: boolean;
}

export function parseOutputsArgs(argv: readonly string[]): OutputsOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        manifest: { type: "string" },
        backend: { type: "string" },
        state: { type: "string" },
        format: { type: "string" },
        layer: { type: "string" },
        region: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${OUTPUTS_USAGE}`);
  }
  const v = parsed.values;
  const manifest = v.manifest ?? "layers.yaml";
  const backend = v.backend ?? "local";
  if (backend !== "local" && backend !== "aws") throw new UsageError(`--backend must be one of local, aws, not "${backend}"`);
  const format = v.format ?? "text";
  if (format !== "text" && format !== "json" && format !== "markdown") {
    throw new UsageError(`--format must be one of text, json, markdown, not "${format}"`);
  }
  return {
    manifest,
    backend,
    state: v.state ?? defaultStateDir(manifest),
    format,
    ...(v.layer ? { layer: v.layer } : {}),
    ...(v.region ? { region: v.region } : {}),
    help: v.help ?? false,
  };
}

export async function outputsCommand(options: OutputsOptions, stdout: (text: string) => void): Promise<number> {
  if (options.help) {
    stdout(OUTPUTS_USAGE);
    return 0;
  }
  const { workspace } = await openWorkspace(options);
  const index = await workspace.backend.artifacts.readOutputs();
  if (!index) {
    throw new PipelineError(
      "STATE_UNREADABLE",
      `no outputs index in ${workspace.backend.description.location}: nothing has been reconciled there yet (run npm run reconcile)`,
    );
  }
  const filtered: OutputsIndex = {
    ...index,
    layers: index.layers.filter(
      (e) => (!options.layer || e.layer === options.layer) && (!options.region || e.region === options.region),
    ),
  };
  switch (options.format) {
    case "text":
      stdout(renderOutputsText(filtered));
      break;
    case "json":
      stdout(`${JSON.stringify(filtered, null, 2)}\n`);
      break;
    case "markdown":
      stdout(renderOutputsMarkdown(filtered));
      break;
  }
  return 0;
}
