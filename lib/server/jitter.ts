/**
 * Retry pauses of the server's KV writers (compare-and-swap losers, failed
 * commits): exponential up to a ceiling, then a random point in the upper half
 * of it ("equal jitter"), so instances that lost the same race spread out and
 * none retries at once. Pure: the random source is the caller's.
 * @module
 */

/** The shape of a retry schedule. */
export interface PauseShape {
  /** The first ceiling, in ms: attempt 0 waits between half of it and all of it. */
  firstMs: number;
  /** The largest ceiling, in ms. */
  maxMs: number;
}

/** Exponent beyond which the ceiling surely reached its cap; keeps the float finite after many attempts. */
const MAX_EXPONENT = 30;

/** The pause before retry `attempt` (0 for the first retry), in ms. */
export function jitteredPause(attempt: number, shape: PauseShape, random: () => number): number {
  const ceiling = Math.min(shape.maxMs, shape.firstMs * 2 ** Math.min(attempt, MAX_EXPONENT));
  return ceiling / 2 + random() * ceiling / 2;
}
