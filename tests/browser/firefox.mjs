// The customer's page in Firefox ESR (Debian's firefox-esr, never downloaded), driven over
// WebDriver BiDi with puppeteer-core, behind the part of Playwright's Page API the suites use
// on customer pages: the same test code then runs with the customer in either browser
// (`CUSTOMER_BROWSER=firefox`, harness.mjs). The agent console stays in Chromium.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import puppeteer from 'puppeteer-core';

export const FIREFOX = '/usr/bin/firefox-esr';

/**
 * Preferences of the test profile: no connection leaves the machine. Every service that would
 * call home is off, and a dead proxy on loopback catches anything left (Firefox never sends
 * 127.0.0.1 or localhost through a proxy).
 */
const PREFS = {
  'toolkit.telemetry.enabled': false,
  'toolkit.telemetry.unified': false,
  'toolkit.telemetry.archive.enabled': false,
  'toolkit.telemetry.server': '',
  'datareporting.policy.dataSubmissionEnabled': false,
  'datareporting.healthreport.uploadEnabled': false,
  'app.update.auto': false,
  'app.update.disabledForTesting': true,
  'app.normandy.enabled': false,
  'extensions.update.enabled': false,
  'extensions.systemAddon.update.enabled': false,
  'extensions.blocklist.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
  'captivedetect.canonicalURL': '',
  'browser.safebrowsing.malware.enabled': false,
  'browser.safebrowsing.phishing.enabled': false,
  'browser.safebrowsing.downloads.enabled': false,
  'browser.safebrowsing.downloads.remote.enabled': false,
  'browser.safebrowsing.blockedURIs.enabled': false,
  'browser.safebrowsing.provider.mozilla.updateURL': '',
  'browser.safebrowsing.provider.google4.updateURL': '',
  // Honoured by a release build only under MOZ_DISABLE_NONLOCAL_CONNECTIONS (see launchFirefox).
  'services.settings.server': 'data:,#remote-settings-dummy/v1',
  'browser.region.network.url': '',
  'browser.region.update.enabled': false,
  'browser.search.update': false,
  'media.gmp-manager.url': '',
  'media.gmp-manager.updateEnabled': false,
  'dom.push.enabled': false,
  'dom.push.connection.enabled': false,
  'network.trr.mode': 5,
  'network.dns.disablePrefetch': true,
  'network.prefetch-next': false,
  'network.http.speculative-parallel-limit': 0,
  'browser.newtabpage.enabled': false,
  'network.proxy.type': 1,
  'network.proxy.http': '127.0.0.1',
  'network.proxy.http_port': 9,
  'network.proxy.ssl': '127.0.0.1',
  'network.proxy.ssl_port': 9,
  'network.proxy.socks': '127.0.0.1',
  'network.proxy.socks_port': 9,
  'network.proxy.socks_remote_dns': true,
  'network.proxy.allow_hijacking_localhost': false,
  // The suites paste with navigator.clipboard as Chromium's clipboard permissions allow.
  'dom.events.testing.asyncClipboard': true,
};

/** Launches headless Firefox ESR on a fresh profile; `close()` also removes the profile. */
export async function launchFirefox() {
  const profile = mkdtempSync(path.join(tmpdir(), 'cobrowse-firefox-'));
  const browser = await puppeteer.launch({
    browser: 'firefox',
    protocol: 'webDriverBiDi',
    executablePath: FIREFOX,
    headless: true,
    userDataDir: profile,
    extraPrefsFirefox: PREFS,
    // Firefox's own switch for test runs: no connection to an address that is not local (and a
    // release build then takes the remote-settings server from the profile).
    env: { ...process.env, MOZ_DISABLE_NONLOCAL_CONNECTIONS: '1' },
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Playwright's key names (`ControlOrMeta+V`) as puppeteer's, one list per chord. */
const chord = (key) =>
  (key.length > 1 && key.includes('+') ? key.split('+') : [key]).map((k) =>
    k === 'ControlOrMeta' ? 'Control' : k,
  );

/**
 * In the page: the elements a chain of `{sel, text}` steps finds, each step within the
 * previous one's elements, searching their open shadow roots too (Playwright's CSS locators
 * pierce them); `text` ({source, flags}, or a substring, case-insensitive) filters on the
 * whitespace-normalized text, as Playwright's `hasText`.
 */
function deepFind(steps) {
  let scopes = [document];
  for (const { sel, text } of steps) {
    const out = new Set();
    const walk = (root) => {
      for (const el of root.querySelectorAll(sel)) out.add(el);
      if (root.shadowRoot) walk(root.shadowRoot);
      for (const el of root.querySelectorAll('*')) if (el.shadowRoot) walk(el.shadowRoot);
    };
    scopes.forEach(walk);
    const re = text && typeof text === 'object' ? new RegExp(text.source, text.flags) : null;
    const has = (el) => {
      const t = el.textContent.replace(/\s+/g, ' ').trim();
      return re ? re.test(t) : t.toLowerCase().includes(text.toLowerCase());
    };
    scopes = [...out].filter((el) => !text || has(el));
  }
  return scopes;
}

/** A locator's `hasText` as it can cross into the page. */
const textArg = (t) => (t instanceof RegExp ? { source: t.source, flags: t.flags } : (t ?? null));

/** Playwright's `Locator`, the part the suites use, over deepFind (`steps`: the chain so far). */
function locator(page, steps) {
  const found = `(${deepFind})(${JSON.stringify(steps)})`;
  const what = steps
    .map((s) => s.sel + (s.text ? ` (${JSON.stringify(s.text)})` : ''))
    .join(' >> ');
  /** The first match, waited for as Playwright's actions do (visible, or only there, 5 s). */
  const first = async (timeout = 5000, visible = true) => {
    const end = Date.now() + timeout;
    for (;;) {
      const h = await page
        .evaluateHandle(`(() => {
        const el = ${found}[0];
        return el && (${!visible} || el.checkVisibility({ visibilityProperty: true })) ? el : null;
      })()`)
        .catch(() => null);
      const el = h && h.asElement();
      if (el) return el;
      if (Date.now() > end)
        throw new Error(`locator ${what}: no ${visible ? 'visible ' : ''}match in ${timeout} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return {
    waitFor: async (o = {}) => {
      await first(o.timeout);
    },
    click: async () => (await first()).click(),
    focus: async () => (await first()).focus(),
    textContent: async () => (await first(5000, false)).evaluate((e) => e.textContent),
    getAttribute: async (name) =>
      (await first(5000, false)).evaluate((e, n) => e.getAttribute(n), name),
    isVisible: async () => !!(await first(0).catch(() => null)),
    boundingBox: async () => (await first()).boundingBox(),
    count: () => page.evaluate(`${found}.length`),
    allTextContents: () => page.evaluate(`${found}.map((e) => e.textContent)`),
    filter: (f) =>
      locator(page, [
        ...steps.slice(0, -1),
        { ...steps[steps.length - 1], text: textArg(f.hasText) },
      ]),
    locator: (sel, o = {}) => locator(page, [...steps, { sel, text: textArg(o.hasText) }]),
  };
}

/**
 * Records the page's WebSocket frames as it hands them to the socket, in the shape of CDP's
 * (`{opcode, payloadData}`, binary ones base64): BiDi has no WebSocket frame events.
 */
async function tapSocket(page) {
  const frames = [],
    received = [];
  await page.exposeFunction('__cobrowseTap', (dir, opcode, payloadData) => {
    if (dir === 'out') frames.push({ opcode, payloadData });
    else if (opcode === 1) received.push(payloadData);
  });
  await page.evaluateOnNewDocument(() => {
    const tap = window.__cobrowseTap;
    const b64 = (d) => {
      const u =
        d instanceof ArrayBuffer
          ? new Uint8Array(d)
          : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
      let s = '';
      for (let i = 0; i < u.length; i += 0x8000)
        s += String.fromCharCode(...u.subarray(i, i + 0x8000));
      return btoa(s);
    };
    const send = WebSocket.prototype.send;
    WebSocket.prototype.send = function (d) {
      if (typeof d === 'string') tap('out', 1, d);
      else tap('out', 2, b64(d));
      if (!this.__tapped) {
        this.__tapped = true;
        this.addEventListener('message', (e) => typeof e.data === 'string' && tap('in', 1, e.data));
      }
      return send.call(this, d);
    };
  });
  return { frames, received };
}

/**
 * A puppeteer (BiDi) page dressed as the Playwright Page the suites use on customer pages,
 * in `ctx` (firefoxContext's), at `viewport` ({width, height}) and device scale 1.
 */
export async function firefoxPage(ctx, viewport) {
  const page = await ctx.browserContext.newPage();
  await page.setViewport({ ...viewport, deviceScaleFactor: 1 });
  const kb = page.keyboard;
  const p = {
    goto: (url) => page.goto(url),
    reload: () => page.reload(),
    url: () => page.url(),
    /** As Playwright's: `want` a URL, RegExp or predicate of the URL; then the page's load. */
    async waitForURL(want, { timeout = 10000 } = {}) {
      const end = Date.now() + timeout;
      const ok = (u) =>
        typeof want === 'string'
          ? u === want
          : want instanceof RegExp
            ? want.test(u)
            : want(new URL(u));
      while (!ok(page.url())) {
        if (Date.now() > end)
          throw new Error(`timed out waiting for the URL ${want}: ${page.url()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await page
        .waitForFunction(() => document.readyState === 'complete', { timeout })
        .catch(() => {});
    },
    setViewportSize: (size) => page.setViewport({ ...size, deviceScaleFactor: 1 }),
    /** As Playwright's: a node comes back as a truthy stand-in (puppeteer's would be undefined). */
    async evaluate(fn, arg) {
      const h = await page.evaluateHandle(fn, arg);
      try {
        return h.asElement() ? 'ref: <Node>' : await h.jsonValue();
      } finally {
        h.dispose().catch(() => {});
      }
    },
    click: (sel) => locator(page, [{ sel }]).click(),
    focus: (sel) => locator(page, [{ sel }]).focus(),
    hover: async (sel) => (await page.waitForSelector(sel)).hover(),
    async type(sel, text, o) {
      await page.focus(sel);
      await p.keyboard.type(text, o);
    },
    inputValue: (sel) => page.$eval(sel, (e) => e.value),
    locator: (sel, o = {}) => locator(page, [{ sel, text: textArg(o.hasText) }]),
    keyboard: {
      type: (text, o) => kb.type(text, o),
      down: (key) => kb.down(chord(key)[0]),
      up: (key) => kb.up(chord(key)[0]),
      async press(key) {
        const keys = chord(key);
        for (const k of keys.slice(0, -1)) await kb.down(k);
        await kb.press(keys[keys.length - 1]);
        for (const k of keys.slice(0, -1).reverse()) await kb.up(k);
      },
    },
    mouse: {
      move: (x, y, o) => page.mouse.move(x, y, o),
      down: (o = {}) => page.mouse.down(o),
      up: (o = {}) => page.mouse.up(o),
      click: (x, y, o = {}) =>
        page.mouse.click(x, y, { button: o.button || 'left', count: o.clickCount || 1 }),
      dblclick: (x, y) => page.mouse.click(x, y, { count: 2 }),
      wheel: (deltaX, deltaY) => page.mouse.wheel({ deltaX, deltaY }),
    },
    /**
     * Playwright's `screenshot` options as the comparisons use them: `style` applied for the
     * shot (in an element of the co-browse UI's kind, which is never mirrored), the caret
     * hidden, and animations as `animations: 'disabled'` has them: finite ones finished,
     * infinite ones at their start for the shot.
     */
    async screenshot({ style = '' } = {}) {
      await page.evaluate((css) => {
        const s = document.createElement('style');
        s.setAttribute('data-cobrowse-ui', '');
        s.id = '__shot';
        s.textContent = '*{caret-color:transparent!important}' + css;
        document.documentElement.append(s);
        window.__shotPaused = [];
        for (const a of document.getAnimations()) {
          if (a.effect.getComputedTiming().endTime === Infinity) {
            a.cancel();
            window.__shotPaused.push(a);
          } else a.finish();
        }
      }, style);
      try {
        return Buffer.from(await page.screenshot({ type: 'png' }));
      } finally {
        await page.evaluate(() => {
          document.getElementById('__shot')?.remove();
          for (const a of window.__shotPaused || []) a.play();
        });
      }
    },
    bringToFront: () => page.bringToFront(),
    close: () => page.close(),
    context: () => ({
      close: () => ctx.close(),
      newPage: () => ctx.newPage(),
    }),
    socketFrames: () => tapSocket(page),
    on: (ev, f) => page.on(ev, f),
  };
  return p;
}

/** A fresh Firefox browser context, like Playwright's: `newPage()` yields adapted pages. */
export async function firefoxContext(browser, viewport) {
  const browserContext = await browser.createBrowserContext();
  const ctx = {
    browserContext,
    newPage: () => firefoxPage(ctx, viewport),
    close: () => browserContext.close().catch(() => {}),
  };
  return ctx;
}
