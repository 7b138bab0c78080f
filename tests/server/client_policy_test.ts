import { assertEquals, assertThrows } from "@std/assert";
import { p2pIdleFromEnv, relayHoldFromEnv } from "../../lib/server/client_policy.ts";

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

Deno.test("the idle DataChannel time is the profile's by default, or 1000 ms to a day", () => {
  const env = (value?: string) => (name: string) => name === "CLIENT_P2P_IDLE_MS" ? value : undefined;
  assertEquals(p2pIdleFromEnv(env()), undefined);
  assertEquals(p2pIdleFromEnv(env(" ")), undefined);
  assertEquals(p2pIdleFromEnv(env("5000")), 5_000);
  for (const bad of ["0", "999", "-1", "1.5", "2m", "86400001", "Infinity"]) {
    assertThrows(() => p2pIdleFromEnv(env(bad)), Error, "CLIENT_P2P_IDLE_MS");
  }
});
