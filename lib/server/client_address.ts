/**
 * The client's address behind trusted reverse proxies. Per-address limits
 * need the address of the person, not of the proxy in front of the server;
 * but a forwarding header is only as honest as whoever wrote it. So the
 * header is read only when the socket's peer is a trusted proxy, and its hops
 * are walked right to left (nearest first), skipping trusted proxies: the
 * first hop that is not trusted is the client. A client can prepend anything
 * to the header; it cannot change what the proxies it passed appended.
 *
 * Only the header the operator's proxies write is read: a proxy that appends
 * to `X-Forwarded-For` passes a client's own `Forwarded` header through
 * untouched, so reading that one would let the client choose its address.
 * @module
 */
import ipaddr from "ipaddr.js";
import parseForwarded from "forwarded-parse";

/** Which header the trusted proxies append the client's address to. */
export type ForwardedHeader = "x-forwarded-for" | "forwarded";

/** The headers a proxy may use, for configuration. */
export const FORWARDED_HEADERS: readonly ForwardedHeader[] = ["x-forwarded-for", "forwarded"];

/** Answers the resolver remembers (then starts again from none): a header value is short, so this is small. */
const RESOLVED_CACHE = 4096;
/** The longest socket address plus header value remembered (a few hops of IPv6). */
const RESOLVED_KEY_CHARS = 256;

/** Names accepted in a proxy list besides addresses and CIDRs, and the ranges they stand for. */
const NAMED_RANGES: Readonly<Record<string, readonly string[]>> = {
  loopback: ["127.0.0.0/8", "::1/128"],
  private: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
  linklocal: ["169.254.0.0/16", "fe80::/10"],
};

/** Options of `clientAddressResolver`. */
export interface ClientAddressOptions {
  /** Addresses and CIDRs of trusted proxies, as `parseTrustedProxies` returns them; empty trusts none. */
  trustedProxies: readonly string[];
  /** The header those proxies append to. */
  header: ForwardedHeader;
}

/** Finds the client's address of a request from its headers and the socket's peer address. */
export type ClientAddressResolver = (headers: Headers, peer: string) => string;

/**
 * Parses a comma-separated list of addresses, CIDRs and the names `loopback`,
 * `private` and `linklocal` into CIDRs. Throws a `RangeError` naming the first
 * entry that is none of these.
 */
export function parseTrustedProxies(list: string): string[] {
  const cidrs: string[] = [];
  for (const raw of list.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const named = NAMED_RANGES[entry.toLowerCase()];
    if (named) {
      cidrs.push(...named);
      continue;
    }
    const [text, bitsText, extra] = entry.split("/");
    const address = extra === undefined && isPlainAddress(text) ? ipaddr.parse(text) : null;
    const max = address?.kind() === "ipv6" ? 128 : 32;
    const bits = bitsText === undefined ? max : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : -1;
    if (address === null || bits < 0 || bits > max || (isMapped(address) && bits < 96)) {
      throw new RangeError(`"${entry}" is not an IP address, a CIDR, "loopback", "private" or "linklocal"`);
    }
    cidrs.push(`${normal(address)}/${isMapped(address) ? bits - 96 : bits}`);
  }
  return cidrs;
}

/** Builds the resolver; with no trusted proxy it returns the peer address unchanged. */
export function clientAddressResolver(options: ClientAddressOptions): ClientAddressResolver {
  if (options.trustedProxies.length === 0) return (_headers, peer) => peer;
  const ranges = options.trustedProxies.map((cidr) => ipaddr.parseCIDR(cidr));
  const trusted = (address: ipaddr.IPv4 | ipaddr.IPv6): boolean =>
    ranges.some(([range, bits]) => range.kind() === address.kind() && address.match(range, bits));
  const hopsOf = options.header === "forwarded" ? forwardedHops : forwardedForHops;
  // The same proxy forwards the same client again and again: remember answers (a few thousand) rather than parse
  // addresses with ipaddr.js on every request.
  const known = new Map<string, string>();
  const resolve = (peer: string, value: string | null): string => {
    const socket = parseAddress(peer);
    if (socket === null || !trusted(socket)) return peer;
    if (value === null) return peer;
    const hops = hopsOf(value);
    let current = socket;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] === null ? null : parseAddress(hops[i]!);
      // "unknown", an obfuscated name or garbage: the last address vouched for is all we know.
      if (hop === null) return normal(current);
      current = hop;
      if (!trusted(current)) return normal(current);
    }
    return normal(current);
  };
  return (headers, peer) => {
    const value = headers.get(options.header);
    const key = value === null ? peer : peer + "\n" + value;
    // A long header (a client can prepend anything) is resolved every time: only short keys are remembered.
    if (key.length > RESOLVED_KEY_CHARS) return resolve(peer, value);
    let address = known.get(key);
    if (address === undefined) {
      address = resolve(peer, value);
      if (known.size >= RESOLVED_CACHE) known.clear();
      known.set(key, address);
    }
    return address;
  };
}

/** The hops of an `X-Forwarded-For` value, leftmost (farthest) first. */
function forwardedForHops(value: string): (string | null)[] {
  return value.split(",").map((hop) => hop.trim());
}

/** The `for=` of each element of an RFC 7239 `Forwarded` value, leftmost first; null where unreadable. */
function forwardedHops(value: string): (string | null)[] {
  return splitElements(value).map((element) => {
    try {
      return parseForwarded(element)[0]?.for ?? null;
    } catch {
      return null;
    }
  });
}

/** Splits a `Forwarded` value at the commas between elements (not those inside quoted strings). */
function splitElements(value: string): string[] {
  const elements: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted && c === "\\") i++;
    else if (c === '"') quoted = !quoted;
    else if (c === "," && !quoted) {
      elements.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  elements.push(value.slice(start).trim());
  return elements;
}

/** Reads `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]` or `[::1]:80`; null for anything else. */
function parseAddress(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  let host = text.trim();
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    if (end < 0 || (end + 1 < host.length && !/^:\d{1,5}$/.test(host.slice(end + 1)))) return null;
    host = host.slice(1, end);
  } else if (/^[\d.]+:\d{1,5}$/.test(host)) {
    host = host.slice(0, host.indexOf(":"));
  }
  if (!isPlainAddress(host)) return null;
  const address = ipaddr.parse(host);
  return address.kind() === "ipv6" && isMapped(address) ? (address as ipaddr.IPv6).toIPv4Address() : address;
}

/** A dotted-quad IPv4 or an IPv6 address (ipaddr.js also takes shorthand such as "10" or "0x7f.1"). */
function isPlainAddress(text: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(text) || (text.includes(":") && ipaddr.IPv6.isValid(text));
}

function isMapped(address: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return address.kind() === "ipv6" && (address as ipaddr.IPv6).isIPv4MappedAddress();
}

/** One spelling per address: IPv4-mapped IPv6 as IPv4, IPv6 compressed. */
function normal(address: ipaddr.IPv4 | ipaddr.IPv6): string {
  return isMapped(address) ? (address as ipaddr.IPv6).toIPv4Address().toString() : address.toString();
}
