/** What the executor reports while it works. Renderers decide how it looks (progress.ts). */
import type { Action } from "../plan/types.ts";

export type ExecutionEvent =
  | { readonly type: "started"; readonly action: Action }
  | { readonly type: "log"; readonly action: Action; readonly line: string }
  | { readonly type: "succeeded"; readonly action: Action; readonly elapsedMs: number; readonly note?: string }
  | {
      readonly type: "failed";
      readonly action: Action;
      readonly elapsedMs: number;
      readonly message: string;
      readonly phase?: string;
      readonly logTail: readonly string[];
      readonly link?: string;
    }
  | { readonly type: "skipped"; readonly action: Action; readonly because: string };

export interface ExecutionSummary {
  readonly succeeded: readonly string[];
  readonly failed: readonly string[];
  readonly skipped: readonly string[];
  readonly elapsedMs: number;
}
