import type { StorageMode } from "../client/room_view.ts";
import type { HeldWords } from "./i18n.ts";
import * as UI from "./styles.ts";

/** Props of the storage notice. */
export interface StorageNoticeProps {
  /** Where the room's writes go now; the notice shows only while they live in memory. */
  mode: StorageMode;
  /** The UI strings. */
  t: HeldWords;
}

/**
 * Says so while this device cannot save the chat (storage full, private mode, a lost database): the room goes
 * on in memory. The live region is always there, so screen readers announce the notice when it appears.
 */
export function StorageNotice({ mode, t }: StorageNoticeProps) {
  return (
    <div role="status" data-storage={mode}>
      {mode === "memory" && <p class={UI.storageNotice}>{t.storageMemory}</p>}
    </div>
  );
}
