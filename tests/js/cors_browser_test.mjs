// CORS in a real browser (issue 15): a page on another origin reads a log with fetch() from a
// bucket whose CORS rules allow it, is blocked by one without rules, and uploads with a
// presigned PUT (which makes Chromium send a preflight OPTIONS first). Called by
// tests/integration/test_s3_compat.py with a JSON job: {origin (a page server on loopback), get,
// blocked, put}.
// Prints one JSON line of observations; the Python test asserts on them.
import { chromium } from 'playwright-core';

const job = JSON.parse(process.argv[2]);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const page = await browser.newPage();
  const failures = [];
  page.on('requestfailed', (r) => failures.push(r.url().slice(0, 60) + ' ' + r.failure().errorText));
  page.on('console', (m) => failures.push('console: ' + m.text()));
  await page.goto(job.origin + '/');
  const seen = await page.evaluate(async (j) => {
    const attempt = async (url, init) => {
      try {
        const r = await fetch(url, init);
        return { status: r.status, body: await r.text(), etag: r.headers.get('etag') };
      } catch (e) {
        return { blocked: String(e.name), message: String(e.message) };
      }
    };
    return {
      origin: location.origin,
      get: await attempt(j.get),
      blocked: await attempt(j.blocked),
      put: await attempt(j.put, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'uploaded by a page' }),
    };
  }, job);
  seen.failures = failures;
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
