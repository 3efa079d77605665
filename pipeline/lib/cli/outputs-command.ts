/** `outputs`: what is published where (ARNs), from the index the last reconcile wrote. */
import { PipelineError } from "../errors.ts";
import { renderOutputsMarkdown, renderOutputsText } from "../render/outputs.ts";
import { renderOutputsPackages } from "../render/outputs-packages.ts";
import type { OutputsIndex } from "../ports.ts";
import { openWorkspace } from "./workspace.ts";
import { oneOf, parseCommand } from "./args.ts";
import type { CommonOptions } from "./args.ts";

export const OUTPUTS_USAGE = `Usage: tsx pipeline/outputs.ts [options]

Prints the published layers (layer, R version, architecture, region, ARN with version) from the
index the last reconcile wrote beside the artifacts.

Options:
  --manifest FILE            manifest (default: layers.yaml)
  --backend local|aws        where the index is read (default: local)
  --state DIR                local backend folder (default: .layers beside the manifest)
  --allow-file-repository    local backend only: accept a manifest with file:// repositories
  --format text|json|markdown
  --layer NAME               only this layer
  --region REGION            only this region
  --packages                 (text) each layer version's R packages and versions
  -h, --help                 show this help
`;

export interface OutputsOptions extends CommonOptions {
  format: "text" | "json" | "markdown";
  layer?: string;
  region?: string;
  packages?: boolean;
}

export function parseOutputsArgs(argv: readonly string[]): OutputsOptions {
  const { common, values } = parseCommand(argv, OUTPUTS_USAGE, {
    format: { type: "string" },
    layer: { type: "string" },
    region: { type: "string" },
    packages: { type: "boolean" },
  });
  const str = (name: string) => values[name] as string | undefined;
  const layer = str("layer");
  const region = str("region");
  return {
    ...common,
    format: oneOf("--format", str("format") ?? "text", ["text", "json", "markdown"] as const),
    ...(layer ? { layer } : {}),
    ...(region ? { region } : {}),
    ...(values.packages === true ? { packages: true } : {}),
  };
}

export async function outputsCommand(options: OutputsOptions, stdout: (text: string) => void): Promise<number> {
  if (options.help) {
    stdout(OUTPUTS_USAGE);
    return 0;
  }
  const { workspace } = await openWorkspace(options);
  let index: OutputsIndex | undefined;
  try {
    index = await workspace.backend.artifacts.readOutputs();
  } finally {
    workspace.close();
  }
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
      stdout(options.packages ? renderOutputsPackages(filtered) : renderOutputsText(filtered));
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
