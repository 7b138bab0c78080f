/**
 * The IP parser the server's address groups and the client's ICE candidate check share (`lib/protocol/ip.ts`): every
 * spelling of one address gives the same numbers, and anything malformed gives null.
 * @module
 */
import { assertEquals } from "@std/assert";
import { parseIpv4, parseIpv6 } from "../../lib/protocol/ip.ts";
import { addressGroup } from "../../lib/server/address_group.ts";

Deno.test("spellings of one IPv6 address parse alike; malformed ones are null", () => {
  const loopback = [0, 0, 0, 0, 0, 0, 0, 1];
  for (const text of ["::1", "0::1", "0:0:0:0:0:0:0:1", "::0:1"]) assertEquals(parseIpv6(text), loopback, text);
  assertEquals(parseIpv6("::ffff:127.0.0.1"), [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
  assertEquals(parseIpv6("::ffff:7f00:1"), [0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]);
  for (
    const text of ["1::2::3", "12345::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "::1.2.3", "g::1", "1:2:3:4:5:6:7::8"]
  ) {
    assertEquals(parseIpv6(text), null, text);
  }
  assertEquals(parseIpv4("192.168.0.1"), [192, 168, 0, 1]);
  for (const text of ["256.1.1.1", "1.2.3", "1.2.3.4.5", "a.b.c.d", "1..2.3"]) {
    assertEquals(parseIpv4(text), null, text);
  }
});

Deno.test("address groups still follow the shared parser: the /64, and mapped IPv4 as IPv4", () => {
  assertEquals(addressGroup("2001:db8:7:9::a"), "2001:db8:7:9::/64");
  assertEquals(addressGroup("2001:0db8:0007:0009:0:0:0:b"), "2001:db8:7:9::/64");
  assertEquals(addressGroup("::ffff:203.0.113.5"), "203.0.113.5");
  assertEquals(addressGroup("198.51.100.7"), "198.51.100.7");
});
