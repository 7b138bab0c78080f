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
      {/* Each option says what it is ("No notifications"), so the word is for screen readers only. */}
      <span class={UI.srOnly}>{t.notifications}</span>
      <select
        class={UI.notifySelect}
        value={mode}
        onChange={async (event) => {
          const select = event.currentTarget;
          const kept = await setNotifyMode(select.value as NotifyMode);
          // A refusal leaves the state as it was ("off"), so no render would put the menu back: set it here.
          select.value = kept;
          setMode(kept);
        }}
      >
        <option value="off">{t.notifyOff}</option>
        <option value="sender">{t.notifySender}</option>
        <option value="text">{t.notifyText}</option>
      </select>
    </label>
  );
}
