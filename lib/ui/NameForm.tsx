import { useEffect, useRef, useState } from "preact/hooks";
import type { RoomWords } from "./i18n.ts";
import * as UI from "./styles.ts";

/** Props of the name form. */
export interface NameFormProps {
  /** The current display name. */
  name: string;
  /** Saves the name (the room remembers it on this device and tells the peers). */
  onSave(name: string): void;
  /** The longest name the room keeps (the client core's `MAX_NAME_LENGTH`, passed in so this lazily loaded drawer
   * does not pull the client core into a chunk of its own). */
  maxLength: number;
  /** The UI strings. */
  t: RoomWords;
}

/** Sets the display name others see next to this device's messages; the field takes focus when the form opens. */
export function NameForm({ name, onSave, maxLength, t }: NameFormProps) {
  const [value, setValue] = useState(name);
  const field = useRef<HTMLInputElement>(null);
  // The form opens from its button: typing goes straight into the name (the `autofocus` attribute does nothing for an
  // element added after the page loaded).
  useEffect(() => field.current?.focus(), []);
  return (
    <form
      class={UI.panel}
      onSubmit={(event) => {
        event.preventDefault();
        onSave(value.trim());
      }}
    >
      <label for="self-name" class={UI.label}>{t.yourName}</label>
      <div class={UI.row}>
        <input
          ref={field}
          id="self-name"
          class={UI.field}
          value={value}
          maxLength={maxLength}
          autocomplete="nickname"
          onInput={(event) => setValue(event.currentTarget.value)}
        />
        <button type="submit" class={UI.primary}>{t.save}</button>
      </div>
    </form>
  );
}
