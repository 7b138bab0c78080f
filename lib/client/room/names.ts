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
 * Characters a name never shows: controls (C0, DEL, C1), line and paragraph separators, and the default-ignorable
 * characters that render as nothing and serve no emoji: soft hyphen, combining grapheme joiner, zero-width space
 * and non-joiner, direction marks, bidi embeddings, overrides and isolates, word joiner and invisible operators,
 * byte order mark, interlinear annotations, the Arabic letter mark, the Mongolian vowel separator, Hangul fillers,
 * Khmer inherent vowels, shorthand format controls, musical beam and slur controls, and the unassigned ignorables.
 * Spelled as ranges, not `\p{Default_Ignorable_Code_Point}`: the build's browser targets would need it rewritten.
 */
// deno-lint-ignore no-control-regex
const CONTROLS = /[\0-\x1F\x7F-\x9F]/g;
/** The default-ignorable characters of {@link CONTROLS}' doc. */
const HIDDEN =
  /[\xAD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180E\u200B\u200C\u200E\u200F\u2028-\u202E\u2060-\u2064\u2066-\u206F\u3164\uFEFF\uFFA0\uFFF0-\uFFFB\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0000}\u{E0001}\u{E0080}-\u{E00FF}\u{E01F0}-\u{E0FFF}]/gu;
/**
 * The default-ignorable characters a name keeps, because emoji and scripts need them (the zero-width joiner, the
 * Mongolian and other variation selectors, the tag characters of subdivision flags), but that names are never told
 * apart by: "Alice" with a variation selector renders as "Alice".
 */
const IGNORED = /[\u180B-\u180D\u180F\u200D\uFE00-\uFE0F\u{E0020}-\u{E007F}\u{E0100}-\u{E01EF}]/gu;

/**
 * A name as it may show: without hidden characters (which let "Alice" and "Alice\u200B" or a reversed text pass for
 * each other), runs of white space made one space, trimmed, at most `maxLength` UTF-16 units. Empty (no name) when
 * nothing visible is left.
 */
export function cleanName(name: string, maxLength: number): string {
  // Line breaks and tabs are white space first (a space, not nothing), then hidden characters go.
  const shown = name.replace(/\s+/gu, " ").replace(CONTROLS, "").replace(HIDDEN, "").replace(/ {2,}/g, " ").trim()
    .slice(0, maxLength).trim();
  return shown.replace(IGNORED, "").trim() ? shown : "";
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

/**
 * What two names are compared by: compatibility forms folded ("Ａlice" is "Alice"), case ignored, without the
 * characters names keep but are not told apart by (joiners, variation selectors), and without a trailing member
 * suffix (" (xxxx)"), so a member cannot pass for a twin's label by writing the suffix into its own name.
 */
export function sameNameKey(name: string): string {
  return name.normalize("NFKC").replace(IGNORED, "").toLowerCase().replace(SUFFIX_FORM, "");
}

/** A name's end that looks like a member suffix: ` (xxxx)`, four letters or digits in parentheses. */
const SUFFIX_FORM = / ?\([a-z0-9]{4}\)$/;

/**
 * The remembered names with `member`'s name set (moved to the newest place), trimmed to `maxLength` characters and
 * to `max` entries. Beyond `max` the members `keep` does not hold to are forgotten first (the room keeps the names
 * of the authors of its history, so a flood of throw-away members who only announce names cannot push an offline
 * author's name out and take it), then the least recently named. Returns the same object when nothing changes.
 */
export function rememberName(
  names: Readonly<Record<string, string>>,
  member: string,
  name: string,
  maxLength: number,
  max = MAX_REMEMBERED_NAMES,
  keep: (member: string) => boolean = () => false,
): Readonly<Record<string, string>> {
  const clean = cleanName(name, maxLength);
  if (!clean || names[member] === clean) return names;
  let entries = Object.entries(names).filter(([id]) => id !== member);
  entries.push([member, clean]);
  let over = entries.length - max;
  if (over > 0) entries = entries.filter(([id]) => over <= 0 || keep(id) || over-- <= 0);
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
 * with ` (xxxx)` (the start of the member id) appended where another member has the same name, compared by
 * {@link sameNameKey} ("alice", "ALICE", "Ａlice" and "Alice (abcd)" are all "Alice"). A name that ends like a
 * suffix other than its member's own always gets its own as well: "Alice (abcd)" never shows bare.
 */
export function distinctNames(named: ReadonlyMap<string, string>): Map<string, string> {
  const keys = new Map([...named].map(([member, name]) => [member, sameNameKey(name)]));
  const holders = new Map<string, number>();
  for (const key of keys.values()) holders.set(key, (holders.get(key) ?? 0) + 1);
  const shown = new Map<string, string>();
  for (const [member, name] of named) {
    const suffix = memberSuffix(member);
    const borrowed = SUFFIX_FORM.test(name.toLowerCase()) && !name.endsWith(suffix);
    shown.set(member, holders.get(keys.get(member)!)! > 1 || borrowed ? name + suffix : name);
  }
  return shown;
}
