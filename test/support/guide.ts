/**
 * The snippets of docs/guide.md's section on infrastructure code, by tool, and the parameter
 * names each one reads, so tests can parse them and hold them to what the pipeline writes.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO } from "./cli.ts";

export const GUIDE_SECTION = "## 15. Using the layers from infrastructure code";

export interface GuideSnippets {
  readonly manifest: string;
  readonly cloudformation: string;
  readonly terraform: string;
  readonly cdk: string;
  readonly cli: string;
}

/** The fenced blocks of the section, in order, with their languages. */
async function blocks(): Promise<{ lang: string; body: string }[]> {
  const guide = await readFile(join(REPO, "docs/guide.md"), "utf8");
  const start = guide.indexOf(`\n${GUIDE_SECTION}\n`);
  if (start < 0) throw new Error(`docs/guide.md has no section "${GUIDE_SECTION}"`);
  const next = guide.indexOf("\n## ", start + 1);
  const section = guide.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1] ?? "", body: m[2] ?? "" }));
}

export async function guideSnippets(): Promise<GuideSnippets> {
  const all = await blocks();
  const one = (what: string, test: (b: { lang: string; body: string }) => boolean): string => {
    const found = all.filter(test);
    if (found.length !== 1) throw new Error(`expected one ${what} snippet in the guide's section, found ${found.length}`);
    return found[0]!.body;
  };
  return {
    manifest: one("manifest", (b) => b.lang === "yaml" && b.body.startsWith("outputs:")),
    cloudformation: one("CloudFormation", (b) => b.lang === "yaml" && b.body.startsWith("Resources:")),
    terraform: one("Terraform", (b) => b.lang === "hcl"),
    cdk: one("CDK", (b) => b.lang === "ts"),
    cli: one("AWS CLI", (b) => b.lang === "sh"),
  };
}

/** Every parameter name a snippet reads (`/r-lambda-layers/…`), in order of appearance. */
export function parameterNamesIn(snippet: string): string[] {
  return [...snippet.matchAll(/(?<=["':\s=(])(\/r-lambda-layers\/[A-Za-z0-9_.\-/]+?)(?=["'}\s,)]|$)/gm)].map((m) => m[1]!);
}
