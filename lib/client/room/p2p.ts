/**
 * What a room loads for P2P, in one lazy chunk fetched when the room first
 * asks for a link (after the welcome, when another member is there): the
 * link pool with its WebRTC code, and the cache of ICE servers with the
 * deadline on fetching them. A room's first load carries none of it.
 * @module
 */
export { createLinkPool } from "./link_pool.ts";
export { iceAnswerOf, IceConfig } from "../ice_config.ts";
export { withDeadline } from "./deadline.ts";
