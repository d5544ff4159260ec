/* cobrowse: add <script src="https://YOUR-COBROWSE-SERVER/cobrowse.js"></script> to the site.
   This classic-script loader defines window.Cobrowse at once (calls are queued) and loads
   the ES modules from the same server in parallel. Options: data-cobrowse-launcher[="left"],
   data-cobrowse-chat="#selector", data-cobrowse-call="+1 555 0100", data-cobrowse-lang="fr",
   data-cobrowse-servers="https://node1.example https://node2.example" (no load balancer). */
(() => {
  if (window.Cobrowse) return;
  var s = /** @type {HTMLScriptElement} */ (
    document.currentScript || document.querySelector('script[src*="cobrowse.js"]')
  );
  var origin = new URL(s.src, location.href).origin,
    q = [];
  // Closed shadow roots are kept from now on, so that components built before the modules arrive
  // are mirrored too.
  var closed = new WeakMap(),
    att = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (o) {
    var r = att.call(this, o);
    closed.set(this, r);
    return r;
  };
  Element.prototype.attachShadow.cb = closed;
  // Elements scrolled from now on: a snapshot reads the scroll position of these only (reading
  // every element's is slow). Loaded after the page was parsed: any element may be scrolled (null).
  var scrolled = document.readyState === 'loading' ? new WeakSet() : null;
  if (scrolled)
    addEventListener(
      'scroll',
      (e) => {
        scrolled.add(e.target);
      },
      true,
    );
  var later =
    (name) =>
    (...a) =>
      new Promise((res, rej) => {
        q.push([name, a, res, rej]);
      });
  var stub = { session: null };
  'start stop configure endInteraction answerControl revokeControl showId off'
    .split(' ')
    .forEach((n) => {
      stub[n] = later(n);
    });
  stub.on = (e, f) => {
    var u;
    later('on')(e, f).then((x) => {
      u = x;
    });
    return () => {
      u && u();
    };
  };
  window.Cobrowse = stub;
  // The administrator's visual restrictions editor: #cobrowse-editor=<one-time token>, then kept
  // for this tab.
  var ed;
  try {
    ed = /[#&]cobrowse-editor=/.test(location.hash) || sessionStorage.getItem('cobrowse:editor');
  } catch {}
  var load = () => {
    if (ed)
      import(origin + '/customer/editor.js').then(
        (m) => {
          m.open(origin);
        },
        (e) => {
          console.error('cobrowse: could not load the editor', e);
        },
      );
    // the rest (capture, UI, replay) is loaded when a session needs it
    var files = ['core', 'mask', 'main'];
    Promise.all(files.map((f) => import(origin + '/customer/' + f + '.js'))).then(
      (m) => {
        m[m.length - 1].init(origin, q, s, scrolled);
      },
      (e) => {
        console.error('cobrowse: could not load', e);
        q.forEach((c) => {
          c[3](e);
        });
      },
    );
  };
  // In Firefox and Safari the first module load ends the page's import maps (a later <script
  // type="importmap"> is ignored, and the site's own modules fail): the page is parsed first.
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', load);
  else load();
})();
