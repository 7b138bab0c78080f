import type { Handlers } from "$fresh/server.ts";
import denoConfig from "../../deno.json" with { type: "json" };

/** Liveness for load balancers and deploy checks. */
export const handler: Handlers = {
  GET() {
    return Response.json({ ok: true, version: denoConfig.version }, {
      headers: { "cache-control": "no-store" },
    });
  },
};
