// Across builds (issue 18) in headless Chromium: a repository folder's links, the PR board (rows,
// badges, a badge to its log's error), the recurring failures page (the flagged group first),
// and a log page's "also failed" line. Called by tests/integration/test_across_builds.py with a
// JSON job: {board, folder, failures, log, artifacts}. Prints one JSON line of observations.
import { launchChromium } from './browser.mjs';

const job = JSON.parse(process.argv[2]);
const out = {};
const browser = await launchChromium();
const consoleErrors = [];
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await page.goto(job.folder);
  out.folderLinks = await page.$$eval('nav.views a', (as) => as.map((a) => a.textContent));

  await page.goto(job.board);
  out.board = await page.evaluate(() => ({
    rows: document.querySelectorAll('table.board tbody tr').length,
    failingRows: document.querySelectorAll('table.board tbody tr.failing').length,
    okBadges: document.querySelectorAll('table.board .checks a.tag.ok').length,
    firstBadgeHref: document.querySelector('table.board tr.failing .checks a.tag.failed').href,
  }));
  await page.screenshot({ path: `${job.artifacts}/across-board.png`, fullPage: true });
  // Following a failed badge opens the log on its error.
  await page.click('table.board tr.failing .checks a.tag.failed');
  await page.waitForSelector('main[data-ready="1"]', { timeout: 120000 });
  out.afterBadge = await page.evaluate(() => ({
    hashLine: Number((/#L(\d+)/.exec(location.hash) || [])[1]),
    errorLine: Number((/^L(\d+)/.exec(document.querySelector('#errors li .where').textContent) || [])[1]),
  }));

  await page.goto(job.failures);
  out.groups = await page.evaluate(() => {
    const first = document.querySelector('ol.groups li.group');
    return {
      count: document.querySelectorAll('ol.groups li.group').length,
      first: {
        flag: first.querySelector('.flag .tag')?.textContent,
        reason: first.querySelector('.reason')?.textContent,
        prs: first.querySelector('.prs')?.textContent,
      },
    };
  });
  await page.screenshot({ path: `${job.artifacts}/across-failures.png`, fullPage: true });

  await page.goto(job.log);
  await page.waitForSelector('main[data-recurring="1"]', { timeout: 120000 });
  out.logLine = await page.evaluate(() => document.querySelector('#banner .recurring')?.textContent);
  out.logLineSince = await page.evaluate(() => {
    const m = /since ([^,]+),/.exec(document.querySelector('#banner .recurring')?.textContent || '');
    return m ? m[1] : null;
  });
  await page.screenshot({ path: `${job.artifacts}/across-log.png` });

  // A failed log compared with the last green build of its check.
  await page.goto(job.diffLog);
  await page.waitForSelector('main[data-recurring="1"]', { timeout: 120000 });
  await page.click('#compare');
  await page.waitForSelector('main[data-diff]', { timeout: 120000 });
  const errorLine = await page.evaluate(() =>
    Number((/^L(\d+)/.exec(document.querySelector('#errors li .where').textContent) || [])[1]));
  await page.waitForFunction((n) => {
    const row = document.querySelector(`#log .l[data-n="${n}"]`);
    return row && !row.querySelector('.loading');
  }, errorLine, { timeout: 60000 });
  out.diff = await page.evaluate((n) => ({
    shownLines: Number(document.getElementById('viewer').dataset.diff),
    errorRowVisible: !!document.querySelector(`#log .l[data-n="${n}"]:not(.gap) .t`),
    status: document.getElementById('status').textContent,
  }), errorLine);
  await page.screenshot({ path: `${job.artifacts}/across-diff.png` });
  // From the top: shown lines and the folded gaps between them.
  await page.evaluate(() => { const log = document.getElementById('log'); log.scrollTop = 0;
    log.dispatchEvent(new Event('scroll')); });
  await page.waitForFunction(() => document.querySelectorAll('#log .l.gap').length > 0,
    null, { timeout: 10000 }).catch(() => {});
  out.diff.gapRows = await page.evaluate(() => document.querySelectorAll('#log .l.gap').length);
  await page.screenshot({ path: `${job.artifacts}/across-diff-top.png` });
  await page.click('#compare');
  out.diff.afterWhole = await page.evaluate(() => ({
    gapRows: document.querySelectorAll('#log .l.gap').length }));
} catch (e) {
  out.exception = String(e && e.stack || e);
} finally {
  out.consoleErrors = consoleErrors;
  await browser.close();
}
console.log(JSON.stringify(out));
