/**
 * Page init scripts for the hostile-member browser test: a spy on the
 * signaling socket that notes the member ids the server stamps, a hostile
 * member's forgery (it rewrites its own messages after the app built them and
 * before they are encrypted, and signs the rewritten fields with its own key,
 * as a modified client would), and a recorder of every message the log ever
 * renders. Each function is self-contained: Playwright serializes it into the page.
 * @module
 */

/** What the spy on the signaling socket saw: own member id and the other peers' member ids. */
export interface MembersSeen {
  /** `welcome.member`: this page's own member id. */
  own?: string;
  /** Every `welcome.peers[i].member` and `presence.member` seen. */
  peers: string[];
}

/** The forgeries a body can ask for, by its first characters. */
export const FORGE = {
  /** Author (and the order key's author) rewritten to the target's member id; signed with the hostile key. */
  author: "[forge:author]",
  /** As `author`, with the target's own public key in `pk` (the signature is still the hostile one's). */
  authorKey: "[forge:author+pk]",
  /** `time` in the year 2200. */
  time2200: "[forge:time2200]",
  /** `time` at the end of JavaScript dates, 8.64e15 ms. */
  timeMax: "[forge:time-max]",
  /** The order key's clock at its maximum: ms `zzzzzzzzz`, counter `zzzz`. */
  orderMax: "[forge:order-max]",
} as const;

/** What the hostile page did: the target it was told, what it learned and how often each forgery was applied. */
export interface HostileState {
  /** The member id to impersonate (the test tells it; the page also learns it from the socket, see {@link MembersSeen}). */
  target: string;
  /** The target's public key, learned when this page imported it to verify the target's messages. */
  targetKey: string;
  /** Forgery marker → times applied to a signature. */
  signed: Record<string, number>;
  /** Forgery marker → times applied to an outgoing packet. */
  sealed: Record<string, number>;
}

/** Init script: wraps `WebSocket` to note the member ids in `welcome` and `presence` frames (`globalThis.__members`). */
export function spyMembers(): void {
  const seen: MembersSeen = { peers: [] };
  (globalThis as unknown as { __members: MembersSeen }).__members = seen;
  const Original = globalThis.WebSocket;
  class Spied extends Original {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener("message", (event) => {
        if (typeof event.data !== "string") return;
        try {
          const frame = JSON.parse(event.data);
          if (frame?.type === "welcome") {
            if (typeof frame.member === "string") seen.own = frame.member;
            for (const peer of frame.peers ?? []) {
              if (typeof peer?.member === "string" && !seen.peers.includes(peer.member)) seen.peers.push(peer.member);
            }
          } else if (frame?.type === "presence" && typeof frame.member === "string") {
            if (!seen.peers.includes(frame.member)) seen.peers.push(frame.member);
          }
        } catch {
          // Not JSON: not a frame the spy reads.
        }
      });
    }
  }
  globalThis.WebSocket = Spied;
}

/**
 * Init script of the hostile member: wraps `crypto.subtle.sign`, `encrypt` and `importKey`. A message whose body
 * starts with a {@link FORGE} marker has its fields rewritten both in what is signed (so the signature is the
 * hostile key's own, valid over the forged fields) and in the packet before encryption (`msg` and `hist`). An own
 * message is sealed in its compact form (`lib/client/courier/message_bytes.ts`): a forged one is read from it and
 * sealed as the JSON packet receivers also take, with the forged fields.
 */
export function hostileMember(): void {
  const FORGE_TIME_2200 = Date.UTC(2200, 0, 1);
  const state: HostileState = { target: "", targetKey: "", signed: {}, sealed: {} };
  (globalThis as unknown as { __hostile: HostileState }).__hostile = state;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const bytesOf = (data: BufferSource): Uint8Array =>
    data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const markerOf = (body: unknown): string | undefined =>
    typeof body === "string" ? body.match(/^\[forge:[a-z0-9+-]+\]/)?.[0] : undefined;

  /** The forged fields of a message, or undefined when its body asks for none. */
  const forge = (m: { author: string; order: string; time: number; body: string; pk?: string }) => {
    const marker = markerOf(m.body);
    if (!marker || !state.target) return undefined;
    const out = { author: m.author, order: m.order, time: m.time, pk: m.pk };
    if (marker === "[forge:author]" || marker === "[forge:author+pk]") {
      // The order key is `<ms:9><counter:4>.<author>[~tab].<n>`: its author must match the message's.
      out.author = state.target;
      out.order = m.order.slice(0, 14) + state.target + m.order.slice(14 + m.author.length);
      // Messages carry no key now; this one claims the target's, so receivers verify H's signature with it.
      if (marker === "[forge:author+pk]" && state.targetKey) out.pk = state.targetKey;
    } else if (marker === "[forge:time2200]") {
      out.time = FORGE_TIME_2200;
    } else if (marker === "[forge:time-max]") {
      out.time = 8.64e15;
    } else if (marker === "[forge:order-max]") {
      out.order = "zzzzzzzzz" + "zzzz" + m.order.slice(13);
    } else {
      return undefined;
    }
    return { marker, fields: out };
  };
  const count = (map: Record<string, number>, marker: string) => map[marker] = (map[marker] ?? 0) + 1;
  const base64Url = (bytes: Uint8Array) =>
    btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");

  /** The `msg` packet in an own message's compact bytes, with the id the seal binds (see message_bytes.ts). */
  const compactPacket = (bytes: Uint8Array, id: string) => {
    let at = 2;
    const take = (n: number) => {
      if (at + n > bytes.length) throw new Error("short");
      at += n;
      return bytes.subarray(at - n, at);
    };
    const varint = () => {
      let value = 0;
      for (let scale = 1;; scale *= 128) {
        const b = take(1)[0];
        value += (b & 0x7f) * scale;
        if (b < 0x80) return value;
      }
    };
    const shortId = () => {
      const mark = take(1)[0];
      return mark >= 0x80 ? base64Url(take(mark - 0x80)) : String.fromCharCode(...take(mark));
    };
    const flags = bytes[1];
    const sig = base64Url(take(64));
    const ms = varint();
    const c = varint();
    const n = varint();
    const zigzag = varint();
    const author = shortId();
    const tab = flags & 4 ? shortId() : undefined;
    const to = flags & 1 ? shortId() : undefined;
    const pk = flags & 2 ? base64Url(take(65)) : undefined;
    const body = decoder.decode(bytes.subarray(at));
    const order = ms.toString(36).padStart(9, "0") + c.toString(36).padStart(4, "0") + "." + author +
      (tab === undefined ? "" : "~" + tab) + "." + n.toString(36);
    const time = ms - (zigzag % 2 === 0 ? zigzag / 2 : -(zigzag + 1) / 2);
    const m: Record<string, unknown> = { id, author, order, time, body, sig };
    if (to !== undefined) m.to = to;
    if (pk !== undefined) m.pk = pk;
    return { t: "msg", m };
  };

  const subtle = SubtleCrypto.prototype;
  const sign = subtle.sign;
  subtle.sign = function (this: SubtleCrypto, ...[algorithm, key, data]: Parameters<SubtleCrypto["sign"]>) {
    try {
      const signed = JSON.parse(decoder.decode(bytesOf(data)));
      if (Array.isArray(signed) && signed[0] === "parley-msg-v1") {
        const [, , , author, order, time, body] = signed;
        const forged = forge({ author, order, time, body });
        if (forged) {
          signed[3] = forged.fields.author;
          signed[4] = forged.fields.order;
          signed[5] = forged.fields.time;
          count(state.signed, forged.marker);
          return sign.call(this, algorithm, key, encoder.encode(JSON.stringify(signed)));
        }
      }
    } catch {
      // Not JSON (a member proof): signed as it is.
    }
    return sign.call(this, algorithm, key, data);
  } as typeof subtle.sign;

  const encrypt = subtle.encrypt;
  subtle.encrypt = function (this: SubtleCrypto, ...[algorithm, key, data]: Parameters<SubtleCrypto["encrypt"]>) {
    try {
      const bytes = bytesOf(data);
      const aad = (algorithm as { additionalData?: BufferSource }).additionalData;
      const packet = bytes[0] === 1 && aad
        ? compactPacket(bytes, JSON.parse(decoder.decode(bytesOf(aad)))[3])
        : JSON.parse(decoder.decode(bytes));
      const messages = packet?.t === "msg" ? [packet.m] : packet?.t === "hist" ? packet.ms : [];
      let changed = false;
      for (const m of messages) {
        const forged = forge(m);
        if (!forged) continue;
        Object.assign(m, forged.fields);
        count(state.sealed, forged.marker);
        changed = true;
      }
      if (changed) return encrypt.call(this, algorithm, key, encoder.encode(JSON.stringify(packet)));
    } catch {
      // Not a packet: sealed as it is.
    }
    return encrypt.call(this, algorithm, key, data);
  } as typeof subtle.encrypt;

  // Messages travel without their author's key; this page imports the target's to verify its messages.
  const importKey = subtle.importKey;
  subtle.importKey = function (this: SubtleCrypto, ...args: Parameters<SubtleCrypto["importKey"]>) {
    const [format, keyData, algorithm] = args;
    if (format === "raw" && (algorithm as { name?: string }).name === "ECDSA") {
      const raw = bytesOf(keyData as BufferSource).slice();
      void crypto.subtle.digest("SHA-256", raw).then((hash) => {
        if (state.target && base64Url(new Uint8Array(hash).subarray(0, 16)) === state.target) {
          state.targetKey = base64Url(raw);
        }
      });
    }
    return importKey.apply(this, args as Parameters<SubtleCrypto["importKey"]>);
  } as typeof subtle.importKey;
}

/** One rendering of a message item the recorder saw. */
export interface SeenItem {
  /** The body text (or the unreadable placeholder's). */
  text: string;
  /** `data-own` of the item. */
  own: string | null;
  /** Whether it was the unreadable placeholder. */
  unreadable: boolean;
  /** The author label the item printed (visible or for screen readers). */
  author: string;
}

/**
 * Init script: records every message item the log ever renders whose text starts with "[forge:" or that is an
 * unreadable placeholder (`globalThis.__seen`), however briefly it stood.
 */
export function recordForgedItems(): void {
  const seen: SeenItem[] = [];
  (globalThis as unknown as { __seen: SeenItem[] }).__seen = seen;
  const noted = new WeakSet<Element>();
  const scan = () => {
    for (const li of document.querySelectorAll("[role=log] li[data-own]")) {
      const text = li.querySelector("p")?.textContent ?? "";
      const unreadable = li.hasAttribute("data-unreadable");
      if (noted.has(li) || (!unreadable && !text.includes("[forge:"))) continue;
      noted.add(li);
      seen.push({
        text: text.slice(0, 80),
        own: li.getAttribute("data-own"),
        unreadable,
        author: li.querySelector("span")?.textContent ?? "",
      });
    }
  };
  new MutationObserver(scan).observe(document, { subtree: true, childList: true, characterData: true });
}
