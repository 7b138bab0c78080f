/**
 * ATTACK: a hostile member passes for another member by display name.
 *
 * The room shows each member's name through `cleanName` (strips hidden characters) and `distinctNames` (appends
 * " (xxxx)", the start of the member id, where two members share a name), then `displayName` in the UI. A member
 * key costs nothing to make (a fresh P-256 pair per session), so one attacker can be several members.
 *
 * 1. Forged disambiguation suffix: attacker member Z1 names itself "Alice", which makes the real Alice show as
 *    "Alice (AAAA)"; attacker member Z2 names itself "Alice (AAAA)" literally. `distinctNames` compares the raw
 *    names ("alice" vs "alice (aaaa)"), so Z2 gets no suffix and shows EXACTLY the real Alice's label.
 * 2. Invisible characters `cleanName` misses: U+034F combining grapheme joiner, variation selectors (U+FE00-FE0F,
 *    U+180B-180D), tag characters (U+E0001, U+E0020-E007F), Hangul fillers (U+115F, U+1160, U+3164, U+FFA0),
 *    Khmer inherent vowels (U+17B4-17B5), musical format controls (U+1D173-1D17A). "Alice" + one of them renders
 *    as "Alice", differs from "Alice" after `sameNameKey`, so neither gets a suffix: two "Alice" with no way to tell.
 *
 * Expected safe behaviour: no two members ever get the same (or visibly identical) label: a name that already ends
 * in something of the form " (xxxx)" is compared without it (or always gets the suffix), and every default-ignorable
 * code point (Unicode's Default_Ignorable_Code_Point set) is removed, or ignored when names are compared.
 */
import { assert, assertNotEquals } from "@std/assert";
import { cleanName, distinctNames } from "../../lib/client/room/names.ts";
import { MAX_NAME_LENGTH } from "../../lib/client/text_limits.ts";
import { displayName } from "../../lib/ui/format.ts";
import { firstWords, STRINGS } from "../../lib/ui/i18n.ts";

const ALICE = "AAAAaaaaaaaaaaaaaaaaaa";
const Z1 = "ZZZZzzzzzzzzzzzzzzzzzz";
const Z2 = "YYYYyyyyyyyyyyyyyyyyyy";
const en = firstWords(STRINGS.en);

/** The labels the message list shows for each member, as the room view and the UI compute them. */
function labels(names: [string, string][]): Map<string, string> {
  const shown = distinctNames(new Map(names.map(([member, name]) => [member, cleanName(name, MAX_NAME_LENGTH)])));
  return new Map([...shown].map(([member, name]) => [member, displayName(name, member, en)]));
}

Deno.test("a member cannot take another member's disambiguated label by writing the suffix into its name", () => {
  const shown = labels([[ALICE, "Alice"], [Z1, "Alice"], [Z2, "Alice (AAAA)"]]);
  assertNotEquals(
    shown.get(Z2),
    shown.get(ALICE),
    `the attacker shows as ${JSON.stringify(shown.get(Z2))}, the real Alice as ${JSON.stringify(shown.get(ALICE))}`,
  );
});

Deno.test("a name padded with invisible characters cleanName misses is told apart from the name it copies", () => {
  const invisible: Record<string, string> = {
    "U+034F combining grapheme joiner": "\u034F",
    "U+FE0F variation selector-16": "\uFE0F",
    "U+180B Mongolian free variation selector": "\u180B",
    "U+E0041 tag letter A": "\u{E0041}",
    "U+3164 Hangul filler": "\u3164",
    "U+115F Hangul choseong filler": "\u115F",
    "U+FFA0 halfwidth Hangul filler": "\uFFA0",
    "U+17B4 Khmer vowel inherent AQ": "\u17B4",
    "U+1D173 musical symbol begin beam": "\u{1D173}",
  };
  const fooled: string[] = [];
  for (const [what, char] of Object.entries(invisible)) {
    const shown = labels([[ALICE, "Alice"], [Z1, "Alice" + char]]);
    // The two render alike unless a suffix tells them apart.
    if (!shown.get(ALICE)!.endsWith("(AAAA)")) fooled.push(`${what}: ${JSON.stringify(shown.get(Z1))}`);
  }
  assert(fooled.length === 0, `these look exactly like "Alice", with no suffix:\n  ${fooled.join("\n  ")}`);
});
