/**
 * Retries of Deno KV calls that fail only because another handle holds the
 * SQLite write lock ("database is locked"): several workers or processes
 * sharing one KV file (`deno serve --parallel`, the KV bus across processes)
 * meet it under load, and Deno's local KV does not wait for the lock itself.
 * Every other error goes straight to the caller.
 * @module
 */

/** How long to keep retrying a locked database before giving up, in ms. */
const BUSY_GIVE_UP_MS = 5_000;
/** The longest pause between two attempts, in ms; pauses grow to it with jitter. */
const BUSY_MAX_PAUSE_MS = 20;

/** True when `error` is SQLite's transient "database is locked" (or busy). */
export function isKvBusy(error: unknown): boolean {
  return error instanceof Error && /database is (locked|busy)/i.test(error.message);
}

/** Runs `operation`, retrying it while the KV file is locked by another handle. */
export async function retryKvBusy<T>(operation: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 0;; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!isKvBusy(error) || Date.now() - started > BUSY_GIVE_UP_MS) throw error;
      const pause = Math.random() * Math.min(BUSY_MAX_PAUSE_MS, 1 + attempt * 2);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
