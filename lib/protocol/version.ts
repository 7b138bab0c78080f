/**
 * The protocol version. A client names it in the URL (`?v=2`) and in its
 * `hello`; the server refuses versions it does not speak with `bad_version`.
 * @module
 */

/**
 * The version this code speaks. Bump it on any incompatible frame change. 2: the wire economy work (`ack` frames
 * carrying `accepted`, no `at`, compact end-to-end message payloads without the author's key), which version 1 pages
 * can neither read nor acknowledge.
 */
export const PROTOCOL_VERSION = 2;

/**
 * Every version the server accepts. Version 1 pages are refused (`bad_version`, close 4400): a cached old page then
 * looks for the newer one and reloads, instead of sharing a room with pages it cannot read.
 */
export const SUPPORTED_VERSIONS: readonly number[] = [2];
