import { assertEquals } from "@std/assert";
import { persistOnce } from "../../lib/client/persist.ts";

Deno.test("persistOnce asks once, skips when already persistent, and tolerates a missing or failing API", async () => {
  let asks = 0;
  const ask = persistOnce(() => ({
    persisted: () => Promise.resolve(false),
    persist: () => Promise.resolve(++asks > 0),
  }));
  assertEquals(await ask(), true);
  assertEquals(await ask(), true);
  assertEquals(asks, 1);

  let kept = 0;
  const already = persistOnce(() => ({
    persisted: () => Promise.resolve(true),
    persist: () => Promise.resolve(++kept > 0),
  }));
  assertEquals(await already(), true);
  assertEquals(kept, 0);

  assertEquals(await persistOnce(() => undefined)(), false);
  assertEquals(await persistOnce(() => ({}))(), false);
  assertEquals(await persistOnce(() => ({ persist: () => Promise.reject(new Error("no")) }))(), false);
});
