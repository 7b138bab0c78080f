import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { dpkgQuery, installCommand, missingPackages, SYSTEM_PACKAGES } from "./setup_system.ts";

Deno.test("setup reads dpkg: only packages listed as installed count", () => {
  const output = "chromium\tinstalled\ncoturn\tconfig-files\nlibnetfilter-queue-dev:amd64\tinstalled\n";
  assertEquals(
    missingPackages(["chromium", "coturn", "libnetfilter-queue-dev", "xvfb"], output),
    ["coturn", "xvfb"],
  );
  assertEquals(missingPackages(["chromium"], ""), ["chromium"]);
});

Deno.test("setup asks for the browsers, the WebKit driver, Xvfb and the network lab's tools", () => {
  const names = SYSTEM_PACKAGES.map((p) => p.name);
  for (const name of ["chromium", "firefox-esr", "webkit2gtk-driver", "xvfb", "coturn", "nftables", "gcc"]) {
    assert(names.includes(name), name);
  }
  assertEquals(dpkgQuery(["a"]).slice(-1), ["a"]);
});

Deno.test("a user who is not root gets one command that refreshes the lists and installs what is missing", () => {
  const command = installCommand(["firefox-esr", "xvfb"]);
  assert(command.startsWith("sudo sh -c '"));
  assertStringIncludes(command, "apt-get update && ");
  assertStringIncludes(command, "apt-get install -y --no-install-recommends firefox-esr xvfb'");
});

Deno.test("on this machine every package is present, so the task's first step passes quickly", async () => {
  const { success, stdout } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-run",
      "--allow-env",
      "--allow-sys=uid",
      new URL("./setup_system.ts", import.meta.url).pathname,
    ],
  }).output();
  assert(success, new TextDecoder().decode(stdout));
});
