import { assertEquals } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { configFromEnv } from "../../lib/server/config.ts";
import { MemoryRoomLog } from "../../lib/server/room_log_memory.ts";
import { SignalService } from "../../lib/server/signal_service.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";

Deno.test("requests that cannot become a signaling socket get a JSON error, never a 500", async (t) => {
  const config = configFromEnv(() => undefined, { allowedOrigins: ["https://parley.example"] });
  const kv = await Deno.openKv(":memory:");
  const log = new MemoryRoomLog({ ttlMs: config.roomTtlMs, maxEntries: 10, maxBytes: 1 << 16 });
  const bus = new LocalBusNetwork().join();
  const service = new SignalService({ config, kv, log, bus });
  const url = `http://127.0.0.1:8000/api/signal?v=${PROTOCOL_VERSION}&room=${newRoomId()}`;
  const remote = { hostname: "127.0.0.1" };
  const ask = async (init: RequestInit) => {
    const response = service.handle(new Request(url, init), remote);
    return [response.status, (await response.json()).error.code];
  };
  try {
    await t.step("a plain GET: 426 not_websocket", async () => {
      assertEquals(await ask({}), [426, "not_websocket"]);
    });
    await t.step("an upgrade without a WebSocket key: 400 not_websocket", async () => {
      assertEquals(await ask({ headers: { upgrade: "websocket", connection: "Upgrade" } }), [400, "not_websocket"]);
    });
    await t.step("an Origin not in ALLOWED_ORIGINS: 403 origin_refused", async () => {
      assertEquals(await ask({ headers: { upgrade: "websocket", origin: "https://evil.example" } }), [
        403,
        "origin_refused",
      ]);
    });
    await t.step("during shutdown: 503 shutting_down", async () => {
      await service.shutdown();
      assertEquals(await ask({ headers: { upgrade: "websocket" } }), [503, "shutting_down"]);
    });
  } finally {
    await service.shutdown();
    log.close();
    await bus.close();
    kv.close();
  }
});
