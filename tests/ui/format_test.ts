/**
 * Times and days as the reader's locale writes them (`Intl`): a clock time in
 * the locale's short style (no "06:09 AM" in English), and day separators.
 * Local dates built with the `Date` constructor, so the test holds in any time zone.
 * @module
 */
import { assertEquals } from "@std/assert";
import { clockTime, dayLabel, shortRoomId } from "../../lib/ui/format.ts";

Deno.test("a clock time reads as the locale writes it: 6:09 AM in English, 06:09 and 18:30 in Russian", () => {
  const morning = new Date(2026, 10, 30, 6, 9).getTime();
  const evening = new Date(2026, 10, 30, 18, 30).getTime();
  // Intl may put a narrow no-break space before AM/PM: compare with plain spaces.
  const plain = (text: string) => text.replace(/\s/g, " ");
  assertEquals(plain(clockTime(morning, "en")), "6:09 AM");
  assertEquals(plain(clockTime(evening, "en")), "6:30 PM");
  assertEquals(clockTime(morning, "ru"), "06:09");
  assertEquals(clockTime(evening, "ru"), "18:30");
});

Deno.test("day separators say Today and Yesterday in the reader's words, else the date, with the year only when it differs", () => {
  const now = new Date(2026, 10, 30, 12, 0).getTime();
  assertEquals(dayLabel(new Date(2026, 10, 30, 0, 1).getTime(), now, "en"), "Today");
  assertEquals(dayLabel(new Date(2026, 10, 29, 23, 59).getTime(), now, "en"), "Yesterday");
  assertEquals(dayLabel(new Date(2026, 10, 29, 8, 0).getTime(), now, "ru"), "Вчера");
  assertEquals(dayLabel(new Date(2026, 10, 27, 8, 0).getTime(), now, "en"), "Friday, November 27");
  assertEquals(dayLabel(new Date(2025, 11, 31, 8, 0).getTime(), now, "en"), "Wednesday, December 31, 2025");
});

Deno.test("a chat without a name is called by the first six letters and digits of its room id", () => {
  assertEquals(shortRoomId("h95rv-Kq_x2Zb8yWcT1Lp0"), "h95rvK");
  assertEquals(shortRoomId("-_-_abcdefgh"), "abcdef");
});
