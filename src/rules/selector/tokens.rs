//! A selector's CSS tokens in reading order, nested blocks flattened, with where each one is.
//!
//! The crate's errors say what went wrong but not where: the tokens let
//! [`explain`](super::explain) point at the culprit and quote it, and show what cssparser closes
//! silently at the end of the input.

use cssparser::{ParseError, Parser, Token};

#[derive(Clone, Debug)]
pub enum Piece<'i> {
    Token(Token<'i>),
    /// The `)` or `]` that closes the block opened by the token at `parent`.
    Close,
}

#[derive(Clone, Debug)]
pub struct Tok<'i> {
    pub piece: Piece<'i>,
    /// Byte offsets in the selector.
    pub start: usize,
    pub end: usize,
    /// The token (a function or `(` `[`) whose block this one is in.
    pub parent: Option<usize>,
}

impl Tok<'_> {
    pub fn token(&self) -> Option<&Token<'_>> {
        match &self.piece {
            Piece::Token(t) => Some(t),
            Piece::Close => None,
        }
    }

    pub fn is_whitespace(&self) -> bool {
        matches!(self.token(), Some(Token::WhiteSpace(_)))
    }

    /// A `>`, `+` or `~`.
    pub fn combinator(&self) -> Option<char> {
        match self.token() {
            Some(&Token::Delim(c)) if matches!(c, '>' | '+' | '~') => Some(c),
            _ => None,
        }
    }
}

/// Every token of `selector`, blocks included, closing brackets as [`Piece::Close`].
pub fn tokenize(selector: &str) -> Vec<Tok<'_>> {
    let mut out = Vec::new();
    walk(&mut Parser::new(selector), None, &mut out);
    out
}

fn walk<'i>(input: &mut Parser<'i>, parent: Option<usize>, out: &mut Vec<Tok<'i>>) {
    loop {
        let start = input.position().byte_index();
        let Ok(token) = input.next_including_whitespace() else {
            return;
        };
        let token = token.clone();
        let opens = matches!(
            token,
            Token::Function(_)
                | Token::ParenthesisBlock
                | Token::SquareBracketBlock
                | Token::CurlyBracketBlock
        );
        let index = out.len();
        out.push(Tok {
            piece: Piece::Token(token),
            start,
            end: input.position().byte_index(),
            parent,
        });
        if opens {
            let inner = input.parse_nested_block(|inner| {
                walk(inner, Some(index), out);
                Ok::<_, ParseError<()>>(inner.position().byte_index())
            });
            let after = input.position().byte_index();
            if let Ok(inner_end) = inner
                && after > inner_end
            {
                out.push(Tok {
                    piece: Piece::Close,
                    start: inner_end,
                    end: after,
                    parent: Some(index),
                });
            }
        }
    }
}

/// What cssparser closes silently at the end of the input (browsers do too): a string without
/// its closing quote, else the innermost block without its `)` or `]`. Its index.
pub fn left_open(selector: &str, tokens: &[Tok]) -> Option<usize> {
    if let Some((i, t)) = tokens.iter().enumerate().next_back()
        && let Some(Token::QuotedString(_)) = t.token()
        && !string_is_closed(&selector[t.start..t.end])
    {
        return Some(i);
    }
    let closed: Vec<usize> = tokens
        .iter()
        .filter(|t| matches!(t.piece, Piece::Close))
        .filter_map(|t| t.parent)
        .collect();
    tokens.iter().enumerate().rev().find_map(|(i, t)| {
        let opens = matches!(
            t.token(),
            Some(Token::Function(_) | Token::ParenthesisBlock | Token::SquareBracketBlock)
        );
        (opens && !closed.contains(&i)).then_some(i)
    })
}

/// Whether a quoted string token's text ends with its own, unescaped, quote.
fn string_is_closed(text: &str) -> bool {
    let mut chars = text.chars();
    let Some(quote) = chars.next() else {
        return false;
    };
    let body = chars.as_str();
    let Some(inside) = body.strip_suffix(quote) else {
        return false;
    };
    inside.chars().rev().take_while(|&c| c == '\\').count() % 2 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(s: &str) -> Option<String> {
        let tokens = tokenize(s);
        left_open(s, &tokens).map(|i| s[tokens[i].start..tokens[i].end].to_string())
    }

    #[test]
    fn what_is_left_open_at_the_end_is_found() {
        assert_eq!(open("[name=card]"), None);
        assert_eq!(open(":not(.a) [b]"), None);
        assert_eq!(open("[name=card"), Some("[".into()));
        assert_eq!(open(":not([a]"), Some("not(".into()));
        assert_eq!(open(":not([a"), Some("[".into()));
        assert_eq!(open("[a=\"x"), Some("\"x".into()));
        assert_eq!(open("[a=\"x\\\""), Some("\"x\\\"".into()));
        assert_eq!(open("[a=\"x\\\\\"]"), None);
    }

    #[test]
    fn closing_brackets_are_pieces_of_their_own() {
        let tokens = tokenize(":is(a)");
        let close = tokens.last().unwrap();
        assert!(matches!(close.piece, Piece::Close));
        assert_eq!((close.start, close.end, close.parent), (5, 6, Some(1)));
    }
}
