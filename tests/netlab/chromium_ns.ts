/**
 * Chromium inside a lab namespace: Playwright's driver stays in the test
 * process, and the browser runs through an `executablePath` wrapper that
 * enters the namespace first. Reuses tests/support/chromium.ts for flags and
 * the loud "not installed" failure.
 * @module
 */
import type { Browser } from "playwright-core";
import { CHROMIUM_PATH, launchChromium } from "../support/chromium.ts";

/**
 * Chromium hides host candidates behind mDNS names, which resolve only if
 * multicast crosses the link; the lab's links are routed, so it must be off.
 * Chromium keeps only the LAST `--disable-features`, and Playwright passes its
 * own, so the wrapper appends this feature to every such flag.
 */
export const MDNS_FEATURE = "WebRtcHideLocalIpsWithMdns";

/** Writes `<dir>/chromium-<ns>.sh`, which runs Chromium inside `ns`, and returns its path. */
export async function writeChromiumWrapper(dir: string, ns: string): Promise<string> {
  const path = `${dir}/chromium-${ns}.sh`;
  const script = `#!/bin/bash
# Written by tests/netlab/chromium_ns.ts: run Chromium in network namespace ${ns}.
args=()
merged=0
for a in "$@"; do
  case "$a" in
    --disable-features=*) a="$a,${MDNS_FEATURE}"; merged=1 ;;
  esac
  args+=("$a")
done
[ "$merged" = 1 ] || args+=("--disable-features=${MDNS_FEATURE}")
exec ip netns exec '${ns}' '${CHROMIUM_PATH}' "\${args[@]}"
`;
  await Deno.writeTextFile(path, script, { mode: 0o755 });
  return path;
}

/** Launches headless Chromium inside `ns`; `dir` holds the wrapper script. */
export async function launchInNamespace(dir: string, ns: string, args: string[] = []): Promise<Browser> {
  await Deno.stat(CHROMIUM_PATH).catch(() => {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  });
  return await launchChromium({ executablePath: await writeChromiumWrapper(dir, ns), args });
}
