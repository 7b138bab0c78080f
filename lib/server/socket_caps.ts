/**
 * Caps on the sockets of one client address group on this instance: how many
 * are open, and how many of them are not admitted yet (no welcome). A socket
 * costs memory (the runtime's buffers and the connection's state) whether or
 * not it ever says hello, so one address cannot hold more than its share
 * however it spends them; a socket past a cap is refused at the HTTP upgrade,
 * before any WebSocket exists (429 `busy`).
 * @module
 */

/** Options of {@linkcode SocketCaps}. */
export interface SocketCapsOptions {
  /** The most open sockets of one address group (`MAX_SOCKETS_PER_ADDRESS`). */
  sockets: number;
  /** The most sockets of one address group not admitted yet (`MAX_PENDING_PER_ADDRESS`). */
  pending: number;
}

/** Which cap a socket would pass. */
export type SocketCap = "sockets" | "pending";

interface GroupCount {
  open: number;
  pending: number;
}

/** Counts the sockets of every address group and says when one would pass a cap. */
export class SocketCaps {
  #options: SocketCapsOptions;
  #groups = new Map<string, GroupCount>();

  /** Builds empty counts. */
  constructor(options: SocketCapsOptions) {
    this.#options = options;
  }

  /** The cap a new socket of `group` would pass, or null when it may open. */
  full(group: string): SocketCap | null {
    const count = this.#groups.get(group);
    if (count === undefined) return null;
    if (count.open >= this.#options.sockets) return "sockets";
    if (count.pending >= this.#options.pending) return "pending";
    return null;
  }

  /** Counts a new socket of `group`, not admitted yet. */
  opened(group: string): void {
    const count = this.#groups.get(group);
    if (count) {
      count.open++;
      count.pending++;
    } else {
      this.#groups.set(group, { open: 1, pending: 1 });
    }
  }

  /** A socket of `group` was admitted (welcomed): it is no longer pending. */
  admitted(group: string): void {
    const count = this.#groups.get(group);
    if (count) count.pending--;
  }

  /** A socket of `group` closed; `pending`: it was never admitted. */
  closed(group: string, pending: boolean): void {
    const count = this.#groups.get(group);
    if (!count) return;
    count.open--;
    if (pending) count.pending--;
    if (count.open <= 0) this.#groups.delete(group);
  }

  /** Open and pending sockets of `group`, for tests and metrics. */
  of(group: string): { open: number; pending: number } {
    const count = this.#groups.get(group);
    return { open: count?.open ?? 0, pending: count?.pending ?? 0 };
  }
}
