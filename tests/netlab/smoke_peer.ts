/**
 * The browser side of the netlab smoke tests: one RTCPeerConnection that
 * signals through smoke_relay.ts, opens a DataChannel, swaps one message and
 * reports the selected candidate pair. It runs in the page through
 * `page.evaluate(smokePeer, options)`, so it must not use anything from
 * outside its own body.
 * @module
 */

/** Options of {@link smokePeer}. */
export interface SmokePeerOptions {
  /** The relay's WebSocket url, room included. */
  signalUrl: string;
  /** The offerer creates the channel once the other peer is in the room; the answerer waits for the offer. */
  role: "offerer" | "answerer";
  /** STUN/TURN servers; empty for host-only. */
  iceServers: RTCIceServer[];
  /** `relay` to forbid direct pairs outright; the lab's profiles normally do the forbidding. Default `all`. */
  iceTransportPolicy?: RTCIceTransportPolicy;
  /** The text to send once the channel opens. */
  message: string;
  /** Give up (with a diagnostic log) after this long. */
  timeoutMs: number;
}

/** One end of the selected candidate pair, from `getStats()`. */
export interface CandidateInfo {
  /** `host`, `srflx`, `prflx` or `relay`. */
  candidateType: string;
  /** The candidate's transport, `udp` or `tcp`. */
  protocol: string;
  /** For a local relay candidate, how it reaches the TURN server: `udp` or `tcp`. */
  relayProtocol: string | null;
  /** The candidate's address. */
  address: string;
}

/** What one peer saw. */
export interface SmokePeerResult {
  /** ms from the call to the DataChannel opening. */
  openMs: number;
  /** ms from the call to the first relay candidate gathered, or null if none was (how long TURN took). */
  relayGatheredMs: number | null;
  /** The message the other peer sent. */
  received: string;
  /** This side of the selected pair. */
  local: CandidateInfo;
  /** The other side of the selected pair. */
  remote: CandidateInfo;
  /** Timestamped ICE and channel events, for failure messages. */
  log: string[];
}

/**
 * Connects to the other peer and reports the selected pair; rejects with a log of ICE events on timeout.
 * The connection stays open (for {@link smokeRestart}) until the page closes.
 */
export async function smokePeer(options: SmokePeerOptions): Promise<SmokePeerResult> {
  const start = performance.now();
  const log: string[] = [];
  const note = (text: string) => log.push(`${Math.round(performance.now() - start)}ms ${text}`);
  const pc = new RTCPeerConnection({
    iceServers: options.iceServers,
    iceTransportPolicy: options.iceTransportPolicy ?? "all",
  });
  let socket: WebSocket | undefined;
  let relayGatheredMs: number | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let offered = false;
  let stage = "waiting for the DataChannel";
  const send = (message: unknown) => socket?.send(JSON.stringify(message));
  const pending: RTCIceCandidateInit[] = [];
  const startOffer = async (iceRestart = false) => {
    offered = true;
    await pc.setLocalDescription(await pc.createOffer({ iceRestart }));
    send({ type: "offer", sdp: pc.localDescription });
  };
  const onSignal = async (event: MessageEvent) => {
    const message = JSON.parse(event.data);
    const peerHere = (message.type === "peers" && message.count > 0) || message.type === "join";
    if (peerHere && options.role === "offerer" && !offered) await startOffer();
    else if (message.type === "offer") {
      await pc.setRemoteDescription(message.sdp);
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: "answer", sdp: pc.localDescription });
      for (const candidate of pending.splice(0)) await pc.addIceCandidate(candidate);
    } else if (message.type === "answer") {
      await pc.setRemoteDescription(message.sdp);
      for (const candidate of pending.splice(0)) await pc.addIceCandidate(candidate);
    } else if (message.type === "candidate") {
      note(`remote ${message.candidate.candidate}`);
      if (pc.remoteDescription) await pc.addIceCandidate(message.candidate);
      else pending.push(message.candidate);
    }
  };
  /** (Re)connects signaling; after an address change the old TCP connection is dead without knowing it. */
  const connect = async () => {
    const next = new WebSocket(options.signalUrl);
    next.onmessage = onSignal;
    await new Promise<void>((resolve, reject) => {
      next.onerror = () => reject(new Error("signaling socket failed"));
      next.onopen = () => resolve();
    });
    socket = next;
  };
  try {
    await connect();
    pc.oniceconnectionstatechange = () => note(`ice ${pc.iceConnectionState}`);
    pc.onicecandidateerror = (event) => note(`candidate error ${event.errorCode} ${event.errorText} ${event.url}`);
    pc.onicecandidate = (event) => {
      if (!event.candidate) return note("gathering complete");
      note(`local ${event.candidate.candidate}`);
      if (event.candidate.type === "relay" && relayGatheredMs === null) relayGatheredMs = performance.now() - start;
      send({ type: "candidate", candidate: event.candidate.toJSON() });
    };

    // One inbox for the channel's whole life, listening from its creation: a message can arrive in the same
    // task as `open`, before anyone waits for it.
    const inbox: string[] = [];
    const waiters: ((text: string) => void)[] = [];
    const listen = (dc: RTCDataChannel) => {
      dc.onmessage = (event) => {
        note(`message ${String(event.data).slice(0, 40)}`);
        const waiter = waiters.shift();
        if (waiter) waiter(String(event.data));
        else inbox.push(String(event.data));
      };
    };
    const nextMessage = () =>
      inbox.length ? Promise.resolve(inbox.shift()!) : new Promise<string>((resolve) => waiters.push(resolve));
    const channel = new Promise<RTCDataChannel>((resolve) => {
      if (options.role === "offerer") {
        const dc = pc.createDataChannel("smoke");
        listen(dc);
        dc.onopen = () => resolve(dc);
      } else {
        pc.ondatachannel = (event) => {
          const dc = event.channel;
          listen(dc);
          if (dc.readyState === "open") resolve(dc);
          else dc.onopen = () => resolve(dc);
        };
      }
    });

    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${stage}: timed out after ${options.timeoutMs} ms:\n${log.join("\n")}`)),
        options.timeoutMs,
      );
    });
    const dc = await Promise.race([channel, timeout]);
    const openMs = performance.now() - start;
    note("channel open");
    // Ping-pong: the offerer speaks first and the answerer replies. A message the answerer sent right on
    // `ondatachannel` was lost about once in 20 runs (Chromium 156): the offerer's channel never saw it.
    stage = "waiting for the other peer's message";
    let text: string;
    if (options.role === "offerer") {
      dc.send(options.message);
      note(`sent ${options.message}`);
      text = await Promise.race([nextMessage(), timeout]);
    } else {
      text = await Promise.race([nextMessage(), timeout]);
      dc.send(options.message);
      note(`sent ${options.message}`);
    }

    const selectedPair = async (): Promise<{ id: string; local: CandidateInfo; remote: CandidateInfo } | null> => {
      const stats = await pc.getStats();
      let pairId: string | undefined;
      stats.forEach((report) => {
        if (report.type === "transport" && report.selectedCandidatePairId) pairId = report.selectedCandidatePairId;
      });
      const pair = pairId ? stats.get(pairId) : undefined;
      if (!pair) return null;
      const describe = (id: string): CandidateInfo => {
        const candidate = stats.get(id);
        return {
          candidateType: candidate.candidateType,
          protocol: candidate.protocol,
          relayProtocol: candidate.relayProtocol ?? null,
          address: candidate.address,
        };
      };
      return { id: pair.id, local: describe(pair.localCandidateId), remote: describe(pair.remoteCandidateId) };
    };
    const selected = await selectedPair();
    if (!selected) throw new Error(`no selected candidate pair:\n${log.join("\n")}`);
    // Kept for smokeRestart. Nothing is closed here: a close right after the last send can lose it before the
    // other side reads it; closing the page ends everything.
    (globalThis as unknown as Record<string, unknown>).__netlabSmoke = {
      pc,
      dc,
      firstPairId: selected.id,
      log,
      note,
      selectedPair,
      startOffer,
      nextMessage,
      connect,
      close: () => socket?.close(),
    };
    return { openMs, relayGatheredMs, received: text, local: selected.local, remote: selected.remote, log };
  } finally {
    clearTimeout(timer);
  }
}

/** Options of {@link smokeRestart}. */
export interface SmokeRestartOptions {
  /** The offerer restarts ICE; the answerer only waits. */
  role: "offerer" | "answerer";
  /** Wait until this side's selected pair no longer uses this local or remote address. */
  oldAddress: string;
  /** The text to send over the same DataChannel once the new pair is up. */
  message: string;
  /** Give up (with a diagnostic log) after this long. */
  timeoutMs: number;
  /** Reconnect signaling first (the moved phone's old TCP connection is dead). Default false. */
  reconnect?: boolean;
}

/** Reconnects a kept peer's signaling socket, e.g. before the other side restarts ICE. */
export async function smokeReconnect(): Promise<void> {
  const kept = (globalThis as unknown as Record<string, { connect: () => Promise<void>; close: () => void }>)
    .__netlabSmoke;
  if (!kept) throw new Error("smokePeer must run first");
  kept.close();
  await kept.connect();
}

/** What a peer saw across an ICE restart. */
export interface SmokeRestartResult {
  /** ms from the call until the selected pair left `oldAddress`. */
  recoveredMs: number;
  /** The message the other peer sent over the old channel. */
  received: string;
  /** This side of the new selected pair. */
  local: CandidateInfo;
  /** The other side of the new selected pair. */
  remote: CandidateInfo;
}

/**
 * After {@link smokePeer}, restarts ICE (offerer) or follows the restart (answerer), waits for a
 * selected pair without `oldAddress`, and swaps one more message on the SAME DataChannel.
 */
export async function smokeRestart(options: SmokeRestartOptions): Promise<SmokeRestartResult> {
  type Kept = {
    pc: RTCPeerConnection;
    dc: RTCDataChannel;
    firstPairId: string;
    log: string[];
    note: (text: string) => void;
    selectedPair: () => Promise<{ id: string; local: CandidateInfo; remote: CandidateInfo } | null>;
    startOffer: (iceRestart?: boolean) => Promise<void>;
    nextMessage: () => Promise<string>;
    connect: () => Promise<void>;
    close: () => void;
  };
  const kept = (globalThis as unknown as Record<string, Kept>).__netlabSmoke;
  if (!kept) throw new Error("smokePeer must run first");
  const start = performance.now();
  const deadline = start + options.timeoutMs;
  kept.note("restart");
  if (options.reconnect) {
    kept.close();
    await kept.connect();
  }
  if (options.role === "offerer") await kept.startOffer(true);
  for (;;) {
    const pair = await kept.selectedPair();
    // A new pair with neither end on the old address; a peer-reflexive remote's address is redacted ("").
    const moved = pair && pair.id !== kept.firstPairId && pair.local.address &&
      pair.local.address !== options.oldAddress && pair.remote.address !== options.oldAddress;
    if (pair && moved) {
      const recoveredMs = performance.now() - start;
      kept.note(`recovered on ${pair.local.address} -> ${pair.remote.address}`);
      kept.dc.send(options.message);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const text = await Promise.race([
        kept.nextMessage(),
        new Promise<never>((_, reject) => {
          const left = Math.max(0, deadline - performance.now());
          timer = setTimeout(() => reject(new Error(`no message after restart:\n${kept.log.join("\n")}`)), left);
        }),
      ]).finally(() => clearTimeout(timer));
      return { recoveredMs, received: text, local: pair.local, remote: pair.remote };
    }
    if (performance.now() > deadline) {
      const pairs: string[] = [];
      const stats = await kept.pc.getStats();
      stats.forEach((r) => {
        if (r.type === "transport") pairs.push(`transport ${r.id} selected=${r.selectedCandidatePairId} ${r.iceState}`);
        if (r.type !== "candidate-pair") return;
        const l = stats.get(r.localCandidateId), m = stats.get(r.remoteCandidateId);
        pairs.push(
          `${r.id} ${l?.candidateType} ${l?.address}:${l?.port} -> ${m?.address}:${m?.port} ${r.state} nominated=${r.nominated} ` +
            `req=${r.requestsSent}/${r.requestsReceived} resp=${r.responsesSent}/${r.responsesReceived}`,
        );
      });
      throw new Error(
        `still on ${options.oldAddress} (ice ${kept.pc.iceConnectionState}):\n${kept.log.join("\n")}\n${
          pairs.join("\n")
        }`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
