/**
 * The reconcile lock as one S3 object, `locks/reconcile.json` in the state bucket, created with
 * a conditional put (`If-None-Match: *`): S3 accepts exactly one of several concurrent writers
 * and answers 412 to the others (409 to a writer that raced an in-flight one: retry). Release
 * deletes the object only while its ETag is still the one we read (`If-Match`), so a lock taken
 * over by `--force-unlock` and re-taken by another run is never removed by the first.
 *
 * An expired lock is not taken over automatically: a run that looks dead may still be
 * publishing. The CLI shows the holder and offers `--force-unlock ID`.
 */
import { StateError } from "../../errors.ts";
import { LOCK_KEY } from "../../naming.ts";
import { readLock } from "../../stored/formats.ts";
import type { LockAttempt, LockInfo, StateLock } from "../../ports.ts";
import type { S3Bucket } from "./s3-objects.ts";
import { sleep as defaultSleep } from "../../util/sleep.ts";


export type ForceReleaseOutcome =
  | { readonly outcome: "released"; readonly lock: LockInfo }
  | { readonly outcome: "absent" }
  | { readonly outcome: "held-by-other"; readonly holder: LockInfo };

export interface S3StateLockOptions {
  /** How often to retry after a 409 or a lock that vanished between our put and our read. */
  readonly attempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}


export class S3StateLock implements StateLock {
  private readonly attempts: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly bucket: S3Bucket,
    options: S3StateLockOptions = {},
  ) {
    this.attempts = options.attempts ?? 6;
    this.sleep = options.sleep ?? defaultSleep;
  }

  get location(): string {
    return this.bucket.url(LOCK_KEY);
  }

  async acquire(info: LockInfo): Promise<LockAttempt> {
    const body = `${JSON.stringify(info, null, 2)}\n`;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      const put = await this.bucket.put(LOCK_KEY, body, { contentType: "application/json", ifAbsent: true });
      if (put.written) return { acquired: true };
      if (put.reason === "exists") {
        const holder = await this.read();
        // Our own write, whose response was lost and whose retry then found it.
        if (holder?.id === info.id) return { acquired: true };
        if (holder) return { acquired: false, holder };
        // Released between our put and our read: try again rather than report no one.
      }
      await this.sleep(Math.min(1_000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2));
    }
    throw new StateError(`could not take the lock ${this.location}: it kept changing hands; try again`);
  }

  async release(id: string): Promise<void> {
    await this.releaseIfHeldBy(id);
  }

  /** For `--force-unlock ID`: removes a lock left by a killed run, only if `id` still holds it. */
  async forceRelease(id: string): Promise<ForceReleaseOutcome> {
    return this.releaseIfHeldBy(id);
  }

  private async releaseIfHeldBy(id: string): Promise<ForceReleaseOutcome> {
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      const current = await this.readWithTag();
      if (!current) return { outcome: "absent" };
      if (current.info.id !== id) return { outcome: "held-by-other", holder: current.info };
      const deleted = await this.bucket.delete(LOCK_KEY, current.etag);
      if (deleted === "deleted") return { outcome: "released", lock: current.info };
      if (deleted === "absent") return { outcome: "absent" };
      // "changed": rewritten since we read it; look again.
    }
    throw new StateError(`could not release the lock ${this.location}: it kept changing; try again`);
  }

  async read(): Promise<LockInfo | undefined> {
    return (await this.readWithTag())?.info;
  }

  private async readWithTag(): Promise<{ info: LockInfo; etag: string } | undefined> {
    const object = await this.bucket.get(LOCK_KEY);
    if (!object) return undefined;
    const info = readLock(object.body.toString("utf8"), this.location);
    return { info, etag: object.etag };
  }
}
