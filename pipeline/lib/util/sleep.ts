/** The one timer-backed wait; anything that waits takes a `sleep` option defaulting to this, so tests can pass a fake. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
