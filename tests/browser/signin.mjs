// Signs in to Roleport through the demo-saml identity provider in a real headless Chromium.
//
//   node signin.mjs <roleport base url> <user> <password> <screenshot path>
//
// Drives Debian's /usr/bin/chromium with playwright-core (no browser download): opens
// <base>/login, clicks the demo-saml provider, fills SimpleSAMLphp's login form, lets the
// browser auto-post the SAMLResponse back to Roleport, waits for <base>/roles, and prints ONE
// JSON line describing the page it landed on. A full-page screenshot is saved to the given path.
// Then it signs out with the header's button and reports where that and a later /roles led.
// Any failure exits non-zero with a message on stderr (and a screenshot of where it got stuck,
// next to the requested one, when the browser got that far).
//
// BROWSER_TEST_STEP_SCREENSHOTS=1 also saves <screenshot>.login.png (Roleport's sign-in page) and
// <screenshot>.idp.png (the IdP's form, filled in) on the way.
//
// Installed by deploy/browser-deps.sh; used by tests/api/browser.rs. The shared parts (launch,
// watching a page, the sign-in itself) are in common.mjs.

import { failer, launch, pathOf, signIn, stucker, stylesheets, watch, watchdog } from './common.mjs';

const fail = failer('signin.mjs');
const [base0, user, password, screenshot] = process.argv.slice(2);
if (!base0 || !user || password === undefined || !screenshot) {
  fail('usage: node signin.mjs <roleport base url> <user> <password> <screenshot path>');
}
const base = base0.replace(/\/+$/, '');
watchdog(fail);

let browser;
try {
  browser = await launch(fail);
  // A new context is a fresh profile: no cookies from any earlier run (playwright also gives
  // every launch its own temporary --user-data-dir and removes it on close).
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const seen = await watch(page, base);
  const stuck = stucker(page, screenshot);

  const autoPosted = await signIn(page, { base, user, password, screenshot, stuck });

  // Read the page.
  const result = await page.evaluate(() => {
    const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : null);
    const h2s = [...document.querySelectorAll('section.account h2')].map((h) => {
      // The account alias, without the muted account id next to it.
      const c = h.cloneNode(true);
      c.querySelectorAll('.muted').forEach((m) => m.remove());
      return text(c);
    });
    return {
      title: document.title,
      roles: [...document.querySelectorAll('tr.grant code')].map(text),
      accounts: h2s,
      account_ids: [...document.querySelectorAll('section.account h2 .muted')].map(text),
      csrf: document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? null,
      no_roles: document.body.innerText.includes('You have no AWS roles yet'),
      reference: text(document.querySelector('#reference')),
      // Did the stylesheet apply? The body's computed font is not the browser default then.
      body_font: getComputedStyle(document.body).fontFamily,
    };
  });
  await page.screenshot({ path: screenshot, fullPage: true });
  const url = page.url();

  // Sign out with the header's button (a form posting the CSRF token): the answer is a "signed
  // out" page at /logout. Then try the roles page.
  let signOut = null;
  const button = page.locator('header form.signout button');
  if ((await button.count()) > 0) {
    await Promise.all([page.waitForURL((u) => pathOf(u.toString()) === '/logout'), button.click()]);
    const landed = pathOf(page.url());
    const heading = (await page.locator('h1').first().textContent())?.trim() ?? null;
    const signInAgain = await page.locator('a#sign-in-again').getAttribute('href').catch(() => null);
    const headerForms = await page.locator('header form.signout').count();
    await page.goto(`${base}/roles`);
    signOut = { landed, heading, sign_in_again: signInAgain, header_forms: headerForms, roles_then: pathOf(page.url()) };
  }
  process.stdout.write(
    JSON.stringify({
      url,
      path: pathOf(url),
      ...result,
      stylesheets: await stylesheets(page),
      auto_posted: autoPosted,
      sign_out: signOut,
      console_errors: seen.consoleErrors,
      csp_violations: seen.cspViolations,
      failed_requests: seen.failedRequests,
      screenshot,
    }) + '\n',
  );
  await browser.close();
  process.exit(0);
} catch (e) {
  if (browser) await browser.close().catch(() => {});
  fail(e && e.message ? e.message : String(e));
}
