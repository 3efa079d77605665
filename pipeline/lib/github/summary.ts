/** The job summary: GitHub renders the markdown appended to the file named by GITHUB_STEP_SUMMARY. */
import { appendFile } from "node:fs/promises";
import { PipelineError } from "../errors.ts";

export async function appendSummary(path: string | undefined, markdown: string): Promise<boolean> {
  if (!path) return false;
  try {
    await appendFile(path, markdown.endsWith("\n") ? markdown : `${markdown}\n`);
  } catch (error) {
    throw new PipelineError("GITHUB_API", `cannot append to the job summary at GITHUB_STEP_SUMMARY=${path}: ${(error as Error).message}`, { cause: error });
  }
  return true;
}
