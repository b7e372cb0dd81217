// Drives the log viewer in headless Chromium (Debian's, through playwright-core) the way a
// developer uses it. Called by tests/integration/test_web_viewer.py with a JSON job:
//   {url, deepLine, search, decisiveLine, range: [a, b], xssUrl, artifacts}
// Prints one JSON line of observations; the Python test asserts on them.
import { chromium } from 'playwright-core';
import fs from 'node:fs';

const job = JSON.parse(process.argv[2]);
const out = {};
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const context = await browser.newContext({
    viewport: { width: 1400, height: 900 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('dialog', (d) => { out.dialog = d.message(); d.dismiss(); });
  const shot = (name) => page.screenshot({ path: `${job.artifacts}/${name}.png` });
  const ready = () => page.waitForSelector('main[data-ready="1"]', { timeout: 120000 });

  // 1. Deep link straight into the middle of the log.
  await page.goto(job.url + '#L' + job.deepLine);
  await ready();
  await page.waitForSelector(`.l.cur[data-n="${job.deepLine}"] .t :not(.loading), .l.cur[data-n="${job.deepLine}"] .t`, { timeout: 30000 });
  out.deepVisible = await page.$eval(`.l[data-n="${job.deepLine}"]`, (el) => {
    const r = el.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= window.innerHeight && !el.querySelector('.loading');
  });
  await shot('deep-link');

  // 2. Search for a string that occurs once, near the end.
  await page.keyboard.press('/');
  await page.keyboard.type(job.search);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /\d+ \/ \d+|no matches|failed/.test(document.getElementById('count').textContent), null, { timeout: 60000 });
  out.searchCount = await page.textContent('#count');
  out.searchLine = Number(await page.getAttribute('.l.cur', 'data-n'));
  await shot('search');

  // 3. The first entry of the error panel jumps to the decisive error.
  await page.click('#errors li:first-child');
  await page.waitForSelector(`.l.cur[data-n="${job.decisiveLine}"]`, { timeout: 30000 });
  out.errorLine = Number(await page.getAttribute('.l.cur', 'data-n'));
  out.firstErrorText = await page.textContent('#errors li:first-child .text');
  await shot('first-error');

  // 4. Select a range (click, shift-click), then reload the copied link.
  const [a, b] = job.range;
  await page.evaluate((line) => { location.hash = '#L' + line; }, a);
  await page.waitForSelector(`.l.cur[data-n="${a}"]`);
  await page.click(`.l[data-n="${a}"] a.n`);
  await page.click(`.l[data-n="${b}"] a.n`, { modifiers: ['Shift'] });
  out.hash = await page.evaluate(() => location.hash);
  await page.goto('about:blank');
  await page.goto(job.url + out.hash);
  await ready();
  await page.waitForSelector(`.l.sel[data-n="${a}"]`, { timeout: 30000 });
  out.selectedAfterReload = await page.$$eval('.l.sel', (els) => els.map((e) => Number(e.dataset.n)));
  await shot('range-reloaded');

  // 4b. The same range as ?L=a-b (push's PR-comment links, which survive a sign-in proxy): it
  // becomes the hash and selects the lines; "Copy link" hands out the ?L= form again.
  await page.goto('about:blank');
  await page.goto(`${job.url}?L=${a}-${b}`);
  await ready();
  await page.waitForSelector(`.l.sel[data-n="${a}"]`, { timeout: 30000 });
  out.queryLink = {
    hash: await page.evaluate(() => location.hash),
    search: await page.evaluate(() => location.search),
    selected: await page.$$eval('.l.sel', (els) => els.map((e) => Number(e.dataset.n))),
  };
  await page.click('#copylink');
  await page.waitForFunction(() => /link copied/.test(document.getElementById('status').textContent), null, { timeout: 10000 });
  out.queryLink.copied = await page.evaluate(() => navigator.clipboard.readText());

  // 5. Hostile log lines, keys and folder names stay text.
  await page.goto(job.xssUrl);
  await ready();
  out.xssFired = await page.evaluate(() => window.__xss === true);
  out.xssText = await page.textContent('#log');
  await shot('xss-log');
  await page.goto(job.xssFolder);
  out.xssFolderFired = await page.evaluate(() => window.__xss === true);
  out.xssFolderText = await page.textContent('main');
  await shot('xss-folder');
  out.consoleErrors = consoleErrors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
fs.writeFileSync(`${job.artifacts}/observations.json`, JSON.stringify(out, null, 2));
