/**
 * The bus that needs no choosing (`BUS=auto`, the default). Every message
 * goes out on BroadcastChannel, which reaches the instances of one process
 * (`deno serve --parallel` workers) for free. The Deno KV bus is added only
 * while the roster (`bus_roster.ts`) knows an instance that BroadcastChannel
 * does not reach: another process sharing the KV, or another isolate or
 * region of Deno Deploy. So:
 *
 * - an instance alone, or with only BroadcastChannel neighbours, never reads
 *   the KV bus (it renews its lease and reads the leases now and then);
 * - with remote instances it opens the KV bus, marks itself `listening`, and
 *   publishes there too. Messages from instances it hears over
 *   BroadcastChannel are skipped when they come back over KV;
 * - a message for KV waits (in order) while some remote instance is not
 *   listening yet, so one that just switched on misses nothing sent after it
 *   appeared; after `holdMs` it goes out anyway;
 * - the KV bus relies on `kv.watch` and polls every `slowPollMs` where the
 *   watch was seen to report another instance's write (Deno Deploy). Where it
 *   was not (local SQLite shared by processes), it polls every `fastPollMs`.
 * @module
 */
import type { Bus, BusEnvelope } from "./bus.ts";
import { BroadcastBus, DEFAULT_BUS_CHANNEL } from "./bus_broadcast.ts";
import { KvBus, type KvBusOptions } from "./bus_kv.ts";
import { CONTROL_ROOM, InstanceRoster, type RosterClock, type RosterTimings, SYSTEM_CLOCK } from "./bus_roster.ts";
import { metrics } from "./metrics.ts";

/** What `AutoBus` passes when it opens a KV bus. */
export type AutoKvBusOptions = Required<Pick<KvBusOptions, "channel" | "instanceId" | "pollIntervalMs" | "onError">>;

/** Timings of the automatic bus; every field has a default in `AUTO_BUS_DEFAULTS`. */
export interface AutoBusTimings {
  /** KV bus poll interval where `kv.watch` was not seen to report other instances' writes, ms. */
  fastPollMs: number;
  /** KV bus poll interval where it was: only a fallback for a missed wake-up, ms. */
  slowPollMs: number;
  /** How long to wait for a remote instance's write to show up through `kv.watch` before polling fast, ms. */
  watchProofMs: number;
  /** The longest a message waits for remote instances to listen before it goes to KV anyway, ms. */
  holdMs: number;
  /** The most messages waiting for that; beyond it they go to KV at once. */
  maxHeld: number;
}

/** The defaults. */
export const AUTO_BUS_DEFAULTS: Readonly<AutoBusTimings> = Object.freeze({
  fastPollMs: 100,
  slowPollMs: 5_000,
  watchProofMs: 1_500,
  holdMs: 30_000,
  maxHeld: 10_000,
});

/** Options of `AutoBus.open`. */
export interface AutoBusOptions extends Partial<AutoBusTimings> {
  /** The KV every instance of the deployment shares (the caller owns it). */
  kv: Deno.Kv;
  /** The deployment's name on BroadcastChannel and in KV. */
  channel?: string;
  /** This instance's id; random by default. Ignored when `group` is given (its id is used). */
  instanceId?: string;
  /** The bus to the instances BroadcastChannel reaches; default a `BroadcastBus`, closed with this bus. */
  group?: Bus;
  /** Roster timings (leases, scans, probes). */
  roster?: Partial<RosterTimings> & {
    /** Whether the roster watches its key (off: scans only, as where `kv.watch` sees no other writer). */
    watch?: boolean;
  };
  /** Opens the KV bus; default `KvBus.open` on `kv`. Tests count or fake it. */
  openKvBus?: (options: AutoKvBusOptions) => Promise<Bus>;
  /** The clock and timers. */
  clock?: RosterClock;
  /** Where background failures go. */
  onError?: (error: unknown, context: string) => void;
}

/** A message waiting for remote instances to listen. */
interface Held {
  room: string;
  body: unknown;
  at: number;
}

const LIVE = new Set<AutoBus>();
metrics.gauge("parley_bus_kv_active", "Automatic buses in this process with the Deno KV bus on.", () => {
  let n = 0;
  for (const bus of LIVE) if (bus.kvActive) n++;
  return n;
});
metrics.gauge("parley_bus_remote_instances", "Instances that BroadcastChannel does not reach, as seen here.", () => {
  let n = 0;
  for (const bus of LIVE) n += bus.remoteCount;
  return n;
});
metrics.gauge("parley_bus_held_messages", "Messages waiting for remote instances to read the KV bus.", () => {
  let n = 0;
  for (const bus of LIVE) n += bus.heldCount;
  return n;
});

/** BroadcastChannel always, Deno KV while instances exist that BroadcastChannel does not reach. */
export class AutoBus implements Bus {
  /** This instance's id, shared by its BroadcastChannel and KV buses and its lease. */
  readonly instanceId: string;
  #group: Bus;
  #ownsGroup: boolean;
  #roster: InstanceRoster;
  #timings: AutoBusTimings;
  #channel: string;
  #clock: RosterClock;
  #openKvBus: (options: AutoKvBusOptions) => Promise<Bus>;
  #onError: (error: unknown, context: string) => void;
  #handlers = new Set<(envelope: BusEnvelope) => void>();
  #kvBus: Bus | null = null;
  #held: Held[] = [];
  #holdTimer: ReturnType<typeof setTimeout> | undefined;
  #proofTimer: ReturnType<typeof setTimeout> | undefined;
  #proofWaiter: (() => void) | null = null;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Switches of the KV bus, one after another. */
  #transition: Promise<void> = Promise.resolve();
  #starting: Promise<void> = Promise.resolve();
  #closed = false;

  /**
   * Starts the bus. It announces this instance and classifies the others in the background
   * (`ready` tells when the first round is done): a server answering its first socket must not
   * wait for probes, and until then messages go over BroadcastChannel as with no remote instance.
   */
  static open(options: AutoBusOptions): Promise<AutoBus> {
    const bus = new AutoBus(options);
    bus.#starting = bus.#roster.start().then(
      () => bus.#reconcile(),
      (error) => bus.#onError(error, "starting the roster"),
    );
    return Promise.resolve(bus);
  }

  /** Resolves once the instances found at start have answered or had their time to. */
  get ready(): Promise<void> {
    return this.#starting;
  }

  private constructor(options: AutoBusOptions) {
    this.#channel = options.channel ?? DEFAULT_BUS_CHANNEL;
    this.#ownsGroup = options.group === undefined;
    this.#group = options.group ?? new BroadcastBus({ channel: this.#channel, instanceId: options.instanceId });
    this.instanceId = this.#group.instanceId;
    this.#timings = {
      fastPollMs: options.fastPollMs ?? AUTO_BUS_DEFAULTS.fastPollMs,
      slowPollMs: options.slowPollMs ?? AUTO_BUS_DEFAULTS.slowPollMs,
      watchProofMs: options.watchProofMs ?? AUTO_BUS_DEFAULTS.watchProofMs,
      holdMs: options.holdMs ?? AUTO_BUS_DEFAULTS.holdMs,
      maxHeld: options.maxHeld ?? AUTO_BUS_DEFAULTS.maxHeld,
    };
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#onError = options.onError ?? ((error, context) => console.error(`auto bus: ${context}:`, error));
    const kv = options.kv;
    this.#openKvBus = options.openKvBus ?? ((kvOptions) => KvBus.open(kv, kvOptions));
    this.#roster = new InstanceRoster({
      ...options.roster,
      kv,
      group: this.#group,
      channel: this.#channel,
      clock: this.#clock,
      onChange: () => this.#reconcile(),
      onError: this.#onError,
    });
    this.#group.subscribe((envelope) => {
      if (envelope.room !== CONTROL_ROOM) this.#deliver(envelope);
    });
    LIVE.add(this);
  }

  /** Whether the KV bus is open (remote instances exist). */
  get kvActive(): boolean {
    return this.#kvBus !== null;
  }

  /** Instances that BroadcastChannel does not reach, as seen here. */
  get remoteCount(): number {
    return this.#roster.remotes.size;
  }

  /** Messages waiting for remote instances to listen. */
  get heldCount(): number {
    return this.#held.length;
  }

  /** Sends `body` about `room` to every other instance: over BroadcastChannel, and over KV when needed. */
  publish(room: string, body: unknown): void {
    if (this.#closed) throw new Error("bus is closed");
    this.#group.publish(room, body);
    if (this.#roster.remotes.size === 0) return;
    if (this.#kvBus && this.#held.length === 0 && this.#roster.allRemotesListening()) {
      this.#kvBus.publish(room, body);
      return;
    }
    this.#held.push({ room, body, at: this.#clock.now() });
    if (this.#held.length > this.#timings.maxHeld) this.#flushHeld(true);
    else this.#scheduleHoldTimeout();
  }

  /** Calls `handler` for every envelope from another instance; returns an unsubscribe function. */
  subscribe(handler: (envelope: BusEnvelope) => void): () => void {
    this.#handlers.add(handler);
    return () => void this.#handlers.delete(handler);
  }

  /** Sends what is held, closes the KV bus, drops the lease and leaves BroadcastChannel. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#holdTimer);
    this.#clock.clearTimeout(this.#proofTimer);
    this.#clock.clearTimeout(this.#retryTimer);
    this.#proofWaiter?.();
    await this.#transition;
    this.#flushHeld(true);
    this.#held = [];
    const kvBus = this.#kvBus;
    this.#kvBus = null;
    if (kvBus) await kvBus.close();
    await this.#roster.close();
    await this.#starting;
    this.#handlers.clear();
    if (this.#ownsGroup) await this.#group.close();
    LIVE.delete(this);
  }

  #deliver(envelope: BusEnvelope): void {
    for (const handler of this.#handlers) {
      try {
        handler(envelope);
      } catch (error) {
        this.#onError(error, `a handler threw on a message about room ${envelope.room}`);
      }
    }
  }

  /** Follows the roster: opens or closes the KV bus, sends held messages once everyone listens. */
  #reconcile(): void {
    if (this.#closed) return;
    if (this.#roster.remotes.size === 0) {
      this.#held = [];
      this.#clock.clearTimeout(this.#holdTimer);
    }
    if (this.#proofWaiter && this.#roster.watchSeesRemotes()) this.#proofWaiter();
    this.#transition = this.#transition.then(() => this.#step()).catch((error) => {
      if (this.#closed) return;
      this.#onError(error, "switching the KV bus (trying again)");
      this.#clock.clearTimeout(this.#retryTimer);
      this.#retryTimer = this.#clock.setTimeout(() => this.#reconcile(), this.#timings.watchProofMs);
    });
    this.#flushHeld(false);
  }

  /** One switch towards what the roster asks for. */
  async #step(): Promise<void> {
    if (this.#closed) return;
    const needed = this.#roster.remotes.size > 0;
    if (needed && !this.#kvBus) {
      await this.#waitForWatchProof();
      if (this.#closed || this.#roster.remotes.size === 0) return;
      const slow = this.#roster.watchSeesRemotes();
      const kvBus = await this.#openKvBus({
        channel: this.#channel,
        instanceId: this.instanceId,
        pollIntervalMs: slow ? this.#timings.slowPollMs : this.#timings.fastPollMs,
        onError: this.#onError,
      });
      kvBus.subscribe((envelope) => {
        // What an instance says over BroadcastChannel reached us there already.
        if (!this.#roster.isGroup(envelope.origin)) this.#deliver(envelope);
      });
      this.#kvBus = kvBus;
      await this.#roster.setListening(true);
      this.#flushHeld(false);
    } else if (!needed && this.#kvBus) {
      const kvBus = this.#kvBus;
      this.#kvBus = null;
      await this.#roster.setListening(false);
      await kvBus.close();
    }
  }

  /** Waits until `kv.watch` has reported a remote instance's write, or `watchProofMs`. */
  #waitForWatchProof(): Promise<void> {
    if (this.#roster.watchSeesRemotes()) return Promise.resolve();
    return new Promise((resolve) => {
      this.#proofWaiter = () => {
        this.#clock.clearTimeout(this.#proofTimer);
        this.#proofWaiter = null;
        resolve();
      };
      this.#proofTimer = this.#clock.setTimeout(() => this.#proofWaiter?.(), this.#timings.watchProofMs);
    });
  }

  /** Sends held messages to KV in order once every remote instance listens (or at once when `force`). */
  #flushHeld(force: boolean): void {
    if (this.#held.length === 0 || !this.#kvBus) return;
    if (!force && !this.#roster.allRemotesListening()) return;
    const held = this.#held;
    this.#held = [];
    this.#clock.clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    for (const { room, body } of held) this.#kvBus.publish(room, body);
  }

  #scheduleHoldTimeout(): void {
    if (this.#holdTimer !== undefined || this.#held.length === 0) return;
    const wait = Math.max(0, this.#held[0].at + this.#timings.holdMs - this.#clock.now());
    const expire = () => {
      this.#holdTimer = undefined;
      if (this.#kvBus) this.#flushHeld(true);
      // Without a KV bus yet there is nowhere to send them: look again once it may have opened.
      else if (this.#held.length) this.#holdTimer = this.#clock.setTimeout(expire, this.#timings.watchProofMs);
    };
    this.#holdTimer = this.#clock.setTimeout(expire, wait);
  }
}
