// Headless Chromium for the browser tests (Debian's /usr/bin/chromium, or $CHROMIUM), the way
// every test starts it.
import { chromium } from 'playwright-core';

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}
