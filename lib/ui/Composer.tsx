import type { JSX } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { MAX_BODY_CHARS } from "../client/text_limits.ts";
import { format, type HeldWords } from "./i18n.ts";
import * as UI from "./styles.ts";

/** Props of the composer. */
export interface ComposerProps {
  /** Stores and sends a message; resolves once it is stored on the device. */
  onSend(text: string): Promise<void>;
  /** Called on input so peers see "typing" (the room throttles it). */
  onTyping(): void;
  /** True until the room is open; typing is allowed, sending waits. */
  disabled?: boolean;
  /** The UI strings. */
  t: HeldWords;
}

/** Most UTF-16 code units in one message body: the courier's limit (`send()` and receivers refuse more). */
export { MAX_BODY_CHARS };
/** From this length on the composer shows a counter, so the limit never comes as a surprise. */
export const COUNTER_FROM_CHARS = Math.floor(MAX_BODY_CHARS * 0.9);

/** Most lines the textbox grows to before it scrolls (new lines, or one long line that wraps). */
const MAX_ROWS = 5;
/** The keyCode browsers give a key event that an input method (IME) handles. */
const IME_KEY_CODE = 229;
/** One number format per locale, made on first use. */
const numberFormats = new Map<string, Intl.NumberFormat>();
/** Puts the notes under the box and button, on a line of their own. */
const FULL_LINE: JSX.CSSProperties = { flexBasis: "100%" };

/**
 * Whether an Enter belongs to an input method (Japanese, Chinese, Korean, ... ): it confirms a composition and must
 * never send. Safari fires compositionend BEFORE that Enter's keydown, with isComposing false but keyCode 229.
 */
export function isImeEnter(event: Pick<KeyboardEvent, "isComposing" | "keyCode">, composing: boolean): boolean {
  return composing || event.isComposing || event.keyCode === IME_KEY_CODE;
}

/** The message box and Send button: Enter sends, Shift+Enter starts a new line; too long a message is refused. */
export function Composer({ onSend, onTyping, disabled, t }: ComposerProps) {
  const [text, setText] = useState("");
  const [failed, setFailed] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const composing = useRef(false);
  const body = text.trim();
  const tooLong = body.length > MAX_BODY_CHARS;
  let numbers = numberFormats.get(t.locale);
  if (!numbers) numberFormats.set(t.locale, numbers = new Intl.NumberFormat(t.locale));
  const counts = { count: numbers.format(body.length), max: numbers.format(MAX_BODY_CHARS) };

  // Preact would listen for "CompositionStart" (the DOM has no oncompositionstart to take the case from), so listen here.
  useEffect(() => {
    const box = input.current;
    if (!box) return;
    const start = () => (composing.current = true);
    const end = () => (composing.current = false);
    box.addEventListener("compositionstart", start);
    box.addEventListener("compositionend", end);
    return () => {
      box.removeEventListener("compositionstart", start);
      box.removeEventListener("compositionend", end);
    };
  }, []);

  // `rows` counts only new lines: a long line that wraps (a paste) grows the box too, up to MAX_ROWS lines, measured.
  useLayoutEffect(() => {
    const box = input.current;
    if (!box) return;
    box.style.height = "";
    const style = getComputedStyle(box);
    const border = box.offsetHeight - box.clientHeight;
    const cap = (parseFloat(style.lineHeight) || 24) * MAX_ROWS + parseFloat(style.paddingTop) +
      parseFloat(style.paddingBottom) + border;
    const wanted = box.scrollHeight + border;
    if (wanted > box.offsetHeight) box.style.height = `${Math.min(wanted, cap)}px`;
    // Resetting the height scrolls the box to its start in WebKit; with the caret at the end (typing, a paste), show
    // the end again.
    if (box.selectionEnd === box.value.length) box.scrollTop = box.scrollHeight;
  }, [text]);

  const submit = () => {
    if (!body || disabled || tooLong) return;
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
      style={{ flexWrap: "wrap" }}
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
        aria-invalid={tooLong}
        aria-describedby={body.length >= COUNTER_FROM_CHARS ? "composer-count" : undefined}
        onInput={(event) => {
          setText(event.currentTarget.value);
          onTyping();
        }}
        onKeyDown={(event) => {
          if (event.key !== "Enter" || event.shiftKey) return;
          // The input method's Enter: let it confirm the text, and send nothing.
          if (isImeEnter(event, composing.current)) return;
          event.preventDefault();
          submit();
        }}
      />
      <button type="submit" class={UI.primary} disabled={disabled || tooLong}>{t.send}</button>
      {tooLong
        ? (
          <p id="composer-count" role="alert" class={UI.error} style={FULL_LINE}>
            {t.messageTooLong && format(t.messageTooLong, counts)}
          </p>
        )
        : body.length >= COUNTER_FROM_CHARS && (
          <p id="composer-count" class={UI.hint} style={FULL_LINE}>{t.charCount && format(t.charCount, counts)}</p>
        )}
      {failed && <p role="alert" class={UI.error} style={FULL_LINE}>{t.sendFailed}</p>}
    </form>
  );
}
