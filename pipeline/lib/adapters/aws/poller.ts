/**
 * One polling loop for every item being watched: each tick fetches all of them in one batch
 * call (CodeBuild's BatchGetBuilds takes up to 100 ids), so ten running builds cost one call per
 * tick, not ten. The delay between ticks grows while nothing new is watched.
 */
import { sleep as defaultSleep } from "../../util/sleep.ts";

export interface PollTiming {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** How much the delay grows after each tick. */
  readonly factor: number;
}

export const DEFAULT_POLL_TIMING: PollTiming = { initialDelayMs: 3_000, maxDelayMs: 15_000, factor: 1.5 };

/** Fetches the current state of a batch of ids; ids it does not return are unknown. */
export type BatchFetch<T> = (ids: readonly string[]) => Promise<ReadonlyMap<string, T>>;

/** Called once per tick with the item's state; resolves true when watching should end. */
export type TickHandler<T> = (item: T | undefined) => Promise<boolean>;

interface Watcher<T> {
  readonly onTick: TickHandler<T>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class BatchPoller<T> {
  private readonly watchers = new Map<string, Watcher<T>>();
  private delay: number;
  private running = false;

  constructor(
    private readonly fetch: BatchFetch<T>,
    private readonly timing: PollTiming = DEFAULT_POLL_TIMING,
    private readonly sleep: (ms: number) => Promise<void> = defaultSleep,
    private readonly batchSize = 100,
  ) {
    this.delay = timing.initialDelayMs;
  }

  /** Watches `id` until its handler says done; rejects when the handler or the fetch fails. */
  watch(id: string, onTick: TickHandler<T>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.watchers.set(id, { onTick, resolve, reject });
      // A new build should be seen early, whatever the backoff has grown to.
      this.delay = this.timing.initialDelayMs;
      if (!this.running) void this.loop();
    });
  }

  get watching(): number {
    return this.watchers.size;
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.watchers.size > 0) {
        await this.sleep(this.delay);
        this.delay = Math.min(this.timing.maxDelayMs, this.delay * this.timing.factor);
        await this.tick();
      }
    } finally {
      this.running = false;
    }
  }

  private async tick(): Promise<void> {
    const ids = [...this.watchers.keys()];
    for (let start = 0; start < ids.length; start += this.batchSize) {
      const chunk = ids.slice(start, start + this.batchSize);
      let states: ReadonlyMap<string, T>;
      try {
        states = await this.fetch(chunk);
      } catch (error) {
        for (const id of chunk) this.settle(id, error);
        continue;
      }
      await Promise.all(
        chunk.map(async (id) => {
          const watcher = this.watchers.get(id);
          if (!watcher) return;
          try {
            if (await watcher.onTick(states.get(id))) this.settle(id);
          } catch (error) {
            this.settle(id, error);
          }
        }),
      );
    }
  }

  private settle(id: string, error?: unknown): void {
    const watcher = this.watchers.get(id);
    if (!watcher) return;
    this.watchers.delete(id);
    if (error === undefined) watcher.resolve();
    else watcher.reject(error);
  }
}
