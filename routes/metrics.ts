/**
 * `GET /metrics`: the process's counters and gauges in the Prometheus text
 * format, for a scraper. Each instance reports only itself.
 * @module
 */
import type { Handlers } from "$fresh/server.ts";
import { metrics } from "../lib/server/metrics.ts";

/** The content type of the Prometheus text exposition format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Answers GET (and, through the core, HEAD); other methods get 405 with `Allow`. */
export const handler: Handlers = {
  GET() {
    return new Response(metrics.render(), {
      headers: { "content-type": PROMETHEUS_CONTENT_TYPE, "cache-control": "no-store" },
    });
  },
};
