/**
 * The signaling session of one tab: its resume token and peer id. Each tab
 * is its own session (a tab never resumes another's token, or the server
 * would replace one with the other), so the slot lives in `sessionStorage`:
 * a reload keeps it, a new tab starts without it. Never in IndexedDB, which
 * every tab of the browser shares.
 * @module
 */

/** What a tab keeps of its session. */
export interface TabSession {
  /** The resume token from the last `welcome`. */
  token?: string;
  /** The peer id that token resumes. */
  peer?: string;
  /** This tab's tag in message order keys (see the courier's `tab`), so a reload keeps numbering on its lane. */
  tab?: string;
}

/** Where one tab keeps its session. */
export interface SessionSlot {
  /** The saved session (empty when none). */
  read(): TabSession;
  /** Saves the session of the latest `welcome`. */
  write(session: TabSession): void;
  /** Forgets it: the next hello joins as a new session. */
  clear(): void;
}

/** The `sessionStorage` key of a room's session. */
export function sessionKey(room: string): string {
  return `parley:session:${room}`;
}

/** A slot in memory only (tests, Deno, a page without storage). */
export function memorySessionSlot(initial: TabSession = {}): SessionSlot {
  let session = { ...initial };
  return {
    read: () => ({ ...session }),
    write: (next) => void (session = { ...next }),
    clear: () => void (session = {}),
  };
}

/** The parts of the Web Storage API a slot uses. */
export type SessionStorageLike = Pick<Storage, "getItem" | "setItem" | "removeItem">;

/**
 * A slot in `sessionStorage` (pass `globalThis.sessionStorage`), mirrored in
 * memory, so a storage that refuses (private modes, quota) still keeps the
 * session for this page.
 */
export function webSessionSlot(storage: SessionStorageLike | undefined, room: string): SessionSlot {
  const key = sessionKey(room);
  const memory = memorySessionSlot(readStored(storage, key));
  return {
    read: memory.read,
    write(session) {
      memory.write(session);
      try {
        storage?.setItem(key, JSON.stringify(session));
      } catch {
        // Storage refused the write: the session lives in memory for this page, and a reload joins anew.
      }
    },
    clear() {
      memory.clear();
      try {
        storage?.removeItem(key);
      } catch {
        // As above: memory is cleared, which is what this page needs.
      }
    },
  };
}

function readStored(storage: SessionStorageLike | undefined, key: string): TabSession {
  let raw: string | null = null;
  try {
    raw = storage?.getItem(key) ?? null;
  } catch {
    // An unreadable storage is an empty one.
  }
  if (!raw) return {};
  try {
    const value = JSON.parse(raw) as Record<string, unknown>;
    const session: TabSession = {};
    if (typeof value?.token === "string") session.token = value.token;
    if (typeof value?.peer === "string") session.peer = value.peer;
    return session;
  } catch {
    // A damaged record: start a new session.
    return {};
  }
}
