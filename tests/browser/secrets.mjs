// Masked fields planted in a fixture page, in every kind of place the fixture has (its
// document, its first open shadow root, each same-origin frame), and the ways a secret reaches
// them: typed (before and after the agent joins), pasted, set by code, and typed again after a
// "show password" toggle. Every secret contains SECRET, so that one search of what the page
// sent (harness.mjs `tap`) finds any that leaked. The fields sit off-screen: the agent sees
// bullets where the customer sees text, by design, and the screenshot comparisons stay about
// the fixture itself.
import assert from 'node:assert/strict';

/** Browser context options the paste needs. */
export const CLIPBOARD = { permissions: ['clipboard-read', 'clipboard-write'] };

/**
 * In the page (sent as source): plants the fields once the frames have loaded; returns the number
 * of places.
 */
export async function plant() {
  const loaded = (f) => {
    try {
      const d = f.contentDocument;
      return !d || (d.readyState === 'complete' && d.URL !== 'about:blank');
    } catch {
      return true;
    }
  };
  for (let t = 0; t < 50 && ![...document.querySelectorAll('iframe')].every(loaded); t++)
    await new Promise((r) => setTimeout(r, 100));
  const places = [document];
  const host = [...document.querySelectorAll('*')].find((e) => e.shadowRoot);
  if (host) places.push(host.shadowRoot);
  for (const f of document.querySelectorAll('iframe')) {
    try {
      if (f.contentDocument && f.contentDocument.body) places.push(f.contentDocument);
    } catch {}
  }
  window.__secrets = places.map((root, i) => {
    const box = (root.ownerDocument || root).createElement('div');
    box.setAttribute('data-secrets', '');
    box.style.cssText = 'position:absolute;left:-10000px;top:0';
    box.innerHTML =
      `<input type="password" class="pw" value="MarkupPw${i}SECRET"><input class="cc" autocomplete="cc-number">` +
      `<input class="mi" data-cobrowse-mask value="MarkupInput${i}SECRET"><textarea class="mt" data-cobrowse-mask>MarkupArea${i}SECRET</textarea>` +
      `<div class="md" data-cobrowse-mask>MarkupText${i}SECRET <span title="MarkupTitle${i}SECRET">inner</span></div>`;
    (root.body || root).append(box);
    const f = (c) => box.querySelector('.' + c);
    return { pw: f('pw'), cc: f('cc'), mi: f('mi'), mt: f('mt'), md: f('md') };
  });
  return places.length;
}

const places = (page) => page.evaluate(() => window.__secrets.length);
/** Focuses a planted field (in whatever document or shadow root it is) and types into it. */
async function typeInto(page, i, field, text) {
  await page.evaluate(([i, field]) => window.__secrets[i][field].focus(), [i, field]);
  await page.keyboard.type(text);
}

/** Typed before any agent joined: the join's snapshot must carry it masked. */
export async function typeWhileIdle(page) {
  for (let i = 0, n = await places(page); i < n; i++)
    await typeInto(page, i, 'pw', `IdleTyped${i}SECRET`);
}

/** Typed, pasted, set by code and toggled, in every place, while the agent watches. */
export async function exercise(page) {
  for (let i = 0, n = await places(page); i < n; i++) {
    await typeInto(page, i, 'pw', `Typed${i}SECRET`);
    await typeInto(page, i, 'mt', ` TypedArea${i}SECRET`);
    await page.evaluate((t) => navigator.clipboard.writeText(t), `Pasted${i}SECRET`);
    await page.evaluate((i) => window.__secrets[i].cc.focus(), i);
    await page.keyboard.press('ControlOrMeta+V');
    assert.equal(
      await page.evaluate((i) => window.__secrets[i].cc.value, i),
      `Pasted${i}SECRET`,
      `the paste happened (place ${i})`,
    );
    await page.evaluate((i) => {
      const s = window.__secrets[i];
      s.mi.value = `Code${i}SECRET`;
      s.mt.value += ` CodeArea${i}SECRET`;
      s.cc.value = `CodeCard${i}SECRET`;
      s.pw.setAttribute('value', `AttrPw${i}SECRET`);
      s.md.append(` Later${i}SECRET`);
      s.md.querySelector('span').textContent = `LaterSpan${i}SECRET`;
      // "Show password": the field stays masked (data-was-password tells the harness's canon so).
      s.pw.type = 'text';
      s.pw.setAttribute('data-was-password', '');
    }, i);
    await typeInto(page, i, 'pw', `AfterToggle${i}SECRET`);
    await page.evaluate((i) => {
      window.__secrets[i].pw.value = `ToggledCode${i}SECRET`;
    }, i);
  }
  await page.evaluate(() => {
    for (const s of window.__secrets) s.pw.blur();
  });
}

/**
 * Asserts that no secret is in any text the page sent (`texts`: tap's), nor in the agent's view
 * (`agentView`: its canon).
 */
export function noSecrets(texts, agentView, what) {
  assert.ok(
    texts.some((t) => t.includes('"t":"snapshot"')) && texts.length > 5,
    `${what}: the page's frames were captured`,
  );
  for (const t of texts) {
    const at = t.indexOf('SECRET');
    assert.equal(
      at,
      -1,
      `${what}: a masked value left the browser: …${t.slice(Math.max(0, at - 80), at + 40)}…`,
    );
  }
  assert.ok(!agentView.includes('SECRET'), `${what}: a masked value reached the agent's view`);
}
