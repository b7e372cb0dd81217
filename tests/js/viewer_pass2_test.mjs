// The viewer's second pass (issue 14) in headless Chromium: the verdict banner, title and icon,
// first lines kept until the index arrives, search keys and marks, section badges beside long
// lines, the keys overlay and go-to-line field, and a phone-sized screen. Called by
// tests/integration/test_web_viewer_pass2.py with a JSON job:
//   {failed, green, decisiveLine, search, artifacts}
// Prints one JSON line of observations; the Python test asserts on them.
import { launchChromium } from './browser.mjs';
import fs from 'node:fs';

const job = JSON.parse(process.argv[2]);
const out = {};
const browser = await launchChromium();
const consoleErrors = [];
async function newPage(width, height) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('dialog', (d) => { out.dialog = d.message(); d.dismiss(); });
  return page;
}
const ready = (page) => page.waitForSelector('main[data-ready="1"]', { timeout: 120000 });
const shot = (page, name) => page.screenshot({ path: `${job.artifacts}/pass2-${name}.png` });
try {
  const page = await newPage(1440, 900);
  // The line index is held back until the first screen has been looked at.
  let releaseMeta;
  const metaHeld = new Promise((resolve) => { releaseMeta = resolve; });
  await page.route(/\?meta$/, async (route) => { await metaHeld; await route.continue(); });
  await page.goto(job.failed, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction(() => document.getElementById('banner') && !document.getElementById('banner').hidden);
  out.beforeIndex = await page.evaluate(() => {
    const log = document.getElementById('log').getBoundingClientRect();
    const visible = [...document.querySelectorAll('#log .l')].filter((l) => {
      const r = l.getBoundingClientRect();
      return r.height > 0 && r.top >= log.top && r.top < log.bottom;
    });
    return {
      lines: visible.length,
      banner: document.getElementById('banner').textContent,
      emptyFacts: [...document.querySelectorAll('.card dl > div')]
        .filter((d) => !d.hidden && d.querySelector('dd').textContent.trim() === '').length,
    };
  });
  await shot(page, 'before-index');
  releaseMeta();
  await ready(page);
  out.banner = await page.textContent('#banner .msg');
  out.title = await page.title();
  out.icon = await page.getAttribute('link[rel="icon"]', 'href');
  out.firstError = await page.evaluate(() => {
    const loc = document.querySelector('#errors li:first-child .loc');
    return loc ? { loc: loc.textContent, title: loc.title } : null;
  });
  out.commit = await page.evaluate(() => {
    const a = document.querySelector('#fact-commit a');
    return a ? { text: a.textContent, href: a.href } : null;
  });
  out.finished = await page.evaluate(() => {
    const t = document.querySelector('#fact-finished time');
    return t ? { text: t.textContent, title: t.title } : null;
  });
  await shot(page, 'verdict');
  await page.click('#jump');
  await page.waitForSelector('.l.cur', { timeout: 30000 });
  out.jumpLine = Number(await page.getAttribute('.l.cur', 'data-n'));
  await shot(page, 'jumped');

  // 3. Search: Enter, Enter again (next), Shift+Enter (back); the match is marked.
  await page.evaluate(() => { location.hash = '#L1'; });
  await page.keyboard.press('/');
  await page.keyboard.type(job.search);
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => /\d+ \/ \d+/.test(document.getElementById('count').textContent), null, { timeout: 60000 });
  const curLine = () => page.getAttribute('.l.cur', 'data-n').then(Number);
  out.search = { first: await curLine() };
  await page.waitForSelector('.l.cur mark');
  out.search.mark = await page.textContent('.l.cur mark');
  await page.keyboard.press('Enter');
  await page.waitForFunction((n) => Number(document.querySelector('.l.cur')?.dataset.n) !== n, out.search.first);
  out.search.second = await curLine();
  await page.keyboard.press('Shift+Enter');
  await page.waitForFunction((n) => Number(document.querySelector('.l.cur')?.dataset.n) === n, out.search.first);
  out.search.back = await curLine();
  await shot(page, 'search');
  // "N" from the first of "1000+" matches: the log's real last match, not the 1000th.
  await page.keyboard.press('Escape');
  await page.evaluate(() => { location.hash = ''; location.hash = '#L1'; });
  await page.waitForSelector('.l.cur[data-n="1"]');
  await page.fill('#q', job.many);
  await page.press('#q', 'Enter');
  await page.waitForFunction(() => /\+$/.test(document.getElementById('count').textContent), null, { timeout: 60000 });
  out.many = { first: await curLine(), count: await page.textContent('#count') };
  await page.locator('#log').focus();
  await page.keyboard.press('N');
  await page.waitForFunction(() => /from the end/.test(document.getElementById('count').textContent), null, { timeout: 60000 });
  out.many.last = await curLine();
  out.many.lastCount = await page.textContent('#count');
  await page.keyboard.press('Escape');

  // 4. The first section's row, with a 4,000-character line right below it.
  await page.click('#expand-all');
  await page.evaluate(() => { document.querySelector('#sections li a').click(); });
  await page.waitForSelector('.l.sec .badge');
  out.badge = await page.evaluate(() => {
    const badge = document.querySelector('.l.sec .badge');
    const r = badge.getBoundingClientRect();
    const log = document.getElementById('log').getBoundingClientRect();
    const wide = [...document.querySelectorAll('.l')].some((l) => l.scrollWidth > log.width * 2);
    return { visible: wide && r.width > 0 && r.left >= log.left && r.right <= log.right + 1,
      text: badge.textContent, wide };
  });
  await shot(page, 'section-badge');

  // 6. Keys: "?" shows them, Escape closes; "g" opens the inline field.
  await page.locator('#log').focus();
  await page.keyboard.press('?');
  out.help = await page.isVisible('#help');
  await shot(page, 'keys');
  await page.keyboard.press('Escape');
  await page.keyboard.press('g');
  await page.waitForSelector('#gotoline', { state: 'visible' });
  await page.keyboard.type('1234');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.l.cur[data-n="1234"]', { timeout: 30000 });
  out.gotoLine = await curLine();

  // 1. The repository's folder: newest PR first, each with its last upload.
  await page.goto(job.repo);
  out.listing = await page.evaluate(() => ({
    prs: [...document.querySelectorAll('td.name a.folder')].map((a) => a.textContent),
    times: [...document.querySelectorAll('td.when time')].map((t) => [t.textContent, t.title]),
    iconFont: getComputedStyle(document.querySelector('a.folder'), '::before').content,
  }));
  await shot(page, 'listing');

  // The green build.
  const green = await newPage(1440, 900);
  await green.goto(job.green);
  await ready(green);
  out.green = {
    banner: await green.textContent('#banner .msg'),
    title: await green.title(),
    icon: await green.getAttribute('link[rel="icon"]', 'href'),
  };
  await shot(green, 'green');

  // 5. A phone.
  const phone = await newPage(390, 844);
  await phone.goto(job.failed);
  await ready(phone);
  out.narrow = await phone.evaluate(() => {
    const log = document.getElementById('log').getBoundingClientRect();
    const panel = document.getElementById('panel').getBoundingClientRect();
    return { logWidth: log.width, logHeight: log.height, panelAbove: panel.bottom <= log.top + 1 };
  });
  await shot(phone, 'narrow');
  out.consoleErrors = consoleErrors;
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
fs.writeFileSync(`${job.artifacts}/pass2-observations.json`, JSON.stringify(out, null, 2));
