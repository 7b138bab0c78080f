/**
 * Display names of the other members, remembered on this device per room
 * (bounded), and told apart when two members share one.
 * @module
 */

/** Most members whose names a room remembers; the least recently named are forgotten first. */
export const MAX_REMEMBERED_NAMES = 200;
/** Characters of the member id appended to a name that two members share. */
export const NAME_SUFFIX_LENGTH = 4;

/**
 * Characters a name never shows: controls (C0, DEL, C1), line and paragraph separators, and the format characters
 * that hide or turn text (soft hyphen, zero-width space and non-joiner, left-to-right and right-to-left marks, bidi
 * embeddings, overrides and isolates, word joiner and invisible operators, byte order mark, interlinear
 * annotations, the Arabic letter mark and Mongolian vowel separator); the zero-width joiner that holds emoji
 * together stays. Spelled as ranges, not `\p{Cf}`: the build's browser targets would need it rewritten at run time.
 */
// deno-lint-ignore no-control-regex
const CONTROLS = /[\0-\x1F\x7F-\x9F]/g;
/** The format characters and separators of {@link CONTROLS}' doc. */
const INVISIBLE =
  /[\xAD\u061C\u180E\u200B\u200C\u200E\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB]/g;

/**
 * A name as it may show: without hidden characters (which let "Alice" and "Alice\u200B" or a reversed text pass for
 * each other), runs of white space made one space, trimmed, at most `maxLength` UTF-16 units. Empty: no name.
 */
export function cleanName(name: string, maxLength: number): string {
  // Line breaks and tabs are white space first (a space, not nothing), then hidden characters go.
  return name.replace(/\s+/gu, " ").replace(CONTROLS, "").replace(INVISIBLE, "").replace(/ {2,}/g, " ").trim().slice(
    0,
    maxLength,
  ).trim();
}

/**
 * The short form of a member (or peer) id people see: its first {@link NAME_SUFFIX_LENGTH} letters and digits (ids
 * are base64url; a label like "Guest _k2-" read as punctuation, not as a name).
 */
export function shortMemberId(member: string): string {
  return member.replace(/[-_]/g, "").slice(0, NAME_SUFFIX_LENGTH);
}

/** The start of a member id that tells apart two people of one name: ` (xxxx)`. */
export function memberSuffix(member: string): string {
  return ` (${shortMemberId(member)})`;
}

/** What two names are compared by: compatibility forms folded ("Ａlice" is "Alice"), case ignored, no joiners. */
export function sameNameKey(name: string): string {
  return name.normalize("NFKC").replace(/\u200D/g, "").toLowerCase();
}

/**
 * The remembered names with `member`'s name set (moved to the newest place), trimmed to `maxLength`
 * characters and to `max` entries. Returns the same object when nothing changes.
 */
export function rememberName(
  names: Readonly<Record<string, string>>,
  member: string,
  name: string,
  maxLength: number,
  max = MAX_REMEMBERED_NAMES,
): Readonly<Record<string, string>> {
  const clean = cleanName(name, maxLength);
  if (!clean || names[member] === clean) return names;
  const entries = Object.entries(names).filter(([id]) => id !== member);
  entries.push([member, clean]);
  return Object.fromEntries(entries.slice(Math.max(0, entries.length - max)));
}

/** Keeps only well-formed remembered names (what the store gave back may be anything). */
export function validNames(value: unknown, maxLength: number, max = MAX_REMEMBERED_NAMES): Record<string, string> {
  if (typeof value !== "object" || value === null) return {};
  const entries = Object.entries(value).filter(([, name]) => typeof name === "string")
    .map(([id, name]) => [id, cleanName(name as string, maxLength)] as const).filter(([, name]) => name.length > 0);
  return Object.fromEntries(entries.slice(Math.max(0, entries.length - max)));
}

/**
 * Tells apart members that share a display name: given each member's (clean) name, returns the name to show,
 * with ` (xxxx)` (the start of the member id) appended where another member has the same name, compared without
 * case and compatibility forms ("alice", "ALICE" and "Ａlice" are all "Alice").
 */
export function distinctNames(named: ReadonlyMap<string, string>): Map<string, string> {
  const keys = new Map([...named].map(([member, name]) => [member, sameNameKey(name)]));
  const holders = new Map<string, number>();
  for (const key of keys.values()) holders.set(key, (holders.get(key) ?? 0) + 1);
  const shown = new Map<string, string>();
  for (const [member, name] of named) {
    shown.set(member, holders.get(keys.get(member)!)! > 1 ? name + memberSuffix(member) : name);
  }
  return shown;
}
