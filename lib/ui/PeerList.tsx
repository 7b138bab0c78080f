import type { PeerView } from "../client/room_view.ts";
import { displayName } from "./format.ts";
import { type FirstWords, format } from "./i18n.ts";
import * as UI from "./styles.ts";

/** Props of the peer list. */
export interface PeerListProps {
  /** The other peers of the room. */
  peers: readonly PeerView[];
  /** The UI strings. */
  t: FirstWords;
  /** What to say when nobody else is here (default: nobody yet, with the invite hint). */
  empty?: string;
}

/** The words for a path, exactly as the tests and users read them. */
export function pathLabel(path: PeerView["path"], t: FirstWords): string {
  return path === "p2p" ? t.p2p : path === "p2p-turn" ? t.p2pTurn : t.relay;
}

/** Everyone else in the room, each with presence and the path their messages take. */
export function PeerList({ peers, t, empty = t.nobodyYet }: PeerListProps) {
  return (
    <section aria-label={t.people}>
      {peers.length === 0 ? <p class={`${UI.peers} ${UI.muted}`}>{empty}</p> : (
        <ul class={UI.peers} tabIndex={0}>
          {peers.map((peer) => (
            <li
              key={peer.id}
              class={`${UI.peer} ${peer.presence === "away" ? UI.peerAway : ""}`}
              data-peer={peer.id}
            >
              <span
                class={`${UI.dot} ${peer.presence === "online" ? UI.dotConnected : UI.dotOffline}`}
                aria-hidden="true"
              />
              <span>{displayName(peer.name, peer.member ?? peer.id, t)}</span>
              <span class={UI.muted}>{peer.presence === "online" ? t.online : t.away}</span>
              {/* An away peer has no path now: a tag would read as still connected. */}
              {peer.presence === "online" && (
                <span class={UI.path} data-path={peer.path}>{pathLabel(peer.path, t)}</span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

/** Props of the typing indicator. */
export interface TypingIndicatorProps {
  /** The other peers; those typing are named. */
  peers: readonly PeerView[];
  /** The UI strings. */
  t: FirstWords;
}

/** "Anna is typing…", announced politely; keeps its height so the layout does not jump. */
export function TypingIndicator({ peers, t }: TypingIndicatorProps) {
  const names = peers.filter((peer) => peer.typing && peer.presence === "online")
    .map((peer) => displayName(peer.name, peer.member ?? peer.id, t));
  const text = names.length === 0
    ? ""
    : names.length === 1
    ? format(t.typingOne, { name: names[0] })
    : format(t.typingMany, { names: names.join(", ") });
  return <p class={UI.typing} aria-live="polite">{text}</p>;
}
