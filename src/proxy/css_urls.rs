//! Every URL a piece of CSS can make the browser fetch, found as the browser's own tokenizer
//! (CSS Syntax 3) finds it, and replaced: the server's side of web/agent/css-urls.js, for the
//! stylesheets the proxy serves. A search for `url(` misses what the browser does not:
//! `\75 rl(…)` and `u\rl(…)` are url() tokens too, and image-set() and @import take plain
//! strings. The two implementations run the same test vectors
//! (tests/fixtures/css-urls.json), so that they find the same URLs.
//!
//! Positions are byte offsets: every character the tokenizer looks at is ASCII, and every
//! byte of a non-ASCII character is a name character, so a run of them is never split.

/// A URL as a CSS string: quotes, backslashes and newlines escaped.
pub fn css_string(u: &str) -> String {
    let mut out = String::with_capacity(u.len() + 2);
    out.push('"');
    for c in u.chars() {
        if matches!(c, '"' | '\\' | '\n' | '\r' | '\x0c') {
            out.push_str(&format!("\\{:x} ", c as u32));
        } else {
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// `css` with each URL the browser could fetch replaced by `f(url, is_import)` (`url` decoded
/// and trimmed; `is_import` when it names a sheet to import), written back as `url("…")` or,
/// for a bare string, `"…"`; a URL that `f` leaves as it is keeps its own spelling.
/// `@namespace` URLs are names, not fetches, and are left alone. Custom properties may carry
/// a string into image-set() through var(): their strings that look like URLs (a scheme, or
/// `//`) are rewritten too.
pub fn rewrite_css_urls(css: &str, mut f: impl FnMut(&str, bool) -> String) -> String {
    let s = css.as_bytes();
    let n = s.len();
    let mut out = String::new();
    let mut from = 0;
    let put = |out: &mut String, from: &mut usize, a: usize, b: usize, text: &str| {
        out.push_str(&css[*from..a]);
        out.push_str(text);
        *from = b.min(n);
    };
    let mut i = 0;
    // Per open parenthesis: whether strings directly in it are URLs.
    let mut parens: Vec<bool> = Vec::new();
    // In an @import prelude (strings are URLs) or an @namespace one (nothing is).
    let mut at_rule = String::new();
    // Brace depth of the custom property being read (its value ends at `;` or a `}` at it), or -1.
    let mut custom: i64 = -1;
    let mut braces: i64 = 0;
    while i < n {
        let skipped = skip(s, i);
        if skipped > i {
            i = skipped;
            continue;
        }
        let c = s[i];
        match c {
            b'/' => {
                if s.get(i + 1) != Some(&b'*') {
                    i += 1;
                    continue;
                }
                i = css[i + 2..].find("*/").map_or(n, |end| i + 2 + end + 2);
            }
            b'"' | b'\'' => {
                let (v, j) = string(css, i);
                let in_url_function = parens.last() == Some(&true);
                let is_url =
                    at_rule == "import" || in_url_function || (custom >= 0 && looks_like_url(&v));
                if is_url && at_rule != "namespace" {
                    let u = f(trim(&v), at_rule == "import");
                    if u != trim(&v) {
                        put(&mut out, &mut from, i, j, &css_string(&u));
                    }
                }
                i = j;
            }
            b'(' => {
                parens.push(false);
                i += 1;
            }
            b')' => {
                parens.pop();
                i += 1;
            }
            b';' | b'{' | b'}' => {
                if c == b'{' {
                    braces += 1;
                }
                if c == b'}' {
                    braces -= 1;
                }
                if (c == b';' && braces <= custom) || braces < custom {
                    custom = -1;
                }
                at_rule.clear();
                parens.clear();
                i += 1;
            }
            b'@' => {
                let (v, j) = name(css, i + 1);
                at_rule = v.to_lowercase();
                i = j.max(i + 1);
            }
            _ => {
                let (v, j) = name(css, i);
                if j == i {
                    // a lone backslash
                    i += 1;
                    continue;
                }
                if s.get(j) != Some(&b'(') {
                    if v.starts_with("--") && colon_follows(&css[j..]) {
                        custom = braces;
                    }
                    i = j;
                    continue;
                }
                if v.to_lowercase() != "url" {
                    parens.push(is_url_function(&v));
                    i = j + 1;
                    continue;
                }
                // url( … ): a quoted argument, or the browser's unquoted url token up to `)`.
                let mut k = j + 1;
                while k < n && is_space(s[k]) {
                    k += 1;
                }
                let mut u = String::new();
                if k < n && (s[k] == b'"' || s[k] == b'\'') {
                    let (v, end) = string(css, k);
                    u = v;
                    k = end;
                    while k < n && s[k] != b')' {
                        k += 1; // modifiers, if any, are dropped
                    }
                } else {
                    while k < n && s[k] != b')' {
                        if s[k] == b'\\'
                            && let Some((ch, end)) = escape(css, k)
                        {
                            u.push(ch);
                            k = end;
                            continue;
                        }
                        let ch = char_at(css, k);
                        u.push(ch);
                        k += ch.len_utf8();
                    }
                }
                if at_rule != "namespace" {
                    let r = f(trim(&u), at_rule == "import");
                    if r != trim(&u) {
                        put(
                            &mut out,
                            &mut from,
                            i,
                            k + 1,
                            &format!("url({})", css_string(&r)),
                        );
                    }
                }
                i = k + 1;
            }
        }
    }
    if from == 0 {
        return css.to_string();
    }
    out.push_str(&css[from..]);
    out
}

/// Functions whose string arguments are URLs (their url() arguments are url tokens anyway).
fn is_url_function(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let bare = name.strip_prefix("-webkit-").unwrap_or(&name);
    matches!(bare, "image-set" | "image" | "cross-fade") || name == "src"
}

/// Whether a custom property's string looks like a URL: a scheme, or `//`.
fn looks_like_url(v: &str) -> bool {
    let v = v.trim_start_matches(is_js_space);
    if v.starts_with("//") {
        return true;
    }
    let mut chars = v.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')))
            .is_some_and(|c| c == ':')
}

/// Whether `:` comes next, after white space, within the next 20 characters.
fn colon_follows(rest: &str) -> bool {
    rest.chars()
        .take(20)
        .find(|c| !is_js_space(*c))
        .is_some_and(|c| c == ':')
}

/// White space as JavaScript's `trim` and `\s` take it.
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

fn trim(v: &str) -> &str {
    v.trim_matches(is_js_space)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// A name character (an escape's backslash aside): ASCII letters, digits, `_`, `-`, or any
/// byte of a non-ASCII character.
fn is_name(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b >= 0x80
}

fn char_at(s: &str, i: usize) -> char {
    s[i..]
        .chars()
        .next()
        .expect("a character at a character boundary")
}

/// Past the runs that hold nothing we look for: characters that start no token we care about,
/// and names neither followed by `(` or an escape nor starting with `--` (a custom property,
/// whose strings we look at).
fn skip(s: &[u8], mut i: usize) -> usize {
    let n = s.len();
    loop {
        let start = i;
        while i < n
            && (s[i].is_ascii_digit() || !is_name(s[i]))
            && !matches!(
                s[i],
                b'\\' | b'"' | b'\'' | b'/' | b'(' | b')' | b'{' | b'}' | b';' | b'@'
            )
        {
            i += 1;
        }
        if i > start {
            continue;
        }
        if s[i..].starts_with(b"--") {
            return i;
        }
        let mut j = i;
        while j < n && is_name(s[j]) {
            j += 1;
        }
        let stops = j < n && (s[j] == b'\\' || s[j] == b'(');
        if j == i || stops {
            return i;
        }
        i = j;
    }
}

/// An escape at `i` (`s[i]` is a backslash): its character and where it ends; None when the
/// backslash escapes nothing (before a newline, or at the end).
fn escape(s: &str, i: usize) -> Option<(char, usize)> {
    let b = s.as_bytes();
    let mut j = i + 1;
    if j >= b.len() || matches!(b[j], b'\n' | b'\r' | b'\x0c') {
        return None;
    }
    if !b[j].is_ascii_hexdigit() {
        let c = char_at(s, j);
        return Some((c, j + c.len_utf8()));
    }
    let start = j;
    while j < b.len() && j - start < 6 && b[j].is_ascii_hexdigit() {
        j += 1;
    }
    let code = u32::from_str_radix(&s[start..j], 16).expect("hex digits");
    if b.get(j) == Some(&b'\r') && b.get(j + 1) == Some(&b'\n') {
        j += 2;
    } else if j < b.len() && is_space(b[j]) {
        j += 1;
    }
    let c = char::from_u32(code)
        .filter(|_| code != 0)
        .unwrap_or('\u{fffd}');
    Some((c, j))
}

/// A name (ident, at-keyword or function name) from `i`: its decoded value and its end.
fn name(s: &str, i: usize) -> (String, usize) {
    let b = s.as_bytes();
    let mut v = String::new();
    let mut j = i;
    while j < b.len() && (is_name(b[j]) || b[j] == b'\\') {
        if b[j] != b'\\' {
            let c = char_at(s, j);
            v.push(c);
            j += c.len_utf8();
            continue;
        }
        let Some((c, end)) = escape(s, j) else { break };
        v.push(c);
        j = end;
    }
    (v, j)
}

/// A string from its opening quote at `i`: its decoded value and its end (after the closing
/// quote, or at an unescaped newline, where the browser ends it too).
fn string(s: &str, i: usize) -> (String, usize) {
    let b = s.as_bytes();
    let q = b[i];
    let mut v = String::new();
    let mut j = i + 1;
    while j < b.len() && b[j] != q {
        if matches!(b[j], b'\n' | b'\r' | b'\x0c') {
            return (v, j);
        }
        if b[j] != b'\\' {
            let c = char_at(s, j);
            v.push(c);
            j += c.len_utf8();
            continue;
        }
        match b.get(j + 1) {
            Some(b'\n' | b'\x0c') => {
                j += 2;
                continue;
            }
            Some(b'\r') => {
                j += if b.get(j + 2) == Some(&b'\n') { 3 } else { 2 };
                continue;
            }
            _ => {}
        }
        match escape(s, j) {
            Some((c, end)) => {
                v.push(c);
                j = end;
            }
            None => j += 1,
        }
    }
    (v, j + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors web/agent/css-urls.js runs too (tests/browser/attacks-hostile.test.mjs).
    #[derive(serde::Deserialize)]
    struct Vectors {
        cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    struct Case {
        css: String,
        /// What the browser fetches from it: `[url, is_import]`, in order.
        urls: Vec<(String, bool)>,
        /// `css` with each URL replaced by the vectors' mapping (`mapped`).
        out: String,
    }

    /// The vectors' mapping: fragments as they are, the rest marked as a URL or an import.
    fn mapped(u: &str, is_import: bool) -> String {
        match () {
            _ if u.starts_with('#') => u.to_string(),
            _ if is_import => format!("import:{u}"),
            _ => format!("url:{u}"),
        }
    }

    #[test]
    fn finds_and_rewrites_as_the_agent_does() {
        let vectors: Vectors =
            serde_json::from_str(include_str!("../../tests/fixtures/css-urls.json"))
                .expect("tests/fixtures/css-urls.json");
        assert!(!vectors.cases.is_empty());
        for case in vectors.cases {
            let mut found = Vec::new();
            let out = rewrite_css_urls(&case.css, |u, is_import| {
                found.push((u.to_string(), is_import));
                mapped(u, is_import)
            });
            assert_eq!(found, case.urls, "{}", case.css);
            assert_eq!(out, case.out, "{}", case.css);
        }
    }
}
