// The role picker's filter with thousands of roles, in a real headless Chromium:
//
//   node picker-scale.mjs <roleport base url> <user> <password> <screenshot path>
//
// Signs in, then types queries into the filter the way a person does (one key at a time) and
// reads how long each keystroke took until the list and the count were updated (the filter
// runs in the next animation frame). Prints ONE JSON line: row count, per-query results and
// timings (reported, not judged: the Rust test prints them), page weight, errors seen.

import { failer, launch, signIn, stucker, watch, watchdog } from './common.mjs';

const fail = failer('picker-scale.mjs');
const [base0, user, password, screenshot] = process.argv.slice(2);
if (!base0 || !user || !password || !screenshot) {
  fail('usage: node picker-scale.mjs <roleport base url> <user> <password> <screenshot path>');
}
const base = base0.replace(/\/+$/, '');
watchdog(fail);

let browser;
try {
  browser = await launch(fail);
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  const seen = await watch(page, base);
  const stuck = stucker(page, screenshot);
  let htmlBytes = 0;
  page.on('response', async (r) => {
    if (r.url() === `${base}/roles` && r.request().method() === 'GET') {
      htmlBytes = (await r.body().catch(() => Buffer.alloc(0))).length;
    }
  });
  await signIn(page, { base, user, password, screenshot, stuck });
  const loaded = await page.evaluate(() => ({
    rows: document.querySelectorAll('section[data-account] li.g').length,
    count: document.getElementById('count').textContent,
    dom_content_loaded_ms: Math.round(performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd ?? -1),
  }));
  const queries = [];
  for (const query of ['shard 123 auditor', 'production network', 'zzz-nothing']) {
    await page.locator('#q').fill('');
    await page.locator('#q').focus();
    const keystrokes = [];
    for (const ch of query) {
      // One key, then the time until the filter has run (two animation frames later).
      const ms = await page.evaluate(
        (c) =>
          new Promise((resolve) => {
            const input = document.getElementById('q');
            const t0 = performance.now();
            input.value += c;
            input.dispatchEvent(new Event('input', { bubbles: true }));
            requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now() - t0)));
          }),
        ch,
      );
      keystrokes.push(Math.round(ms * 10) / 10);
    }
    const result = await page.evaluate(() => ({
      count: document.getElementById('count').textContent,
      visible: [...document.querySelectorAll('li.g')].filter((li) => !li.hidden).length,
    }));
    queries.push({ query, ...result, keystroke_ms: keystrokes, worst_ms: Math.max(...keystrokes) });
  }
  await page.screenshot({ path: screenshot });
  process.stdout.write(
    JSON.stringify({
      loaded,
      html_bytes: htmlBytes,
      queries,
      console_errors: seen.consoleErrors,
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
