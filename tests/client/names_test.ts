import { assertEquals, assertStrictEquals } from "@std/assert";
import { cleanName, distinctNames, memberSuffix, rememberName, validNames } from "../../lib/client/room/names.ts";
import { displayName } from "../../lib/ui/format.ts";
import { firstWords, STRINGS } from "../../lib/ui/i18n.ts";

const A = "AAAAaaaaaaaaaaaaaaaaaa";
const B = "BBBBbbbbbbbbbbbbbbbbbb";

Deno.test("rememberName bounds names and entries, newest last, and keeps the object when nothing changes", () => {
  let names = rememberName({}, A, "  Anna  ", 40);
  assertEquals(names, { [A]: "Anna" });
  assertStrictEquals(rememberName(names, A, "Anna", 40), names);
  assertStrictEquals(rememberName(names, A, "   ", 40), names);
  names = rememberName(names, B, "x".repeat(100), 40);
  assertEquals(names[B].length, 40);
  names = rememberName(names, A, "Anya", 40, 2);
  assertEquals(Object.keys(names), [B, A]);
  names = rememberName(names, "C".repeat(22), "Carl", 40, 2);
  assertEquals(Object.keys(names), [A, "C".repeat(22)], "the least recently named is forgotten first");
});

Deno.test("validNames drops what is not a name", () => {
  assertEquals(validNames(null, 40), {});
  assertEquals(validNames({ [A]: "Anna", [B]: 7, x: "" }, 40), { [A]: "Anna" });
});

Deno.test("distinctNames appends the start of the member id only where two members share a name", () => {
  const shown = distinctNames(new Map([[A, "Sasha"], [B, "Sasha"], ["CCCCcc", "Carl"]]));
  assertEquals(shown.get(A), "Sasha (AAAA)");
  assertEquals(shown.get(B), "Sasha (BBBB)");
  assertEquals(shown.get("CCCCcc"), "Carl");
});

Deno.test("a name shows without hidden characters: a member cannot pass for another by spaces, invisibles or bidi", () => {
  for (
    const spoof of [
      "Alice ",
      "\tAlice",
      "Alice\u200B",
      "Al\u2060ice",
      "\u200EAlice",
      "Ali\u00ADce",
      "A\nlice".replace("\n", ""),
    ]
  ) {
    assertEquals(cleanName(spoof, 40), "Alice", JSON.stringify(spoof));
  }
  assertEquals(cleanName("\u202Eecila", 40), "ecila", "an override cannot turn the text around");
  assertEquals(cleanName("Anna   Maria\n\nK", 40), "Anna Maria K", "white space runs become one space");
  assertEquals(cleanName("👨\u200D👩\u200D👧 family", 40), "👨\u200D👩\u200D👧 family", "emoji keep their joiners");
  assertEquals(cleanName("\u200B\u200B", 40), "", "nothing visible is no name");
  assertEquals(validNames({ [A]: "\u200B", [B]: " Bob\u200E " }, 40), { [B]: "Bob" });
  // Cleaned names that differ only by case or compatibility forms are told apart.
  const shown = distinctNames(new Map([[A, "Alice"], [B, cleanName("ＡLICE\u200B", 40)]]));
  assertEquals([shown.get(A), shown.get(B)], ["Alice (AAAA)", "ＡLICE (BBBB)"]);
});

Deno.test("a name of the form of a guest label shows its member's id, so nobody passes for an unnamed member", () => {
  const en = firstWords(STRINGS.en);
  assertEquals(displayName(undefined, "abcdXYZ", en), "Guest abcd");
  assertEquals(displayName("Guest abcd", "ZZZZzzz", en), "Guest abcd (ZZZZ)");
  assertEquals(displayName("guest abcd", "ZZZZzzz", en), "guest abcd (ZZZZ)");
  assertEquals(displayName("Guest abcd (ZZZZ)", "ZZZZzzz", en), "Guest abcd (ZZZZ)", "not twice");
  assertEquals(displayName("Guestbook", "ZZZZzzz", en), "Guestbook");
  assertEquals(displayName("Гость abcd", "ZZZZzzz", firstWords(STRINGS.ru)), "Гость abcd (ZZZZ)");
});

Deno.test("the short id people see has letters and digits only: no label starts with base64url's - or _", () => {
  const en = firstWords(STRINGS.en);
  assertEquals(displayName(undefined, "_k2-x9Abc", en), "Guest k2x9");
  assertEquals(displayName(undefined, "-_-_abcdef", en), "Guest abcd");
  assertEquals(displayName("Guest k2x9", "ZZ_ZZzz", en), "Guest k2x9 (ZZZZ)");
  assertEquals(memberSuffix("a-b_cde"), " (abcd)");
});
