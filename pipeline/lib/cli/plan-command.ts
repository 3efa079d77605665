/** `plan`: read the manifest and the state, print what a reconcile would do. Changes nothing. */
import { COLOUR_OPTIONS, colourFrom, oneOf, parseCommand } from "./args.ts";
import type { CommonOptions } from "./args.ts";
import { renderJson } from "../render/json.ts";
import { renderMarkdown } from "../render/markdown.ts";
import { renderText } from "../render/text.ts";
import { hasChanges } from "../render/common.ts";
import { publicationSpots } from "../render/matrix.ts";
import { openWorkspace, planFor } from "./workspace.ts";
import type { Plan } from "../plan/types.ts";
import { lockNote } from "../lock/file.ts";

export const PLAN_USAGE = `Usage: tsx pipeline/plan.ts [options]

Prints what a reconcile would build, publish, grant and prune. Changes nothing.

Options:
  --manifest FILE        manifest to plan (default: layers.yaml)
  --backend local|aws    where published state is read (default: local)
  --state DIR            local backend folder (default: .layers beside the manifest)
  --allow-file-repository
                         local backend only: accept file:// repositories (their packages
                         are built on this machine; see the README's trust model)
  --format text|json|markdown
                         output form (default: text)
  --prune                also plan deleting versions beyond retention and layers
                         no longer in the manifest
  --refresh-grants       read every current version's policy instead of trusting the grants
                         the last reconcile recorded (finds grants changed by hand; the drift
                         check uses it)
  --detailed-exitcode    exit 0 when there are no changes, 2 when there are, 1 on error
  --color / --no-color   force colour on or off (default: on for a terminal, unless NO_COLOR)
  -h, --help             show this help
`;

type Format = "text" | "json" | "markdown";

export interface PlanOptions extends CommonOptions {
  format: Format;
  prune: boolean;
  refreshGrants: boolean;
  detailedExitcode: boolean;
  colour: boolean;
}

export function parsePlanArgs(argv: readonly string[], env: NodeJS.ProcessEnv, isTty: boolean): PlanOptions {
  const { common, values } = parseCommand(argv, PLAN_USAGE, {
    format: { type: "string" },
    prune: { type: "boolean" },
    "refresh-grants": { type: "boolean" },
    "detailed-exitcode": { type: "boolean" },
    ...COLOUR_OPTIONS,
  });
  return {
    ...common,
    format: oneOf("--format", (values.format as string | undefined) ?? "text", ["text", "json", "markdown"] as const),
    prune: values.prune === true,
    refreshGrants: values["refresh-grants"] === true,
    detailedExitcode: values["detailed-exitcode"] === true,
    colour: colourFrom(values, env, isTty),
  };
}

export interface PlanIo {
  readonly stdout: (text: string) => void;
  readonly now: () => Date;
  /** The terminal's width, when stdout is one: the per-layer matrices are shown when they fit. */
  readonly columns?: number;
  /** Where notes go that are not part of a JSON plan (default: dropped). */
  readonly stderr?: (text: string) => void;
}

export async function planCommand(options: PlanOptions, io: PlanIo): Promise<number> {
  if (options.help) {
    io.stdout(PLAN_USAGE);
    return 0;
  }
  const opened = await openWorkspace(options);
  let result: Plan;
  try {
    result = await planFor(opened, { prune: options.prune, refreshGrants: options.refreshGrants }, io.now());
  } finally {
    opened.workspace.close();
  }
  // The lock's state is a note beside the plan, not part of the plan document.
  const note = opened.lock ? lockNote(opened.lock) : undefined;
  if (note && options.format === "json") io.stderr?.(`warning: ${note}\n`);
  const shown: Plan = note && options.format !== "json" ? { ...result, warnings: [...result.warnings, note] } : result;
  // Every publication the manifest declares, so the matrices show unchanged cells too.
  const spots = publicationSpots(opened.graph);
  switch (options.format) {
    case "text":
      io.stdout(renderText(shown, { colour: options.colour, spots, ...(io.columns ? { width: io.columns } : {}) }));
      break;
    case "json":
      io.stdout(renderJson(result));
      break;
    case "markdown":
      io.stdout(renderMarkdown(shown, { spots }));
      break;
  }
  return options.detailedExitcode && hasChanges(result) ? 2 : 0;
}
