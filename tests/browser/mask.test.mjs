// Masking: no masked value ever leaves the customer's browser. Every frame the customer
// page sends is captured through CDP (harness.mjs `tap`: snapshot chunks decompressed) and
// searched for each secret, whether typed, pasted, set by code or revealed by a type toggle.
// The page's mask and block selectors come from a rule set made through the admin API; blocked
// elements are placeholders of the same size.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { converge, diff, requirements, setup, tap } from './harness.mjs';

const skip = requirements();
let h;
before(async () => {
  if (skip) return;
  h = await setup();
  // The page's rule set, made as a deployment pipeline would: an API key and the admin API.
  const key = h.cli(['apikey', 'create', 'mask-test']);
  const r = await fetch(h.server + '/api/v1/admin/rule-sets', {
    method: 'POST',
    headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'mask test',
      url_pattern: h.origin + '/mask.html*',
      rules: { mask: ['.rule-masked'], block: ['.rule-blocked'] },
    }),
  });
  assert.ok(r.ok, `rule set refused: ${r.status} ${await r.text()}`);
});
after(async () => {
  if (h) await h.close();
});

/**
 * `[width, height]` of each blocked element (customer) or of each placeholder (agent's view), in
 * page order.
 */
const boxes = (agent) => {
  const d = agent ? window.cobrowseAgent.mirror.frame.contentDocument : document;
  return Array.from(
    d.querySelectorAll(agent ? '[data-cb-blocked]' : '[data-cobrowse-block], .rule-blocked'),
    (e) => {
      const r = e.getBoundingClientRect();
      return [Math.round(r.width), Math.round(r.height)];
    },
  );
};

const SECRETS = ['SECRET', '4111111111111111', '5500005555555559', '987', '123456'];

test('masking: no masked value leaves the browser (typed, pasted, set by code, toggled)', {
  skip,
}, async () => {
  let wire;
  const c = await h.customer('mask.html', {
    permissions: ['clipboard-read', 'clipboard-write'],
    onPage: async (p) => {
      wire = await tap(p);
    },
  });
  await c.evaluate(() => {
    window.maskedSeen = [];
    window.Cobrowse.on('maskedElement', (el) => window.maskedSeen.push(el.id || el.localName));
  });
  // Before any agent: typed while idle, so the snapshot must mask them.
  await c.type('#pw2', 'IdleTypedSECRET11');
  await c.type('#cc', '4111111111111111');
  const id = await h.start(c);
  // The rule set made in before() came with the session.
  assert.deepEqual(await c.evaluate(() => window.Cobrowse._.state.rules), {
    mask: ['.rule-masked'],
    disable: [],
    block: ['.rule-blocked'],
  });
  const a = await h.agent(id);
  // Typed while the agent watches.
  await c.type('#pw', 'TypedSECRET12');
  await c.type('#cvc', '987');
  await c.type('#otp', '123456');
  await c.type('#mi', 'TypedMaskSECRET13');
  await c.type('#ri', 'TypedRuleSECRET14');
  await c.click('#mce');
  await c.keyboard.type(' EditableSECRET15');
  // Pasted.
  await c.evaluate(() => navigator.clipboard.writeText('PastedSECRET16'));
  await c.focus('#mt');
  await c.keyboard.press('ControlOrMeta+V');
  await c.focus('#cc');
  await c.keyboard.press('ControlOrMeta+V');
  assert.ok((await c.inputValue('#mt')).includes('PastedSECRET16'), 'the paste happened');
  await new Promise((r) => setTimeout(r, 200));
  // Set by code (autofill scripts, frameworks).
  await c.evaluate(() => {
    document.getElementById('pw').value = 'CodeSECRET17';
    document.getElementById('cc').value = '5500005555555559';
    document.getElementById('mt').value = 'CodeTextareaSECRET18';
    document.getElementById('pw').setAttribute('value', 'AttrCodeSECRET19');
    document.getElementById('md').append(' LaterSECRET20');
    document.querySelector('#md span').textContent = 'LaterSpanSECRET21';
    const p = document.createElement('p');
    p.textContent = 'NewChildSECRET22';
    document.getElementById('rd').append(p);
    document.getElementById('blk').append('MoreBlockSECRET23');
    document.querySelector('#md img').setAttribute('alt', 'LaterAltSECRET30');
  });
  // "Show password" toggles: the value typed before and after must stay masked.
  await c.type('#pw3', 'BeforeToggleSECRET24');
  await c.evaluate(() => {
    const a = document.getElementById('pw2');
    a.type = 'text';
    a.setAttribute('data-was-password', '');
    const b = document.getElementById('pw3');
    b.setAttribute('type', 'text');
    b.setAttribute('data-was-password', '');
  });
  await c.type('#pw2', 'AfterToggleSECRET25');
  await c.type('#pw3', 'AfterToggleAttrSECRET26');
  await c.evaluate(() => {
    document.getElementById('pw2').value = 'ToggledCodeSECRET27';
  });
  // A fresh snapshot (agent asks for one) carries the current, masked state too.
  await a.evaluate(() => window.cobrowseAgent.requestResync());
  await new Promise((r) => setTimeout(r, 1500));

  const r = await converge(c, a, 3000, { mask: '.rule-masked', block: '.rule-blocked' });
  assert.ok(r.equal, diff(r.customer, r.agent));
  const texts = wire.texts();
  assert.ok(texts.length > 10, 'frames were captured');
  assert.ok(
    texts.some((t) => t.includes('visible value')),
    'plain values do travel (the capture works)',
  );
  for (const t of texts)
    for (const s of SECRETS)
      assert.ok(!t.includes(s), `"${s}" left the browser in: ${t.slice(0, 300)}`);
  // The view's proxied URLs carry the session's nine random digits, which can hold "987".
  const agentHtml = (
    await a.evaluate(
      () => window.cobrowseAgent.mirror.frame.contentDocument.documentElement.outerHTML,
    )
  ).replaceAll('session=' + id, 'session=');
  for (const s of SECRETS) assert.ok(!agentHtml.includes(s), `"${s}" reached the agent's view`);
  // Plug-ins hear about masked elements (the toolbar will outline them).
  const seen = await c.evaluate(() => window.maskedSeen);
  for (const el of ['pw', 'pw2', 'cc', 'cvc', 'otp', 'mi', 'mt', 'md', 'ri', 'rd'])
    assert.ok(seen.includes(el), `maskedElement for #${el}: ${seen}`);
  // Blocked elements are placeholders of the same size.
  const sizes = await c.evaluate(boxes, false);
  assert.equal(sizes.length, 2, 'the fixture has two blocked elements');
  assert.deepEqual(
    await a.evaluate(boxes, true),
    sizes,
    'placeholders have the boxes of what they stand for',
  );
  // The masked fields are shown as masked: bullets, always as many (the length is not told).
  assert.equal(
    await a.evaluate(
      () => window.cobrowseAgent.mirror.frame.contentDocument.getElementById('pw2').value,
    ),
    '••••••••',
  );
  await c.evaluate(() => window.Cobrowse.stop());
  await c.context().close();
  await a.context().close();
});
