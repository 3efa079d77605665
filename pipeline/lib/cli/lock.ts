/** Taking the reconcile lock: who holds it, waiting for it, and explaining a stuck one. */
import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { PipelineError } from "../errors.ts";
import type { LockInfo, StateLock } from "../ports.ts";
import { sleep as defaultSleep } from "../util/sleep.ts";

export function lockHolder(env: NodeJS.ProcessEnv): string {
  if (env.GITHUB_ACTIONS === "true") {
    return `GitHub Actions run ${env.GITHUB_RUN_ID ?? "?"} (${env.GITHUB_REPOSITORY ?? "?"}, ${env.GITHUB_ACTOR ?? "?"})`;
  }
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {
    // Some containers have no passwd entry for the uid; the host and pid still identify the run.
  }
  return `${user}@${hostname()} (pid ${process.pid})`;
}

export interface AcquireOptions {
  readonly holder: string;
  readonly commit?: string;
  readonly ttlMs: number;
  readonly waitMs: number;
  readonly now: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onWait?: (holder: LockInfo) => void;
  /** Stops waiting when the run is cancelled. */
  readonly signal?: AbortSignal;
}

/** Takes the lock or throws LOCKED naming the holder, after waiting up to `waitMs`. */
export async function acquireLock(lock: StateLock, options: AcquireOptions): Promise<LockInfo> {
  const sleep = options.sleep ?? defaultSleep;
  const start = options.now().getTime();
  let announced = false;
  for (;;) {
    const now = options.now();
    const info: LockInfo = {
      id: randomUUID(),
      holder: options.holder,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + options.ttlMs).toISOString(),
      ...(options.commit ? { commit: options.commit } : {}),
    };
    const attempt = await lock.acquire(info);
    if (attempt.acquired) return info;
    const waited = now.getTime() - start;
    if (waited >= options.waitMs || options.signal?.aborted) throw lockedError(attempt.holder, now);
    if (!announced) options.onWait?.(attempt.holder);
    announced = true;
    await sleep(Math.min(2000, options.waitMs - waited));
  }
}

export function lockedError(holder: LockInfo, now: Date): PipelineError {
  if (holder.unreadable) {
    return new PipelineError(
      "LOCKED",
      `the lock is held by ${holder.holder}: if no reconcile is running, remove it with: npm run reconcile -- --force-unlock ${holder.id}`,
    );
  }
  const expired = new Date(holder.expiresAt).getTime() < now.getTime();
  const who = `${holder.holder} since ${holder.createdAt}${holder.commit ? ` at commit ${holder.commit.slice(0, 12)}` : ""}`;
  return new PipelineError(
    "LOCKED",
    expired
      ? `another reconcile holds the lock (${who}) and its lock expired at ${holder.expiresAt}: if that run is gone, remove the lock with: npm run reconcile -- --force-unlock ${holder.id}`
      : `another reconcile is running (${who}); wait for it, or pass --lock-timeout SECONDS to wait. If that run is gone (killed, its machine lost), remove its lock with: npm run reconcile -- --force-unlock ${holder.id}`,
  );
}
