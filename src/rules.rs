//! DOM restriction rule sets, checked before they are stored (pure code, no I/O).
//!
//! A rule set reaches every customer page its URL pattern matches, and the
//! customer script hands each selector to the browser's own parser. A selector
//! the browser rejects is skipped there (one bad rule must not break capture),
//! which would silently leave a field unmasked: so the server refuses it when
//! an administrator saves it, saying which selector and why.
//!
//! The checker follows the CSS Selectors grammar the browsers implement (type,
//! `#id`, `.class`, `[attr op "value" i]`, pseudo-classes with their arguments,
//! the four combinators, selector lists) and refuses, on top of what a browser
//! would refuse:
//! - characters that have no business in a selector and only serve injection
//!   into a style sheet or markup: `{`, `}`, `;`, `<`, comments;
//! - pseudo-elements (`::before`): they select no element;
//! - user-action pseudo-classes (`:hover`, `:focus`…): a restriction must not
//!   come and go with the pointer.

use serde::Serialize;

use crate::domain::rule_set::Rules;

pub const MAX_SELECTOR_LEN: usize = 512;
pub const MAX_SELECTORS_PER_LIST: usize = 200;
pub const MAX_PATTERN_LEN: usize = 2048;
pub const MAX_NAME_LEN: usize = 100;

/// Why a rule set was refused: the field (`name`, `url_pattern`, `mask[2]`…),
/// the value as given, and the reason in plain words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{field} {value:?}: {message}")]
pub struct RuleError {
    pub field: String,
    pub value: String,
    pub message: String,
}

/// A selector the checker refused, with the character position (0-based) where it went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorError {
    pub at: usize,
    pub why: String,
}

impl std::fmt::Display for SelectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at character {})", self.why, self.at + 1)
    }
}

/// Trims every selector and drops duplicates, keeping the order.
pub fn normalize(rules: &Rules) -> Rules {
    fn clean(list: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::with_capacity(list.len());
        for s in list.iter().map(|s| s.trim()) {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
        out
    }
    Rules {
        mask: clean(&rules.mask),
        disable: clean(&rules.disable),
        block: clean(&rules.block),
    }
}

/// Checks a whole rule set (after [`normalize`]); the first problem found is returned.
pub fn check_rule_set(name: &str, url_pattern: &str, rules: &Rules) -> Result<(), RuleError> {
    check_name(name).map_err(|message| RuleError {
        field: "name".into(),
        value: name.into(),
        message,
    })?;
    check_url_pattern(url_pattern).map_err(|message| RuleError {
        field: "url_pattern".into(),
        value: url_pattern.into(),
        message,
    })?;
    check_rules(rules)
}

/// Checks the three selector lists.
pub fn check_rules(rules: &Rules) -> Result<(), RuleError> {
    for (list, selectors) in [
        ("mask", &rules.mask),
        ("disable", &rules.disable),
        ("block", &rules.block),
    ] {
        if selectors.len() > MAX_SELECTORS_PER_LIST {
            return Err(RuleError {
                field: list.into(),
                value: format!("{} selectors", selectors.len()),
                message: format!("at most {MAX_SELECTORS_PER_LIST} selectors per list"),
            });
        }
        for (i, s) in selectors.iter().enumerate() {
            check_selector(s).map_err(|e| RuleError {
                field: format!("{list}[{i}]"),
                value: s.clone(),
                message: e.to_string(),
            })?;
        }
    }
    Ok(())
}

pub fn check_name(name: &str) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a rule set needs a name".into());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(format!("a name has at most {MAX_NAME_LEN} characters"));
    }
    if name.chars().any(char::is_control) {
        return Err("a name cannot contain control characters".into());
    }
    Ok(())
}

/// A pattern is matched against the whole page address, `*` standing for anything.
pub fn check_url_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err(
            "a URL pattern is required (use * for every page of every allowed site)".into(),
        );
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "a URL pattern has at most {MAX_PATTERN_LEN} characters"
        ));
    }
    if let Some(c) = pattern
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{c:?} is not allowed in a URL pattern: page addresses contain no spaces or control characters (write a space as %20)"
        ));
    }
    let rest = if let Some(r) = pattern
        .strip_prefix("https://")
        .or_else(|| pattern.strip_prefix("http://"))
    {
        r
    } else if pattern.starts_with('*') {
        return Ok(());
    } else {
        return Err("a pattern is matched against the whole page address: start it with https://, http:// or *, \
                    e.g. https://shop.example/checkout*"
            .into());
    };
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..host_end];
    if host.is_empty() {
        return Err("the pattern has no host after the scheme, e.g. https://shop.example/*".into());
    }
    if !host.contains('*')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c))
    {
        return Err(format!(
            "{host:?} is not a host name (letters, digits, - and . with an optional :port)"
        ));
    }
    Ok(())
}

/// Checks one selector (which may be a comma-separated list, as CSS allows).
pub fn check_selector(selector: &str) -> Result<(), SelectorError> {
    let chars: Vec<char> = selector.chars().collect();
    if selector.trim().is_empty() {
        return Err(SelectorError {
            at: 0,
            why: "empty selector".into(),
        });
    }
    if chars.len() > MAX_SELECTOR_LEN {
        return Err(SelectorError {
            at: MAX_SELECTOR_LEN,
            why: format!("longer than {MAX_SELECTOR_LEN} characters"),
        });
    }
    for (at, &c) in chars.iter().enumerate() {
        let why = match c {
            '{' | '}' => "braces { } never appear in a selector (they would end a style rule)",
            ';' => "';' never appears in a selector (it would end a declaration)",
            '<' => "'<' is not allowed: a selector is CSS, not markup",
            '\t' => continue,
            c if c.is_control() => "control characters are not allowed",
            '/' if chars.get(at + 1) == Some(&'*') => {
                "comments (/* … */) are not allowed in a selector"
            }
            _ => continue,
        };
        return Err(SelectorError {
            at,
            why: why.into(),
        });
    }
    let mut p = Parser { c: chars, i: 0 };
    p.list(false, None)?;
    Ok(())
}

/// Pseudo-classes that take no argument and that the browsers know.
const PSEUDO_CLASSES: &[&str] = &[
    "root",
    "empty",
    "first-child",
    "last-child",
    "only-child",
    "first-of-type",
    "last-of-type",
    "only-of-type",
    "link",
    "any-link",
    "checked",
    "default",
    "disabled",
    "enabled",
    "required",
    "optional",
    "read-only",
    "read-write",
    "placeholder-shown",
    "indeterminate",
    "valid",
    "invalid",
    "in-range",
    "out-of-range",
    "user-valid",
    "user-invalid",
    "autofill",
    "defined",
    "scope",
    "modal",
    "fullscreen",
    "popover-open",
    "target",
];
/// Pseudo-classes that follow the user's pointer and keyboard from moment to moment.
const USER_ACTION: &[&str] = &[
    "hover",
    "active",
    "focus",
    "focus-visible",
    "focus-within",
    "visited",
];
/// CSS 2 pseudo-elements still written with one colon.
const LEGACY_PSEUDO_ELEMENTS: &[&str] = &["before", "after", "first-line", "first-letter"];
/// Functional pseudo-classes, written with parentheses.
const FUNCTIONAL: &[&str] = &[
    "not",
    "is",
    "where",
    "has",
    "nth-child",
    "nth-last-child",
    "nth-of-type",
    "nth-last-of-type",
    "lang",
    "dir",
];

struct Parser {
    c: Vec<char>,
    i: usize,
}

type R<T> = Result<T, SelectorError>;

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_name(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-'
}

fn is_combinator(c: char) -> bool {
    matches!(c, '>' | '+' | '~')
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }

    fn at(&self, k: usize) -> Option<char> {
        self.c.get(self.i + k).copied()
    }

    fn err<T>(&self, why: impl Into<String>) -> R<T> {
        Err(SelectorError {
            at: self.i.min(self.c.len().saturating_sub(1)),
            why: why.into(),
        })
    }

    fn err_at<T>(&self, at: usize, why: impl Into<String>) -> R<T> {
        Err(SelectorError {
            at,
            why: why.into(),
        })
    }

    fn ws(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r' | '\u{c}')) {
            self.i += 1;
        }
        self.i > start
    }

    /// A selector list; `inside` names the functional pseudo-class whose `)` ends it.
    fn list(&mut self, relative: bool, inside: Option<&str>) -> R<()> {
        loop {
            self.ws();
            match self.peek() {
                None if inside.is_none() && self.i > 0 => {
                    return self.err("a ',' must be followed by another selector");
                }
                None => {
                    return self.err(format!(
                        ":{}( is not closed: add ')'",
                        inside.unwrap_or_default()
                    ));
                }
                Some(',') => return self.err("empty selector before ','"),
                Some(')') if inside.is_some() => {
                    return self.err(format!(
                        ":{}() needs a selector inside",
                        inside.unwrap_or_default()
                    ));
                }
                _ => {}
            }
            self.complex(relative)?;
            self.ws();
            match (self.peek(), inside) {
                (Some(','), _) => {
                    self.i += 1;
                    self.ws();
                    if self.peek().is_none() && inside.is_none() {
                        return self.err("a ',' must be followed by another selector");
                    }
                }
                (None, None) => return Ok(()),
                (Some(')'), Some(_)) => return Ok(()),
                (None, Some(name)) => return self.err(format!(":{name}( is not closed: add ')'")),
                (Some(c), _) => return self.unexpected(c),
            }
        }
    }

    fn unexpected<T>(&self, c: char) -> R<T> {
        match c {
            ')' => self.err("unbalanced ')': no '(' opened it"),
            ']' => self.err("unbalanced ']': no '[' opened it"),
            '(' => self.err("'(' may only follow a pseudo-class such as :not or :nth-child"),
            '"' | '\'' => self
                .err("a quoted string is only allowed as an attribute value, e.g. [name=\"card\"]"),
            '!' | '@' | '$' | '%' | '&' | '=' | '?' | '`' | '^' | '|' | '/' => {
                self.err(format!("unexpected '{c}'"))
            }
            c => self.err(format!(
                "unexpected '{c}' (escape it with a backslash if it is part of a name)"
            )),
        }
    }

    fn complex(&mut self, relative: bool) -> R<()> {
        self.ws();
        if let Some(c) = self.peek().filter(|c| is_combinator(*c)) {
            if !relative {
                return self.err(format!(
                    "starts with the combinator '{c}': it needs a selector on its left"
                ));
            }
            self.i += 1;
            self.ws();
        }
        if !self.compound()? {
            return match self.peek() {
                Some(c) => self.unexpected(c),
                None => self.err("a selector is missing"),
            };
        }
        loop {
            let spaced = self.ws();
            match self.peek() {
                None | Some(',' | ')') => return Ok(()),
                Some(c) if is_combinator(c) => {
                    let at = self.i;
                    self.i += 1;
                    self.ws();
                    match self.peek() {
                        None | Some(',' | ')') => {
                            return self.err_at(
                                at,
                                format!(
                                    "dangling combinator '{c}': it needs a selector on its right"
                                ),
                            );
                        }
                        Some(d) if is_combinator(d) => {
                            return self
                                .err(format!("two combinators in a row ('{c}' then '{d}')"));
                        }
                        _ => {}
                    }
                    if !self.compound()? {
                        return self.unexpected(self.peek().unwrap_or(' '));
                    }
                }
                Some(_) if spaced => {
                    if !self.compound()? {
                        return self.unexpected(self.peek().unwrap_or(' '));
                    }
                }
                Some(c) => return self.unexpected(c),
            }
        }
    }

    /// Type or `*`, then any number of `#id`, `.class`, `[attr]`, `:pseudo`. False if nothing was there.
    fn compound(&mut self) -> R<bool> {
        let start = self.i;
        if self.peek() == Some('*') {
            self.i += 1;
        } else {
            self.ident();
        }
        if self.i > start && self.peek() == Some('|') && self.at(1) != Some('=') {
            if self.c[start] != '*' {
                return self.err_at(start, "namespace prefixes (ns|name) cannot be used: no @namespace is declared; use *|name");
            }
            self.i += 1;
            if self.peek() == Some('*') {
                self.i += 1;
            } else if !self.ident() {
                return self.err("'*|' must be followed by an element name or *");
            }
        }
        loop {
            match self.peek() {
                Some('#') => {
                    self.i += 1;
                    if !self.ident() {
                        return if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                            self.err("an id selector cannot start with a digit: write #\\31 23 for id \"123\", or [id=\"123\"]")
                        } else {
                            self.err("'#' must be followed by an id")
                        };
                    }
                }
                Some('.') => {
                    self.i += 1;
                    if !self.ident() {
                        return if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                            self.err("a class selector cannot start with a digit: write [class~=\"1col\"] instead")
                        } else {
                            self.err("'.' must be followed by a class name")
                        };
                    }
                }
                Some('[') => self.attribute()?,
                Some(':') => self.pseudo()?,
                _ => return Ok(self.i > start),
            }
        }
    }

    /// An identifier (with escapes); false, consuming nothing, if none is here.
    fn ident(&mut self) -> bool {
        let start = self.i;
        let ok_start = match (self.peek(), self.at(1), self.at(2)) {
            (Some('-'), Some('-'), _) => true,
            (Some('-'), Some(c), _) if is_name_start(c) => true,
            (Some('-'), Some('\\'), Some(n)) if n != '\n' => true,
            (Some('\\'), Some(n), _) if n != '\n' => true,
            (Some(c), _, _) => is_name_start(c),
            _ => false,
        };
        if !ok_start {
            return false;
        }
        while let Some(c) = self.peek() {
            if c == '\\' {
                match self.at(1) {
                    None | Some('\n') => break,
                    Some(h) if h.is_ascii_hexdigit() => {
                        self.i += 1;
                        let mut n = 0;
                        while n < 6 && self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                            self.i += 1;
                            n += 1;
                        }
                        if self.peek() == Some(' ') {
                            self.i += 1;
                        }
                    }
                    Some(_) => self.i += 2,
                }
            } else if is_name(c) {
                self.i += 1;
            } else {
                break;
            }
        }
        self.i > start
    }

    fn attribute(&mut self) -> R<()> {
        let open = self.i;
        self.i += 1;
        self.ws();
        if self.peek() == Some('*') && self.at(1) == Some('|') {
            self.i += 2;
        }
        if !self.ident() {
            return match self.peek() {
                None => self.err_at(open, "'[' is not closed: add ']'"),
                Some(']') => self.err("'[]' needs an attribute name, e.g. [name] or [data-secret]"),
                _ => self.err("'[' must be followed by an attribute name"),
            };
        }
        if self.peek() == Some('|') && self.at(1) != Some('=') {
            return self.err("namespace prefixes ([ns|name]) cannot be used: no @namespace is declared; use [*|name]");
        }
        self.ws();
        match (self.peek(), self.at(1)) {
            (Some(']'), _) => {
                self.i += 1;
                return Ok(());
            }
            (Some('='), _) => self.i += 1,
            (Some('~' | '|' | '^' | '$' | '*'), Some('=')) => self.i += 2,
            (None, _) => return self.err_at(open, "'[' is not closed: add ']'"),
            _ => {
                return self.err(
                    "expected ']' or an operator (=, ~=, |=, ^=, $=, *=) after the attribute name",
                );
            }
        }
        self.ws();
        match self.peek() {
            Some('"' | '\'') => self.string()?,
            None => return self.err_at(open, "'[' is not closed: the value and ']' are missing"),
            Some(c)
                if c.is_ascii_digit()
                    || (c == '-' && self.at(1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                return self.err("an attribute value that starts with a digit must be quoted, e.g. [data-id=\"1\"]");
            }
            _ => {
                if !self.ident() {
                    return self.err("the attribute value must be a name or a quoted string, e.g. [type=\"text\"]");
                }
            }
        }
        let spaced = self.ws();
        if spaced
            && matches!(self.peek(), Some('i' | 'I' | 's' | 'S'))
            && matches!(self.at(1), Some(']' | ' ' | '\t'))
        {
            self.i += 1;
            self.ws();
        }
        match self.peek() {
            Some(']') => {
                self.i += 1;
                Ok(())
            }
            None => self.err_at(open, "'[' is not closed: add ']'"),
            Some(_) => self
                .err("expected ']' after the attribute value (quote a value that contains spaces)"),
        }
    }

    fn string(&mut self) -> R<()> {
        let open = self.i;
        let q = self.c[self.i];
        self.i += 1;
        loop {
            match self.peek() {
                None => return self.err_at(open, format!("the quote {q} is not closed")),
                Some('\n') => return self.err("a quoted string cannot span lines"),
                Some('\\') => self.i += 2,
                Some(c) if c == q => {
                    self.i += 1;
                    return Ok(());
                }
                Some(_) => self.i += 1,
            }
        }
    }

    fn pseudo(&mut self) -> R<()> {
        let colon = self.i;
        self.i += 1;
        if self.peek() == Some(':') {
            self.i += 1;
            let start = self.i;
            self.ident();
            let name: String = self.c[start..self.i].iter().collect();
            return self.err_at(
                colon,
                format!(
                    "pseudo-elements such as ::{} select no element: remove it",
                    if name.is_empty() { "before" } else { &name }
                ),
            );
        }
        let start = self.i;
        if !self.ident() {
            return self
                .err("':' must be followed by a pseudo-class name, e.g. :checked or :not(…)");
        }
        let name: String = self.c[start..self.i]
            .iter()
            .collect::<String>()
            .to_ascii_lowercase();
        if self.peek() != Some('(') {
            if LEGACY_PSEUDO_ELEMENTS.contains(&name.as_str()) {
                return self.err_at(
                    colon,
                    format!("':{name}' is a pseudo-element: it selects no element"),
                );
            }
            if USER_ACTION.contains(&name.as_str()) {
                return self.err_at(
                    colon,
                    format!("':{name}' follows what the user does from moment to moment: a restriction must not come and go with it"),
                );
            }
            if FUNCTIONAL.contains(&name.as_str()) {
                return self.err_at(
                    colon,
                    format!("':{name}' needs an argument in parentheses, e.g. :{name}(…)"),
                );
            }
            if !PSEUDO_CLASSES.contains(&name.as_str()) {
                return self.err_at(colon, format!("unknown pseudo-class ':{name}'"));
            }
            return Ok(());
        }
        let open = self.i;
        self.i += 1;
        match name.as_str() {
            "not" | "is" | "where" => self.list(false, Some(&name))?,
            "has" => self.list(true, Some(&name))?,
            "nth-child" | "nth-last-child" => {
                self.an_plus_b(&name)?;
                let spaced = self.ws();
                let of = self.i;
                if spaced && self.ident() {
                    let word: String = self.c[of..self.i].iter().collect();
                    if !word.eq_ignore_ascii_case("of") {
                        return self
                            .err_at(of, format!("expected ')' or 'of <selector>' in :{name}()"));
                    }
                    if !self.ws() {
                        return self.err(format!(
                            "'of' in :{name}() must be followed by a space and a selector"
                        ));
                    }
                    self.list(false, Some(&name))?;
                }
            }
            "nth-of-type" | "nth-last-of-type" => {
                self.an_plus_b(&name)?;
                self.ws();
            }
            // One language code: lists and quoted ranges are not in every browser yet.
            "lang" => {
                self.ws();
                if !self.ident() {
                    return self.err(":lang() takes one language code, e.g. :lang(fr)");
                }
                self.ws();
            }
            "dir" => {
                self.ws();
                let s = self.i;
                self.ident();
                let word: String = self.c[s..self.i]
                    .iter()
                    .collect::<String>()
                    .to_ascii_lowercase();
                if word != "ltr" && word != "rtl" {
                    return self.err_at(s, ":dir() takes ltr or rtl");
                }
                self.ws();
            }
            _ if USER_ACTION.contains(&name.as_str())
                || PSEUDO_CLASSES.contains(&name.as_str()) =>
            {
                return self.err_at(colon, format!("':{name}' takes no argument"));
            }
            _ => return self.err_at(colon, format!("unknown pseudo-class ':{name}()'")),
        }
        match self.peek() {
            Some(')') => {
                self.i += 1;
                Ok(())
            }
            None => self.err_at(open, format!(":{name}( is not closed: add ')'")),
            Some(c) => self.unexpected(c),
        }
    }

    /// `odd`, `even`, `3`, `2n`, `2n+1`, `-n + 3`…
    fn an_plus_b(&mut self, name: &str) -> R<()> {
        let bad = |p: &Self| {
            p.err(format!(
                ":{name}() takes An+B, e.g. odd, even, 3, 2n+1 or -n+3"
            ))
        };
        self.ws();
        let s = self.i;
        if self.ident() {
            let word: String = self.c[s..self.i]
                .iter()
                .collect::<String>()
                .to_ascii_lowercase();
            if word == "odd" || word == "even" {
                return Ok(());
            }
            self.i = s;
        }
        if matches!(self.peek(), Some('+' | '-')) {
            self.i += 1;
        }
        let digits = self.digits();
        if matches!(self.peek(), Some('n' | 'N')) {
            self.i += 1;
            let before = self.i;
            self.ws();
            if matches!(self.peek(), Some('+' | '-')) {
                self.i += 1;
                self.ws();
                if self.digits() == 0 {
                    return bad(self);
                }
            } else {
                self.i = before;
            }
            Ok(())
        } else if digits > 0 {
            Ok(())
        } else {
            bad(self)
        }
    }

    fn digits(&mut self) -> usize {
        let s = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.i - s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) {
        if let Err(e) = check_selector(s) {
            panic!("{s:?} should pass: {e}");
        }
    }

    /// Refused, with a reason that contains `why`.
    fn bad(s: &str, why: &str) {
        match check_selector(s) {
            Ok(()) => panic!("{s:?} should be refused ({why})"),
            Err(e) => assert!(e.to_string().contains(why), "{s:?}: {e} (expected {why:?})"),
        }
    }

    #[test]
    fn selectors_the_browsers_accept_pass() {
        for s in [
            "#card",
            "input[name=\"card-number\"]",
            "input[name=card]",
            "[data-secret]",
            "[data-testid='ssn' i]",
            "form#pay > .row input[type=password]",
            "div.a.b#c[title^=\"x\"][lang|=en]",
            "ul li + li ~ li",
            "*",
            "*|*",
            ".a, .b , #c",
            "section:not(.public) p",
            "tr:nth-child(2n+1) td",
            "li:nth-child( -n + 3 )",
            "li:nth-child(odd)",
            "li:nth-last-of-type(2)",
            "li:nth-child(2 of .item)",
            "div:has(> img)",
            "label:has(+ input:checked)",
            ":is(h1, h2):where(.x)",
            "input:not([type=hidden]):required",
            "p:lang(fr)",
            "p:lang(de-CH)",
            "p:dir(rtl)",
            "#\\31 23",
            ".\\@md\\:hidden",
            "-x-foo",
            "--custom",
            "é.ü",
            "a[href$=\".pdf\"]",
            "dialog:modal",
            ":root body",
        ] {
            ok(s);
        }
    }

    #[test]
    fn forbidden_characters_are_refused() {
        bad("", "empty selector");
        bad("   ", "empty selector");
        bad("#a{color:red}", "braces");
        bad("#a }", "braces");
        bad("#a; x", "';'");
        bad("<script>", "'<'");
        bad("[title=\"<b>\"]", "'<'");
        bad("#a /* hi */", "comments");
        bad("#a\u{0}", "control characters");
        bad(&"a".repeat(600), "longer than");
    }

    #[test]
    fn unbalanced_brackets_parens_and_quotes_are_refused() {
        bad("[name=card", "not closed");
        bad("[name", "not closed");
        bad("input]", "unbalanced ']'");
        bad(":not(.a", "not closed");
        bad(".a)", "unbalanced ')'");
        bad("[name=\"card]", "quote \" is not closed");
        bad("[name='card]", "quote ' is not closed");
        bad("div:not(.a))", "unbalanced ')'");
        bad("(a)", "'('");
        bad("\"x\"", "quoted string");
    }

    #[test]
    fn dangling_and_doubled_combinators_are_refused() {
        bad("form >", "dangling combinator '>'");
        bad("form > ", "dangling combinator '>'");
        bad("a +", "dangling combinator '+'");
        bad("a ~, b", "dangling combinator '~'");
        bad("> a", "starts with the combinator '>'");
        bad("a > > b", "two combinators");
        bad("a >+ b", "two combinators");
        bad(":not(> a)", "starts with the combinator");
        bad("a,", "followed by another selector");
        bad(",a", "empty selector before ','");
        bad("a,,b", "empty selector before ','");
        bad(":is()", "needs a selector inside");
    }

    #[test]
    fn bad_names_values_and_pseudos_are_refused() {
        bad("#", "'#' must be followed by an id");
        bad("#123", "cannot start with a digit");
        bad(".", "'.' must be followed");
        bad(".1col", "cannot start with a digit");
        bad("[]", "needs an attribute name");
        bad("[=x]", "attribute name");
        bad("[data-id=1]", "must be quoted");
        bad("[a==b]", "must be a name or a quoted string");
        bad("[a=b c]", "expected ']'");
        bad("[a!=b]", "operator");
        bad("p::before", "pseudo-elements");
        bad("p:after", "pseudo-element");
        bad("a:hover", "moment to moment");
        bad("input:focus", "moment to moment");
        bad("p:frobnicate", "unknown pseudo-class ':frobnicate'");
        bad("p:frob(1)", "unknown pseudo-class ':frob()'");
        bad("p:not", "needs an argument");
        bad("p:checked(1)", "takes no argument");
        bad("li:nth-child(x)", "An+B");
        bad("li:nth-child(2n+)", "An+B");
        bad("li:nth-child(2 if .a)", "'of <selector>'");
        bad("p:dir(up)", "ltr or rtl");
        bad("p:lang(fr, de)", "unexpected ','");
        bad("p:lang(\"de\")", "one language code");
        bad("a b!", "unexpected '!'");
        bad("@media", "unexpected '@'");
        bad("a|", "namespace");
        bad("svg|rect", "namespace");
        bad("[xlink|href]", "namespace");
    }

    #[test]
    fn error_positions_point_at_the_problem() {
        let e = check_selector("form > .row >").unwrap_err();
        assert_eq!(e.at, 12);
        assert!(e.to_string().ends_with("(at character 13)"));
    }

    #[test]
    fn url_patterns() {
        for p in [
            "*",
            "https://shop.example/*",
            "http://127.0.0.1:8080/demo/*",
            "*/checkout*",
            "https://*.shop.example/*",
            "https://shop.example/a?b=1",
        ] {
            assert!(check_url_pattern(p).is_ok(), "{p}");
        }
        assert!(check_url_pattern("").unwrap_err().contains("required"));
        assert!(
            check_url_pattern("shop.example/*")
                .unwrap_err()
                .contains("start it with")
        );
        assert!(
            check_url_pattern("https:///x")
                .unwrap_err()
                .contains("no host")
        );
        assert!(
            check_url_pattern("https://shop example/")
                .unwrap_err()
                .contains("not allowed")
        );
        assert!(
            check_url_pattern("https://sh@p/")
                .unwrap_err()
                .contains("not a host")
        );
        assert!(
            check_url_pattern(&format!("https://a/{}", "x".repeat(3000)))
                .unwrap_err()
                .contains("at most")
        );
    }

    #[test]
    fn rule_sets_name_the_list_and_index_of_a_bad_selector() {
        let rules = Rules {
            mask: vec!["#ok".into()],
            disable: vec![],
            block: vec!["#fine".into(), "div >".into()],
        };
        let e = check_rule_set("Checkout", "https://shop.example/*", &rules).unwrap_err();
        assert_eq!((e.field.as_str(), e.value.as_str()), ("block[1]", "div >"));
        assert!(e.message.contains("dangling"));
        assert_eq!(
            check_rule_set(" ", "*", &Rules::default())
                .unwrap_err()
                .field,
            "name"
        );
        assert_eq!(
            check_rule_set("x", "nope", &Rules::default())
                .unwrap_err()
                .field,
            "url_pattern"
        );
        let many = Rules {
            mask: vec!["a".into(); MAX_SELECTORS_PER_LIST + 1],
            ..Rules::default()
        };
        assert_eq!(check_rules(&many).unwrap_err().field, "mask");
    }

    #[test]
    fn normalize_trims_and_drops_duplicates() {
        let r = normalize(&Rules {
            mask: vec![" #a ".into(), "#a".into(), "#b".into()],
            ..Rules::default()
        });
        assert_eq!(r.mask, vec!["#a", "#b"]);
    }
}
