import { useRef, useState } from "preact/hooks";
import type { Strings } from "./i18n.ts";
import { UI } from "./styles.ts";

/** Props of the composer. */
export interface ComposerProps {
  /** Stores and sends a message; resolves once it is stored on the device. */
  onSend(text: string): Promise<void>;
  /** Called on input so peers see "typing" (the room throttles it). */
  onTyping(): void;
  /** True until the room is open; typing is allowed, sending waits. */
  disabled?: boolean;
  /** The UI strings. */
  t: Strings;
}

/** Most lines the textbox grows to before it scrolls. */
const MAX_ROWS = 5;

/** The message box and Send button: Enter sends, Shift+Enter starts a new line. */
export function Composer({ onSend, onTyping, disabled, t }: ComposerProps) {
  const [text, setText] = useState("");
  const [failed, setFailed] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);

  const submit = () => {
    const body = text.trim();
    if (!body || disabled) return;
    setText("");
    setFailed(false);
    input.current?.focus();
    onSend(body).catch((error) => {
      console.error("Parley: sending failed", error);
      setText((current) => current || body);
      setFailed(true);
    });
  };

  return (
    <form
      class={UI.composer}
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      <label for="composer-message" class={UI.srOnly}>{t.message}</label>
      <textarea
        id="composer-message"
        ref={input}
        name="message"
        class={UI.textarea}
        rows={Math.min(MAX_ROWS, text.split("\n").length)}
        placeholder={t.messagePlaceholder}
        value={text}
        enterkeyhint="send"
        autocomplete="off"
        onInput={(event) => {
          setText(event.currentTarget.value);
          onTyping();
        }}
        onKeyDown={(event) => {
          if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            submit();
          }
        }}
      />
      <button type="submit" class={UI.primary} disabled={disabled}>{t.send}</button>
      {failed && <p role="alert" class={UI.error}>{t.sendFailed}</p>}
    </form>
  );
}
