import { assertEquals, assertStrictEquals } from "@std/assert";
import { distinctNames, rememberName, validNames } from "../../lib/client/room/names.ts";

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
