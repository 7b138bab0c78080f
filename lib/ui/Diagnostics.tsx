import { useEffect, useState } from "preact/hooks";
import type { PeerDiagnostics, RoomView } from "../client/room_view.ts";
import { connectionWord } from "./ConnectionBar.tsx";
import { copyText } from "./copy_text.ts";
import type { RoomWords } from "./i18n.ts";
import { pathLabel } from "./PeerList.tsx";
import * as UI from "./styles.ts";
import { useSignalValue } from "./use_signal_value.ts";

/** Props of the diagnostics drawer. */
export interface DiagnosticsProps {
  /** The room to inspect. */
  view: RoomView;
  /** The UI strings. */
  t: RoomWords;
}

/** How often per-peer transport details refresh while the drawer is open. */
const REFRESH_MS = 2000;
/** Events shown on screen (the report carries all the log holds). */
const EVENTS_SHOWN = 100;

/** Everything the report carries; never the room key. */
export function diagnosticsReport(view: RoomView, peers: PeerDiagnostics[]): string {
  return JSON.stringify(
    {
      app: "Parley",
      at: new Date().toISOString(),
      userAgent: typeof navigator === "undefined" ? undefined : navigator.userAgent,
      online: typeof navigator === "undefined" ? undefined : navigator.onLine,
      self: view.self.value.id,
      connection: view.connection.value,
      counters: view.counters.value,
      peers,
      events: view.events.value,
    },
    null,
    2,
  );
}

/** The drawer for bad days: socket and ICE state, candidate types, RTT, counters, the event log. */
export function Diagnostics({ view, t }: DiagnosticsProps) {
  const [peers, setPeers] = useState<PeerDiagnostics[]>([]);
  const [notice, setNotice] = useState("");
  useEffect(() => {
    let live = true;
    const refresh = () =>
      view.diagnostics().then((found) => live && setPeers(found), (error) => {
        console.error("Parley: reading peer diagnostics failed", error);
      });
    refresh();
    const timer = setInterval(refresh, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [view]);

  const counters = useSignalValue(view.counters, undefined)!;
  const events = useSignalValue(view.events, undefined)!;
  const connection = useSignalValue(view.connection, undefined)!;
  const self = useSignalValue(view.self, undefined)!;
  const first = events[0]?.t ?? 0;
  const counterItems: [string, number][] = [
    [t.countSent, counters.sent],
    [t.countDelivered, counters.delivered],
    [t.countResent, counters.resent],
    [t.countRejected, counters.rejected],
    [t.countDuplicates, counters.duplicates],
  ];

  return (
    <section class={UI.panel} aria-labelledby="diagnostics-title">
      <h2 id="diagnostics-title" class={UI.panelTitle}>{t.diagnostics}</h2>
      <div class={UI.row}>
        <button
          type="button"
          class={UI.primary}
          onClick={async () =>
            setNotice(await copyText(diagnosticsReport(view, peers)) ? t.reportCopied : t.copyFailed)}
        >
          {t.copyReport}
        </button>
        <span role="status" class={UI.notice}>{notice}</span>
      </div>
      <p class={UI.hint}>
        {t.connection}: {connectionWord(connection.kind, t)} (<code>{connection.kind}</code>)
        {self.id && (
          <>
            {" · "}
            <code>{self.id}</code>
          </>
        )}
      </p>

      <h3 class={`${UI.label} ${UI.section}`}>{t.counters}</h3>
      <dl class={UI.counters}>
        {counterItems.map(([label, value]) => (
          <div key={label} class={UI.counter}>
            <dt class={UI.muted}>{label}</dt>
            <dd class={UI.counterValue}>{value}</dd>
          </div>
        ))}
      </dl>

      <h3 class={`${UI.label} ${UI.section}`}>{t.peerLinks}</h3>
      {peers.length === 0 ? <p class={UI.hint}>{t.noPeerLinks}</p> : (
        <table class={UI.table}>
          <thead>
            <tr>
              {[t.colPeer, t.colPath, t.colLink, t.colIce, t.colCandidates, t.colRtt].map((col) => (
                <th key={col} scope="col" class={UI.cell}>{col}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {peers.map((peer) => (
              <tr key={peer.id}>
                <td class={UI.cell}>
                  <code>{peer.id.slice(0, 8)}</code>
                </td>
                <td class={UI.cell}>{pathLabel(peer.path, t)}</td>
                <td class={UI.cell}>{peer.link}</td>
                <td class={UI.cell}>{peer.ice ?? "–"}</td>
                <td class={UI.cell}>
                  {peer.localType ?? "–"} → {peer.remoteType ?? "–"}
                  {peer.relayProtocol ? ` (${peer.relayProtocol})` : ""}
                </td>
                <td class={UI.cell}>{peer.rttMs === undefined ? "–" : `${Math.round(peer.rttMs)} ms`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h3 class={`${UI.label} ${UI.section}`}>{t.events}</h3>
      {events.length === 0
        ? <p class={UI.hint}>{t.noEvents}</p>
        : (
          <ol class={UI.events} aria-label={t.events} tabIndex={0}>
            {events.slice(-EVENTS_SHOWN).map((event, i) => (
              <li key={i}>
                +{((event.t - first) / 1000).toFixed(1)}s {event.name}
                {event.detail ? ` ${JSON.stringify(event.detail)}` : ""}
              </li>
            ))}
          </ol>
        )}
    </section>
  );
}
