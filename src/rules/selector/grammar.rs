//! Servo's `selectors` parser, told which pseudo-classes a restriction may use.
//!
//! The crate knows the structure (compounds, combinators, attribute selectors, `:not` `:is`
//! `:where` `:has` `:nth-*(… of S)`); this adapter names the other pseudo-classes and refuses
//! pseudo-elements and user actions, each with a [`Refusal`] that says which name was refused.

use cssparser::{ParseError, Parser as CssParser, ToCss, match_ignore_ascii_case};
use precomputed_hash::PrecomputedHash;
use selectors::parser::{
    NonTSPseudoClass, ParseRelative, PseudoElement, SelectorImpl, SelectorParseErrorKind,
};
use selectors::{Parser, SelectorList};

/// Pseudo-classes that take no argument and that the browsers know, apart from the
/// tree-structural ones (`:root`, `:empty`, `:first-child`…) that the crate parses itself.
const PSEUDO_CLASSES: &[&str] = &[
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
/// Functional pseudo-classes, written with parentheses.
pub const FUNCTIONAL: &[&str] = &[
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
/// Pseudo-classes the crate parses without asking the adapter.
const TREE_STRUCTURAL: &[&str] = &[
    "root",
    "empty",
    "scope",
    "first-child",
    "last-child",
    "only-child",
    "first-of-type",
    "last-of-type",
    "only-of-type",
];

/// Why the adapter refused a selector, on top of the crate's own grammar errors.
#[derive(Clone, Debug, PartialEq)]
pub enum Refusal {
    Grammar(SelectorParseErrorKind),
    PseudoElement,
    UserAction,
    UnknownPseudoClass,
    NeedsArgument,
    TakesNoArgument,
    LanguageCode,
    Direction,
}

impl From<SelectorParseErrorKind> for Refusal {
    fn from(kind: SelectorParseErrorKind) -> Self {
        Self::Grammar(kind)
    }
}

/// Whether a pseudo-class name (lowercase) exists without parentheses.
fn is_plain_pseudo_class(name: &str) -> bool {
    PSEUDO_CLASSES.contains(&name) || TREE_STRUCTURAL.contains(&name)
}

/// Whether a pseudo-class name (lowercase) follows what the user does.
fn is_user_action(name: &str) -> bool {
    USER_ACTION.contains(&name)
}

/// Parses a selector list as a browser's `querySelector` would, with the adapter's refusals.
pub fn parse(selector: &str) -> Result<(), ParseError<Refusal>> {
    let mut input = CssParser::new(selector);
    SelectorList::<Restriction>::parse(&Adapter, &mut input, ParseRelative::No).map(drop)
}

#[derive(Clone, Debug)]
pub struct Restriction;

/// Names, values and namespaces as written: the selector is checked, never matched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Text(String);

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Self(s.into())
    }
}

impl ToCss for Text {
    fn to_css<W: std::fmt::Write>(&self, dest: &mut W) -> std::fmt::Result {
        cssparser::serialize_identifier(&self.0, dest)
    }
}

impl PrecomputedHash for Text {
    fn precomputed_hash(&self) -> u32 {
        self.0
            .bytes()
            .fold(0, |h, b| h.wrapping_mul(31) ^ u32::from(b))
    }
}

/// An accepted pseudo-class, by name (with its argument for `:lang()` and `:dir()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PseudoClass(String);

impl ToCss for PseudoClass {
    fn to_css<W: std::fmt::Write>(&self, dest: &mut W) -> std::fmt::Result {
        dest.write_char(':')?;
        dest.write_str(&self.0)
    }
}

impl NonTSPseudoClass for PseudoClass {
    fn is_active_or_hover(&self) -> bool {
        false
    }

    fn is_user_action_state(&self) -> bool {
        false
    }
}

/// Pseudo-elements are all refused: none is ever built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoPseudoElement {}

impl ToCss for NoPseudoElement {
    fn to_css<W: std::fmt::Write>(&self, _: &mut W) -> std::fmt::Result {
        match *self {}
    }
}

impl PseudoElement for NoPseudoElement {}

impl SelectorImpl for Restriction {
    type ExtraMatchingData<'a> = ();
    type AttrValue = Text;
    type Identifier = Text;
    type LocalName = Text;
    type NamespaceUrl = Text;
    type NamespacePrefix = Text;
    type BorrowedNamespaceUrl = Text;
    type BorrowedLocalName = Text;
    type NonTSPseudoClass = PseudoClass;
    type PseudoElement = NoPseudoElement;
}

struct Adapter;

type Refused<T> = Result<T, ParseError<Refusal>>;

impl<'i> Parser<'i> for Adapter {
    type Impl = Restriction;
    type Error = Refusal;

    fn parse_nth_child_of(&self) -> bool {
        true
    }

    fn parse_is_and_where(&self) -> bool {
        true
    }

    fn parse_has(&self) -> bool {
        true
    }

    /// `:is(.a, :hover)` must not lose its refused half silently.
    fn allow_forgiving_selectors(&self) -> bool {
        false
    }

    fn parse_non_ts_pseudo_class(&self, name: &str) -> Refused<PseudoClass> {
        let name = name.to_ascii_lowercase();
        let refusal = if PSEUDO_CLASSES.contains(&name.as_str()) {
            return Ok(PseudoClass(name));
        } else if is_user_action(&name) {
            Refusal::UserAction
        } else if FUNCTIONAL.contains(&name.as_str()) {
            Refusal::NeedsArgument
        } else {
            Refusal::UnknownPseudoClass
        };
        Err(ParseError::custom(refusal))
    }

    fn parse_non_ts_functional_pseudo_class(
        &self,
        name: &str,
        arguments: &mut CssParser<'i>,
        _after_part: bool,
    ) -> Refused<PseudoClass> {
        match_ignore_ascii_case! { name,
            // One language code: lists and quoted ranges are not in every browser yet.
            "lang" => {
                let code = arguments
                    .expect_ident()
                    .map_err(|_| ParseError::custom(Refusal::LanguageCode))?;
                Ok(PseudoClass(format!("lang({code})")))
            },
            "dir" => {
                let way = arguments
                    .expect_ident()
                    .ok()
                    .filter(|w| w.eq_ignore_ascii_case("ltr") || w.eq_ignore_ascii_case("rtl"))
                    .ok_or(ParseError::custom(Refusal::Direction))?;
                Ok(PseudoClass(format!("dir({way})")))
            },
            _ => {
                let name = name.to_ascii_lowercase();
                Err(ParseError::custom(
                    if is_plain_pseudo_class(&name) || is_user_action(&name) {
                        Refusal::TakesNoArgument
                    } else {
                        Refusal::UnknownPseudoClass
                    },
                ))
            }
        }
    }

    fn parse_pseudo_element(&self, _name: &str) -> Refused<NoPseudoElement> {
        Err(ParseError::custom(Refusal::PseudoElement))
    }

    fn parse_functional_pseudo_element(
        &self,
        _name: &str,
        _arguments: &mut CssParser<'i>,
    ) -> Refused<NoPseudoElement> {
        Err(ParseError::custom(Refusal::PseudoElement))
    }
}
