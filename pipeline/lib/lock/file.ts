/** Reading and writing `layers.lock` beside the manifest (as manifest/load.ts reads the manifest). */
import { readTextIfExists, writeFileAtomic } from "../util/files.ts";
import type { Manifest } from "../manifest/types.ts";
import { lockStatus } from "./current.ts";
import type { LockStatus } from "./current.ts";
import { LockFileError, formatLockFile, lockFilePath, parseLockFile } from "./format.ts";
import type { LockFile } from "./format.ts";

/** The lock file's content, or undefined when there is none. */
export async function readLockFile(file: string): Promise<LockFile | undefined> {
  let text: string | undefined;
  try {
    text = await readTextIfExists(file);
  } catch (error) {
    throw new LockFileError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  return text === undefined ? undefined : parseLockFile(text, file);
}

/** Writes the lock file whole (util/files.ts). */
export async function writeLockFile(file: string, lock: LockFile, manifestName: string): Promise<void> {
  await writeFileAtomic(file, formatLockFile(lock, manifestName));
}

/** What a plan knows of the lock: where it is, whether it exists, which entries are current. */
export interface LockView {
  readonly file: string;
  readonly present: boolean;
  readonly status: LockStatus;
}

export async function readLockView(manifestFile: string, manifest: Manifest): Promise<LockView> {
  const file = lockFilePath(manifestFile);
  const lock = await readLockFile(file);
  return { file, present: lock !== undefined, status: lockStatus(manifest, lock) };
}

/**
 * The note a plan shows about the lock: none when every layer is pinned; otherwise one line
 * saying what is not pinned and what to run.
 */
export function lockNote(view: LockView): string | undefined {
  if (!view.present) return `versions are not pinned: there is no ${view.file}; run npm run lock`;
  if (view.status.stale.length === 0) return undefined;
  const names = view.status.stale.map((s) => `${s.layer} (R ${s.rVersion}: ${s.why})`);
  return `${view.file} does not match the manifest for ${names.join("; ")}: those versions are not pinned; run npm run lock`;
}
