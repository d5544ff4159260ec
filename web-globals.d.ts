// What the served scripts add to the browser's globals, for `tsc` (tsconfig.json); never served.

interface Window {
  /** The page API (web/customer/main.js), or the loader's queue of calls until it has loaded. */
  Cobrowse: any;
}

interface Function {
  /** On `Element.prototype.attachShadow` as patched: the closed shadow roots it has made. */
  cb?: WeakMap<Element, ShadowRoot>;
}
