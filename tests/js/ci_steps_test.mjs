// CI logs in the viewer (issue 17) in headless Chromium: a GitHub Actions job's steps as sections
// with their durations, the failing step open, the CI's timestamps hidden until asked for (the
// button and "t"), the choice remembered, and the finding's time in the error panel. Called by
// tests/integration/test_other_ci_logs.py with a JSON job: {github, plain, errorLine, artifacts,
// many}.
// Prints one JSON line of observations; the Python test asserts on them.
import { launchChromium } from './browser.mjs';

const job = JSON.parse(process.argv[2]);
const out = {};
const browser = await launchChromium();
const consoleErrors = [];
const ready = (page) => page.waitForSelector('main[data-ready="1"]', { timeout: 120000 });
// What a reader sees of a line (hidden spans excluded), and whether its timestamp shows.
const lineSeen = async (page, n) => {
  await page.waitForFunction((n) => {
    const row = document.querySelector(`#log .l[data-n="${n}"]`);
    return row && !row.querySelector('.loading');
  }, n, { timeout: 60000 });
  return page.evaluate((n) => {
    const row = document.querySelector(`#log .l[data-n="${n}"]`);
    const ts = row.querySelector('.ts');
    return { text: row.querySelector('.t').innerText,
      tsShown: ts ? getComputedStyle(ts).display !== 'none' : null };
  }, n);
};
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.goto(job.github + '#L' + job.errorLine);
  await ready(page);
  await page.waitForSelector('#errors li .where');
  out.button = await page.evaluate(() => {
    const b = document.getElementById('timestamps');
    return { hidden: b.hidden, on: b.classList.contains('on') };
  });
  out.errorLine = await lineSeen(page, job.errorLine);
  out.where = await page.textContent('#errors li:first-child .where');
  out.whereTitle = await page.getAttribute('#errors li:first-child .where', 'title');
  out.sections = await page.evaluate(() => [...document.querySelectorAll('#sections li')].map(
    (li) => ({ name: li.querySelector('a').textContent, info: li.querySelector('.info').textContent.trim(),
      failed: li.classList.contains('failed') })));
  await page.screenshot({ path: `${job.artifacts}/ci-steps-hidden.png` });
  await page.keyboard.press('t');
  out.afterKey = await lineSeen(page, job.errorLine);
  await page.screenshot({ path: `${job.artifacts}/ci-steps-shown.png` });
  // Remembered: a reload (and any other log) keeps them shown.
  await page.reload();
  await ready(page);
  out.afterReload = await lineSeen(page, job.errorLine);
  await page.click('#timestamps');
  out.afterClick = await lineSeen(page, job.errorLine);
  // A log without CI timestamps has no such button.
  await page.goto(job.plain);
  await ready(page);
  await page.waitForSelector('#errors li');
  out.plainButtonHidden = await page.evaluate(() => document.getElementById('timestamps').hidden);
  // A log with more sections than the summary keeps: those kept are listed, the rest counted.
  if (job.many) {
    await page.goto(job.many);
    await ready(page);
    out.many = await page.evaluate(() => {
      const items = [...document.querySelectorAll('#sections li')];
      const omitted = items.filter((li) => li.classList.contains('omitted'));
      return { listed: items.length - omitted.length, omitted: omitted.map((li) => li.textContent),
        last: items.length > 1 ? items[items.length - 2].querySelector('a').textContent : null };
    });
  }
} catch (e) {
  out.exception = String(e && e.stack || e);
} finally {
  out.consoleErrors = consoleErrors;
  await browser.close();
}
console.log(JSON.stringify(out));
