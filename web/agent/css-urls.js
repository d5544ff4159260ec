// Every URL a piece of CSS can make the browser fetch, found as the browser's own tokenizer
// (CSS Syntax 3) finds it, and replaced. A regular expression for `url(` misses what the
// browser does not: `\75 rl(…)` and `u\rl(…)` are url() tokens too, and image-set(),
// -webkit-image-set() and @import take plain strings. The agent's rebuild (mirror.js) sends
// what it finds through the proxy, or drops it, whoever wrote the CSS: the customer's capture
// only makes URLs absolute as the CSSOM writes them, and a hostile page writes what it likes.
// The server rewrites the stylesheets it proxies by the same rules (src/proxy/css_urls.rs):
// both run the vectors of tests/fixtures/css-urls.json.
//
// Comments, strings elsewhere and everything else are copied as they are; escapes are decoded
// only to recognise names, never rewritten (`.\31 23` stays a class named "123").

/** Functions whose string arguments are URLs (their url() arguments are url tokens anyway). */
const URL_FUNCTIONS = /^(-webkit-)?(image-set|image|cross-fade)$|^src$/i;
/** A name character, or the start of an escape (checked further in `name`). */
const NAME = /[a-zA-Z0-9_\-\u0080-\uffff\\]/;
const SPACE = /[ \t\n\r\f]/;
/**
 * Runs that hold nothing we look for, skipped in one go: characters that start no token we
 * care about, and names neither followed by `(` or an escape nor starting with `--` (a custom
 * property, whose strings we look at).
 */
const SKIP =
  /(?:[^a-zA-Z_\-\u0080-\uffff\\"'/(){};@]+|(?!--)[a-zA-Z0-9_\-\u0080-\uffff]+(?![\\(a-zA-Z0-9_\-\u0080-\uffff]))+/y;

/**
 * An escape at `i` (`s[i]` is a backslash): its character and where it ends; null when the
 * backslash escapes nothing (before a newline, or at the end).
 * @param {string} s
 * @param {number} i
 * @returns {[string, number] | null}
 */
function readEscape(s, i) {
  let j = i + 1;
  if (j >= s.length || /[\n\r\f]/.test(s[j])) return null;
  if (!/[0-9a-fA-F]/.test(s[j])) {
    const c = s.codePointAt(j);
    return [String.fromCodePoint(c), j + (c > 0xffff ? 2 : 1)];
  }
  let hex = '';
  while (j < s.length && hex.length < 6 && /[0-9a-fA-F]/.test(s[j])) hex += s[j++];
  if (s[j] === '\r' && s[j + 1] === '\n') j += 2;
  else if (j < s.length && SPACE.test(s[j])) j++;
  const c = parseInt(hex, 16);
  const bad = c === 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff);
  return [bad ? '\ufffd' : String.fromCodePoint(c), j];
}

/**
 * A name (ident, at-keyword or function name) from `i`: its decoded value and its end.
 * @returns {[string, number]}
 */
function name(s, i) {
  let v = '';
  let j = i;
  while (j < s.length && NAME.test(s[j])) {
    if (s[j] !== '\\') {
      v += s[j++];
      continue;
    }
    const e = readEscape(s, j);
    if (!e) break;
    v += e[0];
    j = e[1];
  }
  return [v, j];
}

/**
 * A string from its opening quote at `i`: its decoded value and its end (after the closing
 * quote, or at an unescaped newline, where the browser ends it too).
 * @returns {[string, number]}
 */
function string(s, i) {
  const q = s[i];
  let v = '';
  let j = i + 1;
  while (j < s.length && s[j] !== q) {
    if (s[j] === '\n' || s[j] === '\r' || s[j] === '\f') return [v, j];
    if (s[j] !== '\\') {
      v += s[j++];
      continue;
    }
    if (s[j + 1] === '\n' || s[j + 1] === '\f') {
      j += 2;
      continue;
    }
    if (s[j + 1] === '\r') {
      j += s[j + 2] === '\n' ? 3 : 2;
      continue;
    }
    const e = readEscape(s, j);
    if (!e) {
      j++;
      continue;
    }
    v += e[0];
    j = e[1];
  }
  return [v, j + 1];
}

/** A URL as a CSS string: quotes, backslashes and newlines escaped. */
export const cssString = (u) =>
  '"' + u.replace(/["\\\n\r\f]/g, (c) => '\\' + c.charCodeAt(0).toString(16) + ' ') + '"';

/**
 * `css` with each URL the browser could fetch replaced by `fn(url, isImport)` (`url` decoded,
 * trimmed; `isImport` when it names a sheet to import),
 * written back as `url("…")` or, for a bare string, `"…"`; a URL that `fn` leaves as it is keeps
 * its own spelling. `@namespace` URLs are names, not
 * fetches, and are left alone. Custom properties may carry a string into image-set() through
 * var(): their strings that look like URLs (a scheme, or `//`) are rewritten too.
 * @param {string} css
 * @param {(url: string, isImport: boolean) => string} fn
 * @returns {string}
 */
export function rewriteCssUrls(css, fn) {
  const s = String(css);
  /** The text rewritten so far, up to `from`; the rest is copied at the end. */
  let out = '';
  let from = 0;
  const put = (a, b, text) => {
    out += s.slice(from, a) + text;
    from = b;
  };
  let i = 0;
  /** Per open parenthesis: whether strings directly in it are URLs. */
  const parens = [];
  /** In an `@import` prelude (strings are URLs) or an `@namespace` one (nothing is). */
  let atRule = '';
  /** Brace depth of the custom property being read (its value ends at `;` or a `}` at it), or -1. */
  let custom = -1;
  let braces = 0;
  while (i < s.length) {
    SKIP.lastIndex = i;
    if (SKIP.test(s)) {
      i = SKIP.lastIndex;
      continue;
    }
    const c = s[i];
    if (c === '/') {
      if (s[i + 1] !== '*') {
        i++;
        continue;
      }
      const end = s.indexOf('*/', i + 2);
      i = end < 0 ? s.length : end + 2;
    } else if (c === '"' || c === "'") {
      const [v, j] = string(s, i);
      const isUrl =
        atRule === 'import' ||
        (parens.length && parens[parens.length - 1]) ||
        (custom >= 0 && /^\s*([a-z][a-z0-9+.-]*:|\/\/)/i.test(v));
      const u = isUrl && atRule !== 'namespace' ? fn(v.trim(), atRule === 'import') : null;
      if (u !== null && u !== v.trim()) put(i, j, cssString(u));
      i = j;
    } else if (c === '(') {
      parens.push(false);
      i++;
    } else if (c === ')') {
      parens.pop();
      i++;
    } else if (c === ';' || c === '{' || c === '}') {
      if (c === '{') braces++;
      if (c === '}') braces--;
      if ((c === ';' && braces <= custom) || braces < custom) custom = -1;
      atRule = '';
      parens.length = 0;
      i++;
    } else if (c === '@') {
      const [v, j] = name(s, i + 1);
      atRule = v.toLowerCase();
      i = Math.max(j, i + 1);
    } else {
      const [v, j] = name(s, i);
      if (j === i) {
        // a lone backslash
        i++;
        continue;
      }
      if (s[j] !== '(') {
        if (v.startsWith('--') && /^\s*:/.test(s.slice(j, j + 20))) custom = braces;
        i = j;
        continue;
      }
      if (v.toLowerCase() !== 'url') {
        parens.push(URL_FUNCTIONS.test(v));
        i = j + 1;
        continue;
      }
      // url( … ): a quoted argument, or the browser's unquoted url token up to `)`.
      let k = j + 1;
      while (k < s.length && SPACE.test(s[k])) k++;
      let u = '';
      if (s[k] === '"' || s[k] === "'") {
        const r = string(s, k);
        u = r[0];
        k = r[1];
        while (k < s.length && s[k] !== ')') k++; // modifiers, if any, are dropped
      } else {
        while (k < s.length && s[k] !== ')') {
          if (s[k] === '\\') {
            const e = readEscape(s, k);
            if (e) {
              u += e[0];
              k = e[1];
              continue;
            }
          }
          u += s[k++];
        }
      }
      const r = atRule === 'namespace' ? null : fn(u.trim(), atRule === 'import');
      if (r !== null && r !== u.trim()) put(i, k + 1, 'url(' + cssString(r) + ')');
      i = k + 1;
    }
  }
  return from ? out + s.slice(from) : s;
}
