/**
 * Asks the browser once to keep this site's storage (`navigator.storage.persist()`), so the
 * chats are not evicted under storage pressure: after the first message sent, when the user
 * has shown they mean to keep a conversation. Missing APIs and refusals are not errors.
 * @module
 */

/** The part of `StorageManager` used here; every member may be missing. */
export interface PersistApi {
  /** Whether the storage is already persistent. */
  persisted?(): Promise<boolean>;
  /** Asks to make it persistent. */
  persist?(): Promise<boolean>;
}

/** Returns a function that asks once (later calls do nothing); resolves to whether storage is persistent. */
export function persistOnce(api: () => PersistApi | undefined): () => Promise<boolean> {
  let asked: Promise<boolean> | undefined;
  return () => {
    asked ??= (async () => {
      const storage = api();
      if (typeof storage?.persist !== "function") return false;
      try {
        if (typeof storage.persisted === "function" && await storage.persisted()) return true;
        return await storage.persist();
      } catch {
        return false;
      }
    })();
    return asked;
  };
}
