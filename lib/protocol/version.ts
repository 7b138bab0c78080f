/**
 * The protocol version. A client names it in the URL (`?v=1`) and in its
 * `hello`; the server refuses versions it does not speak with `bad_version`.
 * @module
 */

/** The version this code speaks. Bump it on any incompatible frame change. */
export const PROTOCOL_VERSION = 1;

/** Every version the server accepts, so an old client can be served during a rollout. */
export const SUPPORTED_VERSIONS: readonly number[] = [1];
