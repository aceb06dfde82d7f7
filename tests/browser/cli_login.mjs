// The browser half of `roleport-cli login` in a real headless Chromium.
//
//   node cli_login.mjs <start url> <idp id> <user> <password> <authorize|device> <screenshot path>
//
// <start url> is what the CLI printed: Roleport's /oauth/authorize URL (browser flow) or the
// complete /device?user_code=… URL (device flow). The browser is sent to Roleport's sign-in
// page, signs in at the IdP (SimpleSAMLphp or the OpenID provider: both have a username/password
// form), comes back to the page the CLI asked for, and clicks Allow (the CLI's loopback redirect
// then receives the code) or Approve (the polling CLI then gets its tokens). Prints ONE JSON line
// describing what it saw. Any failure exits non-zero with a message on stderr.
//
// Used by tests/api/cli_e2e.rs.

import { failer, launch, pathOf, stucker, watchdog } from './common.mjs';

const fail = failer('cli_login.mjs');
const [start, idp, user, password, mode, screenshot] = process.argv.slice(2);
if (!start || !idp || !user || password === undefined || !['authorize', 'device'].includes(mode) || !screenshot) {
  fail('usage: node cli_login.mjs <start url> <idp id> <user> <password> <authorize|device> <screenshot path>');
}
const base = new URL(start).origin;
const back = mode === 'authorize' ? '/oauth/authorize' : '/device';
watchdog(fail);

let browser;
try {
  browser = await launch(fail);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.setDefaultNavigationTimeout(20_000);
  const stuck = stucker(page, screenshot);

  await page.goto(start, { waitUntil: 'load' });
  if (pathOf(page.url()) !== '/login') await stuck(`expected Roleport's sign-in page, got ${page.url()}`);
  const link = page.locator(`#idp-${idp}`);
  if ((await link.count()) !== 1) await stuck(`no #idp-${idp} on the sign-in page`);
  await link.click();
  await page.locator('input[name="password"]').waitFor({ state: 'visible' }).catch(() => stuck('no IdP login form'));
  await page.locator('input[name="username"]').fill(user);
  await page.locator('input[name="password"]').fill(password);
  const form = page.locator('form', { has: page.locator('input[name="password"]') });
  const returned = page
    .waitForURL((u) => u.origin === base && u.pathname === back, { waitUntil: 'load' })
    .then(() => true, () => false);
  await form.locator('button[type="submit"], input[type="submit"], button:not([type])').first().click();
  // SimpleSAMLphp answers with a page that posts itself to Roleport; press it if it does not.
  let ok = await Promise.race([returned, new Promise((r) => setTimeout(() => r(null), 5000))]);
  if (ok === null) {
    const post = page.locator('form:has(input[name="SAMLResponse"])');
    if (await post.count()) await post.locator('input[type="submit"], button').first().click();
    ok = await returned;
  }
  if (!ok) await stuck(`did not come back to ${base}${back} after signing in`);

  let result;
  if (mode === 'authorize') {
    const redirectUri = (await page.locator('#redirect-uri').textContent())?.trim();
    const landed = page
      .waitForURL((u) => u.hostname === '127.0.0.1' && u.pathname === '/callback', { waitUntil: 'load' })
      .then(() => true, (e) => e.message);
    await page.locator('#allow').click();
    const reached = await landed;
    if (reached !== true) await stuck(`the Allow click did not reach the CLI (${reached})`);
    result = { redirect_uri: redirectUri, landed: page.url(), text: (await page.textContent('body'))?.trim() };
  } else {
    const text = async (sel) => (await page.locator(sel).textContent())?.trim();
    const shown = {
      user_code: await text('#user-code'),
      source_ip: await text('#source-ip'),
      user_agent: await text('#user-agent'),
    };
    await page.locator('#approve').click();
    await page.locator('#device-done').waitFor().catch(() => stuck('no confirmation after Approve'));
    result = { ...shown, done: await text('#device-done') };
  }
  await page.screenshot({ path: screenshot, fullPage: true });
  process.stdout.write(JSON.stringify(result) + '\n');
  await browser.close();
  process.exit(0);
} catch (e) {
  if (browser) await browser.close().catch(() => {});
  fail(e && e.message ? e.message : String(e));
}
