// Signs in to Roleport through the demo-saml identity provider in a real headless Chromium.
//
//   node signin.mjs <roleport base url> <user> <password> <screenshot path>
//
// Drives Debian's /usr/bin/chromium with playwright-core (no browser download): opens
// <base>/login, clicks the demo-saml provider, fills SimpleSAMLphp's login form, lets the
// browser auto-post the SAMLResponse back to Roleport, waits for <base>/roles, and prints ONE
// JSON line describing the page it landed on. A full-page screenshot is saved to the given path.
// Any failure exits non-zero with a message on stderr (and a screenshot of where it got stuck,
// next to the requested one, when the browser got that far).
//
// BROWSER_TEST_STEP_SCREENSHOTS=1 also saves <screenshot>.login.png (Roleport's sign-in page) and
// <screenshot>.idp.png (the IdP's form, filled in) on the way.
//
// Installed by deploy/browser-deps.sh; used by tests/api/browser.rs.

import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

const CHROMIUM = process.env.BROWSER_TEST_CHROMIUM || '/usr/bin/chromium';
// The flags known to work on these machines (see the machine notes): no sandbox as root, no GPU,
// and nothing that phones home (the network is closed; those connections only fail and slow down).
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const STEP_SHOTS = !!process.env.BROWSER_TEST_STEP_SCREENSHOTS;
const STEP_MS = 20_000; // each wait
const OVERALL_MS = 90_000; // the whole run, whatever hangs
const AUTO_POST_GRACE_MS = 5_000; // then press the POST page's button ourselves

function fail(message) {
  process.stderr.write(`signin.mjs: ${message}\n`);
  process.exit(1);
}

const [base0, user, password, screenshot] = process.argv.slice(2);
if (!base0 || !user || password === undefined || !screenshot) {
  fail('usage: node signin.mjs <roleport base url> <user> <password> <screenshot path>');
}
const base = base0.replace(/\/+$/, '');
if (!existsSync(CHROMIUM)) {
  fail(`${CHROMIUM} not found: install Debian's chromium (deploy/install-deps.sh)`);
}

const watchdog = setTimeout(
  () => fail(`gave up after ${OVERALL_MS / 1000} s (the browser hung)`),
  OVERALL_MS,
);
watchdog.unref();

const onRoleport = (u) => u.startsWith(base + '/');
const pathOf = (u) => {
  try {
    return new URL(u).pathname;
  } catch {
    return u;
  }
};

let browser;
let page;
const consoleErrors = []; // console errors and CSP reports, Roleport's pages only
const failedRequests = []; // Roleport sub-resources that did not load
let autoPosted = null;

async function bodyText() {
  try {
    return (await page.locator('body').innerText({ timeout: 2_000 })).replace(/\s+/g, ' ').slice(0, 600);
  } catch {
    return '(no body)';
  }
}

const stepShot = (step) => screenshot.replace(/(\.png)?$/i, `.${step}.png`);

async function stuck(what) {
  let where = '(no page)';
  let detail = '';
  if (page) {
    where = page.url();
    detail = ` — title ${JSON.stringify(await page.title().catch(() => ''))}, text: ${await bodyText()}`;
    const shot = stepShot('failed');
    await page.screenshot({ path: shot, fullPage: true, timeout: 5_000 }).catch(() => {});
    detail += ` (screenshot ${shot})`;
  }
  throw new Error(`${what}; at ${where}${detail}`);
}

try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: CHROMIUM_ARGS,
    timeout: STEP_MS,
  });
  // A new context is a fresh profile: no cookies from any earlier run (playwright also gives
  // every launch its own temporary --user-data-dir and removes it on close).
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.setDefaultNavigationTimeout(STEP_MS);
  page.on('console', (msg) => {
    if (msg.type() === 'error' && onRoleport(page.url())) {
      const at = msg.location()?.url;
      consoleErrors.push(at ? `${msg.text()} [${at}]` : msg.text());
    }
  });
  page.on('requestfailed', (req) => {
    if (onRoleport(req.url()) && req.resourceType() !== 'document') {
      failedRequests.push(`${req.url()}: ${req.failure()?.errorText}`);
    }
  });
  page.on('response', (resp) => {
    const req = resp.request();
    if (onRoleport(resp.url()) && req.resourceType() !== 'document' && resp.status() >= 400) {
      failedRequests.push(`${resp.url()}: HTTP ${resp.status()}`);
    }
  });

  // 1. Roleport's sign-in page.
  const login = await page.goto(`${base}/login`, { waitUntil: 'load' }).catch((e) => stuck(`GET ${base}/login failed: ${e.message}`));
  if (!login || !login.ok()) await stuck(`GET ${base}/login answered HTTP ${login?.status()}`);
  const idp = page.locator('#idp-demo-saml');
  if ((await idp.count()) !== 1) await stuck('no #idp-demo-saml link on the sign-in page');

  if (STEP_SHOTS) await page.screenshot({ path: stepShot('login'), fullPage: true });

  // 2. Off to SimpleSAMLphp.
  await idp.click();
  await page
    .locator('input[name="username"]')
    .waitFor({ state: 'visible' })
    .catch(() => stuck('SimpleSAMLphp login form (input[name=username]) did not appear'));
  await page.locator('input[name="username"]').fill(user);
  await page.locator('input[name="password"]').fill(password);
  const form = page.locator('form', { has: page.locator('input[name="password"]') });
  const submit = form.locator('button[type="submit"], input[type="submit"], button:not([type])').first();
  if ((await submit.count()) === 0) await stuck('no submit button in the IdP login form');

  if (STEP_SHOTS) await page.screenshot({ path: stepShot('idp'), fullPage: true });

  // 3. Submit; the IdP answers with a page that auto-posts the SAMLResponse to Roleport's ACS,
  //    which redirects to /roles. A refused login brings the IdP's form back instead.
  const landed = page
    .waitForURL((u) => u.href === `${base}/roles`, { waitUntil: 'load', timeout: STEP_MS })
    .then(() => 'roles', () => 'timeout');
  const answered = page.waitForEvent('load', { timeout: STEP_MS }).then(() => 'answer', () => 'timeout');
  await submit.click();
  let outcome = await Promise.race([landed, answered]);
  if (outcome === 'answer' && !page.url().startsWith(base + '/')) {
    // The IdP's answer page has loaded (the POST page submits itself from its load handler).
    if (await page.locator('input[name="password"]').count()) {
      await stuck(`the IdP did not accept ${user}'s login`);
    }
    outcome = await Promise.race([
      landed,
      new Promise((r) => setTimeout(() => r('grace'), AUTO_POST_GRACE_MS)),
    ]);
    if (outcome === 'grace') {
      // Still on the IdP: the POST page did not submit itself; press its button like a person.
      const post = page.locator('form:has(input[name="SAMLResponse"])');
      if (await post.count()) {
        autoPosted = false;
        await post.locator('input[type="submit"], button').first().click();
      }
      outcome = await landed;
    }
  } else if (outcome === 'answer') {
    outcome = await landed;
  }
  if (outcome !== 'roles') await stuck(`did not land on ${base}/roles within ${STEP_MS / 1000} s`);
  if (autoPosted === null) autoPosted = true;

  // 4. Read the page.
  const result = await page.evaluate(() => {
    const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : null);
    const h2s = [...document.querySelectorAll('h2')].map((h) => {
      // The account alias, without the muted account id next to it.
      const c = h.cloneNode(true);
      c.querySelectorAll('.muted').forEach((m) => m.remove());
      return text(c);
    });
    const sheets = [...document.styleSheets].map((s) => {
      let rules = -1;
      try {
        rules = s.cssRules.length;
      } catch {}
      return { href: s.href, rules };
    });
    return {
      title: document.title,
      roles: [...document.querySelectorAll('tr.grant code')].map(text),
      accounts: h2s,
      account_ids: [...document.querySelectorAll('h2 .muted')].map(text),
      csrf: document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? null,
      no_roles: document.body.innerText.includes('You have no AWS roles yet'),
      reference: text(document.querySelector('#reference')),
      stylesheets: sheets,
      // Did the stylesheet apply? The body's computed font is not the browser default then.
      body_font: getComputedStyle(document.body).fontFamily,
    };
  });
  await page.screenshot({ path: screenshot, fullPage: true });
  process.stdout.write(
    JSON.stringify({
      url: page.url(),
      path: pathOf(page.url()),
      ...result,
      auto_posted: autoPosted,
      console_errors: consoleErrors,
      failed_requests: failedRequests,
      screenshot,
    }) + '\n',
  );
  await browser.close();
  process.exit(0);
} catch (e) {
  if (browser) await browser.close().catch(() => {});
  fail(e && e.message ? e.message : String(e));
}
