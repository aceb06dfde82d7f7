// A signed-in person takes a role's credentials page in a real headless Chromium: the four
// formats, their copy buttons and the expiry in local time.
//
//   node credentials.mjs <roleport base url> <user> <password> <grant id> <time zone> <screenshot path>
//
// Signs in like signin.mjs (common.mjs), in a browser context with the given IANA time zone, the
// en-GB locale and clipboard permissions; saves the roles page to <screenshot>.roles.png. Then, on
// /roles, clicks "Credentials" in the row `li.g[data-g="<grant id>"]` of its account, waits for the
// credentials page and reads the four blocks (#shell, #credentials-file, #powershell,
// #credential-process) and #expiration (its text and datetime attribute); saves the page to
// <screenshot>; clicks every copy button and reads the clipboard after each (a marker is put
// there before each click), then saves <screenshot>.copied.png. Prints ONE JSON line with all of
// it and the console errors, CSP violations and failed sub-resources seen on Roleport's pages.
// Any failure exits non-zero with a message on stderr (and <screenshot>.failed.png).

import {
  failer, launch, signIn, stepShot, stucker, stylesheets, watch, watchdog,
} from './common.mjs';

const fail = failer('credentials.mjs');
const [base0, user, password, grant, timeZone, screenshot] = process.argv.slice(2);
if (!base0 || !user || password === undefined || !grant || !timeZone || !screenshot) {
  fail('usage: node credentials.mjs <roleport base url> <user> <password> <grant id> <time zone> <screenshot path>');
}
const base = base0.replace(/\/+$/, '');
const BLOCKS = ['shell', 'credentials-file', 'powershell', 'credential-process'];
watchdog(fail);

let browser;
try {
  browser = await launch(fail);
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    timezoneId: timeZone,
    locale: 'en-GB',
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  const seen = await watch(page, base);
  const stuck = stucker(page, screenshot);

  const autoPosted = await signIn(page, { base, user, password, screenshot, stuck });
  await page.screenshot({ path: stepShot(screenshot, 'roles'), fullPage: true });

  // The credentials page, reached by the row's button like a person would.
  const row = page.locator(`section[data-account] li.g[data-g="${grant}"]`);
  if ((await row.count()) !== 1) await stuck(`no row li.g[data-g="${grant}"] on /roles`);
  const credentialsButton = row.locator(`button[formaction="/roles/${grant}/credentials"]`);
  if ((await credentialsButton.count()) !== 1) await stuck(`no Credentials button in the ${grant} row`);
  // The button POSTs, Roleport answers 303, and the browser lands on the one-time page.
  const credentialsUrl = `${base}/roles/${grant}/credentials`;
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url().startsWith(`${credentialsUrl}/`) && r.request().method() === 'GET'),
    credentialsButton.click(),
  ]);
  const posted = answer.request().redirectedFrom();
  const postAnswer = posted ? await posted.response() : null;
  if (!posted || posted.method() !== 'POST' || posted.url() !== credentialsUrl || postAnswer?.status() !== 303)
    await stuck(`the Credentials button did not POST ${credentialsUrl} and get a 303`);
  await page.waitForURL(answer.url(), { waitUntil: 'load' }).catch(() => stuck(`did not land on ${answer.url()}`));
  if (answer.status() !== 200) await stuck(`GET ${answer.url()} answered HTTP ${answer.status()}`);
  if ((await page.locator('#shell').count()) !== 1) await stuck('no #shell block on the credentials page');

  const read = await page.evaluate((blocks) => {
    const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : null);
    const time = document.querySelector('#expiration');
    return {
      url: location.href,
      title: document.title,
      heading: text(document.querySelector('h1')),
      assumed_role: text(document.querySelector('#assumed-role')),
      reference: text(document.querySelector('#reference')),
      blocks: Object.fromEntries(blocks.map((id) => [id, document.getElementById(id)?.textContent ?? null])),
      copy_buttons: [...document.querySelectorAll('button.copy')].map((b) => b.dataset.copy),
      expiration: { datetime: time?.getAttribute('datetime') ?? null, text: time?.textContent ?? null },
      time_zone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      language: navigator.language,
      scripts: [...document.scripts].map((s) => s.src),
      secure_context: window.isSecureContext,
    };
  }, BLOCKS);
  const credentialsSheets = await stylesheets(page);
  await page.screenshot({ path: screenshot, fullPage: true });

  // Every copy button: the clipboard holds a marker before the click and the block after it.
  const copies = [];
  for (const id of read.copy_buttons) {
    const marker = `(clipboard before copying ${id})`;
    await page.evaluate((m) => navigator.clipboard.writeText(m), marker);
    const button = page.locator(`button.copy[data-copy="${id}"]`);
    await button.click();
    await page
      .waitForFunction((b) => b.textContent !== 'Copy', await button.elementHandle(), { timeout: 5_000 })
      .catch(() => {});
    copies.push({
      block: id,
      button: await button.textContent(),
      clipboard: await page.evaluate(() => navigator.clipboard.readText()),
      marker,
    });
  }
  await page.screenshot({ path: stepShot(screenshot, 'copied'), fullPage: true });

  // The countdown runs; a reload shows no keys and offers to issue new ones.
  const countdown = await page.evaluate(() => {
    const c = document.querySelector('#countdown');
    return c && !c.hidden ? c.textContent : null;
  });
  // The 410 of the reload is the answer wanted; Chromium logs it, so it is kept apart.
  const consoleErrors = [...seen.consoleErrors];
  const reload = await page.reload({ waitUntil: 'load' });
  const reloaded = {
    status: reload ? reload.status() : null,
    heading: await page.locator('h1').textContent(),
    shell_blocks: await page.locator('#shell').count(),
    issue_again: await page.locator(`form[method="post"][action="/roles/${grant}/credentials"] button`).count(),
    console_errors: seen.consoleErrors.slice(consoleErrors.length),
  };
  await page.screenshot({ path: stepShot(screenshot, 'reloaded'), fullPage: true });

  process.stdout.write(
    JSON.stringify({
      auto_posted: autoPosted,
      credentials: {
        status: answer.status(),
        ...read,
        stylesheets: credentialsSheets,
        copies,
        countdown,
        post_status: postAnswer.status(),
      },
      reloaded,
      console_errors: consoleErrors,
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
