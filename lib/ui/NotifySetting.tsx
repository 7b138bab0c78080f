import { useEffect, useState } from "preact/hooks";
import type { RoomWords } from "./i18n.ts";
import { canNotify, type NotifyMode, notifyMode, setNotifyMode } from "./notify.ts";
import * as UI from "./styles.ts";

/** Props of the notification setting. */
export interface NotifySettingProps {
  /** The UI strings. */
  t: RoomWords;
}

/**
 * Off / sender only / sender and text. Choosing one of the last two asks for
 * permission then and there (a user gesture), never on load; a refusal puts
 * the setting back to off.
 */
export function NotifySetting({ t }: NotifySettingProps) {
  const [mode, setMode] = useState<NotifyMode>("off");
  const [supported, setSupported] = useState(false);
  useEffect(() => {
    setSupported(canNotify());
    setMode(notifyMode());
  }, []);
  if (!supported) return null;
  return (
    <label class={UI.notifyLabel}>
      {/* On a phone a bell stands for the words (which would push the row onto a third line); they stay for screen readers. */}
      <span class={UI.notifyWords}>{t.notifications}</span>
      <svg class={UI.notifyBell} viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
        <path
          d="M8 1.5a4 4 0 0 0-4 4v3L2.5 11h11L12 8.5v-3a4 4 0 0 0-4-4zM6.5 12.5a1.5 1.5 0 0 0 3 0"
          fill="none"
          stroke="currentColor"
          stroke-width="1.3"
          stroke-linejoin="round"
        />
      </svg>
      <select
        class={UI.notifySelect}
        value={mode}
        onChange={async (event) => {
          const wanted = event.currentTarget.value as NotifyMode;
          setMode(await setNotifyMode(wanted));
        }}
      >
        <option value="off">{t.notifyOff}</option>
        <option value="sender">{t.notifySender}</option>
        <option value="text">{t.notifyText}</option>
      </select>
    </label>
  );
}
