/**
 * ATTACK: the remote-candidate defences of `PeerLink` (added after the second pass) are easy to step around.
 *
 * 1. Loopback by another spelling. `plausibleCandidate` (`lib/client/peer_link.ts`) drops a remote candidate whose
 *    address is `127.x`, `0.0.0.0`, `169.254.x`, `::`, `::1`, `fe80::/10` or `::ffff:127.x`, by matching the TEXT.
 *    The same addresses written differently pass: `0:0:0:0:0:0:0:1` and `0::1` (both are `::1` to `inet_pton`, which
 *    the browser's ICE agent parses addresses with), `::ffff:7f00:1` (IPv4-mapped 127.0.0.1 in hex), and the host
 *    name `localhost` (a name that is not an mDNS `.local` name is resolved by the browser's ICE agent, to the
 *    loopback address). No browser gathers any of these, so only a hostile member sends them: the victim's browser
 *    then sends STUN checks to its own machine's services.
 * 2. The 64-candidate bound resets with every remote description. `#handleSignal` sets `#remoteCandidates = 0`
 *    after each `setRemoteDescription`, and nothing bounds how many descriptions one generation may bring (no follow
 *    pause: a re-offer in the same generation is taken at once). A member that repeats its offer every 60 candidates
 *    gets every candidate applied: 1,000 local-network targets in one generation, as before the fix.
 *
 * Expected safe behaviour: the address is judged by what it parses to (any spelling of loopback, unspecified or
 * link-local is dropped, and a name is taken only in the mDNS form browsers send, `<uuid>.local`), and the bound on
 * remote candidates holds per generation (or per connection), however many descriptions the remote sends.
 */
import { assert, assertEquals } from "@std/assert";
import { plausibleCandidate } from "../../lib/client/peer_link.ts";
import { victimLink } from "./_victim_link.ts";

const line = (address: string, port = 50_000) => `candidate:1 1 udp 2122260223 ${address} ${port} typ host`;

Deno.test("a remote candidate on this device's loopback is refused however its address is spelled", () => {
  const loopback = ["0:0:0:0:0:0:0:1", "0::1", "::0:1", "::ffff:7f00:1", "0:0:0:0:0:ffff:127.0.0.1", "localhost"];
  const passed = loopback.filter((address) => plausibleCandidate(line(address)));
  assertEquals(passed, [], `these name this device's loopback and are applied: ${passed.join(", ")}`);
  // What browsers do gather still passes: LAN and public IPv4, ULA and global IPv6, mDNS names, mapped public IPv4.
  const gathered = [
    "192.168.1.20",
    "203.0.113.7",
    "fd00::1",
    "2001:db8:0:0:1::1",
    "2001:db8::7f00:1",
    "::ffff:203.0.113.5",
    "8c2f1a3e-4b5d-4e6f-8a7b-9c0d1e2f3a4b.local",
  ];
  assertEquals(gathered.filter((address) => !plausibleCandidate(line(address))), [], "nothing a browser gathers");
});

Deno.test("re-sending the offer does not let a member past the bound on remote candidates", async () => {
  const { network, victim } = await victimLink();
  const gen = victim.generation;
  for (let port = 1; port <= 1_000; port++) {
    // The same offer again every 60 candidates: each resets the count.
    if (port % 60 === 1) {
      await victim.handleSignal({ kind: "rtc", gen, description: { type: "offer", sdp: "fake pc-mallory ufrag1" } });
    }
    await victim.handleSignal({
      kind: "rtc",
      gen,
      candidate: { candidate: line(`192.168.${port >> 8}.${port & 255}`, port), sdpMid: "0" },
    });
  }
  const pc = network.live("victim");
  const applied = pc?.remoteCandidates.length ?? 0;
  const made = network.connections.filter((c) => c.owner === "victim").length;
  victim.close();
  assert(pc, "the link took the offer");
  assert(
    applied <= 64,
    `17 copies of one offer in one generation let ${applied} remote candidates through to addIceCandidate on ` +
      `${made} connection(s): the victim's browser checks each of them`,
  );
});
