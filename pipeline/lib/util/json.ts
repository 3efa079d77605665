/** Reading JSON that the pipeline stored: absent is `undefined`, anything unreadable a StateError naming where. */
import { readFile } from "node:fs/promises";
import { StateError } from "../errors.ts";

/** Parses stored JSON text; `where` names the file or object in the error. */
export function parseJsonText(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new StateError(`${where} is not valid JSON (${(error as Error).message}); fix or remove it`, { cause: error });
  }
}

/** A JSON file's content, or undefined when the file does not exist. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StateError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return parseJsonText(text, file);
}
