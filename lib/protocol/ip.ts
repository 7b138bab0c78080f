/**
 * IP address text to numbers, for the server's address groups and the client's check of remote ICE candidates: one
 * parser for both sides, so every spelling of an address (`::1`, `0:0:0:0:0:0:0:1`, a dotted IPv4 tail) means the
 * same thing to both. Lower-case hex only (callers lower-case); no zone, no brackets, no prefix.
 * @module
 */

/** The four bytes of a dotted-quad IPv4 address (each part 1 to 3 digits, at most 255), or null. */
export function parseIpv4(text: string): number[] | null {
  const octets = text.split(".");
  if (octets.length !== 4 || octets.some((o) => !/^\d{1,3}$/.test(o) || Number(o) > 255)) return null;
  return octets.map(Number);
}

/** The eight 16-bit groups of an IPv6 address (with `::` and a dotted IPv4 tail), or null when malformed. */
export function parseIpv6(text: string): number[] | null {
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
      const v4 = parseIpv4(part);
      if (!v4) return null;
      values.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
    } else if (/^[0-9a-f]{1,4}$/.test(part)) {
      values.push(parseInt(part, 16));
    } else {
      return null;
    }
  }
  return values;
}
