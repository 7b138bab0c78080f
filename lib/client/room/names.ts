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
  const clean = name.trim().slice(0, maxLength);
  if (!clean || names[member] === clean) return names;
  const entries = Object.entries(names).filter(([id]) => id !== member);
  entries.push([member, clean]);
  return Object.fromEntries(entries.slice(Math.max(0, entries.length - max)));
}

/** Keeps only well-formed remembered names (what the store gave back may be anything). */
export function validNames(value: unknown, maxLength: number, max = MAX_REMEMBERED_NAMES): Record<string, string> {
  if (typeof value !== "object" || value === null) return {};
  const entries = Object.entries(value).filter(([, name]) => typeof name === "string" && name.length > 0)
    .map(([id, name]) => [id, (name as string).slice(0, maxLength)] as const);
  return Object.fromEntries(entries.slice(Math.max(0, entries.length - max)));
}

/**
 * Tells apart members that share a display name: given each member's name, returns the name to show,
 * with ` (xxxx)` (the start of the member id) appended where another member has the same name.
 */
export function distinctNames(named: ReadonlyMap<string, string>): Map<string, string> {
  const holders = new Map<string, number>();
  for (const name of named.values()) holders.set(name, (holders.get(name) ?? 0) + 1);
  const shown = new Map<string, string>();
  for (const [member, name] of named) {
    shown.set(member, (holders.get(name) ?? 0) > 1 ? `${name} (${member.slice(0, NAME_SUFFIX_LENGTH)})` : name);
  }
  return shown;
}
