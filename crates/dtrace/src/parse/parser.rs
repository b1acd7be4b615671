//! The program level of D's grammar: clauses, probe descriptions,
//! predicates, statement lists, outer declarations.
//!
//! ```text
//! program     := ( clause | decl )*
//! clause      := pspec ( "," pspec )* ( "/" expr "/" )? "{" stmts "}"
//!                (a bare "pspec, …" only in a -n description)
//! stmts       := ( ";" | expr ( ";" | before "}" ) | if )*
//! if          := "if" "(" expr ")" branch ( "else" branch )?
//! branch      := "{" stmts "}" | stmt
//! decl        := ( "self" | "this" | "extern" | "static" )? type
//!                declarator ( "," declarator )* ";"
//! declarator  := ident ( "[" ( type ( "," type )* )? "]" )?
//! ```
//!
//! A recursive-descent parser over the lexer of `lexer.rs`, one token of
//! look-ahead (two for casts). Every recursion goes through [`Parser::enter`],
//! which fails past [`super::MAX_DEPTH`] levels; expression trees are also
//! limited to that depth (see `expr.rs`), so no input overflows the stack.

use super::MAX_DEPTH;
use super::ast::{Clause, Decl, ProbeSpec, Program, Span, Stmt, VarScope};
use super::error::{ParseError, ParseErrorKind};
use super::lexer::{Lexer, Mode};
use super::macros::MacroEnv;
use super::probe::{FieldLevel, split_description};
use super::token::{Keyword, Punct, TYPEDEF_NAMES, TokKind, Token};

pub type PResult<T> = Result<T, ParseError>;

pub struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) lexer: Lexer<'a>,
    env: &'a MacroEnv,
    peeked: Option<(Mode, Token)>,
    pub(super) program: Program,
    depth: usize,
    /// End of the last token taken, for spans of whole constructs.
    pub(super) last_end: usize,
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str, env: &'a MacroEnv) -> Self {
        Parser {
            src,
            lexer: Lexer::new(src, env),
            env,
            peeked: None,
            program: Program::default(),
            depth: 0,
            last_end: 0,
        }
    }

    // ---- tokens ----

    /// The next token in `mode`, not taken.
    pub(super) fn peek(&mut self, mode: Mode) -> PResult<&Token> {
        match &self.peeked {
            Some((m, _)) if *m == mode => {}
            Some((_, t)) => {
                let at = t.span.start;
                self.lexer.reset(at);
                self.peeked = None;
                return self.peek(mode);
            }
            None => {
                let t = self.lexer.next(mode, &mut self.program.pragmas)?;
                self.peeked = Some((mode, t));
            }
        }
        match &self.peeked {
            Some((_, t)) => Ok(t),
            None => unreachable!("a token was just stored"),
        }
    }

    /// The token after the next one in expression mode, not taken.
    pub(super) fn peek2(&mut self) -> PResult<TokKind> {
        self.peek(Mode::Expr)?;
        let mut ahead = self.lexer.clone();
        let mut scratch = Vec::new();
        Ok(ahead.next(Mode::Expr, &mut scratch)?.kind)
    }

    /// Takes the next token in `mode`.
    pub(super) fn bump(&mut self, mode: Mode) -> PResult<Token> {
        self.peek(mode)?;
        match self.peeked.take() {
            Some((_, t)) => {
                self.last_end = t.span.end;
                Ok(t)
            }
            None => unreachable!("peek stored a token"),
        }
    }

    /// Takes the next token if it is `p`.
    pub(super) fn eat(&mut self, mode: Mode, p: Punct) -> PResult<bool> {
        if self.peek(mode)?.kind == TokKind::P(p) {
            self.bump(mode)?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    pub(super) fn expect(&mut self, mode: Mode, p: Punct) -> PResult<Token> {
        if self.peek(mode)?.kind == TokKind::P(p) {
            self.bump(mode)
        } else {
            Err(self.unexpected(mode))
        }
    }

    /// `syntax error near "X"` for the next token.
    pub(super) fn unexpected(&mut self, mode: Mode) -> ParseError {
        match self.peek(mode).cloned() {
            Err(e) => e,
            Ok(t) => self.error_at(&t),
        }
    }

    pub(super) fn error_at(&self, t: &Token) -> ParseError {
        if t.kind == TokKind::Eof {
            return ParseError::new(ParseErrorKind::SyntaxAtEnd, t.span);
        }
        let near = self.src.get(t.span.start..t.span.end).unwrap_or("");
        ParseError::new(
            ParseErrorKind::SyntaxNear {
                near: near.to_owned(),
            },
            t.span,
        )
    }

    /// One more level of nesting, failing past [`MAX_DEPTH`].
    pub(super) fn enter(&mut self, at: Span) -> PResult<()> {
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::new(
                ParseErrorKind::TooDeep { limit: MAX_DEPTH },
                at,
            ));
        }
        self.depth += 1;
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth -= 1;
    }

    // ---- program ----

    /// The whole input; `bare` allows a description without predicate or
    /// actions (`dtrace -n BEGIN`).
    pub fn program(mut self, bare: bool) -> PResult<Program> {
        loop {
            let t = self.peek(Mode::Outer)?.clone();
            match &t.kind {
                TokKind::Eof => break,
                TokKind::Pspec(text) if starts_decl(text) => self.decl()?,
                TokKind::Pspec(_) => {
                    let c = self.clause(bare)?;
                    self.program.clauses.push(c);
                }
                TokKind::Int(_) => {
                    return Err(ParseError::new(
                        ParseErrorKind::Unsupported {
                            what: "a probe given by its numeric id".into(),
                        },
                        t.span,
                    ));
                }
                _ => return Err(self.error_at(&t)),
            }
        }
        Ok(self.program)
    }

    fn clause(&mut self, bare: bool) -> PResult<Clause> {
        let mut probes = vec![self.pspec()?];
        while self.eat(Mode::Outer, Punct::Comma)? {
            probes.push(self.pspec()?);
        }
        let start = probes[0].span;
        let t = self.peek(Mode::Outer)?.clone();
        let predicate = match t.kind {
            TokKind::P(Punct::Slash) => {
                self.bump(Mode::Outer)?;
                let e = self.expr()?;
                self.end_predicate()?;
                Some(e)
            }
            TokKind::P(Punct::LBrace) => None,
            TokKind::Eof | TokKind::Pspec(_) if bare => {
                return Ok(Clause {
                    span: start.to(probes[probes.len() - 1].span),
                    probes,
                    predicate: None,
                    body: Vec::new(),
                });
            }
            TokKind::Eof => {
                return Err(ParseError::new(ParseErrorKind::BareDescription, start));
            }
            _ => return Err(self.error_at(&t)),
        };
        self.expect(Mode::Expr, Punct::LBrace)?;
        let body = self.block_rest()?;
        Ok(Clause {
            probes,
            predicate,
            body,
            span: start.to(Span::new(self.last_end, self.last_end)),
        })
    }

    fn end_predicate(&mut self) -> PResult<()> {
        let t = self.peek(Mode::Expr)?.clone();
        if t.kind == TokKind::EndPred {
            self.bump(Mode::Expr)?;
            return Ok(());
        }
        Err(self.error_at(&t))
    }

    fn pspec(&mut self) -> PResult<ProbeSpec> {
        let t = self.bump(Mode::Outer)?;
        match t.kind {
            TokKind::Pspec(text) => split_description(&text, t.span, FieldLevel::Name, self.env),
            _ => Err(self.error_at(&t)),
        }
    }

    // ---- statements ----

    /// Statements up to and including the `}` closing a block whose `{` is
    /// taken.
    fn block_rest(&mut self) -> PResult<Vec<Stmt>> {
        let mut stmts = Vec::new();
        loop {
            let t = self.peek(Mode::Expr)?.clone();
            match t.kind {
                TokKind::P(Punct::RBrace) => {
                    self.bump(Mode::Expr)?;
                    return Ok(stmts);
                }
                TokKind::P(Punct::Semi) => {
                    self.bump(Mode::Expr)?;
                }
                TokKind::Eof => return Err(self.error_at(&t)),
                _ => {
                    let s = self.stmt()?;
                    let ends_with_block = matches!(s, Stmt::If { .. });
                    stmts.push(s);
                    if !ends_with_block && !self.eat(Mode::Expr, Punct::Semi)? {
                        let t = self.peek(Mode::Expr)?.clone();
                        if t.kind != TokKind::P(Punct::RBrace) {
                            return Err(self.error_at(&t));
                        }
                    }
                }
            }
        }
    }

    /// One statement, without its terminating `;`.
    fn stmt(&mut self) -> PResult<Stmt> {
        let t = self.peek(Mode::Expr)?.clone();
        if t.kind != TokKind::Kw(Keyword::If) {
            return Ok(Stmt::Expr(self.expr()?));
        }
        self.enter(t.span)?;
        self.bump(Mode::Expr)?;
        self.expect(Mode::Expr, Punct::LParen)?;
        let cond = self.expr()?;
        self.expect(Mode::Expr, Punct::RParen)?;
        let then = self.branch()?;
        let otherwise = if self.peek(Mode::Expr)?.kind == TokKind::Kw(Keyword::Else) {
            self.bump(Mode::Expr)?;
            self.branch()?
        } else {
            Vec::new()
        };
        self.leave();
        Ok(Stmt::If {
            cond,
            then,
            otherwise,
            span: t.span.to(Span::new(self.last_end, self.last_end)),
        })
    }

    /// A block, or one statement with its `;`.
    fn branch(&mut self) -> PResult<Vec<Stmt>> {
        if self.eat(Mode::Expr, Punct::LBrace)? {
            return self.block_rest();
        }
        if self.eat(Mode::Expr, Punct::Semi)? {
            return Ok(Vec::new());
        }
        let s = self.stmt()?;
        if !matches!(s, Stmt::If { .. }) {
            self.expect(Mode::Expr, Punct::Semi)?;
        }
        Ok(vec![s])
    }

    // ---- declarations ----

    fn decl(&mut self) -> PResult<()> {
        let first = self.peek(Mode::Expr)?.clone();
        let scope = match first.kind {
            TokKind::Kw(Keyword::SelfKw) => VarScope::Thread,
            TokKind::Kw(Keyword::This) => VarScope::Clause,
            _ => VarScope::Global,
        };
        if scope != VarScope::Global
            || matches!(first.kind, TokKind::Kw(Keyword::Extern | Keyword::Static))
        {
            self.bump(Mode::Expr)?;
        }
        let t = self.peek(Mode::Expr)?.clone();
        if let TokKind::Kw(
            k @ (Keyword::Typedef
            | Keyword::Inline
            | Keyword::Translator
            | Keyword::Provider
            | Keyword::Counter),
        ) = t.kind
        {
            return Err(ParseError::new(
                ParseErrorKind::Unsupported {
                    what: format!("a {} declaration", k.as_str()),
                },
                t.span,
            ));
        }
        let ty = self.type_name()?;
        loop {
            let t = self.bump(Mode::Expr)?;
            let TokKind::Ident(name) = t.kind.clone() else {
                return Err(self.error_at(&t));
            };
            let mut keys = Vec::new();
            if self.eat(Mode::Expr, Punct::LBracket)? && !self.eat(Mode::Expr, Punct::RBracket)? {
                loop {
                    keys.push(self.type_name()?);
                    if !self.eat(Mode::Expr, Punct::Comma)? {
                        break;
                    }
                }
                self.expect(Mode::Expr, Punct::RBracket)?;
            }
            self.program.decls.push(Decl {
                scope,
                ty: ty.clone(),
                name,
                keys,
                span: first.span.to(Span::new(self.last_end, self.last_end)),
            });
            if !self.eat(Mode::Expr, Punct::Comma)? {
                break;
            }
        }
        self.expect(Mode::Expr, Punct::Semi)?;
        Ok(())
    }
}

/// Whether an outer-scope word starts a declaration rather than a clause:
/// `self`, `this`, a storage class or a type (`int`, `uint64_t`, `int*`).
/// Descriptions with `:`, `-`, `.` and the like never do.
fn starts_decl(text: &str) -> bool {
    let word = text.split('*').next().unwrap_or("");
    if word.is_empty() || word.len() != text.len() && !text[word.len()..].bytes().all(|c| c == b'*')
    {
        return false;
    }
    match Keyword::from_word(word) {
        Some(k) => {
            k.is_type_word()
                || k.is_qualifier()
                || matches!(
                    k,
                    Keyword::SelfKw
                        | Keyword::This
                        | Keyword::Extern
                        | Keyword::Static
                        | Keyword::Struct
                        | Keyword::Union
                        | Keyword::Enum
                        | Keyword::Typedef
                        | Keyword::Inline
                        | Keyword::Translator
                        | Keyword::Provider
                        | Keyword::Counter
                )
        }
        None => TYPEDEF_NAMES.contains(&word),
    }
}
