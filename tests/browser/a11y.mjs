// axe-core on a page that is already open, without loosening its CSP: the library is evaluated
// through the DevTools protocol (page.evaluate), which a page's script-src does not govern, so the
// page keeps reporting its own CSP violations while it is checked.
//
// Use from any browser script:  const v = await axeViolations(page); if (v.length) fail(describe(v))

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/// The WCAG 2.x A/AA and best-practice rules axe runs, as a list of `{id, impact, help, targets}`.
export async function axeViolations(page) {
  const loaded = await page.evaluate(() => typeof window.axe === 'object');
  if (!loaded) {
    await page.evaluate(AXE_SOURCE);
  }
  return page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
}

/// One line per violated rule: id, impact, what it asks for, and up to five offending elements.
export function describeViolations(violations) {
  return violations
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.targets.slice(0, 5).join(', ')}`)
    .join('\n');
}

/// Fails the run (`fail` from common.mjs's failer) when axe finds anything on `page`; `label` names
/// the page and width in the message.
export async function assertAccessible(page, label, fail) {
  const violations = await axeViolations(page);
  if (violations.length) {
    fail(`axe-core found ${violations.length} violation(s) on ${label}:\n${describeViolations(violations)}`);
  }
}
