import { assertEquals, assertThrows } from "@std/assert";
import { relayHoldFromEnv } from "../../lib/server/client_policy.ts";

Deno.test("the client relay hold is 0 by default, a number of ms, or never", () => {
  const env = (value?: string) => (name: string) => name === "CLIENT_RELAY_HOLD_MS" ? value : undefined;
  assertEquals(relayHoldFromEnv(env()), 0);
  assertEquals(relayHoldFromEnv(env("")), 0);
  assertEquals(relayHoldFromEnv(env("10000")), 10_000);
  assertEquals(relayHoldFromEnv(env("never")), "never");
  for (const bad of ["-1", "1.5", "ten", "600001", "Infinity"]) {
    assertThrows(() => relayHoldFromEnv(env(bad)), Error, "CLIENT_RELAY_HOLD_MS");
  }
});
