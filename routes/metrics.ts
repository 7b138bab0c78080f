/**
 * `GET /metrics`: the process's counters and gauges in the Prometheus text
 * format, for a scraper. Each instance reports only itself. With
 * `METRICS_TOKEN` set, only `Authorization: Bearer <token>` gets them: the
 * numbers tell a stranger how busy the service is and which errors it sees.
 * @module
 */
import type { Handlers } from "$fresh/server.ts";
import type { ErrorCode } from "../lib/protocol/codes.ts";
import { metrics } from "../lib/server/metrics.ts";
import { serverConfig } from "../lib/server/mod.ts";

/** The content type of the Prometheus text exposition format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Compares in time that depends only on the lengths, so the token cannot be guessed byte by byte. */
function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ (y[i % Math.max(1, y.length)] ?? 0);
  return diff === 0;
}

/** The route's handlers; `token` null serves everyone. Exported so tests can give their own. */
export function createMetricsHandler(token: string | null): Handlers {
  return {
    GET(req) {
      if (token !== null) {
        const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.get("authorization") ?? "");
        if (!match || !sameText(match[1], token)) {
          // The same 401 shape as /api/ice without a live session's token.
          const code: ErrorCode = "admission_refused";
          return Response.json(
            { error: { code, message: "/metrics needs Authorization: Bearer <METRICS_TOKEN>" } },
            { status: 401, headers: { "www-authenticate": 'Bearer realm="metrics"', "cache-control": "no-store" } },
          );
        }
      }
      return new Response(metrics.render(), {
        headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" },
      });
    },
  };
}

let configured: Handlers | undefined;

/**
 * Answers GET (and, through the core, HEAD); other methods get 405 with `Allow`. The token is read
 * on first use: main.ts checks the configuration (and reports a bad one) before any request.
 */
export const handler: Handlers = {
  GET(req, ctx) {
    configured ??= createMetricsHandler(serverConfig().metricsToken);
    return (configured.GET as NonNullable<Handlers["GET"]>)(req, ctx);
  },
};
