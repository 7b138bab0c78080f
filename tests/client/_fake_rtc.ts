/**
 * A fake RTCPeerConnection world for unit tests of the peer link: the
 * signaling state machine (with implicit rollback, as browsers do), trickled
 * candidates, ICE that connects only when the fake network allows, and
 * negotiated DataChannels that carry strings. Time comes from the given
 * timers: a FakeClock in unit tests, real timers in benchmarks.
 * @module
 */
import type { Timers } from "../../lib/client/timer_set.ts";

type Listener = ((event: never) => void) | null;

class FakeDescription {
  constructor(readonly type: RTCSdpType, readonly sdp: string) {}
  toJSON(): RTCSessionDescriptionInit {
    return { type: this.type, sdp: this.sdp };
  }
}

class FakeCandidate {
  constructor(readonly candidate: string, readonly type: string) {}
  toJSON(): RTCIceCandidateInit {
    return { candidate: this.candidate, sdpMid: "0", sdpMLineIndex: 0 };
  }
}

/** A negotiated DataChannel; the one with the same id on the connected peer is its twin. */
export class FakeDataChannel {
  readyState: RTCDataChannelState = "connecting";
  /** Bytes given to `send` and not yet on the wire (a test sets it to stand for a congested channel). */
  bufferedAmount = 0;
  /** Whether the channel delivers in order, as created. */
  ordered = true;
  onopen: Listener = null;
  onclose: Listener = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  constructor(readonly owner: FakePeerConnection, readonly label: string, readonly id: number) {}

  send(data: string): void {
    if (this.readyState !== "open") throw new Error("InvalidStateError: channel not open");
    this.owner.network.deliver(this, data);
  }

  close(): void {
    this.readyState = "closed";
  }

  /** Opens the channel (called by the network). */
  open(): void {
    if (this.readyState !== "connecting") return;
    this.readyState = "open";
    this.onopen?.({} as never);
  }

  /** Closes the channel from the far side (called by the network). */
  remoteClosed(): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    this.onclose?.({} as never);
  }
}

/** One fake peer connection. */
export class FakePeerConnection {
  static #ids = 0;
  readonly pcId = `pc${++FakePeerConnection.#ids}`;
  signalingState: RTCSignalingState = "stable";
  iceConnectionState: RTCIceConnectionState = "new";
  localDescription: FakeDescription | null = null;
  remoteDescription: FakeDescription | null = null;
  onnegotiationneeded: Listener = null;
  onicecandidate: ((event: { candidate: FakeCandidate | null }) => void) | null = null;
  oniceconnectionstatechange: Listener = null;
  channels: FakeDataChannel[] = [];
  closed = false;
  /** Offers this connection made; `ufrag` changes on ICE restart. */
  offers = 0;
  /** Times the connection rolled back its own offer (the polite side in a glare). */
  rollbacks = 0;
  #ufrag = 1;
  #negotiated = false;
  #restartPending = false;
  remoteCandidates: RTCIceCandidateInit[] = [];

  constructor(readonly network: FakeNetwork, readonly owner: string, readonly config: RTCConfiguration) {
    network.connections.push(this);
  }

  /** Which pc the remote description came from, parsed from the fake SDP. */
  get remotePcId(): string | undefined {
    return this.remoteDescription?.sdp.split(" ")[1];
  }

  #sdp(): string {
    return `fake ${this.pcId} ufrag${this.#ufrag}`;
  }

  #needNegotiation(): void {
    queueMicrotask(() => {
      if (!this.closed && this.signalingState === "stable") this.onnegotiationneeded?.({} as never);
    });
  }

  createDataChannel(label: string, init: RTCDataChannelInit): FakeDataChannel {
    const channel = new FakeDataChannel(this, label, init.id ?? this.channels.length);
    channel.ordered = init.ordered ?? true;
    this.channels.push(channel);
    if (!this.#negotiated) this.#needNegotiation();
    return channel;
  }

  restartIce(): void {
    this.#restartPending = true;
    this.#ufrag++;
    this.#needNegotiation();
  }

  setLocalDescription(): Promise<void> {
    this.#check();
    if (this.signalingState === "stable") {
      this.offers++;
      this.localDescription = new FakeDescription("offer", this.#sdp());
      this.signalingState = "have-local-offer";
    } else if (this.signalingState === "have-remote-offer") {
      this.localDescription = new FakeDescription("answer", this.#sdp());
      this.signalingState = "stable";
      this.#negotiated = true;
      this.#afterNegotiation();
    } else {
      return Promise.reject(new Error(`InvalidStateError: setLocalDescription in ${this.signalingState}`));
    }
    this.#trickle();
    return Promise.resolve();
  }

  setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
    this.#check();
    if (description.type === "offer") {
      if (this.signalingState === "have-local-offer") this.rollbacks++;
      this.remoteDescription = new FakeDescription("offer", description.sdp!);
      this.signalingState = "have-remote-offer";
    } else if (description.type === "answer" && this.signalingState === "have-local-offer") {
      this.remoteDescription = new FakeDescription("answer", description.sdp!);
      this.signalingState = "stable";
      this.#negotiated = true;
      this.#afterNegotiation();
    } else {
      return Promise.reject(new Error(`InvalidStateError: ${description.type} in ${this.signalingState}`));
    }
    return Promise.resolve();
  }

  addIceCandidate(candidate: RTCIceCandidateInit): Promise<void> {
    if (!this.remoteDescription) return Promise.reject(new Error("InvalidStateError: no remote description"));
    this.remoteCandidates.push(candidate);
    return Promise.resolve();
  }

  getConfiguration(): RTCConfiguration {
    return this.config;
  }

  setConfiguration(config: RTCConfiguration): void {
    Object.assign(this.config, config);
  }

  getStats(): Promise<Map<string, Record<string, unknown>>> {
    const report = new Map<string, Record<string, unknown>>();
    if (this.iceConnectionState === "connected") {
      const type = this.network.candidateType;
      report.set("T1", { type: "transport", selectedCandidatePairId: "CP1" });
      report.set("CP1", {
        type: "candidate-pair",
        state: "succeeded",
        localCandidateId: "L1",
        remoteCandidateId: "R1",
        currentRoundTripTime: 0.042,
      });
      report.set("L1", { type: "local-candidate", candidateType: type, protocol: "udp" });
      report.set("R1", { type: "remote-candidate", candidateType: "host", protocol: "udp" });
    }
    return Promise.resolve(report);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.signalingState = "closed";
    for (const channel of this.channels) channel.close();
    this.network.closed(this);
  }

  /** Sets the ICE state and fires the event, as the browser would. */
  setIce(state: RTCIceConnectionState): void {
    if (this.closed || this.iceConnectionState === state) return;
    this.iceConnectionState = state;
    this.oniceconnectionstatechange?.({} as never);
  }

  #check(): void {
    if (this.closed) throw new Error("InvalidStateError: closed");
  }

  #trickle(): void {
    this.network.clock.setTimeout(() => {
      if (this.closed) return;
      this.onicecandidate?.({ candidate: new FakeCandidate(`candidate:${this.pcId}`, this.network.candidateType) });
      this.onicecandidate?.({ candidate: null });
    }, 1);
  }

  #afterNegotiation(): void {
    const restarting = this.#restartPending;
    this.#restartPending = false;
    if (this.iceConnectionState === "new" || restarting) this.setIce("checking");
    this.network.tryConnect(this);
  }
}

/** The fake network between connections: reachability, delays, candidate types. */
export class FakeNetwork {
  connections: FakePeerConnection[] = [];
  /** Whether ICE checks can succeed (false: UDP blocked and no TURN). */
  reachable = true;
  /** How long ICE takes to connect once both sides have negotiated. */
  connectDelayMs = 50;
  /** Candidate type of the selected pair: `host` for LAN, `relay` for TURN. */
  candidateType = "host";
  /** Every string a channel delivered, in order. */
  delivered: { from: string; data: string }[] = [];

  constructor(readonly clock: Pick<Timers, "setTimeout">) {}

  /** A factory for the peer link's `createPeerConnection`. */
  factory(owner: string): (config: RTCConfiguration) => RTCPeerConnection {
    return (config) => new FakePeerConnection(this, owner, config) as unknown as RTCPeerConnection;
  }

  /** The live (not closed) connection of an owner. */
  live(owner: string): FakePeerConnection | undefined {
    return this.connections.filter((pc) => pc.owner === owner && !pc.closed).at(-1);
  }

  #peerOf(pc: FakePeerConnection): FakePeerConnection | undefined {
    const other = this.connections.find((c) => c.pcId === pc.remotePcId && !c.closed);
    return other && other.remotePcId === pc.pcId ? other : undefined;
  }

  /** Connects two negotiated connections after the delay, if the network allows. */
  tryConnect(pc: FakePeerConnection): void {
    this.clock.setTimeout(() => {
      const other = this.#peerOf(pc);
      if (!other || pc.closed || !this.reachable) return;
      if (pc.signalingState !== "stable" || other.signalingState !== "stable") return;
      for (const side of [pc, other]) side.setIce("connected");
      for (const side of [pc, other]) for (const channel of side.channels) channel.open();
    }, this.connectDelayMs);
  }

  /** Interrupts connectivity: ICE on every live connection goes `disconnected`. */
  cut(): void {
    this.reachable = false;
    for (const pc of this.connections) {
      if (!pc.closed && pc.iceConnectionState === "connected") pc.setIce("disconnected");
    }
  }

  /** Carries a string to the twin channel on the connected peer. */
  deliver(channel: FakeDataChannel, data: string): void {
    const other = this.#peerOf(channel.owner);
    const twin = other?.channels.find((c) => c.id === channel.id);
    if (!twin || !this.reachable) return;
    this.clock.setTimeout(() => {
      if (twin.readyState !== "open") return;
      this.delivered.push({ from: channel.owner.owner, data });
      twin.onmessage?.({ data });
    }, 1);
  }

  /** A connection closed: its peer's channels close too (SCTP abort). */
  closed(pc: FakePeerConnection): void {
    const other = this.connections.find((c) => c.pcId === pc.remotePcId && c.remotePcId === pc.pcId && !c.closed);
    if (!other) return;
    this.clock.setTimeout(() => {
      for (const channel of other.channels) channel.remoteClosed();
    }, 1);
  }
}
