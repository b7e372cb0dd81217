// Signs in to the log viewer through a real OpenID provider (oidc-provider's login and consent
// pages) in headless Chromium, as a member and as a non-member. Called by
// tests/integration/test_web_oidc.py (the viewer signs in itself) and test_web_apache_oidc.py
// (Apache mod_auth_openidc in front) with a JSON job: {url, anchor, line, member, outsider,
// artifacts, signOutHref, signedOutUrl}.
// Prints one JSON line of observations; the Python test asserts on them.
import { chromium } from 'playwright-core';

const job = JSON.parse(process.argv[2]);
const out = { consoleErrors: [] };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});

// Fills the provider's login form and, when asked, its consent form.
async function signIn(page, login) {
  const seen = { sawLoginForm: false, sawConsent: false };
  await page.waitForSelector('input[name="login"]', { timeout: 30000 });
  seen.sawLoginForm = true;
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any password');
  await Promise.all([page.waitForNavigation({ timeout: 30000 }), page.click('button[type="submit"]')]);
  if (await page.$('input[name="prompt"][value="consent"]')) {
    seen.sawConsent = true;
    await Promise.all([page.waitForNavigation({ timeout: 30000 }), page.click('button[type="submit"]')]);
  }
  return seen;
}

try {
  // A member opens a link to line 2 of a log from a PR comment.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => out.consoleErrors.push(String(e)));
    await page.goto(job.url + job.anchor);
    const seen = await signIn(page, job.member);
    await page.waitForSelector('main[data-ready="1"]', { timeout: 60000 });
    await page.waitForSelector(`.l.cur[data-n="${job.line || 2}"]`, { timeout: 30000 });
    out.member = {
      ...seen,
      finalUrl: page.url(),
      text: await page.textContent('main'),
      header: (await page.textContent('header .who')).replace(/\s+/g, ' ').trim(),
      currentLine: await page.getAttribute('.l.cur', 'data-n'),
    };
    await page.screenshot({ path: `${job.artifacts}/member.png` });
    // Sign out: the provider asks to confirm, then sends us back.
    await page.click(`header .who a[href="${job.signOutHref || '/_auth/logout'}"]`);
    await page.waitForLoadState();
    const confirm = await page.$('button[autofocus], button[type="submit"]');
    if (confirm) {
      await Promise.all([page.waitForNavigation({ timeout: 30000 }), confirm.click()]);
    }
    await page.waitForURL((u) => u.href.startsWith(job.signedOutUrl || `${new URL(job.url).origin}/_auth/signed-out`), { timeout: 30000 });
    out.member.afterLogout = page.url();
    // Signed out at the provider too: the log needs a fresh sign-in.
    await page.goto(job.url);
    await page.waitForSelector('input[name="login"]', { timeout: 30000 });
    out.member.reopened = page.url();
    await context.close();
  }
  // A non-member.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (e) => out.consoleErrors.push(String(e)));
    let status = 0;
    page.on('response', (r) => { if (r.url().startsWith(job.url)) status = r.status(); });
    await page.goto(job.url);
    await signIn(page, job.outsider);
    await page.waitForSelector('main', { timeout: 30000 });
    out.outsider = { status, text: await page.textContent('body') };
    await page.screenshot({ path: `${job.artifacts}/outsider.png` });
    await context.close();
  }
  // A signed-in user without roles tries to supply them in headers the proxy does not own (or
  // does, and must strip): each attempt is a request with the browser's session cookies.
  if (job.forger) {
    const context = await browser.newContext();
    const page = await context.newPage();
    let status = 0;
    page.on('response', (r) => { if (r.url().startsWith(job.url)) status = r.status(); });
    await page.goto(job.url);
    await signIn(page, job.forger);
    await page.waitForSelector('main', { timeout: 30000 });
    out.forger = { status, text: await page.textContent('body'), attempts: [] };
    for (const headers of job.forgedHeaders || []) {
      const r = await context.request.get(job.url, {
        headers: { Accept: 'text/html', ...headers }, maxRedirects: 0,
      });
      out.forger.attempts.push({ headers, status: r.status(), text: (await r.text()).slice(0, 4000) });
    }
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
