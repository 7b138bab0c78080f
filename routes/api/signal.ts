/**
 * `/api/signal`: the signaling WebSocket (protocol in lib/protocol/README.md).
 * Non-upgrade requests get a JSON 426 explaining what to do.
 * @module
 */
import type { Handlers } from "$fresh/server.ts";
import { getServer } from "../../lib/server/mod.ts";

/** Upgrades to the signaling WebSocket. */
export const handler: Handlers = {
  async GET(req, ctx) {
    const server = await getServer();
    return server.handle(req, ctx.remoteAddr);
  },
};
