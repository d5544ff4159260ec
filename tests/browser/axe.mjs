// axe-core run in a page, against WCAG 2.1 A and AA: the serious and critical violations fail.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
/**
 * Runs axe on `page` (within `include`, a selector, when given); the serious and critical
 * violations as lines `rule: element: summary`, and the targets of what passed.
 */
async function audit(page, include) {
  // Through the DevTools protocol, so the pages' Content-Security-Policy does not stop it.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const r = await page.evaluate(
    ([tags, inc]) =>
      window.axe.run(inc ? { include: [[inc]] } : document, {
        runOnly: { type: 'tag', values: tags },
        resultTypes: ['violations'],
      }),
    [TAGS, include],
  );
  const bad = r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) =>
      v.nodes.map((n) => `${v.id}: ${JSON.stringify(n.target)}: ${n.failureSummary || v.help}`),
    );
  const passed = r.passes.flatMap((v) => v.nodes.map((n) => n.target));
  return { bad, passed };
}

/** Fails with the list when `page` (or `include` on it) has a serious or critical violation. */
export async function accessible(page, where, include) {
  const { bad, passed } = await audit(page, include);
  assert.deepEqual(bad, [], `${where}:\n  ${bad.join('\n  ')}`);
  return passed;
}
