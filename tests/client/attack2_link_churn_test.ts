/**
 * ATTACK: a member makes its victim's browser build and tear down an RTCPeerConnection for every signal it sends.
 *
 * Any session of the room may send `rtc` envelopes (`room/mod.ts` `onEnvelope`: `links.ensure` then
 * `links.deliver`), and `PeerLink.#handleSignal` follows a higher generation with a fresh connection at once:
 * `if (message.gen > this.#gen) await this.#connect(message.gen)`, which closes the current RTCPeerConnection and
 * creates a new one (`#open`), with `iceCandidatePoolSize` 10: each new connection starts gathering ten candidate
 * pools, TURN allocations with the victim's credentials included. The only bound on `gen` is
 * `MAX_LINK_GENERATION` (10^9), and nothing paces how often a peer may start over. A member sending
 * `{kind:"rtc", gen: n+1, candidate}` 50 times a second (the relay's frame rate, about 150 bytes a frame) makes
 * the victim create 50 RTCPeerConnections a second, indefinitely: Chrome refuses new ones once about 500 exist
 * and closed ones are not yet collected ("Cannot create so many PeerConnections"), which also ends P2P with every
 * honest member, and each one costs the victim ICE gathering, sockets and TURN allocations on the deployment.
 *
 * Expected safe behaviour: a remote peer cannot make the link start over faster than the link's own retry pace:
 * new generations from the remote are followed at most a few times per setup timeout (or with the retry backoff).
 * Here: 300 generations over 6 s may cost the victim at most 5 connections.
 */
import { assert } from "@std/assert";
import { victimLink } from "./_victim_link.ts";

Deno.test("a member cannot make its victim create a new RTCPeerConnection for every signal", async () => {
  const { clock, network, victim } = await victimLink([{
    urls: "turn:turn.example:3478",
    username: "u",
    credential: "c",
  }]);

  // The attack: 300 signals, one every 20 ms (50 a second), each naming the next generation.
  for (let gen = 2; gen < 302; gen++) {
    await victim.handleSignal({
      kind: "rtc",
      gen,
      candidate: { candidate: `candidate:1 1 udp 1 203.0.113.7 ${gen} typ host`, sdpMid: "0", sdpMLineIndex: 0 },
    });
    await clock.advance(20);
  }
  const made = network.connections.filter((pc) => pc.owner === "victim");
  const pooled = made.reduce((n, pc) => n + (pc.config.iceCandidatePoolSize ?? 0), 0);
  const torn = made.filter((pc) => pc.closed).length;
  victim.close();
  assert(
    made.length <= 5,
    `300 tiny signals in 6 s made the victim create ${made.length} RTCPeerConnections ` +
      `(${torn} already torn down), each gathering ${
        made[0]?.config.iceCandidatePoolSize
      } candidate pools: ${pooled} pools, TURN allocations included`,
  );
});
