/**
 * `GET /api/ice?room=<room id>` with `Authorization: Bearer <session token>`:
 * the ICE servers (with fresh TURN credentials) for a session online in that
 * room, for clients that cannot use the socket's `ice` frame. Anything else
 * gets 401 and no credentials. Never cached: every answer holds its own
 * short-lived credential.
 * @module
 */
import type { Handlers } from "$fresh/server.ts";
import { bearerToken, iceUnauthorized } from "../../lib/server/ice_access.ts";
import { getServer } from "../../lib/server/mod.ts";

/** Answers one request with a token, from the socket's peer `remote` (the server resolves trusted proxies). */
export type IceAnswerer = (req: Request, remote: Deno.NetAddr | { hostname: string }) => Promise<Response>;

/** The route's handlers over `answer`; exported so tests can give their own server. */
export function createIceHandler(answer: IceAnswerer): Handlers {
  return {
    async GET(req, ctx) {
      // Without a token there is nothing to look up: answer before touching the server.
      if (bearerToken(req) === null) return iceUnauthorized();
      return await answer(req, ctx.remoteAddr);
    },
  };
}

/** Answers GET (and, through the core, HEAD); other methods get 405 with `Allow`. */
export const handler: Handlers = createIceHandler(async (req, remote) => (await getServer()).ice(req, remote));
