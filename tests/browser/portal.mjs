// The portal as a person uses it, at one window width, keyboard first, with axe-core on every
// page (zero violations, or the run fails naming them):
//
//   node portal.mjs <roleport base url> <user> <password> <width> <screenshot dir> <console prefix>
//
// Sign-in page → sign in (demo-saml) → the role picker: `/` focuses the filter, typing filters,
// arrows move to a row's Console button; a star saved with fetch and listed under Favourites
// after a reload; the More menu opened; region and session length chosen, then Enter in the
// filter opens the console (followed to <console prefix>). Then a role's credentials page, My
// access, an error page and the signed-out page. Each page is saved as <dir>/<page>.png. Prints
// ONE JSON line with what it saw (the Rust test asserts on it).

import { failer, launch, signIn, stucker, watch, watchdog, pathOf } from './common.mjs';
import { assertAccessible } from './a11y.mjs';
import { mkdirSync } from 'node:fs';

const fail = failer('portal.mjs');
const [base0, user, password, width0, dir, consolePrefix] = process.argv.slice(2);
if (!base0 || !user || !password || !width0 || !dir || !consolePrefix) {
  fail('usage: node portal.mjs <roleport base url> <user> <password> <width> <screenshot dir> <console prefix>');
}
const base = base0.replace(/\/+$/, '');
const width = Number(width0);
mkdirSync(dir, { recursive: true });
watchdog(fail);

let browser;
try {
  browser = await launch(fail);
  const context = await browser.newContext({
    viewport: { width, height: width < 600 ? 844 : 900 },
    locale: 'en-GB',
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  const seen = await watch(page, base);
  const stuck = stucker(page, `${dir}/stuck.png`);
  const shots = [];
  // Every page: axe, a screenshot, and whether anything sticks out sideways.
  const checkPage = async (name) => {
    await assertAccessible(page, `${name} at ${width} px`, fail);
    const path = `${dir}/${name}.png`;
    await page.screenshot({ path, fullPage: true });
    // And what the window shows (a phone's full page is too tall to look at in one piece).
    const view = `${dir}/${name}.view.png`;
    await page.screenshot({ path: view });
    shots.push(path, view);
    return page.evaluate(() => ({
      path: location.pathname,
      title: document.title,
      overflow: document.documentElement.scrollWidth - window.innerWidth,
      header_sign_out: !!document.querySelector('header form.signout button'),
    }));
  };
  const pages = {};
  // page.waitForFunction compiles its predicate with eval, which the page's CSP forbids: poll
  // with page.evaluate (run through DevTools, outside the CSP) instead.
  const until = async (what, fn, arg) => {
    const end = Date.now() + 10_000;
    while (Date.now() < end) {
      if (await page.evaluate(fn, arg)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    await stuck(`waited 10 s for ${what}`);
  };
  const focused = () =>
    page.evaluate(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      return {
        id: el.id || null,
        formaction: el.getAttribute('formaction'),
        row: el.closest('li.g')?.dataset.g ?? null,
        outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
      };
    });

  await page.goto(`${base}/login`);
  pages.login = await checkPage('login');
  await signIn(page, { base, user, password, screenshot: `${dir}/signin.png`, stuck });
  pages.roles = await checkPage('roles');
  const picker = await page.evaluate(() => ({
    count: document.getElementById('count').textContent,
    rows: document.querySelectorAll('section[data-account] li.g').length,
    environments: [...new Set([...document.querySelectorAll('section[data-account] h2 .env')].map((e) => e.textContent))],
  }));

  // Keyboard: `/` focuses the filter, typing filters as you go, arrows reach the Console button.
  await page.locator('body').click({ position: { x: 2, y: 2 } });
  await page.keyboard.press('/');
  const slash = await focused();
  await page.keyboard.type('payments on-call');
  await until('the filter', () => document.getElementById('count').textContent.startsWith('1 of'));
  const filtered = await page.evaluate(() => ({
    count: document.getElementById('count').textContent,
    visible: [...document.querySelectorAll('li.g')].filter((li) => !li.hidden).map((li) => li.dataset.g),
    sections: [...document.querySelectorAll('#picker section')].filter((s) => !s.hidden).length,
  }));
  pages.filtered = await checkPage('roles-filtered');
  await page.keyboard.press('ArrowDown');
  const arrowed = await focused();
  pages.keyboard = await checkPage('roles-keyboard');
  await page.keyboard.press('Escape'); // nothing open: stays
  await page.locator('#q').focus();
  await page.keyboard.press('Escape');
  const cleared = await page.evaluate(() => document.getElementById('count').textContent);
  // Tab from the filter reaches the Find button with a visible focus ring.
  await page.keyboard.press('Tab');
  const tabbed = await focused();

  // A star, saved with fetch; after a reload the role is under Favourites.
  const firstRow = page.locator('section[data-account] li.g').nth(2);
  const starred = await firstRow.getAttribute('data-g');
  await firstRow.locator('button.star').click();
  await until(
    'the star to be saved',
    (g) => document.querySelector(`section[data-account] li.g[data-g="${g}"] button.star`).getAttribute('aria-pressed') === 'true',
    starred,
  );
  const starUrl = page.url();
  await page.reload();
  const favourites = await page.evaluate(() =>
    [...document.querySelectorAll('section[data-list="favourites"] li.g')].map((li) => li.dataset.g),
  );
  pages.favourites = await checkPage('roles-favourite');

  // The More menu: opened with the keyboard, each action explained in words, on screen.
  const more = page.locator(`section[data-account] li.g[data-g="${starred}"] details.more`);
  await more.locator('summary').focus();
  await page.keyboard.press('Enter');
  await until(
    'the copy button in the open menu',
    (g) => !!document.querySelector(`section[data-account] li.g[data-g="${g}"] details.more[open] button.copy`),
    starred,
  );
  const menu = await more.evaluate((d) => {
    const m = d.querySelector('.menu').getBoundingClientRect();
    return {
      open: d.open,
      text: d.querySelector('.menu').innerText.replace(/\s+/g, ' ').trim(),
      left: m.left,
      right: m.right,
      copy_visible: !!d.querySelector('button.copy'),
    };
  });
  await more.scrollIntoViewIfNeeded();
  await page.evaluate(() => window.scrollBy(0, -120));
  pages.more = await checkPage('roles-more');
  await more.locator('button.copy').click();
  await until('the copy', () => [...document.querySelectorAll('button.copy')].some((b) => b.textContent === 'Copied'));
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  await page.keyboard.press('Escape');

  // Region and session length chosen on the page, then Enter in the filter opens the console.
  await page.selectOption('#region', 'eu-west-1');
  await page.selectOption('#duration', '1800');
  await page.keyboard.press('/');
  await page.keyboard.type('demo-prod administrator');
  await until('the second filter', () => document.getElementById('count').textContent.startsWith('1 of'));
  const arrived = page
    .waitForURL((u) => u.href.startsWith(consolePrefix), { waitUntil: 'load', timeout: 20_000 })
    .then(() => true, () => false);
  await page.keyboard.press('Enter');
  const consoleReached = await arrived;
  const consoleUrl = page.url();

  // A role's credentials page.
  await page.goto(`${base}/roles`);
  const ro = page.locator('section[data-account] li.g[data-g="123456789012-ReadOnly"] button[formaction$="/credentials"]');
  await Promise.all([page.waitForURL((u) => pathOf(u.toString()).includes('/credentials/')), ro.click()]);
  pages.credentials = await checkPage('credentials');
  const credentialsHeading = await page.locator('h1').textContent();

  // My access.
  await page.goto(`${base}/roles`);
  await Promise.all([page.waitForURL(`${base}/access`), page.locator('#my-access').click()]);
  pages.access = await checkPage('access');
  const access = await page.evaluate(() => ({
    rows: document.querySelectorAll('#activity tbody tr').length,
    text: document.querySelector('#activity tbody')?.innerText.replace(/\s+/g, ' ') ?? '',
    keys: [...document.querySelectorAll('#activity tbody code')].map((c) => c.textContent).filter((t) => t.startsWith('ASIA')),
  }));

  // An error page (a role not held), with the header and a way back.
  await page.goto(`${base}/roles/999999999999-Nope/console`);
  pages.error = await checkPage('error');
  const errorPage = await page.evaluate(() => ({
    back: document.getElementById('back')?.getAttribute('href') ?? null,
    asked_for: document.getElementById('asked-for')?.textContent ?? null,
  }));

  // Sign out: the signed-out page.
  await Promise.all([page.waitForURL(`${base}/logout`), page.locator('header form.signout button').click()]);
  pages.signed_out = await checkPage('signed-out');

  process.stdout.write(
    JSON.stringify({
      width,
      pages,
      picker,
      slash,
      filtered,
      arrowed,
      cleared,
      tabbed,
      starred,
      star_url: starUrl,
      favourites,
      menu,
      copied,
      console_reached: consoleReached,
      console_url: consoleUrl,
      credentials_heading: credentialsHeading,
      access,
      error_page: errorPage,
      shots,
      // The error page's own 404 is the answer wanted; Chromium logs it, so it is kept apart.
      console_errors: seen.consoleErrors.filter((e) => !e.includes('/roles/999999999999-Nope/console')),
      expected_errors: seen.consoleErrors.filter((e) => e.includes('/roles/999999999999-Nope/console')),
      csp_violations: seen.cspViolations,
      failed_requests: seen.failedRequests,
    }) + '\n',
  );
  await browser.close();
  process.exit(0);
} catch (e) {
  if (browser) await browser.close().catch(() => {});
  fail(e && e.message ? e.message : String(e));
}
