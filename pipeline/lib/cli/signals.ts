/**
 * Cancellation as GitHub Actions and a terminal deliver it. The first SIGINT or SIGTERM aborts
 * the returned signal: the reconcile stops scheduling, lets API calls in flight finish, writes
 * the outputs index, releases the lock and exits 130 / 143. A second signal exits at once and
 * says the lock is kept (GitHub sends SIGINT, then SIGTERM after 7.5 s, then SIGKILL).
 */
export interface Cancellation {
  readonly signal: AbortSignal;
  /** Which signal cancelled the run, once one has. */
  readonly reason: () => "SIGINT" | "SIGTERM" | undefined;
  /** What to print if a second signal ends the run before cleanup (the lock it leaves, and how to remove it). */
  setLeftBehind(note: string | undefined): void;
  dispose(): void;
}

export interface SignalSource {
  on(event: "SIGINT" | "SIGTERM", listener: () => void): unknown;
  off(event: "SIGINT" | "SIGTERM", listener: () => void): unknown;
}

export function installCancellation(
  source: SignalSource,
  io: { readonly stderr: (text: string) => void; readonly exit: (status: number) => void },
): Cancellation {
  const controller = new AbortController();
  let received: "SIGINT" | "SIGTERM" | undefined;
  let leftBehind: string | undefined;
  const handler = (name: "SIGINT" | "SIGTERM") => () => {
    if (received === undefined) {
      received = name;
      io.stderr(`\n${name} received: finishing the API calls in flight, then writing the outputs and releasing the lock (send it again to stop at once)\n`);
      controller.abort(name);
      return;
    }
    io.stderr(`\n${name} received again: stopping now. ${leftBehind ?? "Nothing was locked yet."}\n`);
    io.exit(name === "SIGINT" ? 130 : 143);
  };
  const onInt = handler("SIGINT");
  const onTerm = handler("SIGTERM");
  source.on("SIGINT", onInt);
  source.on("SIGTERM", onTerm);
  return {
    signal: controller.signal,
    reason: () => received,
    setLeftBehind: (note) => (leftBehind = note),
    dispose: () => {
      source.off("SIGINT", onInt);
      source.off("SIGTERM", onTerm);
    },
  };
}
