/**
 * Files written whole or not at all, read as "absent" only when they do not exist, and
 * file-system failures of the state folder worded for a person. Every writer of a file the
 * pipeline reads back (state, layers.lock, layers.yaml) goes through `writeFileAtomic`.
 */
import { randomUUID } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { StateError } from "../errors.ts";

/**
 * Writes through a private temporary file (`<file>.<pid>.<uuid>.tmp`, created exclusively) and a
 * rename, so a killed run or a full disk never leaves half a file, or a 0-byte one, where it is
 * read. Errors are the file system's, for the caller to word.
 */
export async function writeFileAtomic(file: string, text: string, options: { mode?: number } = {}): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${randomUUID()}.tmp`;
  try {
    await writeFile(temporary, text, { flag: "wx" });
    if (options.mode !== undefined) await chmod(temporary, options.mode & 0o7777);
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** A text file's content, or undefined when it does not exist; any other failure is thrown as it is. */
export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** A failure on the local state folder as one sentence naming the path and what to do. */
export function stateFileError(action: string, path: string, error: unknown): StateError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === "EACCES" || code === "EPERM"
      ? "permission denied; check the folder's owner and mode"
      : code === "ENOSPC"
        ? "no space left on the device; free some and run again"
        : code === "ENOTDIR" || code === "EEXIST"
          ? "a file is where a folder is expected; --state must name a folder"
          : code === "EROFS"
            ? "the file system is read-only"
            : (error as Error).message;
  return new StateError(`cannot ${action} ${path}: ${why}`, { cause: error });
}
