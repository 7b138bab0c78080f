/**
 * Polls a condition until it holds, with a hang guard that names what was
 * awaited. Not a timing assertion: the limit only stops a stuck test.
 * @module
 */

/** Options of `until`. */
export interface UntilOptions {
  /** What is awaited, for the error message. */
  what?: string;
  /** Give up after this long, in ms. */
  timeoutMs?: number;
  /** Pause between checks, in ms. */
  intervalMs?: number;
}

/** Resolves once `check()` is true; throws after `timeoutMs`. */
export async function until(check: () => boolean, options: UntilOptions = {}): Promise<void> {
  const { what = "condition", timeoutMs = 20_000, intervalMs = 5 } = options;
  const start = performance.now();
  while (!check()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
