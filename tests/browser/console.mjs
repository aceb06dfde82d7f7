// A signed-in person opens a role's AWS console from /roles in a real headless Chromium.
//
//   node console.mjs <roleport base url> <user> <password> <grant id> <console url prefix> <screenshot path>
//
// Signs in like signin.mjs (common.mjs), clicks "Console" in the row
// `li.g[data-g="<grant id>"]` (in its account's list) and lets the browser go wherever it is sent, recording every
// main-frame navigation (method, URL, status, Location) until it lands on a page under
// <console url prefix> or CONSOLE_WAIT_MS pass; saves where it ended up to <screenshot>. Prints ONE
// JSON line: whether the console was reached, the navigations, the final URL, title and text, and
// the console errors, CSP violations and failed sub-resources seen on Roleport's pages. Not
// arriving is no failure of the script (the JSON says what happened, for the test to judge); a
// failure before the click exits non-zero with a message on stderr (and <screenshot>.failed.png).

import { bodyText, failer, launch, signIn, stucker, watch, watchdog } from './common.mjs';

const fail = failer('console.mjs');
const [base0, user, password, grant, consolePrefix, screenshot] = process.argv.slice(2);
if (!base0 || !user || password === undefined || !grant || !consolePrefix || !screenshot) {
  fail('usage: node console.mjs <roleport base url> <user> <password> <grant id> <console url prefix> <screenshot path>');
}
const base = base0.replace(/\/+$/, '');
const CONSOLE_WAIT_MS = 10_000;
watchdog(fail);

let browser;
try {
  browser = await launch(fail);
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const seen = await watch(page, base);
  const stuck = stucker(page, screenshot);

  const autoPosted = await signIn(page, { base, user, password, screenshot, stuck });
  const button = page.locator(
    `section[data-account] li.g[data-g="${grant}"] button[formaction="/roles/${grant}/console"]`,
  );
  if ((await button.count()) !== 1) await stuck(`no Console button in the ${grant} row on /roles`);

  // From here on, every main-frame navigation (a redirect is a new request).
  const navigations = [];
  const mainFrameNavigation = (req) => req.isNavigationRequest() && req.frame() === page.mainFrame();
  const entryOf = (req) => navigations.findLast((n) => n.request === req);
  page.on('request', (req) => {
    if (mainFrameNavigation(req)) navigations.push({ request: req, method: req.method(), url: req.url(), status: null });
  });
  page.on('response', async (resp) => {
    const n = entryOf(resp.request());
    if (n) {
      n.status = resp.status();
      n.location = (await resp.headerValue('location').catch(() => null)) ?? undefined;
    }
  });
  page.on('requestfailed', (req) => {
    const n = entryOf(req);
    if (n) n.failure = req.failure()?.errorText ?? 'failed';
  });
  const errorsBefore = seen.consoleErrors.length;
  const violationsBefore = seen.cspViolations.length;

  const arrived = page
    .waitForURL((u) => u.href.startsWith(consolePrefix), { waitUntil: 'load', timeout: CONSOLE_WAIT_MS })
    .then(() => true, () => false);
  await button.click();
  const reached = await arrived;
  await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});

  process.stdout.write(
    JSON.stringify({
      auto_posted: autoPosted,
      reached,
      url: page.url(),
      title: await page.title().catch(() => null),
      text: await bodyText(page),
      navigations: navigations.map(({ request, ...n }) => n),
      // What went wrong after the click, and over the whole run.
      console_errors_after_click: seen.consoleErrors.slice(errorsBefore),
      csp_violations_after_click: seen.cspViolations.slice(violationsBefore),
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
