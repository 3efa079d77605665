/** Reads a zip archive (stored or deflated entries), as CodeBuild unpacks an S3 source. */
import { mkdir, writeFile, chmod } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { inflateRawSync } from "node:zlib";

export interface UnzippedEntry {
  readonly path: string;
  readonly content: Buffer;
  /** Unix permission bits, when the archive records them. */
  readonly mode?: number;
}

export function readZip(zip: Buffer): UnzippedEntry[] {
  const endAt = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0) throw new Error("not a zip archive: no end of central directory");
  const count = zip.readUInt16LE(endAt + 10);
  let at = zip.readUInt32LE(endAt + 16);
  const entries: UnzippedEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error("corrupt zip: bad central directory entry");
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const madeBy = zip.readUInt16LE(at + 4) >> 8;
    const external = zip.readUInt32LE(at + 38);
    const localAt = zip.readUInt32LE(at + 42);
    const path = zip.subarray(at + 46, at + 46 + nameLength).toString("utf8");
    at += 46 + nameLength + extraLength + commentLength;
    const dataAt = localAt + 30 + zip.readUInt16LE(localAt + 26) + zip.readUInt16LE(localAt + 28);
    const data = zip.subarray(dataAt, dataAt + compressedSize);
    if (path.endsWith("/")) continue;
    const content = method === 0 ? Buffer.from(data) : method === 8 ? inflateRawSync(data) : undefined;
    if (!content) throw new Error(`zip entry ${path}: compression method ${method} is not supported`);
    entries.push({ path, content, ...(madeBy === 3 ? { mode: (external >>> 16) & 0o777 } : {}) });
  }
  return entries;
}

/** Writes the archive's files under `dir`, refusing paths that would leave it. */
export async function extractZip(zip: Buffer, dir: string): Promise<number> {
  const root = resolve(dir);
  const entries = readZip(zip);
  for (const entry of entries) {
    const target = resolve(join(root, entry.path));
    if (!target.startsWith(root + sep)) throw new Error(`zip entry ${entry.path} leaves the target folder`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, entry.content);
    if (entry.mode !== undefined) await chmod(target, entry.mode);
  }
  return entries.length;
}
