/**
 * The netlab harness: real network namespaces, impaired links, coturn and
 * Chromium per phone, for the app's real-network scenarios. See README.md.
 *
 * ```ts
 * await using lab = await Lab.create({ phones: 2, profile: "lossy-3g" });
 * await lab.startCoturn();
 * const app = await lab.startServer({ cmd: [...], port: 8000, env: { HOSTNAME: lab.serverAddress, ...lab.turnEnv() } });
 * const browser = await lab.launchBrowser(lab.phones[0]);
 * ```
 * @module
 */
export {
  type ChangeAddressOptions,
  checkLabPrerequisites,
  CHROMIUM_NETWORK_SCAN_MS,
  type IceServerOptions,
  Lab,
  type LabOptions,
  LabProcess,
  type LabServerOptions,
  listNamespaces,
  type Phone,
  type PingOptions,
  type PingResult,
  processAlive,
  RELAY_PORTS,
  SERVER_ADDRESS,
  sweepStaleNamespaces,
  TURN_PORT,
} from "./lab.ts";
export { type FlapSchedule, type NetworkProfile, type ProfileInput, type ProfileName, PROFILES } from "./profiles.ts";
export { buildDelayTool } from "./delay_tool.ts";
