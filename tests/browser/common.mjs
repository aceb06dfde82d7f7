// What every browser script shares: launching Debian's Chromium through playwright-core, watching
// a page for console errors, CSP violations and failed sub-resources, screenshots of where a run
// got stuck, and the sign-in to Roleport through the demo-saml IdP's real login form.
//
// Used by signin.mjs and credentials.mjs (tests/api/browser.rs runs them).

import { chromium } from 'playwright-core';
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.BROWSER_TEST_CHROMIUM || '/usr/bin/chromium';
// The flags known to work on these machines (see the machine notes): no sandbox as root, no GPU,
// and nothing that phones home (the network is closed; those connections only fail and slow down).
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const STEP_SHOTS = !!process.env.BROWSER_TEST_STEP_SCREENSHOTS;
export const STEP_MS = 20_000; // each wait
export const OVERALL_MS = 90_000; // the whole run, whatever hangs
const AUTO_POST_GRACE_MS = 5_000; // then press the POST page's button ourselves

/// `fail(message)` for a script: the message on stderr, exit status 1.
export function failer(script) {
  return (message) => {
    process.stderr.write(`${script}: ${message}\n`);
    process.exit(1);
  };
}

/// Fails the run after OVERALL_MS, whatever hangs.
export function watchdog(fail) {
  const timer = setTimeout(
    () => fail(`gave up after ${OVERALL_MS / 1000} s (the browser hung)`),
    OVERALL_MS,
  );
  timer.unref();
}

export async function launch(fail) {
  if (!existsSync(CHROMIUM)) {
    fail(`${CHROMIUM} not found: install Debian's chromium (deploy/install-deps.sh)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: CHROMIUM_ARGS,
    timeout: STEP_MS,
  });
}

export const pathOf = (u) => {
  try {
    return new URL(u).pathname;
  } catch {
    return u;
  }
};

/// `<screenshot>.<step>.png` next to the requested screenshot.
export const stepShot = (screenshot, step) => screenshot.replace(/(\.png)?$/i, `.${step}.png`);

/// Watches `page` for what must not happen on Roleport's pages (`base`): console errors, CSP
/// violations (also reported by a `securitypolicyviolation` listener in every document) and
/// sub-resources that failed or answered >= 400. Returns the lists it fills.
export async function watch(page, base) {
  const onRoleport = (u) => u.startsWith(base + '/');
  const seen = { consoleErrors: [], cspViolations: [], failedRequests: [] };
  page.setDefaultTimeout(STEP_MS);
  page.setDefaultNavigationTimeout(STEP_MS);
  page.on('console', (msg) => {
    if (msg.type() === 'error' && onRoleport(page.url())) {
      const at = msg.location()?.url;
      seen.consoleErrors.push(at ? `${msg.text()} [${at}]` : msg.text());
    }
  });
  page.on('pageerror', (err) => {
    if (onRoleport(page.url())) seen.consoleErrors.push(`uncaught: ${err.message} [${page.url()}]`);
  });
  page.on('requestfailed', (req) => {
    if (onRoleport(req.url()) && req.resourceType() !== 'document') {
      seen.failedRequests.push(`${req.url()}: ${req.failure()?.errorText}`);
    }
  });
  page.on('response', (resp) => {
    const req = resp.request();
    if (onRoleport(resp.url()) && req.resourceType() !== 'document' && resp.status() >= 400) {
      seen.failedRequests.push(`${resp.url()}: HTTP ${resp.status()}`);
    }
  });
  await page.exposeFunction('__roleportCspViolation', (v) => {
    if (onRoleport(v.documentURI)) seen.cspViolations.push(v);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__roleportCspViolation({
        documentURI: e.documentURI,
        directive: e.effectiveDirective,
        blockedURI: e.blockedURI,
        disposition: e.disposition,
      });
    });
  });
  return seen;
}

export async function bodyText(page) {
  try {
    return (await page.locator('body').innerText({ timeout: 2_000 })).replace(/\s+/g, ' ').slice(0, 600);
  } catch {
    return '(no body)';
  }
}

/// `stuck(what)` throws an error naming where the page is, with its title, text and a screenshot
/// (`<screenshot>.failed.png`).
export function stucker(page, screenshot) {
  return async (what) => {
    const where = page.url();
    let detail = ` — title ${JSON.stringify(await page.title().catch(() => ''))}, text: ${await bodyText(page)}`;
    const shot = stepShot(screenshot, 'failed');
    await page.screenshot({ path: shot, fullPage: true, timeout: 5_000 }).catch(() => {});
    detail += ` (screenshot ${shot})`;
    throw new Error(`${what}; at ${where}${detail}`);
  };
}

/// The page's stylesheets and how many rules each has (-1: unreadable).
export async function stylesheets(page) {
  return page.evaluate(() =>
    [...document.styleSheets].map((s) => {
      let rules = -1;
      try {
        rules = s.cssRules.length;
      } catch {}
      return { href: s.href, rules };
    }),
  );
}

/// Signs in to Roleport at `base` through the demo-saml IdP: opens <base>/login, clicks the
/// provider, fills SimpleSAMLphp's login form, lets the browser auto-post the SAMLResponse back
/// and waits for <base>/roles. Returns whether the POST page submitted itself (`false`: its button
/// had to be pressed). A refused login calls `stuck("the IdP did not accept <user>'s login")`.
export async function signIn(page, { base, user, password, screenshot, stuck }) {
  // 1. Roleport's sign-in page.
  const login = await page
    .goto(`${base}/login`, { waitUntil: 'load' })
    .catch((e) => stuck(`GET ${base}/login failed: ${e.message}`));
  if (!login || !login.ok()) await stuck(`GET ${base}/login answered HTTP ${login?.status()}`);
  const idp = page.locator('#idp-demo-saml');
  if ((await idp.count()) !== 1) await stuck('no #idp-demo-saml link on the sign-in page');

  if (STEP_SHOTS) await page.screenshot({ path: stepShot(screenshot, 'login'), fullPage: true });

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

  if (STEP_SHOTS) await page.screenshot({ path: stepShot(screenshot, 'idp'), fullPage: true });

  // 3. Submit; the IdP answers with a page that auto-posts the SAMLResponse to Roleport's ACS,
  //    which redirects to /roles. A refused login brings the IdP's form back instead.
  let autoPosted = null;
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
  return autoPosted === null ? true : autoPosted;
}
