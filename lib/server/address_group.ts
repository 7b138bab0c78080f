/**
 * Client address groups for per-address limits: one IPv4 address is one
 * group, while an IPv6 client is grouped by its /64 (one subscriber usually
 * holds a whole /64 and can pick any address in it, so a per-address limit
 * would not hold). IPv4-mapped IPv6 addresses count as their IPv4 address.
 * @module
 */

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

/** The eight 16-bit groups of an IPv6 address (with `::` and a dotted IPv4 tail), or null when malformed. */
function parseIpv6(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = parseHextets(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? parseHextets(halves[1], true) : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  return missing < 1 ? null : [...head, ...new Array(missing).fill(0), ...tail];
}

/** The 16-bit groups of one side of `::`; a dotted IPv4 part is allowed last when `last`. */
function parseHextets(text: string, last: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const values: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (last && i === parts.length - 1 && part.includes(".")) {
      const octets = part.split(".");
      if (octets.length !== 4 || octets.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255)) return null;
      const [a, b, c, d] = octets.map(Number);
      values.push((a << 8) | b, (c << 8) | d);
    } else if (/^[0-9a-f]{1,4}$/.test(part)) {
      values.push(parseInt(part, 16));
    } else {
      return null;
    }
  }
  return values;
}
