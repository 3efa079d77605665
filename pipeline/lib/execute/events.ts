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
      /** The pipeline's error code when the failure was a typed error (AWS_CREDENTIALS, …). */
      readonly code?: string;
    }
  | { readonly type: "skipped"; readonly action: Action; readonly because: string }
  /** Cancellation: never started, or a build left running (CodeBuild goes on; the next reconcile re-attaches). */
  | { readonly type: "cancelled"; readonly action: Action; readonly leftRunning: boolean };

export interface ExecutionSummary {
  readonly succeeded: readonly string[];
  readonly failed: readonly string[];
  readonly skipped: readonly string[];
  /** Not started because the run was cancelled. */
  readonly cancelled: readonly string[];
  /** Builds still running when the run was cancelled: not waited for. */
  readonly leftRunning: readonly string[];
  /** The error code of each failed action whose failure was a typed error. */
  readonly failureCodes: Readonly<Record<string, string>>;
  readonly elapsedMs: number;
}
