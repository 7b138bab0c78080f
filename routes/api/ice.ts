/**
 * `GET /api/ice[?peer=<id>]`: the ICE servers a browser should use, with fresh
 * TURN credentials when TURN is configured. Never cached: every answer holds
 * its own short-lived credential. The environment is read when this module
 * loads, so a bad value stops the server at startup.
 * @module
 */
import type { Handlers } from "$fresh/server.ts";
import { type IceServers, iceServersFromEnv } from "../../lib/server/ice_servers.ts";
import { TURN_PEER_LABEL } from "../../lib/server/turn_credentials.ts";

/** The route's handlers over `ice`; exported so tests can give their own configuration. */
export function createIceHandler(ice: IceServers): Handlers {
  return {
    async GET(_req, ctx) {
      // The peer id only labels the TURN username in the relay's logs; anything
      // else gets a random label rather than an error, since nothing depends on it.
      const peer = ctx.url.searchParams.get("peer");
      const answer = await ice.forClient(peer !== null && TURN_PEER_LABEL.test(peer) ? peer : undefined);
      return Response.json(answer, { headers: { "cache-control": "no-store" } });
    },
  };
}

/** Answers GET (and, through the core, HEAD); other methods get 405 with `Allow`. */
export const handler: Handlers = createIceHandler(iceServersFromEnv());
