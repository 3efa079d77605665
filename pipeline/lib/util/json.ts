/** Reading JSON that the pipeline stored: absent is `undefined`, anything unreadable a StateError naming where. */
import { StateError } from "../errors.ts";
import { readTextIfExists, stateFileError } from "./files.ts";

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
  let text: string | undefined;
  try {
    text = await readTextIfExists(file);
  } catch (error) {
    throw stateFileError("read", file, error);
  }
  return text === undefined ? undefined : parseJsonText(text, file);
}
