import { Head } from "$fresh/runtime.ts";
import type { Handlers, PageProps } from "$fresh/server.ts";
import ChatRoom from "../islands/ChatRoom.tsx";
import { isRoomId } from "../lib/protocol/mod.ts";
import { type RelayHold, relayHoldFromEnv } from "../lib/server/client_policy.ts";
import { type LangData, langOfRequest, SAFELIST, STRINGS } from "../lib/ui/mod.ts";

/** What the room page renders with. */
export interface RoomData extends LangData {
  /** `?debug=1`: the client core prints its events to the console too. */
  debug: boolean;
  /** The delivery policy (`CLIENT_RELAY_HOLD_MS`): 0 in production, other values for baseline benchmarks. */
  relayHold: RelayHold;
}

// Read once at start-up, so a bad value stops the server instead of a page.
const RELAY_HOLD = relayHoldFromEnv();

/** Only well-formed room ids get a room page; anything else is a 404. */
export const handler: Handlers<RoomData> = {
  GET(req, ctx) {
    if (!isRoomId(ctx.params.room)) return ctx.renderNotFound();
    const { lang, forced } = langOfRequest(req, ctx.url);
    return ctx.render({ lang, forced, debug: ctx.url.searchParams.get("debug") === "1", relayHold: RELAY_HOLD });
  },
};

/** The room page: a server-rendered shell that the chat island brings to life with the key from the fragment. */
export default function Room({ params, data }: PageProps<RoomData>) {
  const t = STRINGS[data.lang];
  return (
    <>
      <Head>
        <title>{`${t.chatRoom} · Parley`}</title>
        <meta name="robots" content="noindex" />
      </Head>
      {/* Twind compiles only classes in this markup; the island adds most of its UI later. */}
      <div hidden class={SAFELIST} />
      <noscript>
        <p class="p-4 text-center">{t.noScript}</p>
      </noscript>
      <ChatRoom
        room={params.room}
        lang={data.lang}
        forcedLang={data.forced}
        debug={data.debug}
        relayHold={data.relayHold}
        strings={STRINGS}
      />
    </>
  );
}
