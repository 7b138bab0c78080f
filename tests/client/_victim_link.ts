/**
 * One P2P link of a victim to a hostile member, "mallory", on a fake network and clock: what the attack tests on
 * `peer_link.ts` drive with the signals mallory sends. Nothing goes back to mallory.
 * @module
 */
import { PeerLink, type RetryDelays } from "../../lib/client/peer_link.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { FakeNetwork } from "./_fake_rtc.ts";

/** Retry delays doubling from 1 s to 30 s. */
class DoublingRetry implements RetryDelays {
  #attempt = 0;
  /** The next delay, ms. */
  next(): number {
    return Math.min(30_000, 1_000 * 2 ** this.#attempt++);
  }
  /** Back to 1 s. */
  reset(): void {
    this.#attempt = 0;
  }
}

/** The victim's link to mallory (started, and 100 ms on), with its clock and network; `iceServers` default none. */
export async function victimLink(iceServers: RTCIceServer[] = []): Promise<
  { clock: FakeClock; network: FakeNetwork; victim: PeerLink }
> {
  const clock = new FakeClock();
  const network = new FakeNetwork(clock);
  const victim = new PeerLink({
    // "victim" sorts after "mallory", so the victim is the polite side and takes the remote offer.
    self: "victim",
    remote: "mallory",
    createPeerConnection: network.factory("victim"),
    iceServers: () => Promise.resolve(iceServers),
    sendSignal: () => {},
    onMessage: () => {},
    timing: { setupTimeoutMs: 10_000, disconnectedGraceMs: 2_000, candidatePoolSize: 10 },
    retry: new DoublingRetry(),
    timers: clock,
  });
  await victim.start();
  await clock.advance(100);
  return { clock, network, victim };
}
