import { Head } from "$fresh/runtime.ts";
import type { Handlers, PageProps } from "$fresh/server.ts";
import ChatRoom from "../islands/ChatRoom.tsx";
import { BOOTSTRAP_SCRIPT } from "../lib/client/bootstrap/mod.ts";
import { isRoomId } from "../lib/protocol/mod.ts";
import { PAGE_NONCE_TIMING } from "../lib/protocol/admission.ts";
import { pageNonce } from "../lib/server/mod.ts";
import { p2pIdleFromEnv, type RelayHold, relayHoldFromEnv } from "../lib/server/client_policy.ts";
import { firstWords, type LangData, langOfRequest, STRINGS } from "../lib/ui/mod.ts";
import { safelist } from "../lib/ui/styles_css.ts";

/** What the room page renders with. */
export interface RoomData extends LangData {
  /** `?debug=1`: the client core prints its events to the console too. */
  debug: boolean;
  /** The delivery policy (`CLIENT_RELAY_HOLD_MS`): 0 in production, other values for baseline benchmarks. */
  relayHold: RelayHold;
  /** How long an idle DataChannel stays open (`CLIENT_P2P_IDLE_MS`), in ms; undefined: the network profile's. */
  p2pIdleMs?: number;
}

/**
 * The inline bootstrap: our own constant script (no request data in it), so markup from a string is safe here. It
 * opens the socket and derives the keys while the page still loads (see lib/client/bootstrap/).
 */
function Bootstrap() {
  // deno-lint-ignore react-no-danger
  return <script dangerouslySetInnerHTML={{ __html: BOOTSTRAP_SCRIPT }} />;
}

/** Every part's class of the room screen, for the safelist element. */
const SAFELIST = safelist();

// Read once at start-up, so a bad value stops the server instead of a page.
const RELAY_HOLD = relayHoldFromEnv();
const P2P_IDLE_MS = p2pIdleFromEnv();

/** Only well-formed room ids get a room page; anything else is a 404. */
export const handler: Handlers<RoomData> = {
  async GET(req, ctx) {
    if (!isRoomId(ctx.params.room)) return ctx.renderNotFound();
    const { lang, forced } = langOfRequest(req, ctx.url);
    const data = {
      lang,
      forced,
      debug: ctx.url.searchParams.get("debug") === "1",
      relayHold: RELAY_HOLD,
      p2pIdleMs: P2P_IDLE_MS,
    };
    // The words follow Accept-Language unless `?lang=` forces them.
    const headers: Record<string, string> = { vary: "Accept-Language" };
    // A fresh page nonce rides in a header, so the body (its entity tag, the service worker's copy) stays the same
    // for every visit; the bootstrap reads it to send its hello with the socket's upgrade request.
    const nonce = await pageNonce(ctx.params.room);
    if (nonce) headers["server-timing"] = `${PAGE_NONCE_TIMING};desc="${nonce}"`;
    return ctx.render(data, { headers });
  },
};

/**
 * The room page: a server-rendered shell that the chat island brings to life with the key from the fragment. The
 * same for every room (the browser reads the room from the path), so one cached shell opens any room offline. Its
 * head starts the signaling socket and the key derivation before the modules arrive (the inline bootstrap).
 */
export default function Room({ data }: PageProps<RoomData>) {
  const t = STRINGS[data.lang];
  return (
    <>
      <Head>
        <title>{`${t.chatRoom} · Parley`}</title>
        <meta name="robots" content="noindex" />
        <Bootstrap />
      </Head>
      {/* Twind compiles only classes in this markup (the island adds most of its UI later); the plugin then drops it. */}
      <div hidden data-twind-only="" class={SAFELIST} />
      <noscript>
        <p class="p-4 text-center">{t.noScript}</p>
      </noscript>
      <ChatRoom
        lang={data.lang}
        forcedLang={data.forced}
        debug={data.debug}
        relayHold={data.relayHold}
        p2pIdleMs={data.p2pIdleMs}
        strings={{ [data.lang]: firstWords(t) }}
      />
    </>
  );
}
