/**
 * Helper process for smoke_test.ts: builds a lab, prints its namespace names
 * as one JSON line, and idles until a signal arrives, so the test can check
 * that the signal handler tears the lab down.
 * @module
 */
import { Lab } from "./lab.ts";

const lab = await Lab.create({ phones: 2, profile: "lossy-3g" });
console.log(JSON.stringify(lab.namespaces));
// Keep the event loop alive until the signal handler exits the process.
setInterval(() => {}, 60_000);
