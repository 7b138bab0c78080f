/**
 * Client address groups for per-address limits: one IPv4 address is one
 * group, while an IPv6 client is grouped by its /64 (one subscriber usually
 * holds a whole /64 and can pick any address in it, so a per-address limit
 * would not hold). IPv4-mapped IPv6 addresses count as their IPv4 address.
 * @module
 */
import { parseIpv6 } from "../protocol/ip.ts";

/** Hextets kept from an IPv6 address: a /64. */
const KEPT_HEXTETS = 4;
/** Groups remembered, so the relay hot path parses an IPv6 address once, not per frame. */
const CACHE_SIZE = 4096;
const cache = new Map<string, string>();

/**
 * The group an address counts in: the IPv4 address itself, or the IPv6 /64 as
 * `"2001:db8:0:1::/64"`. Anything else (a host name, a malformed address) is
 * its own group, so nothing is ever merged by mistake.
 */
export function addressGroup(address: string): string {
  if (!address.includes(":")) return address.trim();
  let group = cache.get(address);
  if (group === undefined) {
    group = groupOf(address);
    if (cache.size >= CACHE_SIZE) cache.clear();
    cache.set(address, group);
  }
  return group;
}

function groupOf(address: string): string {
  let text = address.trim();
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (!text.includes(":")) return text;
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  const hextets = parseIpv6(text.toLowerCase());
  if (hextets === null) return address;
  if (hextets.slice(0, 5).every((h) => h === 0) && hextets[5] === 0xffff) {
    return `${hextets[6] >> 8}.${hextets[6] & 255}.${hextets[7] >> 8}.${hextets[7] & 255}`;
  }
  return hextets.slice(0, KEPT_HEXTETS).map((h) => h.toString(16)).join(":") + "::/64";
}

/** Hextets of an IPv6 address that name its network: a /48, the most one subscriber is usually given. */
const NETWORK_HEXTETS = 3;

/**
 * The network an address belongs to, for limits that one subscriber must not multiply: its group widened to the /48
 * for IPv6 (`"2001:db8:42::/48"`), since one subscriber holds a /56 or a /48 (256 or 65,536 /64s, each a group of its
 * own). The storage budget, the new-room and join paces, the TURN allowance and the seats of a full room count per
 * network; per-socket rates and caps stay per group.
 */
export function addressNetwork(address: string): string {
  const group = addressGroup(address);
  if (!group.endsWith("::/64")) return group;
  return group.slice(0, -"::/64".length).split(":").slice(0, NETWORK_HEXTETS).join(":") + "::/48";
}
