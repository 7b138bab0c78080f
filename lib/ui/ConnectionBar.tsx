import { useEffect, useState } from "preact/hooks";
import type { SocketState } from "../client/signal_socket.ts";
import { format, type HeldWords } from "./i18n.ts";
import * as UI from "./styles.ts";

/** Props of the connection area. */
export interface ConnectionBarProps {
  /** The signaling connection's state; null while the room is opening. */
  state: SocketState | null;
  /** Reconnects now instead of waiting. */
  onRetry(): void;
  /** The UI strings. */
  t: HeldWords;
  /** The clock, for the countdown; injectable for tests. */
  now?: () => number;
}

/** How often the countdown redraws. */
const COUNTDOWN_TICK_MS = 1000;

/** The dot's class for each connection state. */
const DOTS: Record<SocketState["kind"], string> = {
  connecting: UI.dotReconnecting,
  connected: UI.dotConnected,
  reconnecting: UI.dotReconnecting,
  offline: UI.dotOffline,
  refused: UI.dotRefused,
};

/** The word for a connection state (its words are named after the states), as the bar and the diagnostics show it. */
export function connectionWord(kind: SocketState["kind"], t: HeldWords): string {
  return t[kind];
}

/** The connection in one word, with a countdown and "Retry now" while reconnecting. */
export function ConnectionBar({ state, onRetry, t, now = Date.now }: ConnectionBarProps) {
  const nextAttemptAt = state?.kind === "reconnecting" ? state.nextAttemptAt : 0;
  const [clock, setClock] = useState(now);
  useEffect(() => {
    if (!nextAttemptAt) return;
    setClock(now());
    const timer = setInterval(() => setClock(now()), COUNTDOWN_TICK_MS);
    return () => clearInterval(timer);
  }, [nextAttemptAt]);

  const kind = state?.kind ?? "connecting";
  const word = connectionWord(kind, t);
  const dot = DOTS[kind];
  const seconds = Math.max(0, Math.ceil((nextAttemptAt - clock) / 1000));

  return (
    <section class={UI.connection} aria-label={t.connection}>
      <span class={`${UI.dot} ${dot}`} aria-hidden="true" />
      <span role="status" data-connection={kind}>{word}</span>
      {kind === "reconnecting" && <span class={UI.muted}>{format(t.nextTry, { s: seconds })}</span>}
      {(kind === "reconnecting" || kind === "offline") && (
        <button type="button" class={UI.retry} onClick={onRetry}>{t.retryNow}</button>
      )}
      {state?.kind === "refused" && <span class={UI.muted}>{state.reason}</span>}
      {kind !== "connected" && state !== null && t.queuedHint && (
        <span class={`${UI.muted} ${UI.small}`}>{t.queuedHint}</span>
      )}
    </section>
  );
}
