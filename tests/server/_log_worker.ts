/**
 * A Web Worker that appends to a room log on a shared KV file, so a test can
 * race appenders with their own KV handles and isolates, as instances would.
 * @module
 */
import { openKvRoomLog } from "../../lib/server/room_log_kv.ts";

/** What the test asks of the worker. */
export interface LogWorkerTask {
  /** The KV file shared by every worker. */
  path: string;
  /** The room appended to. */
  room: string;
  /** Prefix of every appended frame, to tell the workers apart. */
  prefix: string;
  /** How many frames to append, alternating single appends and batches. */
  count: number;
}

const scope = self as unknown as Worker;
scope.onmessage = async (event: MessageEvent<LogWorkerTask>) => {
  const { path, room, prefix, count } = event.data;
  const log = await openKvRoomLog(path, { ttlMs: 3600_000, maxEntries: 1_000_000, maxBytes: 1_000_000_000 });
  try {
    const work = [];
    for (let i = 0; i < count;) {
      if (i % 7 === 3 && i + 3 <= count) {
        work.push(log.appendMany(room, [`${prefix}${i}`, `${prefix}${i + 1}`, `${prefix}${i + 2}`]));
        i += 3;
      } else {
        work.push(log.append(room, `${prefix}${i}`).then((r) => [r]));
        i++;
      }
    }
    const seqs = (await Promise.all(work)).flat().map((r) => r.seq);
    scope.postMessage({ seqs });
  } catch (error) {
    scope.postMessage({ error: String(error) });
  } finally {
    log.close();
  }
};
