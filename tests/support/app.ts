/**
 * The app's request handler, built once per test module the way `main.ts`
 * builds it, and a loopback server around it for browser tests.
 * @module
 */
import { type AppHandler, createHandler } from "$fresh/server.ts";
import config from "../../fresh.config.ts";
import manifest from "../../fresh.gen.ts";
import { getServer } from "../../lib/server/mod.ts";

let handler: Promise<AppHandler> | undefined;

/** The app handler, as `main.ts` exports it. */
export function appHandler(): Promise<AppHandler> {
  handler ??= createHandler(manifest, config);
  return handler;
}

/** Calls the app with a request for `path` on a fake origin. */
export async function request(path: string, init?: RequestInit): Promise<Response> {
  const app = await appHandler();
  return app(new Request(new URL(path, "http://parley.test"), init));
}

/** A running app server and how to reach and stop it. */
export interface RunningApp {
  /** The origin, e.g. `http://127.0.0.1:41234`. */
  origin: string;
  /** Every request path the server received, with its query and headers, for privacy checks. */
  requests: { url: string; headers: Headers }[];
  /** Stops the server. */
  close(): Promise<void>;
}

/** Answers a request before the app does (a test's stand-in for a slow, failing or newer server); undefined: the app answers. */
export type Intercept = (
  req: Request,
  info: Deno.ServeHandlerInfo,
  app: AppHandler,
) => Response | undefined | Promise<Response | undefined>;

/** Options of {@link serveApp}. */
export interface ServeAppOptions {
  /** The address to listen on; default 127.0.0.1. */
  hostname?: string;
  /** Sees every request first and may answer it. */
  intercept?: Intercept;
}

/**
 * Serves the app on `hostname` (default 127.0.0.1) and a free port. The signaling server is started
 * first, as `main.ts` does at start-up: `/api/signal` then upgrades without waiting. An upgrade
 * answered after waiting, to a client that left meanwhile, keeps `Deno.serve` from ever shutting down.
 */
export async function serveApp(options: ServeAppOptions = {}): Promise<RunningApp> {
  const hostname = options.hostname ?? "127.0.0.1";
  const app = await appHandler();
  await getServer();
  const requests: RunningApp["requests"] = [];
  const server = Deno.serve({ hostname, port: 0, onListen() {} }, async (req, info) => {
    requests.push({ url: req.url, headers: req.headers });
    return (await options.intercept?.(req, info, app)) ?? await app(req, info);
  });
  const { port } = server.addr as Deno.NetAddr;
  return {
    origin: `http://${hostname}:${port}`,
    requests,
    close: () => server.shutdown(),
  };
}
