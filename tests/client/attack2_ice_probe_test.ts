/**
 * ATTACK: a member uses its victim's browser to probe the victim's own machine and network through ICE.
 *
 * `PeerLink.#handleSignal` hands every remote candidate to `pc.addIceCandidate` as it comes: no bound on how many
 * one generation may carry, and no look at the address. For each remote candidate the browser sends STUN
 * connectivity checks from the victim's machine to that address and port, and how the checks fail (ICMP
 * unreachable at once, or a time-out) is visible to the attacker in the victim's candidate-pair outcome and timing.
 * A member can thus name `127.0.0.1` (never a browser's candidate: browsers do not gather loopback addresses) and
 * thousands of ports or private hosts (`192.168.1.1`, `10.0.0.1`...), making the victim send UDP to its own
 * services and its LAN, behind its firewall, at the relay's frame rate, for as long as it stays in the room.
 * An honest peer sends a handful of candidates per generation (host, srflx, relay per interface, each `.local`
 * mDNS names for host candidates).
 *
 * Expected safe behaviour: a link takes a bounded number of remote candidates per generation (a few dozen) and
 * drops candidates on loopback, unspecified or link-local addresses before they reach `addIceCandidate`.
 * Here: of 1,000 candidates in one generation, at most 64 are applied, and none on 127.0.0.1.
 */
import { assert } from "@std/assert";
import { victimLink } from "./_victim_link.ts";

Deno.test("a member cannot make its victim's browser send ICE checks to a thousand local ports", async () => {
  const { network, victim } = await victimLink();
  const gen = victim.generation;
  await victim.handleSignal({ kind: "rtc", gen, description: { type: "offer", sdp: "fake pc-mallory ufrag1" } });
  for (let port = 1; port <= 1_000; port++) {
    const host = port % 2 === 0 ? "127.0.0.1" : `192.168.1.${port % 254 + 1}`;
    await victim.handleSignal({
      kind: "rtc",
      gen,
      candidate: { candidate: `candidate:${port} 1 udp 2122260223 ${host} ${port} typ host`, sdpMid: "0" },
    });
  }
  const pc = network.live("victim");
  const applied = pc?.remoteCandidates ?? [];
  const loopback = applied.filter((c) => c.candidate?.includes(" 127.0.0.1 ")).length;
  victim.close();
  assert(pc, "the link took the offer");
  assert(
    applied.length <= 64 && loopback === 0,
    `one generation made the victim's browser check ${applied.length} remote candidates, ` +
      `${loopback} of them on its own loopback address (127.0.0.1, ports 2 to 1000)`,
  );
});
