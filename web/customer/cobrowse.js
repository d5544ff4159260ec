/* cobrowse: add <script src="https://YOUR-COBROWSE-SERVER/cobrowse.js"></script> to the site.
   This classic-script loader defines window.Cobrowse at once (calls are queued) and loads
   the ES modules from the same server in parallel. */
(function () {
  if (window.Cobrowse) return;
  var s = document.currentScript || document.querySelector('script[src*="cobrowse.js"]');
  var origin = new URL(s.src, location.href).origin, q = [];
  // Closed shadow roots are kept from now on, so that components built before the modules arrive are mirrored too.
  var closed = new WeakMap(), att = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (o) { var r = att.call(this, o); closed.set(this, r); return r; };
  Element.prototype.attachShadow.cb = closed;
  var later = function (name) {
    return function () { var a = arguments; return new Promise(function (res, rej) { q.push([name, a, res, rej]); }); };
  };
  window.Cobrowse = {
    start: later('start'), stop: later('stop'),
    on: function (e, f) { var u; later('on')(e, f).then(function (x) { u = x; }); return function () { u && u(); }; }
  };
  var files = ['core', 'mask', 'styles', 'serialize', 'events', 'mutations', 'main'];
  Promise.all(files.map(function (f) { return import(origin + '/customer/' + f + '.js'); })).then(
    function (m) { m[m.length - 1].init(origin, q); },
    function (e) { console.error('cobrowse: could not load', e); q.forEach(function (c) { c[3](e); }); });
})();
