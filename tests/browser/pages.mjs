// Every page the portal renders that portal.mjs and admin.mjs do not walk through, at a phone's
// width (390 px) and a desktop's (1280 px): axe-core on each (zero violations, or the run fails
// naming them), no sideways scrolling, a screenshot of each, and what the header shows. Then the
// same browser without JavaScript: a star saved by its plain form post, and a rules document
// dry-run and imported from a chosen file (multipart, no script reads it).
//
//   node pages.mjs <roleport base url> <screenshot dir> <width>
//   node pages.mjs <roleport base url> <screenshot dir> nojs <rules document file>
//   node pages.mjs <roleport base url> <screenshot dir> decoded <encoded message>
//
// Signs in as alice (the demo rules: security team, decode capability) and carol (no roles).
// Screenshots: <dir>/<page>-<width>.png. Prints ONE JSON line (the Rust test asserts on it).

import { failer, launch, signIn, stucker, watch, watchdog, pathOf } from './common.mjs';
import { assertAccessible } from './a11y.mjs';
import { mkdirSync, readFileSync } from 'node:fs';

const fail = failer('pages.mjs');
const [base0, dir, mode, rulesFile] = process.argv.slice(2);
if (!base0 || !dir || !mode || (['nojs', 'decoded'].includes(mode) && !rulesFile)) {
  fail('usage: node pages.mjs <roleport base url> <screenshot dir> <width>|nojs <rules file>|decoded <message>');
}
const base = base0.replace(/\/+$/, '');
mkdirSync(dir, { recursive: true });
watchdog(fail);

const ADMIN = '123456789012-Admin';
const READONLY = '123456789012-ReadOnly';
// Documents that answer with an error status on purpose: Chromium logs each as a console error.
const expectedErrorPaths = new Set();

// The browser half of the device flow needs a code: asked for as the CLI would.
async function deviceCode() {
  const r = await fetch(`${base}/oauth/device_authorization`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'client_id=roleport-cli',
  });
  if (!r.ok) fail(`device authorization answered HTTP ${r.status}: ${await r.text()}`);
  return (await r.json()).user_code;
}

// What a page shows that the Rust test asserts on: where it is, its heading, whether it scrolls
// sideways, the header's person and Sign out, the way back and the reference.
function factsOf(page) {
  return page.evaluate(() => ({
    path: location.pathname,
    title: document.title,
    h1: document.querySelector('h1')?.innerText.trim() ?? null,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
    header_sign_out: !!document.querySelector('header form.signout button'),
    header_person: document.querySelector('header .who bdi')?.textContent ?? null,
    back: document.getElementById('back')?.getAttribute('href') ?? null,
    reference: document.getElementById('reference')?.textContent ?? null,
  }));
}

async function walk(browser, width) {
  const context = await browser.newContext({ viewport: { width, height: width < 600 ? 844 : 900 }, locale: 'en-GB' });
  const page = await context.newPage();
  const seen = await watch(page, base);
  const stuck = stucker(page, `${dir}/stuck-${width}.png`);
  const pages = [];
  let lastStatus = null;
  page.on('response', (r) => {
    if (r.request().isNavigationRequest() && r.request().frame() === page.mainFrame()) lastStatus = r.status();
  });
  const check = async (name, extra = {}) => {
    await assertAccessible(page, `${name} at ${width} px`, fail);
    const path = `${dir}/${name}-${width}.png`;
    await page.screenshot({ path, fullPage: true });
    pages.push({ name, status: lastStatus, shot: path, ...(await factsOf(page)), ...extra });
  };
  const go = async (path, { status } = {}) => {
    if (status && status >= 400) expectedErrorPaths.add(pathOf(`${base}${path}`));
    const resp = await page.goto(`${base}${path}`, { waitUntil: 'load' }).catch((e) => stuck(`GET ${path}: ${e.message}`));
    if (status && resp?.status() !== status) await stuck(`GET ${path} answered HTTP ${resp?.status()}, not ${status}`);
  };
  const clickTo = async (locator, urlTest, what) => {
    if ((await locator.count()) !== 1) await stuck(`no ${what}`);
    await Promise.all([page.waitForURL(urlTest, { waitUntil: 'load' }), locator.click()]);
  };
  const row = (grant) => page.locator(`section[data-account] li.g[data-g="${grant}"]`);

  await signIn(page, { base, user: 'alice', password: 'alicepw', screenshot: `${dir}/signin-${width}.png`, stuck });
  const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');

  // A console bookmark as copied from the AWS console (query and #fragment): its confirm page.
  await go(`/roles/${ADMIN}/console?destination=${encodeURIComponent('ec2/home?region=eu-west-1#Instances:')}`, { status: 200 });
  await check('console-confirm', {
    destination: await page.evaluate(() => document.body.innerText.includes('#Instances:')),
  });

  // Credentials, then the same page again: shown once, so the reload gets the "gone" page.
  await go('/roles');
  await clickTo(row(READONLY).locator('button[formaction$="/credentials"]'), (u) => pathOf(u.toString()).includes('/credentials/'), 'Credentials button');
  const credentialsPath = pathOf(page.url());
  expectedErrorPaths.add(credentialsPath);
  await page.reload({ waitUntil: 'load' });
  await check('credentials-gone');

  // Check (More menu): AWS says who the role's credentials are.
  await go('/roles');
  await row(READONLY).locator('details.more summary').click();
  await clickTo(row(READONLY).locator('button[formaction$="/check"]'), (u) => pathOf(u.toString()).endsWith('/check'), 'Check button');
  await check('check', { text: await page.evaluate(() => document.querySelector('main').innerText.replace(/\s+/g, ' ')) });

  // AWS sign-in page (More menu): the page that posts the signed SAML Response to AWS. Its script
  // would send it on at once; held back here so the page itself can be checked.
  await go('/roles');
  await page.route(`${base}/static/roleport.js`, (r) => r.fulfill({ status: 200, contentType: 'text/javascript', body: '// held back by pages.mjs' }));
  await row(ADMIN).locator('details.more summary').click();
  await clickTo(row(ADMIN).locator('button[formaction$="/saml-post"]'), (u) => pathOf(u.toString()).endsWith('/saml-post'), 'AWS sign-in page button');
  await check('saml-post');
  await page.unroute(`${base}/static/roleport.js`);

  // The decode support page, and a message it refuses.
  await go('/roles');
  await clickTo(page.locator('#support-decode'), `${base}/support/decode`, 'the support page link');
  await check('decode');
  await page.locator('#encoded_message').fill('not an encoded message: « naïve »');
  expectedErrorPaths.add('/support/decode');
  await clickTo(page.locator('form[action="/support/decode"] button[type="submit"]'), `${base}/support/decode`, 'Decode button');
  await check('decode-problem', { problem: await page.locator('#problem').count() });

  // The CLI's pages: the browser flow's consent page and the device flow's three pages.
  const challenge = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
  await go(`/oauth/authorize?response_type=code&client_id=roleport-cli&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/callback')}&code_challenge=${challenge}&code_challenge_method=S256&state=pages`, { status: 200 });
  await check('cli-authorize');
  const code = await deviceCode();
  await go('/device', { status: 200 });
  await check('device');
  await page.locator('#user_code').fill(code);
  await clickTo(page.locator('#continue'), (u) => pathOf(u.toString()) === '/device', 'Continue');
  await check('device-confirm', { user_code: (await page.locator('#user-code').textContent())?.trim() });
  await clickTo(page.locator('#approve'), (u) => pathOf(u.toString()) === '/device', 'Approve');
  await check('device-done', { done: (await page.locator('#device-done').textContent())?.trim() });

  // An error that is the person's input: a console destination outside the console.
  await go(`/roles/${ADMIN}/console?destination=${encodeURIComponent('https://evil.example/')}`, { status: 400 });
  await check('error-destination');

  // Sign-out: the confirm page (GET), the button, the signed-out page.
  await go('/logout', { status: 200 });
  await check('sign-out-confirm');
  await clickTo(page.locator('main form[action="/logout"] button'), `${base}/logout`, 'the Sign out button');
  await check('signed-out');

  // A form of the ended session sent anyway (a tab left open): "Your session has ended".
  expectedErrorPaths.add(`/roles/${ADMIN}/favourite`);
  await Promise.all([
    page.waitForURL(`${base}/roles/${ADMIN}/favourite`, { waitUntil: 'load' }),
    page.evaluate(({ grant, token }) => {
      const f = document.createElement('form');
      f.method = 'post';
      f.action = `/roles/${grant}/favourite`;
      for (const [k, v] of [['csrf_token', token], ['star', 'on']]) {
        const i = document.createElement('input');
        i.type = 'hidden';
        i.name = k;
        i.value = v;
        f.append(i);
      }
      document.body.append(f);
      f.submit();
    }, { grant: ADMIN, token: csrf }),
  ]);
  await check('session-ended');

  // An error with nobody signed in: an identity provider that does not exist.
  await go('/login/no-such-idp', { status: 404 });
  await check('error-signed-out');
  await context.close();

  // Carol has no roles.
  const carolContext = await browser.newContext({ viewport: { width, height: width < 600 ? 844 : 900 }, locale: 'en-GB' });
  const carol = await carolContext.newPage();
  const carolSeen = await watch(carol, base);
  const carolStuck = stucker(carol, `${dir}/stuck-carol-${width}.png`);
  await signIn(carol, { base, user: 'carol', password: 'carolpw', screenshot: `${dir}/carol-${width}.png`, stuck: carolStuck });
  await assertAccessible(carol, `no-roles at ${width} px`, fail);
  const shot = `${dir}/no-roles-${width}.png`;
  await carol.screenshot({ path: shot, fullPage: true });
  pages.push({ name: 'no-roles', shot, ...(await factsOf(carol)) });
  await carolContext.close();

  const unexpected = (errors) => errors.filter((e) => ![...expectedErrorPaths].some((p) => e.includes(`${base}${p}`)));
  return {
    pages,
    console_errors: unexpected([...seen.consoleErrors, ...carolSeen.consoleErrors]),
    csp_violations: [...seen.cspViolations, ...carolSeen.cspViolations],
    failed_requests: [...seen.failedRequests, ...carolSeen.failedRequests],
  };
}

// Without JavaScript: the star is a plain form post; the rules file is sent by the form itself.
async function withoutScripts(browser, proposedRules) {
  // Signed in with scripts (the IdP's answer page needs them), then the session's cookies go to
  // a browser without any.
  const signing = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB' });
  const signingPage = await signing.newPage();
  await signIn(signingPage, { base, user: 'alice', password: 'alicepw', screenshot: `${dir}/nojs.png`, stuck: stucker(signingPage, `${dir}/stuck-nojs-signin.png`) });
  const storageState = await signing.storageState();
  await signing.close();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', javaScriptEnabled: false, storageState });
  const page = await context.newPage();
  const seen = await watch(page, base);
  const stuck = stucker(page, `${dir}/stuck-nojs.png`);
  await page.goto(`${base}/roles`, { waitUntil: 'load' });
  const star = (list) => page.locator(`section[${list}] li.g[data-g="${READONLY}"] button.star`);
  const starState = async (list) => ({
    pressed: await star(list).getAttribute('aria-pressed'),
    label: await star(list).getAttribute('aria-label'),
    text: (await star(list).textContent())?.trim(),
  });
  const before = await starState('data-account="123456789012"');
  await Promise.all([page.waitForURL(`${base}/roles`, { waitUntil: 'load' }), star('data-account="123456789012"').click()]);
  const after = await starState('data-account="123456789012"');
  const favourites = await page.locator('section[data-list="favourites"] li.g').evaluateAll((ls) => ls.map((l) => l.dataset.g));
  await page.screenshot({ path: `${dir}/nojs-starred-1280.png`, fullPage: true });
  // And off again, from the Favourites list.
  await Promise.all([page.waitForURL(`${base}/roles`, { waitUntil: 'load' }), star('data-list="favourites"').click()]);
  const unstarred = await starState('data-account="123456789012"');
  const favouritesAfter = await page.locator('section[data-list="favourites"] li.g').count();

  // The rules page: a file chosen and sent by the form (no script copies it anywhere).
  await page.goto(`${base}/admin/rules`, { waitUntil: 'load' });
  if (!(await page.locator('#document-file').isVisible())) await stuck('the file field is hidden without scripts');
  await page.locator('#document-file').setInputFiles({ name: 'rules.yaml', mimeType: 'text/yaml', buffer: Buffer.from(proposedRules) });
  await Promise.all([page.waitForURL(`${base}/admin/rules/dry-run`, { waitUntil: 'load' }), page.locator('#dry-run-button').click()]);
  if ((await page.locator('#dry-run').count()) !== 1) {
    await stuck(`no dry run: ${await page.locator('#problems').innerText().catch(() => '')}`);
  }
  const dryRun = (await page.locator('#dry-run').innerText()).replace(/\s+/g, ' ');
  await page.screenshot({ path: `${dir}/nojs-dry-run-1280.png`, fullPage: true });
  await Promise.all([page.waitForURL((u) => pathOf(u.toString()) === '/admin/rules', { waitUntil: 'load' }), page.locator('#import').click()]);
  const notice = (await page.locator('#notice').textContent())?.trim();
  await context.close();
  return {
    star: { before, after, favourites, unstarred, favourites_after: favouritesAfter },
    dry_run: dryRun,
    imported_notice: notice,
    console_errors: seen.consoleErrors,
    csp_violations: seen.cspViolations,
    failed_requests: seen.failedRequests,
  };
}

// The decode support page with a message STS decoded, at both widths.
async function decoded(browser, message) {
  const result = { pages: [], console_errors: [], csp_violations: [], failed_requests: [] };
  for (const width of [390, 1280]) {
    const context = await browser.newContext({ viewport: { width, height: width < 600 ? 844 : 900 }, locale: 'en-GB' });
    const page = await context.newPage();
    const seen = await watch(page, base);
    const stuck = stucker(page, `${dir}/stuck-decoded-${width}.png`);
    await signIn(page, { base, user: 'alice', password: 'alicepw', screenshot: `${dir}/decoded-${width}.png`, stuck });
    await page.goto(`${base}/support/decode`, { waitUntil: 'load' });
    await page.locator('#encoded_message').fill(message);
    await Promise.all([page.waitForURL(`${base}/support/decode`, { waitUntil: 'load' }), page.locator('form[action="/support/decode"] button[type="submit"]').click()]);
    if ((await page.locator('#decoded').count()) !== 1) await stuck('no decoded message shown');
    await assertAccessible(page, `decoded at ${width} px`, fail);
    const shot = `${dir}/decoded-${width}.png`;
    await page.screenshot({ path: shot, fullPage: true });
    result.pages.push({ name: `decoded-${width}`, width, shot, ...(await factsOf(page)), verdict: (await page.locator('#verdict').textContent())?.trim() });
    result.console_errors.push(...seen.consoleErrors);
    result.csp_violations.push(...seen.cspViolations);
    result.failed_requests.push(...seen.failedRequests);
    await context.close();
  }
  return result;
}

let browser;
try {
  browser = await launch(fail);
  const result = mode === 'nojs'
    ? await withoutScripts(browser, readFileSync(rulesFile, 'utf8'))
    : mode === 'decoded'
      ? await decoded(browser, rulesFile)
      : await walk(browser, Number(mode));
  process.stdout.write(JSON.stringify(result) + '\n');
  await browser.close();
  process.exit(0);
} catch (e) {
  if (browser) await browser.close().catch(() => {});
  fail(e && e.stack ? e.stack : String(e));
}
