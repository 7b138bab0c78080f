/**
 * A Deno KV wrapper that counts round trips, for tests and measurements of
 * how many KV reads and writes a join or a message costs.
 * @module
 */

/** KV round trips seen so far. */
export interface KvCounts {
  /** `get` and `getMany` calls. */
  gets: number;
  /** List round trips (one per batch started, at least one per list). */
  lists: number;
  /** Entries returned by lists. */
  listed: number;
  /** Keys lists asked KV for (each round trip's batch, capped by the list's limit): what they may have read. */
  asked: number;
  /** Committed or attempted atomics, plus plain `set`/`delete`. */
  writes: number;
  /** Atomics whose checks failed. */
  failedWrites: number;
}

/** A counting view of `kv`; `counts` grows as the view is used. */
export function countingKv(kv: Deno.Kv): { kv: Deno.Kv; counts: KvCounts; reset(): void } {
  const counts: KvCounts = { gets: 0, lists: 0, listed: 0, asked: 0, writes: 0, failedWrites: 0 };
  const wrapAtomic = (atomic: Deno.AtomicOperation): Deno.AtomicOperation => {
    const proxy: Deno.AtomicOperation = new Proxy(atomic, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (prop === "commit") {
          return async () => {
            counts.writes++;
            const result = await target.commit();
            if (!result.ok) counts.failedWrites++;
            return result;
          };
        }
        return (...args: unknown[]) => {
          value.apply(target, args);
          return proxy;
        };
      },
    });
    return proxy;
  };
  const view = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      switch (prop) {
        case "get":
        case "getMany":
          return (...args: unknown[]) => (counts.gets++, value.apply(target, args));
        case "set":
        case "delete":
          return (...args: unknown[]) => (counts.writes++, value.apply(target, args));
        case "atomic":
          return () => wrapAtomic(target.atomic());
        case "list":
          return (selector: Deno.KvListSelector, options: Deno.KvListOptions = {}) => {
            const inner = target.list(selector, options);
            const batch = options.batchSize ?? options.limit ?? 100;
            const limit = options.limit ?? Infinity;
            let seen = 0;
            counts.lists++;
            counts.asked += Math.min(batch, limit);
            const iterator = {
              get cursor() {
                return inner.cursor;
              },
              async next() {
                const step = await inner.next();
                if (!step.done) {
                  seen++;
                  counts.listed++;
                  if (seen > 1 && (seen - 1) % batch === 0) {
                    counts.lists++;
                    counts.asked += Math.min(batch, limit - (seen - 1));
                  }
                }
                return step;
              },
              [Symbol.asyncIterator]() {
                return iterator;
              },
            };
            return iterator;
          };
        default:
          return value.bind(target);
      }
    },
  });
  return {
    kv: view,
    counts,
    reset() {
      Object.assign(counts, { gets: 0, lists: 0, listed: 0, asked: 0, writes: 0, failedWrites: 0 });
    },
  };
}
