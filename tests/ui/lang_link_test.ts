import { assertEquals } from "@std/assert";
import { keepForcedLang } from "../../lib/ui/lang_link.ts";

const HREF = `/${"r".repeat(22)}#${"k".repeat(43)}`;

Deno.test("a room link from the landing keeps a forced language before its key, and only then", () => {
  assertEquals(keepForcedLang(HREF, "?lang=ru"), `/${"r".repeat(22)}?lang=ru#${"k".repeat(43)}`);
  assertEquals(keepForcedLang(HREF, "?debug=1&lang=en"), `/${"r".repeat(22)}?lang=en#${"k".repeat(43)}`);
  assertEquals(keepForcedLang(HREF, ""), HREF, "no language forced: the browser's");
  assertEquals(keepForcedLang(HREF, "?debug=1"), HREF);
  // Whatever the query says is encoded: it cannot reach the path or the fragment.
  assertEquals(keepForcedLang(HREF, "?lang=x%23y%26z"), `/${"r".repeat(22)}?lang=x%23y%26z#${"k".repeat(43)}`);
  assertEquals(keepForcedLang("/room", "?lang=ru"), "/room?lang=ru", "no fragment");
});
