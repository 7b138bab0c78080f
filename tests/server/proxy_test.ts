/**
 * The client's address behind reverse proxies: forwarding headers count only
 * when the socket's peer is a trusted proxy, hops are walked right to left
 * past trusted proxies, and spoofed headers from anyone else change nothing.
 * @module
 */
import { assertEquals, assertThrows } from "@std/assert";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import { clientAddressResolver, type ForwardedHeader, parseTrustedProxies } from "../../lib/server/client_address.ts";
import { configFromEnv, createSignalServer } from "../../lib/server/mod.ts";
import { TestClient } from "../support/signal_test_client.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";

const CLIENT = "198.51.100.7";

function resolve(trusted: string, header: ForwardedHeader, headers: Record<string, string>, peer: string): string {
  return clientAddressResolver({ trustedProxies: parseTrustedProxies(trusted), header })(new Headers(headers), peer);
}

Deno.test("X-Forwarded-For from a trusted proxy names the client", () => {
  assertEquals(resolve("10.0.0.0/8", "x-forwarded-for", { "x-forwarded-for": CLIENT }, "10.1.2.3"), CLIENT);
  assertEquals(resolve("10.1.2.3", "x-forwarded-for", { "x-forwarded-for": `${CLIENT}:5555` }, "10.1.2.3"), CLIENT);
  assertEquals(
    resolve("loopback", "x-forwarded-for", { "x-forwarded-for": "2001:db8:0:0::7" }, "::ffff:127.0.0.1"),
    "2001:db8::7",
    "mapped peer addresses are matched as IPv4, and addresses come out in one spelling",
  );
});

Deno.test("a chain of trusted proxies is walked right to left to the first untrusted hop", () => {
  const headers = { "x-forwarded-for": `${CLIENT}, 10.0.0.2, 10.0.0.3` };
  assertEquals(resolve("10.0.0.0/8, loopback", "x-forwarded-for", headers, "127.0.0.1"), CLIENT);
  assertEquals(
    resolve("loopback", "x-forwarded-for", headers, "127.0.0.1"),
    "10.0.0.3",
    "only hops through trusted proxies count: 10.0.0.3 is not one, so it is the client",
  );
});

Deno.test("what a client writes into the header before the proxy appends cannot choose its address", () => {
  // The client sent "X-Forwarded-For: 1.2.3.4, 10.0.0.9" itself; the trusted proxy appended its real address.
  const spoofed = { "x-forwarded-for": `1.2.3.4, 10.0.0.9, ${CLIENT}` };
  assertEquals(resolve("10.0.0.0/8", "x-forwarded-for", spoofed, "10.0.0.1"), CLIENT);
  // Several header lines are one list, in order.
  const lines = new Headers([["x-forwarded-for", "1.2.3.4"], ["x-forwarded-for", CLIENT]]);
  const trusted = parseTrustedProxies("10.0.0.0/8");
  assertEquals(
    clientAddressResolver({ trustedProxies: trusted, header: "x-forwarded-for" })(lines, "10.0.0.1"),
    CLIENT,
  );
});

Deno.test("spoofed headers from an untrusted peer are ignored: the socket's address counts", () => {
  const spoofs: Record<string, string>[] = [
    { "x-forwarded-for": "10.0.0.1" },
    { "x-forwarded-for": CLIENT },
    { forwarded: `for=${CLIENT}` },
  ];
  for (const headers of spoofs) {
    assertEquals(resolve("10.0.0.0/8", "x-forwarded-for", headers, "203.0.113.50"), "203.0.113.50");
    assertEquals(resolve("10.0.0.0/8", "forwarded", headers, "203.0.113.50"), "203.0.113.50");
  }
  assertEquals(resolve("", "x-forwarded-for", { "x-forwarded-for": CLIENT }, "127.0.0.1"), "127.0.0.1", "none trusted");
});

Deno.test("only the configured header is read: the other one is the client's to forge", () => {
  const both = { "x-forwarded-for": CLIENT, forwarded: "for=192.0.2.99" };
  assertEquals(resolve("loopback", "x-forwarded-for", both, "127.0.0.1"), CLIENT);
  assertEquals(resolve("loopback", "forwarded", both, "127.0.0.1"), "192.0.2.99");
  assertEquals(resolve("loopback", "x-forwarded-for", { forwarded: "for=192.0.2.99" }, "127.0.0.1"), "127.0.0.1");
});

Deno.test("RFC 7239 Forwarded: quoted IPv6 with ports, several elements, case and parameters", () => {
  const headers = {
    forwarded: `for=${CLIENT};proto=https;by=203.0.113.43, For="[2001:db8:cafe::17]:4711";host="a,b"`,
  };
  assertEquals(resolve("2001:db8:cafe::/48, loopback", "forwarded", headers, "127.0.0.1"), CLIENT);
  assertEquals(resolve("loopback", "forwarded", headers, "127.0.0.1"), "2001:db8:cafe::17");
  assertEquals(
    resolve("loopback", "forwarded", { forwarded: `for="${CLIENT}:8443"` }, "127.0.0.1"),
    CLIENT,
  );
});

Deno.test("unknown, obfuscated or malformed hops leave the last address that was vouched for", () => {
  const cases: [string, string, Record<string, string>, string][] = [
    ["loopback", "forwarded", { forwarded: "for=unknown" }, "127.0.0.1"],
    ["loopback", "forwarded", { forwarded: "for=_hidden" }, "127.0.0.1"],
    ["loopback", "forwarded", { forwarded: "for=1.2.3.4:80" }, "127.0.0.1"], // an unquoted port is not RFC 7239
    ["loopback", "forwarded", { forwarded: "proto=https" }, "127.0.0.1"],
    ["loopback, 10.0.0.0/8", "forwarded", { forwarded: `for=${CLIENT}, for=garbage!, for=10.0.0.2` }, "10.0.0.2"],
    ["loopback", "x-forwarded-for", { "x-forwarded-for": "not-an-address" }, "127.0.0.1"],
    ["loopback", "x-forwarded-for", { "x-forwarded-for": "" }, "127.0.0.1"],
    ["loopback", "x-forwarded-for", { "x-forwarded-for": "0x7f.1" }, "127.0.0.1"],
  ];
  for (const [trusted, header, headers, expected] of cases) {
    assertEquals(resolve(trusted, header as ForwardedHeader, headers, "127.0.0.1"), expected, JSON.stringify(headers));
  }
});

Deno.test("trusted proxy lists take addresses, CIDRs and names, and refuse anything else", () => {
  assertEquals(parseTrustedProxies(" 10.0.0.1 ,, 2001:db8::/32, private"), [
    "10.0.0.1/32",
    "2001:db8::/32",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
  ]);
  for (const entry of ["proxy.example", "10", "10.0.0.0/33", "10.0.0.0/-1", "::/129", "::ffff:1.2.3.4/64"]) {
    assertThrows(() => parseTrustedProxies(entry), RangeError, entry);
  }
});

/** A signaling server on loopback built from `env`, and a way to join a new room with a forwarded header. */
async function serverWith(env: Record<string, string>) {
  const config = configFromEnv((name) => env[name], { kvPath: ":memory:" });
  const server = await createSignalServer({ config, bus: new LocalBusNetwork().join() });
  const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req, info) => {
    return server.handle(req, info.remoteAddr);
  });
  const clients: TestClient[] = [];
  return {
    /** Opens a new room with `X-Forwarded-For: forwarded`; returns the error code, or "welcome". */
    async join(forwarded: string): Promise<string> {
      const url = `ws://127.0.0.1:${http.addr.port}/api/signal?v=${PROTOCOL_VERSION}&room=${newRoomId()}`;
      const client = await TestClient.connect(url, { headers: { "x-forwarded-for": forwarded } });
      clients.push(client);
      try {
        await client.hello();
        return "welcome";
      } catch {
        // A new room first asks for its verifier (`verifier_required`); the refusal, if any, comes after.
        const refusal = client.all.find((f) => f.type === "error" && f.code !== "verifier_required");
        return (refusal?.code as string) ?? "no error frame";
      }
    },
    async close() {
      for (const client of clients) await client.close();
      await server.shutdown("test over");
      await http.shutdown();
    },
  };
}

Deno.test("per-address limits follow the forwarded address from a trusted proxy, and ignore it from anyone else", async (t) => {
  await t.step("behind a trusted proxy (loopback), two clients are two addresses", async () => {
    const server = await serverWith({ TRUSTED_PROXIES: "loopback", MAX_ROOMS_PER_ADDRESS: "1" });
    try {
      assertEquals(await server.join("198.51.100.1"), "welcome");
      assertEquals(await server.join("198.51.100.2"), "welcome", "another client, its own room budget");
      assertEquals(await server.join("198.51.100.1"), "too_many_rooms", "the first client's second room");
    } finally {
      await server.close();
    }
  });

  await t.step("from an untrusted peer, spoofed X-Forwarded-For changes nothing", async () => {
    const server = await serverWith({ TRUSTED_PROXIES: "10.0.0.0/8", MAX_ROOMS_PER_ADDRESS: "1" });
    try {
      assertEquals(await server.join("198.51.100.1"), "welcome");
      assertEquals(await server.join("198.51.100.2"), "too_many_rooms", "both are 127.0.0.1, whatever they claim");
    } finally {
      await server.close();
    }
  });
});
