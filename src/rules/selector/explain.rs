//! Turns the crate's verdict into what an administrator can act on: what is wrong, quoting it,
//! and where.
//!
//! cssparser's errors carry neither the token nor its position, so the culprit is found by
//! reading again: the first token after which no ending can make the selector valid (each
//! prefix is parsed as it is and with a few endings, `*`, `a`, `1`…). When every prefix can
//! still be completed, the selector ends too early.

use cssparser::{BasicParseErrorKind, ParseError, ParseErrorKind, Parser, Token};
use selectors::parser::SelectorParseErrorKind as Kind;

use super::SelectorError;
use super::grammar::{self, FUNCTIONAL, Refusal};
use super::tokens::{Piece, Tok, left_open};

/// What may follow a prefix to complete it: a name, a number, a pseudo-class, a direction.
/// None of them can follow a closing bracket, so a bad block is not "completed" after it.
const ENDINGS: &[&str] = &["*", "a", "1", "root", "ltr"];

/// Where and why `selector`, refused by the crate, is wrong.
pub fn refused(selector: &str, tokens: &[Tok]) -> SelectorError {
    let text = Text { selector, tokens };
    for (k, tok) in tokens.iter().enumerate() {
        let prefix = &selector[..tok.end];
        let Err(error) = grammar::parse(prefix) else {
            continue;
        };
        let completes = ENDINGS
            .iter()
            .any(|end| grammar::parse(&format!("{prefix}{end}")).is_ok());
        if !completes {
            return text.culprit(k, &error);
        }
    }
    match left_open(selector, tokens) {
        Some(open) => text.left_open(open),
        None => text.too_short(),
    }
}

/// What cssparser would close silently, or a `:host()` (which browsers take, but not in a
/// restriction): refused though the crate accepted it.
pub fn accepted(selector: &str, tokens: &[Tok]) -> Result<(), SelectorError> {
    let text = Text { selector, tokens };
    if let Some(open) = left_open(selector, tokens) {
        return Err(text.left_open(open));
    }
    if let Some(k) = text.unknown_flag() {
        let flag = text.source(k);
        return Err(text.at(
            k,
            format!("the attribute flag '{flag}' is not known to every browser: remove it"),
        ));
    }
    if let Some(k) = text.of_not_in_lowercase() {
        let of = text.source(k);
        return Err(text.at(
            k,
            format!("write 'of' in lowercase: browsers do not all take '{of}'"),
        ));
    }
    let host = tokens.iter().enumerate().find(|(k, t)| {
        matches!(t.token(), Some(Token::Function(name)) if name.eq_ignore_ascii_case("host"))
            && text.colons_before(*k) == 1
    });
    match host {
        Some((k, t)) => Err(text.at(k - 1, format!("unknown pseudo-class ':{}()'", text.name(t)))),
        None => Ok(()),
    }
}

struct Text<'a, 'i> {
    selector: &'a str,
    tokens: &'a [Tok<'i>],
}

impl Text<'_, '_> {
    fn source(&self, k: usize) -> &str {
        let t = &self.tokens[k];
        &self.selector[t.start..t.end]
    }

    fn at(&self, k: usize, why: impl Into<String>) -> SelectorError {
        SelectorError {
            at: self.selector[..self.tokens[k].start].chars().count(),
            why: why.into(),
        }
    }

    /// A function's or pseudo-class's name as written.
    fn name(&self, t: &Tok) -> String {
        match t.token() {
            Some(Token::Function(n) | Token::Ident(n)) => n.to_string(),
            _ => String::new(),
        }
    }

    /// The token before `k` other than whitespace.
    fn before(&self, k: usize) -> Option<usize> {
        (0..k).rev().find(|&i| !self.tokens[i].is_whitespace())
    }

    /// How many `:` come right before token `k` (1 for a pseudo-class, 2 for a pseudo-element).
    fn colons_before(&self, k: usize) -> usize {
        self.tokens[..k]
            .iter()
            .rev()
            .take(2)
            .take_while(|t| matches!(t.token(), Some(Token::Colon)))
            .count()
    }

    /// The name of the function whose block token `k` is in (or closes).
    fn function(&self, k: usize) -> Option<String> {
        let parent = &self.tokens[self.tokens[k].parent?];
        match parent.token() {
            Some(Token::Function(n)) => Some(n.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn in_brackets(&self, k: usize) -> bool {
        self.tokens[k]
            .parent
            .is_some_and(|p| matches!(self.tokens[p].token(), Some(Token::SquareBracketBlock)))
    }

    /// The `s` flag of `[a=b s]`, which Chromium refuses (the crate takes it).
    fn unknown_flag(&self) -> Option<usize> {
        self.tokens.iter().enumerate().find_map(|(k, t)| {
            let flag = matches!(t.token(), Some(Token::Ident(f)) if f.eq_ignore_ascii_case("s"));
            let value = self.before(k)?;
            let operator = self.before(value)?;
            let is_operator = matches!(
                self.tokens[operator].token(),
                Some(
                    Token::Delim('=')
                        | Token::IncludeMatch
                        | Token::DashMatch
                        | Token::PrefixMatch
                        | Token::SuffixMatch
                        | Token::SubstringMatch
                )
            );
            (flag && self.in_brackets(k) && is_operator).then_some(k)
        })
    }

    /// The `of` of `:nth-child(2 of .a)` written in capitals, which Chromium refuses.
    fn of_not_in_lowercase(&self) -> Option<usize> {
        self.tokens.iter().enumerate().find_map(|(k, t)| {
            let of = matches!(t.token(), Some(Token::Ident(w)) if w.eq_ignore_ascii_case("of") && **w != *"of");
            let nth = self.function(k).is_some_and(|f| f.starts_with("nth-"));
            (of && nth).then_some(k)
        })
    }

    /// Token `k` is the first after which the selector cannot be right.
    fn culprit(&self, k: usize, error: &ParseError<Refusal>) -> SelectorError {
        let tok = &self.tokens[k];
        let colons = self.colons_before(k);
        let kind = &error.kind;
        if let Some(Token::Colon) = tok.token()
            && colons == 1
        {
            let name = self
                .tokens
                .get(k + 1)
                .map(|t| self.name(t))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "before".into());
            return self.at(k - 1, pseudo_element(&name));
        }
        if matches!(tok.token(), Some(Token::Ident(_) | Token::Function(_)))
            && colons > 0
            && let Some(why) = self.pseudo_class(tok, colons, kind)
        {
            return self.at(k - colons, why);
        }
        if let ParseErrorKind::Custom(Refusal::Grammar(Kind::DanglingCombinator)) = kind
            && tok.combinator().is_none()
            && let Some(before) = self.before(k)
            && let Some(c) = self.tokens[before].combinator()
        {
            return self.at(before, dangling(c));
        }
        self.at(k, self.grammar(k, kind))
    }

    /// Why the pseudo-class (or pseudo-element) named by `tok` was refused, if it was.
    fn pseudo_class(
        &self,
        tok: &Tok,
        colons: usize,
        kind: &ParseErrorKind<Refusal>,
    ) -> Option<String> {
        let written = self.name(tok);
        let name = written.to_ascii_lowercase();
        let functional = matches!(tok.token(), Some(Token::Function(_)));
        if colons == 2 {
            return Some(pseudo_element(&written));
        }
        if selectors::parser::is_css2_pseudo_element(&name) {
            return Some(format!(
                "':{name}' is a pseudo-element: it selects no element"
            ));
        }
        let ParseErrorKind::Custom(refusal) = kind else {
            return None;
        };
        Some(match refusal {
            Refusal::UserAction => format!(
                "':{name}' follows what the user does from moment to moment: a restriction \
                 must not come and go with it"
            ),
            Refusal::NeedsArgument => {
                format!("':{name}' needs an argument in parentheses, e.g. :{name}(…)")
            }
            Refusal::TakesNoArgument => format!("':{name}' takes no argument"),
            Refusal::UnknownPseudoClass if functional => {
                format!("unknown pseudo-class ':{name}()'")
            }
            Refusal::UnknownPseudoClass => format!("unknown pseudo-class ':{name}'"),
            _ => return None,
        })
    }

    /// Why the structure breaks at token `k`.
    fn grammar(&self, k: usize, kind: &ParseErrorKind<Refusal>) -> String {
        let tok = &self.tokens[k];
        let source = self.source(k);
        let function = self.function(k);
        let nth = function
            .as_deref()
            .filter(|f| f.starts_with("nth-") && FUNCTIONAL.contains(f));
        let custom = match kind {
            ParseErrorKind::Custom(Refusal::Grammar(kind)) => Some(kind),
            _ => None,
        };
        if let ParseErrorKind::Custom(Refusal::LanguageCode) = kind {
            return ":lang() takes one language code, e.g. :lang(fr)".into();
        }
        if let ParseErrorKind::Custom(Refusal::Direction) = kind {
            return ":dir() takes ltr or rtl".into();
        }
        if let ParseErrorKind::Basic(BasicParseErrorKind::TooManyNestedBlocks) = kind {
            return "too many brackets inside one another".into();
        }
        match custom {
            Some(Kind::EmptySelector | Kind::DanglingCombinator) if self.closes_empty(k) => {
                return format!(
                    ":{}() needs a selector inside",
                    function.unwrap_or_default()
                );
            }
            Some(Kind::DanglingCombinator) if tok.combinator().is_some() => {
                let c = tok.combinator().unwrap_or(' ');
                let before = self.before(k).and_then(|b| self.tokens[b].combinator());
                return format!(
                    "two combinators in a row ('{}' then '{c}')",
                    before.unwrap_or(c)
                );
            }
            Some(Kind::EmptySelector) => {
                if let Some(c) = tok.combinator() {
                    return format!(
                        "starts with the combinator '{c}': it needs a selector on its left"
                    );
                }
                if let Some(Token::Comma) = tok.token() {
                    return "empty selector before ','".into();
                }
            }
            Some(
                Kind::ExpectedNamespace | Kind::InvalidQualNameInAttr | Kind::ExpectedBarInAttr,
            ) if self.in_brackets(k) => {
                return "namespace prefixes ([ns|name]) cannot be used: no @namespace is \
                        declared; use [*|name]"
                    .into();
            }
            Some(Kind::ExpectedNamespace) => {
                return "namespace prefixes (ns|name) cannot be used: no @namespace is \
                        declared; use *|name"
                    .into();
            }
            Some(Kind::ExplicitNamespaceUnexpectedToken) => {
                return "'|' must be followed by an element name or *".into();
            }
            Some(Kind::PseudoElementExpectedIdent) => {
                return "':' must be followed by a pseudo-class name, e.g. :checked or :not(…)"
                    .into();
            }
            Some(Kind::ClassNeedsIdent) => return "'.' must be followed by a class name".into(),
            Some(Kind::InvalidState) if matches!(tok.token(), Some(Token::Function(n)) if n.eq_ignore_ascii_case("has")) =>
            {
                return ":has() cannot be inside another :has()".into();
            }
            _ => {}
        }
        if let Some(name) = nth {
            return self.nth(k, name);
        }
        match tok.token() {
            None if self.in_brackets(k) => self.attribute(k, custom),
            None => format!("unexpected '{source}'"),
            Some(Token::CloseParenthesis) => "unbalanced ')': no '(' opened it".into(),
            Some(Token::CloseSquareBracket) => "unbalanced ']': no '[' opened it".into(),
            Some(Token::ParenthesisBlock) => {
                "'(' may only follow a pseudo-class such as :not or :nth-child".into()
            }
            Some(Token::BadString(_)) => "a quoted string cannot span lines".into(),
            Some(Token::Hash(_)) => "an id selector cannot start with a digit: write #\\31 23 \
                                     for id \"123\", or [id=\"123\"]"
                .into(),
            Some(Token::Number { .. } | Token::Dimension { .. } | Token::Percentage { .. })
                if source.starts_with('.') =>
            {
                "a class selector cannot start with a digit: write [class~=\"1col\"] instead".into()
            }
            _ if self.in_brackets(k) => self.attribute(k, custom),
            Some(Token::QuotedString(_)) => {
                "a quoted string is only allowed as an attribute value, e.g. [name=\"card\"]".into()
            }
            _ if self
                .before(k)
                .is_some_and(|b| matches!(self.tokens[b].token(), Some(Token::Delim('#')))) =>
            {
                "'#' must be followed by an id".into()
            }
            Some(Token::Delim(c)) if !"!@$%&=?`^|/".contains(*c) => {
                format!("unexpected '{c}' (escape it with a backslash if it is part of a name)")
            }
            _ => format!("unexpected '{source}'"),
        }
    }

    /// Why an attribute selector breaks at token `k`.
    fn attribute(&self, k: usize, kind: Option<&Kind>) -> String {
        let tok = &self.tokens[k];
        match kind {
            _ if self.closes_empty(k) => {
                "'[]' needs an attribute name, e.g. [name] or [data-secret]".into()
            }
            Some(Kind::NoQualifiedNameInAttributeSelector) => {
                "'[' must be followed by an attribute name".into()
            }
            Some(Kind::UnexpectedTokenInAttributeSelector) => {
                "expected ']' or an operator (=, ~=, |=, ^=, $=, *=) after the attribute name"
                    .into()
            }
            _ if matches!(
                tok.token(),
                Some(Token::Number { .. } | Token::Dimension { .. } | Token::Percentage { .. })
            ) =>
            {
                "an attribute value that starts with a digit must be quoted, e.g. [data-id=\"1\"]"
                    .into()
            }
            Some(Kind::BadValueInAttr) => BAD_VALUE.into(),
            // `[a=]`: the value is missing before `]`.
            None if matches!(tok.piece, Piece::Close) => BAD_VALUE.into(),
            _ => {
                "expected ']' after the attribute value (quote a value that contains spaces)".into()
            }
        }
    }

    /// Why `:nth-*( … )` breaks at token `k`: before it, either An+B is incomplete or wrong, or
    /// it is complete and only `)` or `of <selector>` may follow.
    fn nth(&self, k: usize, name: &str) -> String {
        let parent = self.tokens[k]
            .parent
            .map(|p| self.tokens[p].end)
            .unwrap_or(0);
        let before = &self.selector[parent..self.tokens[k].start];
        let an_plus_b = Parser::new(before)
            .parse_entirely(|p| cssparser::parse_nth(p).map_err(ParseError::<()>::from));
        if an_plus_b.is_ok() {
            format!("expected ')' or 'of <selector>' in :{name}()")
        } else {
            format!(":{name}() takes An+B, e.g. odd, even, 3, 2n+1 or -n+3")
        }
    }

    /// Token `k` closes a block with nothing but spaces inside.
    fn closes_empty(&self, k: usize) -> bool {
        let tok = &self.tokens[k];
        matches!(tok.piece, Piece::Close) && self.before(k) == tok.parent
    }

    /// Something opened and never closed, at the end of the selector.
    fn left_open(&self, k: usize) -> SelectorError {
        let tok = &self.tokens[k];
        let why = match tok.token() {
            Some(Token::QuotedString(_)) => {
                let quote = self.source(k).chars().next().unwrap_or('"');
                format!("the quote {quote} is not closed")
            }
            Some(Token::Function(name)) => format!(":{name}( is not closed: add ')'"),
            Some(Token::SquareBracketBlock) => "'[' is not closed: add ']'".into(),
            _ => "'(' is not closed: add ')'".into(),
        };
        let mut e = self.at(k, why);
        if let Some(Token::Function(_)) = tok.token() {
            e.at = self.selector[..tok.end - 1].chars().count();
        }
        e
    }

    /// Every prefix could still be completed: the selector ends too early.
    fn too_short(&self) -> SelectorError {
        let Some(last) = self.before(self.tokens.len()) else {
            return SelectorError {
                at: 0,
                why: "empty selector".into(),
            };
        };
        let why = match self.tokens[last].token() {
            Some(&Token::Delim(c)) if self.tokens[last].combinator().is_some() => dangling(c),
            Some(Token::Comma) => "a ',' must be followed by another selector".into(),
            Some(Token::Delim('#')) => "'#' must be followed by an id".into(),
            Some(Token::Delim('.')) => "'.' must be followed by a class name".into(),
            Some(Token::Delim('|')) => "'|' must be followed by an element name or *".into(),
            Some(Token::Colon) => {
                "':' must be followed by a pseudo-class name, e.g. :checked or :not(…)".into()
            }
            _ => format!("the selector ends too early after '{}'", self.source(last)),
        };
        self.at(last, why)
    }
}

const BAD_VALUE: &str =
    "the attribute value must be a name or a quoted string, e.g. [type=\"text\"]";

fn dangling(combinator: char) -> String {
    format!("dangling combinator '{combinator}': it needs a selector on its right")
}

fn pseudo_element(name: &str) -> String {
    format!("pseudo-elements such as ::{name} select no element: remove it")
}
