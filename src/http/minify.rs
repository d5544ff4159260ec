//! A conservative JavaScript minifier for the customer script, run once when the server
//! starts: the sources stay readable in the repository (no build step), while every visitor
//! of the customers' sites downloads them without comments and indentation.
//!
//! It only drops comments and whitespace; it never renames or rewrites. The lexer knows
//! strings, template literals (with nested `${…}`), regular expression literals (told from
//! division by the token before) and numbers, so nothing inside a literal is touched. A line
//! break is kept wherever automatic semicolon insertion could depend on it, and a space
//! wherever two tokens would otherwise merge (`a + +b`, `x in y`, `1 .toFixed`).

use std::fmt;

/// Why a source could not be minified; the caller then serves it as written.
#[derive(Debug, PartialEq, Eq)]
pub struct Error {
    pub offset: usize,
    pub what: &'static str,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for Error {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Identifier or keyword.
    Word,
    Number,
    /// String, regular expression or a template ending with its closing backtick: a value.
    Literal,
    /// Template piece that ends with `${`: an expression follows.
    TemplateHead,
    Punct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    /// Whether whitespace or a comment came before it, and whether that held a line break.
    space: bool,
    newline: bool,
}

/// Keywords after which a `/` starts a regular expression, not a division.
const BEFORE_EXPRESSION: &[&str] = &[
    "return",
    "typeof",
    "instanceof",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "case",
    "do",
    "else",
    "yield",
    "await",
    "extends",
];
/// Keywords whose statement a line break ends (restricted productions, `let` declarations).
const RESTRICTED: &[&str] = &[
    "return", "break", "continue", "throw", "yield", "async", "let", "get", "set", "static",
];
/// Keywords whose parenthesised head is followed by a statement (so `/` starts a regex).
const HEADS: &[&str] = &["if", "while", "for", "with"];
/// Longest first, so that the first match is the token.
const PUNCTUATORS: &[&str] = &[
    ">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=", "=>", "==", "!=",
    "<=", ">=", "&&", "||", "??", "?.", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
    "**", "<<", ">>",
];
/// Tokens that cannot begin a statement: a line break before one of them never matters.
const CONTINUES: &[&str] = &[
    ")", "]", "}", ",", ";", ".", "?.", "?", ":", "=", "==", "===", "!=", "!==", "*", "**", "%",
    "&&", "||", "??", "|", "&", "^", "<", ">", "<=", ">=", "<<", ">>", ">>>", "+=", "-=", "*=",
    "/=", "%=", "**=", "<<=", ">>=", ">>>=", "&=", "|=", "^=", "&&=", "||=", "??=", "=>",
];

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '_'
        || c == '$'
        || c == '\\'
        || (!c.is_ascii() && !c.is_whitespace())
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    /// Open template substitutions: braces opened inside each one, innermost last.
    templates: Vec<u32>,
    /// Open parentheses: whether each one is the head of `if`/`while`/`for`/`with`.
    parens: Vec<bool>,
    /// Whether a `/` here starts a regular expression.
    regex_ok: bool,
    /// The previous token was one of HEADS.
    after_head: bool,
    /// The previous token was `.` or `?.`: a word now is a property name, never a keyword.
    member: bool,
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Self {
        Lexer {
            src,
            pos: 0,
            templates: Vec::new(),
            parens: Vec::new(),
            regex_ok: true,
            after_head: false,
            member: false,
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn fail(&self, what: &'static str) -> Error {
        Error {
            offset: self.pos,
            what,
        }
    }

    /// Skips whitespace and comments: (anything skipped, a line break among it).
    fn skip(&mut self) -> Result<(bool, bool), Error> {
        let (mut space, mut newline) = (false, false);
        loop {
            let r = self.rest();
            if r.starts_with("//") {
                let end = r.find(is_line_break).unwrap_or(r.len());
                self.pos += end;
            } else if let Some(body) = r.strip_prefix("/*") {
                let end = body
                    .find("*/")
                    .ok_or_else(|| self.fail("unterminated comment"))?;
                newline |= body[..end].contains(is_line_break);
                self.pos += end + 4;
            } else if let Some(c) = self.peek().filter(|c| c.is_whitespace()) {
                newline |= is_line_break(c);
                self.pos += c.len_utf8();
            } else {
                return Ok((space, newline));
            }
            space = true;
        }
    }

    fn next(&mut self) -> Result<Option<Token<'a>>, Error> {
        let (space, newline) = self.skip()?;
        let start = self.pos;
        let Some(c) = self.peek() else {
            if !self.templates.is_empty() {
                return Err(self.fail("unterminated template"));
            }
            return Ok(None);
        };
        let after_head = std::mem::take(&mut self.after_head);
        let member = std::mem::take(&mut self.member);
        let kind = match c {
            '"' | '\'' => {
                self.string(c)?;
                Kind::Literal
            }
            '`' => {
                self.pos += 1;
                self.template()?
            }
            '/' if self.regex_ok => {
                self.regex()?;
                Kind::Literal
            }
            '}' if self.templates.last() == Some(&0) => {
                self.templates.pop();
                self.pos += 1;
                self.template()?
            }
            c if c.is_ascii_digit()
                || (c == '.' && self.rest()[1..].starts_with(|d: char| d.is_ascii_digit())) =>
            {
                self.number();
                Kind::Number
            }
            c if is_word_char(c) => {
                let end = self
                    .rest()
                    .find(|c| !is_word_char(c))
                    .unwrap_or(self.rest().len());
                self.pos += end;
                Kind::Word
            }
            _ => {
                self.punct(after_head);
                Kind::Punct
            }
        };
        let text = &self.src[start..self.pos];
        self.regex_ok = match kind {
            Kind::Word => {
                self.after_head = !member && HEADS.contains(&text);
                !member && BEFORE_EXPRESSION.contains(&text)
            }
            Kind::Number | Kind::Literal => false,
            Kind::TemplateHead => true,
            // `)` of an `if (…)` head is set in punct(); `}` most often ends a block.
            Kind::Punct => {
                self.member = matches!(text, "." | "?.");
                !matches!(text, "]" | "++" | "--") && (text != ")" || self.regex_ok)
            }
        };
        Ok(Some(Token {
            kind,
            text,
            space,
            newline,
        }))
    }

    fn string(&mut self, quote: char) -> Result<(), Error> {
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(());
                }
                '\n' | '\r' => break,
                _ => {}
            }
        }
        Err(self.fail("unterminated string"))
    }

    /// From after a backtick or a substitution's `}` to the closing backtick or the next `${`.
    fn template(&mut self) -> Result<Kind, Error> {
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    chars.next();
                }
                '`' => {
                    self.pos += i + 1;
                    return Ok(Kind::Literal);
                }
                '$' if self.rest()[i + 1..].starts_with('{') => {
                    self.pos += i + 2;
                    self.templates.push(0);
                    return Ok(Kind::TemplateHead);
                }
                _ => {}
            }
        }
        Err(self.fail("unterminated template"))
    }

    fn regex(&mut self) -> Result<(), Error> {
        let mut class = false;
        let mut chars = self.rest().char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                // An escape takes the next character as it is; a line break there ends nothing.
                '\\' if chars.next().is_none_or(|(_, c)| is_line_break(c)) => break,
                '\\' => {}
                '[' => class = true,
                ']' => class = false,
                '/' if !class => {
                    self.pos += i + 1;
                    let flags = self
                        .rest()
                        .find(|c| !is_word_char(c))
                        .unwrap_or(self.rest().len());
                    self.pos += flags;
                    return Ok(());
                }
                c if is_line_break(c) => break,
                _ => {}
            }
        }
        Err(self.fail("unterminated regular expression"))
    }

    fn number(&mut self) {
        let r = self.rest();
        let hex = r.len() > 1
            && r.starts_with('0')
            && r[1..].starts_with(|c: char| c.is_ascii_alphabetic());
        let mut end = 0;
        let bytes = r.as_bytes();
        while end < bytes.len() {
            let b = bytes[end];
            let exponent_sign =
                (b == b'+' || b == b'-') && !hex && matches!(bytes[end - 1], b'e' | b'E');
            if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || exponent_sign) {
                break;
            }
            end += 1;
        }
        self.pos += end;
    }

    fn punct(&mut self, after_head: bool) {
        let r = self.rest();
        let text = PUNCTUATORS
            .iter()
            .find(|p| {
                r.starts_with(**p)
                    && !(**p == "?." && r[2..].starts_with(|c: char| c.is_ascii_digit()))
            })
            .copied()
            .unwrap_or_else(|| &r[..r.chars().next().map_or(0, char::len_utf8)]);
        self.pos += text.len();
        match text {
            "{" => {
                if let Some(open) = self.templates.last_mut() {
                    *open += 1;
                }
            }
            "}" => {
                if let Some(open) = self.templates.last_mut() {
                    *open -= 1;
                }
            }
            "(" => self.parens.push(after_head),
            // regex_ok is set from this right after: true only after a statement head.
            ")" => self.regex_ok = self.parens.pop().unwrap_or(false),
            _ => {}
        }
    }
}

/// What goes between two tokens that the source separated by whitespace or comments.
fn separator(a: &Token, b: &Token) -> &'static str {
    if b.newline && !line_break_droppable(a, b) {
        return "\n";
    }
    let (x, y) = (
        a.text.chars().last().unwrap_or(' '),
        b.text.chars().next().unwrap_or(' '),
    );
    let merges = (is_word_char(x) && is_word_char(y))
        || (x == '+' && y == '+')
        || (x == '-' && (y == '-' || y == '>'))
        || (x == '/' && (y == '/' || y == '*'))
        || (x == '<' && y == '!')
        || (a.kind == Kind::Number && y == '.');
    if merges { " " } else { "" }
}

/// Whether a line break between two tokens can go without changing how the code parses.
fn line_break_droppable(a: &Token, b: &Token) -> bool {
    if a.kind == Kind::Word && RESTRICTED.contains(&a.text) {
        return matches!(b.text, ";" | "}" | ")" | "]" | ",");
    }
    let ends_nothing = match a.kind {
        Kind::Punct => !matches!(a.text, ")" | "]" | "}" | "++" | "--"),
        Kind::TemplateHead => true,
        _ => false,
    };
    let continues = b.kind == Kind::Punct && CONTINUES.contains(&b.text)
        || (b.kind == Kind::Literal && b.text.starts_with('}'));
    ends_nothing || continues
}

/// The source without comments and needless whitespace.
pub fn minify(src: &str) -> Result<String, Error> {
    let mut lexer = Lexer::new(src);
    let mut out = String::with_capacity(src.len() / 2);
    let mut prev: Option<Token> = None;
    while let Some(t) = lexer.next()? {
        if let (Some(p), true) = (&prev, t.space) {
            out.push_str(separator(p, &t));
        }
        out.push_str(t.text);
        prev = Some(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens of a source, as text: minifying must keep them all, in order.
    fn tokens(src: &str) -> Vec<String> {
        let mut lexer = Lexer::new(src);
        let mut out = Vec::new();
        while let Some(t) = lexer.next().unwrap() {
            out.push(t.text.to_string());
        }
        out
    }

    fn same_tokens(src: &str) -> String {
        let min = minify(src).unwrap();
        assert_eq!(tokens(&min), tokens(src), "tokens changed:\n{min}");
        min
    }

    #[test]
    fn drops_comments_and_indentation() {
        let src =
            "// head\n/** doc */\nexport function f(a, b) {\n  /* why */ return a + b; // sum\n}\n";
        assert_eq!(same_tokens(src), "export function f(a,b){return a+b;}");
    }

    #[test]
    fn keeps_what_is_inside_literals() {
        let src =
            "const s = '// not a comment', t = \"a  /* b */\", u = `x  ${ a + `y ${ b }` }  z`;";
        assert_eq!(
            same_tokens(src),
            "const s='// not a comment',t=\"a  /* b */\",u=`x  ${a+`y ${b}`}  z`;"
        );
        let esc = r#"const q = 'it\'s  ', r = "\"  ", w = `\`  ${1}`;"#;
        assert_eq!(
            same_tokens(esc),
            r#"const q='it\'s  ',r="\"  ",w=`\`  ${1}`;"#
        );
    }

    #[test]
    fn tells_regular_expressions_from_division() {
        let src = "x = a / b / c; y = s.replace(/ \\/ [/ ]+ /g, ' '); if (ok) /a b/.test(s);\nz = (a) / 2;";
        assert_eq!(
            same_tokens(src),
            "x=a/b/c;y=s.replace(/ \\/ [/ ]+ /g,' ');if(ok)/a b/.test(s);z=(a)/2;"
        );
        assert_eq!(
            same_tokens("return /x y/.test(v) ? 1 : /[}]/.exec(w)"),
            "return/x y/.test(v)?1:/[}]/.exec(w)"
        );
        assert_eq!(same_tokens("n = i++ / 2, m = a[0] / 3"), "n=i++/2,m=a[0]/3");
        assert_eq!(same_tokens("f(`${a}` / 2)"), "f(`${a}`/2)");
        // Keywords as property names are plain names.
        assert_eq!(
            same_tokens("n = o.return / 2 / k, p = o?.in / 3"),
            "n=o.return/2/k,p=o?.in/3"
        );
        assert_eq!(same_tokens("o.if (x) / 2"), "o.if(x)/2");
    }

    #[test]
    fn keeps_tokens_apart() {
        assert_eq!(same_tokens("a + +b - -c + ++d"), "a+ +b- -c+ ++d");
        assert_eq!(
            same_tokens("x in y, typeof z, 1 .toFixed(2), 1.5 .toFixed()"),
            "x in y,typeof z,1 .toFixed(2),1.5 .toFixed()"
        );
        assert_eq!(same_tokens("a / /re/g.source"), "a/ /re/g.source");
        assert_eq!(same_tokens("if (a < !b) c-- > d"), "if(a< !b)c-- >d");
        assert_eq!(same_tokens("x = 1e+5 + 0x1e + 2"), "x=1e+5+0x1e+2");
    }

    #[test]
    fn keeps_the_line_breaks_that_semicolon_insertion_needs() {
        assert_eq!(
            same_tokens("let a = b\n(c)\nreturn\nx"),
            "let a=b\n(c)\nreturn\nx"
        );
        assert_eq!(
            same_tokens("a++\nb\nx = {}\n[1].map(f)"),
            "a++\nb\nx={}\n[1].map(f)"
        );
        assert_eq!(
            same_tokens("a = b\n  .c()\n  ? d\n  : e;\nf()"),
            "a=b.c()?d:e;f()"
        );
        assert_eq!(
            same_tokens("if (x) {\n  y();\n}\nz = [\n  1,\n  2\n]"),
            "if(x){y();}\nz=[1,2]"
        );
        assert_eq!(same_tokens("return a &&\n  b"), "return a&&b");
    }

    /// The real thing: every module of the customer script keeps its tokens and loses weight.
    #[test]
    fn minifies_every_customer_module() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/customer");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "js") {
                let src = std::fs::read_to_string(&path).unwrap();
                let min = same_tokens(&src);
                assert!(min.len() < src.len(), "{}", path.display());
                n += 1;
            }
        }
        assert!(n > 5);
    }

    #[test]
    fn keeps_unicode_and_reports_unterminated_literals() {
        assert_eq!(
            same_tokens("const m = '•' ; const é = 1"),
            "const m='•';const é=1"
        );
        for bad in ["'abc", "`abc ${x}", "/abc", "/* abc", "x = /a\n/"] {
            assert!(minify(bad).is_err(), "{bad}");
        }
    }
}
