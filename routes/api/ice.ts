/**
 * `GET /api/ice?room=<room id>` with `Authorization: Bearer <session token>`:
 * the ICE servers (with fresh TURN credentials) for a session online in that
 * room, for clients that cannot use the socket's `ice` frame. Anything else
 * gets 401 and no credentials. Never cached: every answer holds its own
 * short-lived credential.
 * @module
 */
import type { Handlers } from "$fresh/server.ts";
import { bearerToken, type IceAccess, iceUnauthorized } from "../../lib/server/ice_access.ts";
import { getServer } from "../../lib/server/mod.ts";

/** The route's handlers over `access`; exported so tests can give their own server. */
export function createIceHandler(access: () => Promise<IceAccess>): Handlers {
  return {
    async GET(req) {
      // Without a token there is nothing to look up: answer before touching the server.
      if (bearerToken(req) === null) return iceUnauthorized();
      return await (await access()).answerRequest(req);
    },
  };
}

/** Answers GET (and, through the core, HEAD); other methods get 405 with `Allow`. */
export const handler: Handlers = createIceHandler(async () => (await getServer()).service.iceAccess);
