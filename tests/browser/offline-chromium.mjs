// Headless Chromium that can reach nothing but 127.0.0.1: every other host is unresolvable,
// and background networking (updates, sync) is off. `CHROMIUM_PATH` names the browser
// (default: Debian's /usr/bin/chromium). Rejects when the browser cannot start.
import { chromium } from "playwright-core";

export function launchOfflineChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ],
  });
}
