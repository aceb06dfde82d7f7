// The security team's pages in a real headless Chromium, at a phone's width (390 px) and a
// desktop's (1280 px): every admin page is opened, checked with axe-core (zero violations), checked
// for sideways scrolling, and saved as a screenshot. The search form and the explain form are used
// from the keyboard; a dry run is made by pasting the current rules document.
//
//   node admin.mjs <roleport base url> <user> <password> <screenshot dir> [<refused user> <password>]
//
// With a refused user (one without the capability): that person's 403 page at 390 px and 1280 px
// is checked the same way (admin-refused-390.png, admin-refused-1280.png).
// Screenshots: <dir>/admin-<page>-<width>.png. Prints ONE JSON line: per width the pages seen
// (path, title, h1, page width), and the console errors, CSP violations and failed sub-resources
// seen on Roleport's pages. Any failure exits non-zero with a message on stderr.

import { failer, launch, signIn, stucker, watch, watchdog } from './common.mjs';
import { assertAccessible } from './a11y.mjs';

const fail = failer('admin.mjs');
const [base0, user, password, dir, refusedUser, refusedPassword] = process.argv.slice(2);
if (!base0 || !user || password === undefined || !dir) {
  fail('usage: node admin.mjs <roleport base url> <user> <password> <screenshot dir>');
}
const base = base0.replace(/\/+$/, '');
watchdog(fail);

async function check(page, name, width, stuck) {
  const label = `${name} at ${width} px`;
  const status = await page.evaluate(() => document.title);
  if (/Not allowed|went wrong/.test(status)) await stuck(`${label}: ${status}`);
  await assertAccessible(page, label, fail);
  const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
  if (scrollWidth > width + 1) await stuck(`${label}: the page is ${scrollWidth} px wide (scrolls sideways)`);
  await page.screenshot({ path: `${dir}/admin-${name}-${width}.png`, fullPage: true });
  return {
    name,
    path: new URL(page.url()).pathname,
    title: status,
    h1: await page.locator('h1').first().innerText(),
    scroll_width: scrollWidth,
  };
}

async function open(page, path, stuck) {
  const resp = await page.goto(`${base}${path}`, { waitUntil: 'load' }).catch((e) => stuck(`GET ${path}: ${e.message}`));
  if (!resp || resp.status() !== 200) await stuck(`GET ${path} answered HTTP ${resp?.status()}`);
}

const result = { widths: {} };
let browser;
try {
  browser = await launch(fail);
  for (const width of [390, 1280]) {
    const context = await browser.newContext({ viewport: { width, height: 800 }, locale: 'en-GB' });
    const page = await context.newPage();
    const seen = await watch(page, base);
    const stuck = stucker(page, `${dir}/admin-${width}.png`);
    await signIn(page, { base, user, password, screenshot: `${dir}/admin-${width}.png`, stuck });
    const pages = [];

    // From the roles page's header link, like a person.
    const link = page.locator('#admin-link');
    if ((await link.count()) !== 1) await stuck('no Admin link in the roles page header');
    await Promise.all([page.waitForURL(`${base}/admin`), link.click()]);
    pages.push(await check(page, 'index', width, stuck));

    await open(page, '/admin/audit', stuck);
    pages.push(await check(page, 'audit', width, stuck));
    // The search form from the keyboard: type a person, press Enter.
    await page.locator('#person').focus();
    await page.keyboard.type(user);
    await Promise.all([page.waitForURL((u) => u.search.includes(`person=${user}`)), page.keyboard.press('Enter')]);
    pages.push(await check(page, 'audit-search', width, stuck));
    const first = page.locator('table.events a').first();
    if ((await first.count()) !== 1) await stuck(`no events for ${user}`);
    await first.focus();
    await Promise.all([page.waitForURL((u) => u.pathname.startsWith('/admin/audit/events/')), page.keyboard.press('Enter')]);
    pages.push(await check(page, 'event', width, stuck));

    await open(page, '/admin/audit/chain', stuck);
    pages.push(await check(page, 'chain', width, stuck));
    await open(page, '/admin/sessions', stuck);
    pages.push(await check(page, 'sessions', width, stuck));

    await open(page, '/admin/rules', stuck);
    pages.push(await check(page, 'rules', width, stuck));
    // Explain, from the keyboard.
    await page.locator('#ex-subject').focus();
    await page.keyboard.type('bob');
    await page.locator('#ex-groups').fill('cn=aws-readonly,ou=groups,dc=example,dc=org');
    await page.locator('#explain-button').focus();
    await Promise.all([page.waitForURL((u) => u.pathname === '/admin/rules/explain'), page.keyboard.press('Enter')]);
    if ((await page.locator('#explanation').count()) !== 1) await stuck('explain showed no explanation');
    pages.push(await check(page, 'explain', width, stuck));
    // Dry run: the current document with the read-only rule removed.
    const documentText = await page.locator('#document').textContent();
    const proposed = documentText.replace(/\n- id: readonly\n[\s\S]*?(?=\n- id: |$)/, '\n');
    // Loaded from a file (admin.js reads it into the text area), as an upload would.
    const fileField = page.locator('#document-file');
    if (!(await fileField.isVisible())) await stuck('the file field is not shown where scripts run');
    await fileField.setInputFiles({ name: 'rules.yaml', mimeType: 'text/yaml', buffer: Buffer.from(proposed) });
    await page.waitForFunction((text) => document.getElementById('document-input').value === text, proposed)
      .catch(() => stuck('the chosen file did not land in the text area'));
    await Promise.all([page.waitForURL((u) => u.pathname === '/admin/rules/dry-run'), page.locator('#dry-run-button').click()]);
    if ((await page.locator('#dry-run').count()) !== 1) {
      const problems = await page.locator('#problems').innerText().catch(() => '');
      await stuck(`the dry run showed no result ${problems}`);
    }
    pages.push(await check(page, 'dry-run', width, stuck));

    await open(page, '/admin/idps', stuck);
    pages.push(await check(page, 'idps', width, stuck));

    result.widths[width] = { pages, console_errors: seen.consoleErrors, csp_violations: seen.cspViolations, failed_requests: seen.failedRequests };
    await context.close();
  }
  if (refusedUser) {
    const context = await browser.newContext({ viewport: { width: 390, height: 800 }, locale: 'en-GB' });
    const page = await context.newPage();
    const seen = await watch(page, base);
    const stuck = stucker(page, `${dir}/admin-refused-390.png`);
    await signIn(page, { base, user: refusedUser, password: refusedPassword, screenshot: `${dir}/admin-refused-390.png`, stuck });
    const resp = await page.goto(`${base}/admin/rules`, { waitUntil: 'load' });
    if (resp?.status() !== 403) await stuck(`${refusedUser} got HTTP ${resp?.status()} for /admin/rules`);
    await assertAccessible(page, 'the refusal at 390 px', fail);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    if (scrollWidth > 391) await stuck(`the refusal is ${scrollWidth} px wide`);
    await page.screenshot({ path: `${dir}/admin-refused-390.png`, fullPage: true });
    // The same page at a desktop's width.
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.reload({ waitUntil: 'load' });
    await assertAccessible(page, 'the refusal at 1280 px', fail);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    if (wide > 1281) await stuck(`the refusal is ${wide} px wide at 1280 px`);
    await page.screenshot({ path: `${dir}/admin-refused-1280.png`, fullPage: true });
    result.refused = {
      status: resp.status(),
      h1: await page.locator('h1').first().innerText(),
      reference: await page.locator('#reference').innerText(),
      back: await page.locator('#back').getAttribute('href'),
      // Chromium logs the 403 of the page itself as a console error: expected here, nothing else is.
      console_errors: seen.consoleErrors.filter((e) => !e.includes('status of 403 (Forbidden)')),
      csp_violations: seen.cspViolations, failed_requests: seen.failedRequests,
    };
    await context.close();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  await browser.close();
  process.exit(0);
} catch (e) {
  await browser?.close().catch(() => {});
  fail(e.stack || String(e));
}
