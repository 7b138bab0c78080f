/**
 * Per-key serial queues: tasks with the same key run one after another, in
 * the order they were queued, whatever their own timing (AES-GCM in
 * WebCrypto runs on a thread pool and may finish out of order). Tasks of
 * different keys run concurrently. A failed task does not stop its queue.
 * @module
 */

/** Serial queues by key (e.g. one per remote peer and direction). */
export class SerialQueues<K> {
  #tails = new Map<K, Promise<unknown>>();

  /** Runs `task` after every task queued earlier under `key`; resolves or rejects with its result. */
  run<T>(key: K, task: () => T | Promise<T>): Promise<T> {
    const tail = this.#tails.get(key) ?? Promise.resolve();
    const result = tail.then(task);
    const settled = result.then(() => {}, () => {});
    this.#tails.set(key, settled);
    // An idle key keeps no memory: drop the tail once nothing was queued after it.
    void settled.then(() => {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    return result;
  }

  /** Keys with queued or running tasks (for tests and diagnostics). */
  get busy(): number {
    return this.#tails.size;
  }
}
