//! D's lexer, with two modes as DTrace's own has.
//!
//! - [`Mode::Outer`]: where a clause (or declaration) may start. Here a run
//!   of `[-$:a-zA-Z_.?*\[\]!]` then `[-$:0-9a-zA-Z_.`?*\[\]!]*` is one
//!   [`TokKind::Pspec`]: `syscall::open*:entry`, `profile-997` and
//!   `pid$target:libc.so.6:malloc:entry` are single tokens, ended by
//!   blanks, `,`, `/` (a predicate) or `{` (the actions).
//! - [`Mode::Expr`]: predicates, statements and declarations: identifiers,
//!   keywords, literals, operators. Macro references are replaced here.
//!
//! The parser chooses the mode for every token it asks for; a token peeked
//! in one mode is lexed again from its start if the parser then asks in the
//! other. In both modes the lexer skips blanks, `/* */` and `//` comments,
//! and control lines: a `#` first on its line starts `#pragma …` (handed
//! to the parser's list), `#!…`, `#line`, `#ident` or a bare `#` (all
//! ignored); any other directive is an error. In expressions a `\` before
//! a newline is skipped too (in a description it is a character of it).
//!
//! A `/` in an expression closes a predicate ([`TokKind::EndPred`]) when
//! the next non-blank character is `{`, `;`, `/` or the end of input, and
//! is division otherwise — DTrace's rule. One consequence: a `//` comment
//! directly after a predicate's closing `/` is read as the comment, so
//! write a blank between them.
//!
//! Bounded: every step consumes input or ends the token stream; nothing
//! recurses.

use std::collections::VecDeque;

use super::ast::{IntLit, Pragma, PragmaKind, Span};
use super::error::{ParseError, ParseErrorKind};
use super::literal::{is_ident_char, is_ident_start, lex_int, unescape};
use super::macros::{ArgValue, MacroEnv, classify_arg};
use super::token::{Keyword, PUNCTS_LONGEST_FIRST, Punct, TokKind, Token};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Outer,
    Expr,
}

type LexResult<T> = Result<T, ParseError>;

#[derive(Debug, Clone)]
pub struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    env: &'a MacroEnv,
    /// Tokens of a macro argument that expanded to more than one (`-5`).
    pending: VecDeque<Token>,
}

fn is_pspec_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || b"-$:_.?*\\[]!".contains(&c)
}

fn is_pspec_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-$:_.`?*\\[]!".contains(&c)
}

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str, env: &'a MacroEnv) -> Self {
        Lexer {
            src,
            pos: 0,
            env,
            pending: VecDeque::new(),
        }
    }

    /// Continues lexing at byte `pos` (the start of a token lexed before).
    pub fn reset(&mut self, pos: usize) {
        self.pos = pos.min(self.src.len());
        self.pending.clear();
    }

    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    fn peek_byte(&self, off: usize) -> Option<u8> {
        self.bytes().get(self.pos + off).copied()
    }

    fn err<T>(&self, kind: ParseErrorKind, start: usize, end: usize) -> LexResult<T> {
        Err(ParseError::new(kind, Span::new(start, end)))
    }

    /// The error for an unexpected character at `at`.
    fn near_char<T>(&self, at: usize) -> LexResult<T> {
        let c = self.src[at..].chars().next().unwrap_or(' ');
        self.err(
            ParseErrorKind::SyntaxNear {
                near: c.to_string(),
            },
            at,
            at + c.len_utf8(),
        )
    }

    /// The next token in `mode`; `#pragma` lines met on the way are pushed
    /// to `pragmas`.
    pub fn next(&mut self, mode: Mode, pragmas: &mut Vec<Pragma>) -> LexResult<Token> {
        if let Some(t) = self.pending.pop_front() {
            return Ok(t);
        }
        self.skip_trivia(mode, pragmas)?;
        let start = self.pos;
        let Some(c) = self.peek_byte(0) else {
            return Ok(Token {
                kind: TokKind::Eof,
                span: Span::new(start, start),
            });
        };
        let kind = match mode {
            Mode::Outer => self.lex_outer(c)?,
            Mode::Expr => self.lex_expr(c)?,
        };
        Ok(Token {
            kind,
            span: Span::new(start, self.pos),
        })
    }

    fn skip_trivia(&mut self, mode: Mode, pragmas: &mut Vec<Pragma>) -> LexResult<()> {
        loop {
            let Some(c) = self.peek_byte(0) else {
                return Ok(());
            };
            match c {
                c if is_blank(c) => self.pos += 1,
                b'\\' if mode == Mode::Expr && self.peek_byte(1) == Some(b'\n') => self.pos += 2,
                b'/' if self.peek_byte(1) == Some(b'*') => self.skip_block_comment()?,
                b'/' if self.peek_byte(1) == Some(b'/') => self.skip_line(),
                b'#' if self.at_line_start() => self.control_line(pragmas)?,
                _ => return Ok(()),
            }
        }
    }

    fn skip_line(&mut self) {
        self.pos = self.src[self.pos..]
            .find('\n')
            .map_or(self.src.len(), |i| self.pos + i);
    }

    fn skip_block_comment(&mut self) -> LexResult<()> {
        let start = self.pos;
        let body = &self.src[start + 2..];
        let close = body.find("*/");
        let nested = body.find("/*");
        match (close, nested) {
            (Some(c), Some(n)) if n < c => {
                self.err(ParseErrorKind::NestedComment, start + 2 + n, start + 4 + n)
            }
            (Some(c), _) => {
                self.pos = start + 2 + c + 2;
                Ok(())
            }
            (None, Some(n)) => {
                self.err(ParseErrorKind::NestedComment, start + 2 + n, start + 4 + n)
            }
            (None, None) => self.err(ParseErrorKind::UnterminatedComment, start, start + 2),
        }
    }

    /// Only blanks other than newline between the line's start and `pos`.
    fn at_line_start(&self) -> bool {
        self.bytes()[..self.pos]
            .iter()
            .rev()
            .take_while(|&&c| c != b'\n')
            .all(|&c| matches!(c, b' ' | b'\t' | 0x0b | 0x0c))
    }

    /// A control line from `#` to the end of the line.
    fn control_line(&mut self, pragmas: &mut Vec<Pragma>) -> LexResult<()> {
        let start = self.pos;
        let end = self.src[start..]
            .find('\n')
            .map_or(self.src.len(), |i| start + i);
        self.pos = end;
        let line = &self.src[start + 1..end];
        if line.starts_with('!') {
            return Ok(());
        }
        let words = control_words(line);
        let span = Span::new(start, end);
        match words.first().map(String::as_str) {
            None | Some("line") | Some("ident") => Ok(()),
            Some(w) if w.bytes().all(|c| c.is_ascii_digit()) => Ok(()),
            Some("pragma") => {
                pragmas.push(pragma(&words[1..], span)?);
                Ok(())
            }
            Some(w) => self.err(
                ParseErrorKind::InvalidControl {
                    directive: w.to_owned(),
                },
                start,
                start + 1 + w.len(),
            ),
        }
    }

    fn lex_outer(&mut self, c: u8) -> LexResult<TokKind> {
        let start = self.pos;
        if is_pspec_start(c) {
            let len = self.bytes()[start..]
                .iter()
                .take_while(|&&c| is_pspec_char(c))
                .count();
            self.pos += len;
            return Ok(TokKind::Pspec(self.src[start..self.pos].to_owned()));
        }
        if c.is_ascii_digit() {
            return self.lex_number();
        }
        let p = match c {
            b'{' => Punct::LBrace,
            b'}' => Punct::RBrace,
            b'/' => Punct::Slash,
            b',' => Punct::Comma,
            b';' => Punct::Semi,
            _ => return self.near_char(start),
        };
        self.pos += 1;
        Ok(TokKind::P(p))
    }

    fn lex_expr(&mut self, c: u8) -> LexResult<TokKind> {
        let start = self.pos;
        match c {
            b'$' => self.lex_macro(),
            c if is_ident_start(c) => {
                let len = self.bytes()[start..]
                    .iter()
                    .take_while(|&&c| is_ident_char(c))
                    .count();
                self.pos += len;
                Ok(word_token(&self.src[start..self.pos]))
            }
            b'@' => {
                self.pos += 1;
                let b = self.bytes();
                if b.get(self.pos)
                    .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'_')
                {
                    let len = b[self.pos..]
                        .iter()
                        .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'_')
                        .count();
                    self.pos += len;
                }
                Ok(TokKind::Agg(self.src[start + 1..self.pos].to_owned()))
            }
            b'0'..=b'9' => self.lex_number(),
            b'.' if self.peek_byte(1).is_some_and(|c| c.is_ascii_digit()) => {
                self.err(ParseErrorKind::FloatConstant, start, start + 2)
            }
            b'"' => self.lex_string(),
            b'\'' => self.lex_char(),
            b'/' if self.peek_byte(1) != Some(b'=') => {
                self.pos += 1;
                let rest = &self.bytes()[self.pos..];
                let next = rest.iter().copied().find(|&c| !is_blank(c));
                Ok(match next {
                    None | Some(b'{' | b';' | b'/') => TokKind::EndPred,
                    Some(_) => TokKind::P(Punct::Slash),
                })
            }
            _ => {
                let rest = &self.src[start..];
                match PUNCTS_LONGEST_FIRST
                    .iter()
                    .find(|p| rest.starts_with(p.as_str()))
                {
                    Some(&p) => {
                        self.pos += p.as_str().len();
                        Ok(TokKind::P(p))
                    }
                    None => self.near_char(start),
                }
            }
        }
    }

    fn lex_number(&mut self) -> LexResult<TokKind> {
        let start = self.pos;
        let rest = &self.src[start..];
        let (lit, len) = match lex_int(rest) {
            Some(Ok(v)) => v,
            Some(Err(kind)) => {
                let len = rest.bytes().take_while(|&c| is_ident_char(c)).count();
                return self.err(kind, start, start + len);
            }
            None => return self.near_char(start),
        };
        self.pos += len;
        let plain = !lit.unsigned && lit.longs == 0;
        let hex = rest.len() > 1 && matches!(rest.as_bytes()[1], b'x' | b'X') && !lit.decimal;
        let next = self.peek_byte(0);
        let after = self.peek_byte(1);
        let float = !hex
            && plain
            && match next {
                Some(b'.') => true,
                Some(b'f' | b'F') => !after.is_some_and(is_ident_char),
                Some(b'e' | b'E') => match after {
                    Some(d) if d.is_ascii_digit() => true,
                    Some(b'+' | b'-') => self.peek_byte(2).is_some_and(|d| d.is_ascii_digit()),
                    _ => false,
                },
                _ => false,
            };
        if float {
            return self.err(ParseErrorKind::FloatConstant, start, self.pos + 1);
        }
        Ok(TokKind::Int(lit))
    }

    /// The body of a quoted literal from the opening quote at `pos`: the
    /// index of the closing quote, or the error DTrace gives.
    fn quoted_end(&self, quote: u8) -> LexResult<usize> {
        let start = self.pos;
        let b = self.bytes();
        let mut i = start + 1;
        while i < b.len() {
            match b[i] {
                b'\\' if b.get(i + 1).is_some_and(|&c| c != b'\n') => i += 2,
                b'\n' => {
                    let kind = if quote == b'"' {
                        ParseErrorKind::NewlineInString
                    } else {
                        ParseErrorKind::NewlineInChar
                    };
                    return self.err(kind, start, i);
                }
                c if c == quote => return Ok(i),
                _ => i += 1,
            }
        }
        self.near_char(start)
    }

    fn lex_string(&mut self) -> LexResult<TokKind> {
        let close = self.quoted_end(b'"')?;
        let body = &self.bytes()[self.pos + 1..close];
        self.pos = close + 1;
        Ok(TokKind::Str(unescape(body)))
    }

    fn lex_char(&mut self) -> LexResult<TokKind> {
        let start = self.pos;
        let close = self.quoted_end(b'\'')?;
        let bytes = unescape(&self.bytes()[start + 1..close]);
        self.pos = close + 1;
        if bytes.is_empty() {
            return self.err(ParseErrorKind::EmptyChar, start, self.pos);
        }
        if bytes.len() > 8 {
            return self.err(ParseErrorKind::CharTooLong, start, self.pos);
        }
        let value = bytes.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b));
        Ok(TokKind::Int(IntLit::decimal(value)))
    }

    /// `$N`, `$$N`, `$name`, `$$name`, replaced by what they stand for.
    fn lex_macro(&mut self) -> LexResult<TokKind> {
        let start = self.pos;
        let b = self.bytes();
        let as_string = b.get(start + 1) == Some(&b'$');
        let name_start = start + 1 + usize::from(as_string);
        let digits = b[name_start..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        let len = if digits > 0 {
            digits
        } else if b
            .get(name_start)
            .is_some_and(|&c| is_ident_start(c) && c != b'`')
        {
            b[name_start..]
                .iter()
                .take_while(|&&c| is_ident_char(c) && c != b'`')
                .count()
        } else {
            return self.near_char(start);
        };
        let end = name_start + len;
        self.pos = end;
        let span = Span::new(start, end);
        let written = &self.src[start..end];
        if digits == 0 {
            let name = &self.src[name_start..end];
            let Some(v) = self.env.var(name) else {
                return self.err(
                    ParseErrorKind::MacroVarUndefined {
                        name: written.to_owned(),
                    },
                    start,
                    end,
                );
            };
            return Ok(if as_string {
                TokKind::Str(v.to_string().into_bytes())
            } else {
                TokKind::Int(IntLit::decimal(v))
            });
        }
        let n = self.src[name_start..end].parse::<usize>().ok();
        let value = self.env.arg_or_default(n, as_string, written, span)?;
        if as_string {
            return Ok(TokKind::Str(unescape(value.as_bytes())));
        }
        match classify_arg(value) {
            ArgValue::Int { text, negative } => {
                let lit = match lex_int(text) {
                    Some(Ok((lit, _))) => lit,
                    Some(Err(kind)) => return self.err(kind, start, end),
                    None => return self.near_char(start),
                };
                if !negative {
                    return Ok(TokKind::Int(lit));
                }
                self.pending.push_back(Token {
                    kind: TokKind::Int(lit),
                    span,
                });
                Ok(TokKind::P(Punct::Minus))
            }
            ArgValue::Ident(w) => Ok(word_token(w)),
            ArgValue::Str(s) => Ok(TokKind::Str(unescape(s.as_bytes()))),
        }
    }
}

fn word_token(w: &str) -> TokKind {
    match Keyword::from_word(w) {
        Some(k) => TokKind::Kw(k),
        None => TokKind::Ident(w.to_owned()),
    }
}

/// The words of a control line after `#`: runs of non-blanks, or quoted
/// strings (quotes removed, escapes replaced).
fn control_words(line: &str) -> Vec<String> {
    let b = line.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if is_blank(b[i]) {
            i += 1;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let body = &b[i + 1..j.min(b.len())];
            words.push(String::from_utf8_lossy(&unescape(body)).into_owned());
            i = j + 1;
        } else {
            let len = b[i..]
                .iter()
                .take_while(|&&c| !is_blank(c) && c != b'"')
                .count();
            words.push(line[i..i + len].to_owned());
            i += len;
        }
    }
    words
}

/// A `#pragma` from its words after `pragma`.
fn pragma(words: &[String], span: Span) -> LexResult<Pragma> {
    let kind = match words {
        [d, o, rest @ ..] if d == "D" && o == "option" => {
            let Some(opt) = rest.first() else {
                return Err(ParseError::new(ParseErrorKind::PragmaOptionName, span));
            };
            match opt.split_once('=') {
                Some(("", _)) => {
                    return Err(ParseError::new(ParseErrorKind::PragmaOptionName, span));
                }
                Some((name, value)) => PragmaKind::Option {
                    name: name.to_owned(),
                    value: Some(value.to_owned()),
                },
                None => PragmaKind::Option {
                    name: opt.clone(),
                    value: None,
                },
            }
        }
        _ => PragmaKind::Other {
            words: words.to_vec(),
        },
    };
    Ok(Pragma { kind, span })
}
