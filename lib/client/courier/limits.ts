/**
 * Every bound the courier keeps, in one place, with the reason for each
 * number. Senders stay within them; receivers refuse what exceeds them, so a
 * member (or a tab, or a paste) can neither break the room nor grow a peer's
 * memory without bound.
 * @module
 */
import { MAX_FRAME_BYTES } from "../../protocol/validate.ts";
export { MAX_CLOCK_LEAD_MS } from "../order_key.ts";

export { MAX_BODY_CHARS } from "../text_limits.ts";

/** Ids (message ids, member ids, peer ids) are 1-64 base64url characters, like the protocol's short ids. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A public key or signature field: base64url, at most 128 characters (the contract's are 87 and 86). */
export const KEY_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * How far ahead of the receiver's clock a message's `time` and its order
 * key's milliseconds may be: 10 minutes. Honest clocks differ by seconds
 * (NTP) to a few minutes (a device without time sync), and the sender's
 * hybrid clock runs at most {@link MAX_CLOCK_LEAD_MS} (1 minute) ahead of its
 * wall, so an honest message passes unless the two clocks are 9 minutes
 * apart. A message beyond the bound is refused without an ack: its author
 * re-sends it, and it is taken once the receiver's clock has caught up. A
 * hostile member can thus push the room's order at most 10 minutes ahead,
 * never to the end of time.
 */
export const MAX_FUTURE_SKEW_MS = 10 * 60_000;

/** Bytes of frame JSON (type, id, to, envelope, server-added fields) kept free below the server's 64 KiB frames. */
export const FRAME_MARGIN_BYTES = 4_096;

/**
 * Most bytes of one transport message (a whole payload or one part), as UTF-8
 * of its JSON string form: 60 KiB, so the frame around it never reaches
 * {@link MAX_FRAME_BYTES} (which closes the socket with 1009). DataChannel
 * messages keep the same bound (every browser takes 64 KiB).
 */
export const MAX_TRANSPORT_BYTES = MAX_FRAME_BYTES - FRAME_MARGIN_BYTES;

/**
 * Most parts of one payload: 16 × 60 KiB ≈ 960 KiB. The largest message
 * (65,536 control characters, each escaped to 6 JSON bytes, signed,
 * encrypted and base64url-encoded) needs 9.
 */
export const MAX_PARTS = 16;

/** A payload whose parts did not all arrive within 2 minutes is dropped (its sender re-sends it whole). */
export const PART_TTL_MS = 120_000;

/** Most characters of unfinished payloads held for one sender: two of the largest payloads. */
export const MAX_ASSEMBLY_CHARS_PER_PEER = 2 * 1024 * 1024;

/** Most characters of unfinished payloads held for all senders together. */
export const MAX_ASSEMBLY_CHARS = 8 * 1024 * 1024;

/** Most unfinished payloads held for one sender (a flood of tiny parts costs objects, not characters). */
export const MAX_ASSEMBLIES_PER_PEER = 32;

/** Most unfinished payloads held for all senders together. */
export const MAX_ASSEMBLIES = 128;

/** Finished payloads remembered, so a late duplicate part is not assembled a second time. */
export const MAX_FINISHED_ASSEMBLIES = 1_024;

/** Most message ids in one `ack` packet (about 10 KB), sent and accepted. */
export const ACK_BATCH = 400;

/** Most messages in one `hist` packet (batches are sized by bytes; 1,000 tiny messages still fit a frame). */
export const MAX_HIST_MESSAGES = 1_000;

/** Most writers in a digest: members × tabs that ever wrote in the room. */
export const MAX_DIGEST_WRITERS = 4_096;

/**
 * How long after its stated time another member's message may come and still take its place among what was already
 * shown without a word: later, and sorting before a message already held, it is marked with when it arrived.
 */
export const LATE_ARRIVAL_MS = 5 * 60_000;

/** Most numbers over all range lists of a digest (gaps cost two numbers each). */
export const MAX_DIGEST_NUMBERS = 65_536;

/**
 * Most writers of one author in a digest this side builds: a member's tabs over the room's life, so one member who
 * makes up writers cannot push everyone else's out of the digest.
 */
export const MAX_DIGEST_WRITERS_PER_AUTHOR = 256;

/**
 * Answers from one session that leave the two histories apart and bring nothing new, before history sync with it
 * stops asking, until something new (it comes back online, a DataChannel opens, someone leaves) asks again: two
 * histories that differ in what their digests leave out never cover each other, and without a bound they would be
 * compared every resend tick forever. Offers and answers lost on the way do not count.
 */
export const MAX_SYNC_ROUNDS = 5;

/**
 * Default most bytes (UTF-8 of the JSON) of one `hist` packet: encrypted and
 * base64url-encoded (× 4/3, plus a little), it fits one transport message, so
 * a batch is one frame. A single message larger than this goes alone, in parts.
 */
export const DEFAULT_HISTORY_BATCH_BYTES = Math.floor((MAX_TRANSPORT_BYTES - 512) * 3 / 4);

/** Default most frames (re-)sent per tick or path change: a big outbox drains below the server's rate limit (burst 200, 50/s). */
export const DEFAULT_RESEND_BURST = 100;

/**
 * Longest wait between timed re-sends of one message, ms: re-sends wait the re-send interval, doubled after each
 * attempt, up to one minute (a path change still sends at once). A member that never acknowledges keeps a message
 * pending for as long as it stays; without the backoff its victim re-sent every pending message to it every few
 * seconds, long pastes included, until the server refused the victim's own frames.
 */
export const MAX_RESEND_BACKOFF_MS = 60_000;

/**
 * Bytes of re-sends (not first sends) this client puts on its paths: 1 MiB at once, then 64 KiB a second. With history
 * answers ({@link SYNC_ANSWER_BURST_BYTES}) that stays below the server's per-connection byte rate (256 KiB/s after a
 * 4 MiB burst), so re-sends never crowd out what the user writes. A re-send over the allowance waits for the next tick.
 */
export const RESEND_BURST_BYTES = 1_048_576;
/** Bytes per second of re-sends earned back (see {@link RESEND_BURST_BYTES}). */
export const RESEND_BYTES_PER_SECOND = 65_536;

/**
 * Random bytes in a message id, after its author's prefix (see `message_id.ts`): 64 bits (11 characters), so one
 * member's ids never collide (4 billion messages give even odds of one pair); ids of other members differ by prefix.
 */
export const MESSAGE_ID_BYTES = 8;

/** Random bytes in a tab tag (8 base64url characters) when the shell gives none. */
export const TAB_TAG_BYTES = 6;

/** Random bytes in a transfer id of a split payload (11 base64url characters). */
export const TRANSFER_ID_BYTES = 8;

/**
 * Signatures that fail verification one sending session may cost this client: 256 (each taken from an allowance of
 * {@link VERIFY_BURST} that verifications which succeed give back), earned back at 256 a second. A session's
 * messages are verified at most {@link VERIFY_CONCURRENCY} at a time, so failures are known before most of a batch's
 * signatures are checked. Honest
 * messages verify and cost nothing, however many (a log replay, a history answer); a member sending made-up
 * signatures is held to this rate, each failure costing {@link FAILED_VERIFY_COST} more, so forgeries cannot keep a
 * receiver (and the honest messages queued behind them) busy. A message refused while its session is in debt is
 * left unacknowledged, as one whose key is unknown: it comes again.
 */
export const VERIFY_BURST = 256;
/** Tokens per second a session earns back (see {@link VERIFY_BURST}). */
export const VERIFIES_PER_SECOND = 256;
/**
 * New messages of other members one sending session may make this client keep at once, from history answers and
 * DataChannels: 1,000 (one history answer, {@link MAX_HIST_MESSAGES}), earned back at {@link NEW_MESSAGES_PER_SECOND}.
 * Those travel as relayed signals or peer to peer, which no server log bounds, so without it one member's made-up
 * history (validly signed) grew every reader's memory and store without end. Relayed chat frames are bounded by the
 * server (rates, storage budget, log) and cost nothing here. A message past it is left unacknowledged, as one whose
 * key is unknown: its sender offers it again, and it is taken when the session has earned the room. Messages
 * already held cost nothing.
 */
export const NEW_MESSAGES_BURST = 1_000;
/** New messages per second a session earns back (see {@link NEW_MESSAGES_BURST}): more than its relay's chat rate. */
export const NEW_MESSAGES_PER_SECOND = 64;
/** What a signature that fails costs on top of its verification: 16, so forgeries drain an allowance 17 times faster. */
export const FAILED_VERIFY_COST = 16;
/**
 * Signatures of one session verified at the same time: 8. A burst of messages (20 written back to back) verifies
 * nearly side by side, while a batch of forgeries costs at most 8 verifications more than its allowance.
 */
export const VERIFY_CONCURRENCY = 8;

/**
 * A session's `sync` is answered at most once a second; the others within that second get nothing (an honest peer
 * asks again on its re-send timer while it still lacks something). One answer carries the whole history the asker
 * lacks, so without this a member sending tiny syncs made its victim upload its history again for each one, until
 * the server's rate limit refused the victim's own frames and closed its socket.
 */
export const SYNC_ANSWERS_PER_SECOND = 1;

/**
 * Bytes of history answers this client sends to all sessions together: 1 MiB at once, then 128 KiB a second, half
 * the server's per-connection byte rate (256 KiB/s after a 4 MiB burst), so answering many askers never crowds out
 * the client's own frames. An answer cut short ends without its digest; the asker asks again for the rest.
 */
export const SYNC_ANSWER_BURST_BYTES = 1_048_576;
/** Bytes per second of history answers earned back (see {@link SYNC_ANSWER_BURST_BYTES}). */
export const SYNC_ANSWER_BYTES_PER_SECOND = 131_072;
