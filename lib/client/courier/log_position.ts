/**
 * The courier's position in the server's room log: `since` for `hello`, and
 * the log `epoch` it counts in. `since` is a watermark: it stays below every
 * relayed chat frame received but not yet fully dealt with (its message
 * stored, every part of a split payload included), so a crash or reload never
 * skips a frame that was not stored. Frames arrive in `seq` order, so a `seq`
 * never seen below the highest one was for another peer.
 *
 * A log reset is followed: a new epoch starts counting from 0 (the server then
 * serves the new log from its start), and a `welcome.log.last` below `since`
 * brings `since` down to it. Frames of the old count still being dealt with no
 * longer move the watermark.
 * @module
 */

/** One relayed chat frame being dealt with. */
export interface LogTicket {
  /** Its log position. */
  seq: number;
  /** The count it belongs to (bumped by every reset). */
  generation: number;
}

/** The room log bounds a `welcome` reports. */
export interface LogBounds {
  /** Oldest kept `seq`. */
  first: number;
  /** Newest `seq` (0: empty). */
  last: number;
  /** The log's epoch: a new one means the log started over. */
  epoch?: string;
}

/** The watermark over the room log. */
export class LogPosition {
  #since: number;
  #epoch: string | undefined;
  #generation = 0;
  #highest: number;
  #open = new Map<number, number>();
  #save: (state: { lastSeq: number; epoch: string | undefined }) => void;

  /** Starts from the persisted position; `save` persists each move. */
  constructor(
    since: number,
    epoch: string | undefined,
    save: (state: { lastSeq: number; epoch: string | undefined }) => void,
  ) {
    this.#since = since;
    this.#highest = since;
    this.#epoch = epoch;
    this.#save = save;
  }

  /** The highest log seq below which everything received was dealt with: the `since` of `hello`. */
  get since(): number {
    return this.#since;
  }

  /** The log epoch `since` counts in, for `hello.epoch`; undefined before the first welcome that named one. */
  get epoch(): string | undefined {
    return this.#epoch;
  }

  /** Frames received and not yet dealt with. */
  get open(): number {
    let count = 0;
    for (const n of this.#open.values()) count += n;
    return count;
  }

  /** A relayed chat frame with this seq arrived; hand the ticket to {@link done} once it is dealt with. */
  begin(seq: number): LogTicket {
    const ticket = { seq, generation: this.#generation };
    if (!Number.isSafeInteger(seq) || seq <= this.#since) return ticket;
    this.#open.set(seq, (this.#open.get(seq) ?? 0) + 1);
    if (seq > this.#highest) this.#highest = seq;
    return ticket;
  }

  /** The frame of `ticket` is dealt with (stored, refused or given up): the watermark may move past it. */
  done(ticket: LogTicket): void {
    if (ticket.generation !== this.#generation) return;
    const count = this.#open.get(ticket.seq);
    if (count === undefined) return;
    if (count > 1) this.#open.set(ticket.seq, count - 1);
    else this.#open.delete(ticket.seq);
    let lowest = Infinity;
    for (const seq of this.#open.keys()) if (seq < lowest) lowest = seq;
    const next = lowest === Infinity ? this.#highest : lowest - 1;
    if (next > this.#since) {
      this.#since = next;
      this.#save({ lastSeq: next, epoch: this.#epoch });
    }
  }

  /**
   * Follows the log bounds of a `welcome`: adopts a first epoch, starts over
   * on a new one, and comes down to `last` when the log is behind `since`.
   * Returns whether the position was reset (the log lost what it had).
   */
  welcome(log: LogBounds | undefined): boolean {
    if (!log) return false;
    if (log.epoch !== undefined && log.epoch !== this.#epoch) {
      const known = this.#epoch !== undefined;
      this.#epoch = log.epoch;
      if (known) {
        this.#restart(0);
        return true;
      }
      this.#save({ lastSeq: this.#since, epoch: this.#epoch });
    }
    if (Number.isSafeInteger(log.last) && log.last >= 0 && log.last < this.#since) {
      this.#restart(log.last);
      return true;
    }
    return false;
  }

  #restart(since: number): void {
    this.#generation++;
    this.#open.clear();
    this.#since = since;
    this.#highest = since;
    this.#save({ lastSeq: since, epoch: this.#epoch });
  }
}
