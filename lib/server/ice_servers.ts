/**
 * ICE servers for the browser, from the environment. Nothing is configured by
 * default, so a fresh deployment contacts no public STUN or TURN server; every
 * value is checked once at startup and a bad one stops the server with a
 * message naming the variable, instead of failing in a user's browser later.
 * @module
 */
import { checkTurnSecret, MAX_TURN_TTL_SECONDS, MIN_TURN_TTL_SECONDS, TurnCredentials } from "./turn_credentials.ts";
import { metrics } from "./metrics.ts";

/**
 * Default credential lifetime: ten minutes. A credential is checked when a
 * TURN session starts; coturn keeps serving a session (data, refreshes) after
 * the credential's expiry, so it only has to outlive the gap between the
 * fetch and the Allocate. The client fetches again before `expiresAt` for
 * later connections and ICE restarts. A short life makes a credential copied
 * out of a page worthless soon, and 10 min leaves room for clock skew.
 */
export const DEFAULT_TURN_TTL_SECONDS = 600;

/** One entry of `RTCConfiguration.iceServers`, as the browser expects it. */
export interface IceServer {
  /** STUN or TURN urls sharing the credentials below. */
  urls: string[];
  /** TURN username; absent for STUN. */
  username?: string;
  /** TURN password; absent for STUN. */
  credential?: string;
}

/** What `/api/ice` answers. */
export interface IceAnswer {
  /** Servers for `new RTCPeerConnection({ iceServers })`; empty when none are configured. */
  iceServers: IceServer[];
  /** Seconds the answer stays valid, so the client knows how long it may reuse it. */
  ttl: number;
  /** Unix milliseconds after which the TURN credentials are refused: fetch again before then. */
  expiresAt: number;
}

/** How TURN clients authenticate. */
export type TurnAuth =
  /** TURN REST API: credentials minted per request from a shared secret (recommended). */
  | { kind: "rest"; secret: string }
  /** One fixed username and password sent to every browser (discouraged: anyone can copy and reuse them). */
  | { kind: "static"; username: string; credential: string };

/** The checked ICE configuration. */
export interface IceConfig {
  /** `stun:`/`stuns:` urls, in the operator's order. */
  stunUrls: string[];
  /** `turn:`/`turns:` urls, in the operator's order; they share one credential. */
  turnUrls: string[];
  /** TURN authentication; present exactly when `turnUrls` is not empty. */
  turnAuth?: TurnAuth;
  /** Lifetime of minted credentials and of every answer, in seconds. */
  ttlSeconds: number;
}

/** A configuration mistake, found at startup. The message names the variable and the fix. */
export class IceConfigError extends Error {
  /** Names the error for logs. */
  override name = "IceConfigError";
}

/** Reads one environment variable; `Deno.env.get` fits. */
export type EnvGetter = (name: string) => string | undefined;

const HOST =
  /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)$/;
const ICE_URL = /^(stun|stuns|turn|turns):([^?]+?)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/;

/** Checks one STUN (RFC 7064) or TURN (RFC 7065) url and returns it; throws naming `variable`. */
export function checkIceUrl(url: string, variable: "STUN_URLS" | "TURN_URLS"): string {
  const bad = (why: string) => new IceConfigError(`${variable}: "${url}" is not a valid url: ${why}`);
  const match = ICE_URL.exec(url);
  if (!match) {
    throw bad(
      variable === "STUN_URLS"
        ? "expected stun:host[:port] or stuns:host[:port]"
        : "expected turn:host[:port][?transport=udp|tcp] or turns:host[:port][?transport=tcp]",
    );
  }
  const [, scheme, host, port, transport] = match;
  const isTurn = scheme.startsWith("turn");
  if (variable === "STUN_URLS" && isTurn) throw bad("TURN urls belong in TURN_URLS, with credentials");
  if (variable === "TURN_URLS" && !isTurn) throw bad("STUN urls belong in STUN_URLS");
  if (host.startsWith("//")) throw bad('no "//" after the scheme (write turn:host, not turn://host)');
  if (!HOST.test(host)) throw bad(`"${host}" is not a host name, IPv4 address or [IPv6] address`);
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw bad(`port ${port} is out of range`);
  if (transport !== undefined && !isTurn) throw bad("STUN urls take no ?transport");
  if (scheme === "turns" && transport === "udp") throw bad("browsers have no DTLS TURN; use turns:host?transport=tcp");
  return url;
}

function list(get: EnvGetter, variable: "STUN_URLS" | "TURN_URLS"): string[] {
  const raw = get(variable) ?? "";
  const urls: string[] = [];
  for (const item of raw.split(",")) {
    const url = item.trim();
    if (url) urls.push(checkIceUrl(url, variable));
  }
  return urls;
}

function nonEmpty(get: EnvGetter, variable: string): string | undefined {
  const value = get(variable);
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** Parses and checks the ICE variables; throws {@link IceConfigError} for any mistake. Unset means "none". */
export function parseIceConfig(get: EnvGetter): IceConfig {
  const stunUrls = list(get, "STUN_URLS");
  const turnUrls = list(get, "TURN_URLS");
  const secret = nonEmpty(get, "TURN_SECRET");
  const username = nonEmpty(get, "TURN_USERNAME");
  const credential = nonEmpty(get, "TURN_CREDENTIAL");
  const ttlText = nonEmpty(get, "TURN_TTL");

  let ttlSeconds = DEFAULT_TURN_TTL_SECONDS;
  if (ttlText !== undefined) {
    ttlSeconds = /^\d+$/.test(ttlText.trim()) ? Number(ttlText.trim()) : NaN;
    if (!(ttlSeconds >= MIN_TURN_TTL_SECONDS && ttlSeconds <= MAX_TURN_TTL_SECONDS)) {
      throw new IceConfigError(
        `TURN_TTL: "${ttlText}" must be a whole number of seconds from ${MIN_TURN_TTL_SECONDS} to ${MAX_TURN_TTL_SECONDS}`,
      );
    }
  }

  if (secret !== undefined && (username !== undefined || credential !== undefined)) {
    throw new IceConfigError(
      "TURN_SECRET and TURN_USERNAME/TURN_CREDENTIAL are both set: choose one (TURN_SECRET is recommended)",
    );
  }
  if ((username === undefined) !== (credential === undefined)) {
    throw new IceConfigError("TURN_USERNAME and TURN_CREDENTIAL must be set together");
  }

  let turnAuth: TurnAuth | undefined;
  if (secret !== undefined) {
    try {
      checkTurnSecret(secret);
    } catch (error) {
      throw new IceConfigError(`TURN_SECRET: ${(error as Error).message}`);
    }
    turnAuth = { kind: "rest", secret };
  } else if (username !== undefined && credential !== undefined) {
    turnAuth = { kind: "static", username, credential };
  }
  if (turnUrls.length > 0 && !turnAuth) {
    throw new IceConfigError(
      "TURN_URLS is set but no credentials are: set TURN_SECRET (or TURN_USERNAME and TURN_CREDENTIAL)",
    );
  }
  if (turnUrls.length === 0 && turnAuth) {
    throw new IceConfigError(
      `${turnAuth.kind === "rest" ? "TURN_SECRET" : "TURN_USERNAME/TURN_CREDENTIAL"} is set but TURN_URLS is empty`,
    );
  }
  return { stunUrls, turnUrls, turnAuth, ttlSeconds };
}

/** A one-line description of the configuration for the startup log, with every secret left out. */
export function describeIceConfig(config: IceConfig): string {
  const turn = config.turnAuth
    ? `${config.turnUrls.join(",")} (${
      config.turnAuth.kind === "rest" ? "TURN REST credentials" : "static credentials, discouraged"
    }, ttl ${config.ttlSeconds} s)`
    : "none";
  return `ICE: stun ${config.stunUrls.join(",") || "none"}; turn ${turn}`;
}

/** Options of {@link IceServers}. */
export interface IceServersOptions {
  /** The clock in Unix milliseconds, injectable for expiry tests. Default `Date.now`. */
  now?: () => number;
  /** Makes a TURN peer label when the client gives none; injectable for deterministic tests. */
  randomLabel?: () => string;
}

const minted = metrics.counter("parley_turn_credentials_total", "TURN REST credentials minted for clients.");

/** Builds each client's ICE server list from a checked configuration. */
export class IceServers {
  #ttlSeconds: number;
  #now: () => number;
  #turn?: TurnCredentials;
  #turnUrls: string[];
  /** Entries that are the same for every client, built once. */
  #fixed: IceServer[] = [];

  /** Prepares the credential minter once, so each request only signs. Throws for a bad secret. */
  constructor(config: IceConfig, options: IceServersOptions = {}) {
    this.#ttlSeconds = config.ttlSeconds;
    this.#now = options.now ?? Date.now;
    this.#turnUrls = [...config.turnUrls];
    if (config.stunUrls.length > 0) this.#fixed.push({ urls: [...config.stunUrls] });
    if (config.turnAuth?.kind === "static") {
      const { username, credential } = config.turnAuth;
      this.#fixed.push({ urls: this.#turnUrls, username, credential });
    } else if (config.turnAuth?.kind === "rest") {
      try {
        this.#turn = new TurnCredentials({
          secret: config.turnAuth.secret,
          ttlSeconds: config.ttlSeconds,
          now: this.#now,
          randomLabel: options.randomLabel,
        });
      } catch (error) {
        throw new IceConfigError(`TURN_SECRET/TURN_TTL: ${(error as Error).message}`);
      }
    }
  }

  /** The answer for one client (read-only: entries are shared); `peer` (validated) labels its TURN username in the relay logs. */
  async forClient(peer?: string): Promise<IceAnswer> {
    if (!this.#turn) {
      const expiresAt = (Math.floor(this.#now() / 1000) + this.#ttlSeconds) * 1000;
      return { iceServers: this.#fixed, ttl: this.#ttlSeconds, expiresAt };
    }
    const { username, credential, expiresAt } = await this.#turn.mint(peer);
    minted.inc();
    return {
      iceServers: [...this.#fixed, { urls: this.#turnUrls, username, credential }],
      ttl: this.#ttlSeconds,
      expiresAt,
    };
  }
}

/** The process's ICE servers from `Deno.env`; throws {@link IceConfigError} at startup for a bad value. */
export function iceServersFromEnv(get: EnvGetter = (name) => Deno.env.get(name)): IceServers {
  return new IceServers(parseIceConfig(get));
}
