/**
 * ATTACK: pushing an offline member's remembered name out, then taking it.
 *
 * A device remembers other members' names (`rememberName`, at most `MAX_REMEMBERED_NAMES` = 200, least recently
 * named forgotten first) so an offline member's messages still show their name, and `distinctNames` suffixes a
 * newcomer who copies it. Member keys are free and sessions can come and go (the room caps peers at a time, not
 * over time), so a member joins 200 times with a fresh member key, announces a made-up name each time (`meta`
 * `{name}`), and leaves. Every honest device online meanwhile remembers the 200 made-up names; offline Alice's
 * name is forgotten. The attacker then joins as "Alice": no suffix (nobody else holds that name any more), while
 * Alice's own earlier messages fall back to "Guest AAAA". The impostor now owns the name outright.
 *
 * Expected safe behaviour: names of members whose messages the room holds (or who were seen before the flood)
 * are not pushed out by members who only announced a name (e.g. evict members without messages first, or keep
 * the names of authors in the history), so the impostor still shows with a suffix and Alice's messages keep her name.
 */
import { assertNotEquals } from "@std/assert";
import { distinctNames, MAX_REMEMBERED_NAMES, rememberName } from "../../lib/client/room/names.ts";
import { MAX_NAME_LENGTH } from "../../lib/client/text_limits.ts";
import { displayName } from "../../lib/ui/format.ts";
import { firstWords, STRINGS } from "../../lib/ui/i18n.ts";

const ALICE = "AAAAaaaaaaaaaaaaaaaaaa";
const EVE = "EEEEeeeeeeeeeeeeeeeeee";
const en = firstWords(STRINGS.en);

Deno.test("200 throw-away members announcing names do not let a newcomer take an offline member's name", () => {
  // Alice wrote in the room and went offline: this device remembers her name.
  let remembered = rememberName({}, ALICE, "Alice", MAX_NAME_LENGTH);
  // The flood: 200 fresh member keys, one made-up name each. The room holds Alice's messages (and none of theirs):
  // the room client tells `rememberName` whose names it keeps (`lib/client/room/mod.ts`).
  const authors = new Set([ALICE]);
  for (let i = 0; i < 200; i++) {
    const fake = `F${String(i).padStart(3, "0")}fffffffffffffffffff`;
    remembered = rememberName(
      remembered,
      fake,
      `filler ${i}`,
      MAX_NAME_LENGTH,
      MAX_REMEMBERED_NAMES,
      (member) => authors.has(member),
    );
  }
  // Eve joins as "Alice"; the room view merges remembered names with the live ones (view.ts `memberNames`).
  const named = new Map(Object.entries(remembered));
  named.set(EVE, "Alice");
  const shown = distinctNames(named);
  const eveLabel = displayName(shown.get(EVE), EVE, en);
  const aliceLabel = displayName(shown.get(ALICE), ALICE, en);
  assertNotEquals(
    eveLabel,
    "Alice",
    `the impostor shows as plain ${JSON.stringify(eveLabel)}; Alice's own messages now show as ` +
      JSON.stringify(aliceLabel),
  );
});
