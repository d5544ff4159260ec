//! One selector (or a comma-separated list, as CSS allows), checked as the browsers' own parser
//! would take it, by Servo's `selectors` crate on `cssparser` ([`grammar`]).
//!
//! On top of what a browser refuses, this refuses:
//! - characters that have no business in a selector and only serve injection
//!   into a style sheet or markup: `{`, `}`, `;`, `<`, comments (cssparser would skip them);
//! - pseudo-elements (`::before`): they select no element;
//! - user-action pseudo-classes (`:hover`, `:focus`…): a restriction must not
//!   come and go with the pointer;
//! - a bracket, parenthesis or quote left open at the end, which cssparser and the browsers
//!   close silently: what the administrator meant is unclear;
//! - `:host`, `:host()` and the nesting selector `&`, which mean nothing in a page's document;
//! - the forgiving lists of `:is()` and `:where()`: a refused half must not vanish silently.
//!
//! And what the crate takes but Chromium refuses: the attribute flag `s`, an `of` in capitals.

mod explain;
mod grammar;
mod tokens;

pub const MAX_SELECTOR_LEN: usize = 512;

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

/// Checks one selector (which may be a comma-separated list, as CSS allows).
pub fn check_selector(selector: &str) -> Result<(), SelectorError> {
    if selector.trim().is_empty() {
        return Err(SelectorError {
            at: 0,
            why: "empty selector".into(),
        });
    }
    let chars: Vec<char> = selector.chars().collect();
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
    let tokens = tokens::tokenize(selector);
    match grammar::parse(selector) {
        Ok(()) => explain::accepted(selector, &tokens),
        Err(_) => Err(explain::refused(selector, &tokens)),
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
        bad("@media", "unexpected '@media'");
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
    fn positions_point_at_the_token_to_fix() {
        for (s, at) in [
            ("a ~, b", 2),
            ("a > > b", 4),
            (",a", 0),
            ("a,,b", 2),
            ("p::before", 1),
            ("p:hover", 1),
            ("div :not(p:after)", 10),
            ("[data-id=1]", 9),
            ("[a=b c]", 5),
            ("li:nth-child(2 if .a)", 15),
            ("é:frob", 1),
            (":not(.a", 4),
            ("[a=\"x", 3),
            ("[a=x s]", 5),
            (":is()", 4),
        ] {
            assert_eq!(check_selector(s).unwrap_err().at, at, "{s:?}");
        }
    }

    /// The corpus the browser test also gives Chromium (tests/browser/selectors.test.mjs).
    #[test]
    fn the_shared_corpus_is_judged_as_listed() {
        let corpus: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/selectors.json")).unwrap();
        let mut wrong = Vec::new();
        for s in corpus["accepted"].as_array().unwrap() {
            let s = s.as_str().unwrap();
            if let Err(e) = check_selector(s) {
                wrong.push(format!("{s:?} refused: {e}"));
            }
        }
        for group in ["refused", "refused_on_purpose"] {
            for case in corpus[group].as_array().unwrap() {
                let (s, why) = (case[0].as_str().unwrap(), case[1].as_str().unwrap());
                match check_selector(s) {
                    Ok(()) => wrong.push(format!("{s:?} accepted ({why})")),
                    Err(e) if !e.to_string().contains(why) => {
                        wrong.push(format!("{s:?}: {e} (expected {why:?})"))
                    }
                    Err(_) => {}
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
