//! D expressions and the small type grammar of casts, `sizeof` and
//! declarations.
//!
//! Precedence, loosest first, as in C with D's `^^` between `||` and `&&`:
//!
//! ```text
//! ,   = += -= *= /= %= &= ^= |= <<= >>= (right)   ?: (right)
//! ||   ^^   &&   |   ^   &   == !=   < <= > >=   << >>   + -   * / %
//! prefix: ++ -- - + ! ~ * & sizeof stringof (type)
//! postfix: [keys] (args) . -> ++ --
//! ```
//!
//! Binary operators are parsed by precedence climbing (a loop per level, at
//! most eleven levels of recursion before an operand); every other
//! recursion passes [`Parser::enter`]. Each node's depth is tracked while
//! the tree is built and capped at [`MAX_DEPTH`], so a long `1+1+1+…`
//! chain, which needs no recursion to parse, still cannot make a tree too
//! deep to walk or drop.

use super::MAX_DEPTH;
use super::ast::{AssignOp, BinOp, Expr, ExprKind, Span, TypeName, UnaryOp};
use super::error::{ParseError, ParseErrorKind};
use super::lexer::Mode;
use super::parser::{PResult, Parser};
use super::token::{Keyword, Punct, TYPEDEF_NAMES, TokKind};

const E: Mode = Mode::Expr;

/// An expression under construction with the depth of its tree.
struct Sub {
    e: Expr,
    d: usize,
}

fn binop(kind: &TokKind) -> Option<(BinOp, u8)> {
    use Punct::*;
    let TokKind::P(p) = kind else { return None };
    Some(match p {
        OrOr => (BinOp::Or, 1),
        XorXor => (BinOp::Xor, 2),
        AndAnd => (BinOp::And, 3),
        Pipe => (BinOp::BitOr, 4),
        Caret => (BinOp::BitXor, 5),
        Amp => (BinOp::BitAnd, 6),
        EqEq => (BinOp::Eq, 7),
        Ne => (BinOp::Ne, 7),
        Lt => (BinOp::Lt, 8),
        Le => (BinOp::Le, 8),
        Gt => (BinOp::Gt, 8),
        Ge => (BinOp::Ge, 8),
        Shl => (BinOp::Shl, 9),
        Shr => (BinOp::Shr, 9),
        Plus => (BinOp::Add, 10),
        Minus => (BinOp::Sub, 10),
        Star => (BinOp::Mul, 11),
        Slash => (BinOp::Div, 11),
        Percent => (BinOp::Mod, 11),
        _ => return None,
    })
}

fn assign_op(kind: &TokKind) -> Option<AssignOp> {
    use Punct::*;
    let TokKind::P(p) = kind else { return None };
    Some(match p {
        Assign => AssignOp::Assign,
        PlusEq => AssignOp::Add,
        MinusEq => AssignOp::Sub,
        StarEq => AssignOp::Mul,
        SlashEq => AssignOp::Div,
        PercentEq => AssignOp::Mod,
        AndEq => AssignOp::BitAnd,
        XorEq => AssignOp::BitXor,
        OrEq => AssignOp::BitOr,
        ShlEq => AssignOp::Shl,
        ShrEq => AssignOp::Shr,
        _ => return None,
    })
}

fn prefix_op(kind: &TokKind) -> Option<UnaryOp> {
    use Punct::*;
    let TokKind::P(p) = kind else { return None };
    Some(match p {
        PlusPlus => UnaryOp::PreInc,
        MinusMinus => UnaryOp::PreDec,
        Minus => UnaryOp::Neg,
        Plus => UnaryOp::Plus,
        Bang => UnaryOp::Not,
        Tilde => UnaryOp::BitNot,
        Star => UnaryOp::Deref,
        Amp => UnaryOp::AddrOf,
        _ => return None,
    })
}

/// Whether a token can start a type name.
fn starts_type(kind: &TokKind) -> bool {
    match kind {
        TokKind::Kw(k) => {
            k.is_type_word()
                || k.is_qualifier()
                || matches!(k, Keyword::Struct | Keyword::Union | Keyword::Enum)
        }
        TokKind::Ident(n) => TYPEDEF_NAMES.contains(&n.as_str()),
        _ => false,
    }
}

/// Whether an expression may stand left of `=` as far as syntax goes.
fn assignable(e: &Expr) -> bool {
    !matches!(
        e.kind,
        ExprKind::Binary { .. }
            | ExprKind::Ternary { .. }
            | ExprKind::Assign { .. }
            | ExprKind::Cast { .. }
    )
}

impl Parser<'_> {
    /// A full expression (comma operator included).
    pub(super) fn expr(&mut self) -> PResult<Expr> {
        Ok(self.comma()?.e)
    }

    fn mk(&self, kind: ExprKind, span: Span, child_depth: usize) -> PResult<Sub> {
        let d = child_depth + 1;
        if d > MAX_DEPTH {
            return Err(ParseError::new(
                ParseErrorKind::TooDeep { limit: MAX_DEPTH },
                span,
            ));
        }
        Ok(Sub {
            e: Expr { kind, span },
            d,
        })
    }

    fn mk_binary(&self, op: BinOp, l: Sub, r: Sub) -> PResult<Sub> {
        let span = l.e.span.to(r.e.span);
        let kind = ExprKind::Binary {
            op,
            lhs: Box::new(l.e),
            rhs: Box::new(r.e),
        };
        self.mk(kind, span, l.d.max(r.d))
    }

    fn comma(&mut self) -> PResult<Sub> {
        let mut lhs = self.assign()?;
        while self.eat(E, Punct::Comma)? {
            let rhs = self.assign()?;
            lhs = self.mk_binary(BinOp::Comma, lhs, rhs)?;
        }
        Ok(lhs)
    }

    fn assign(&mut self) -> PResult<Sub> {
        let at = self.peek(E)?.span;
        self.enter(at)?;
        let r = self.assign_inner();
        self.leave();
        r
    }

    fn assign_inner(&mut self) -> PResult<Sub> {
        let lhs = self.ternary()?;
        let t = self.peek(E)?.clone();
        let Some(op) = assign_op(&t.kind) else {
            return Ok(lhs);
        };
        if !assignable(&lhs.e) {
            return Err(self.error_at(&t));
        }
        self.bump(E)?;
        let rhs = self.assign()?;
        let span = lhs.e.span.to(rhs.e.span);
        let d = lhs.d.max(rhs.d);
        let kind = ExprKind::Assign {
            op,
            lhs: Box::new(lhs.e),
            rhs: Box::new(rhs.e),
        };
        self.mk(kind, span, d)
    }

    fn ternary(&mut self) -> PResult<Sub> {
        let cond = self.binary(1)?;
        if !self.eat(E, Punct::Question)? {
            return Ok(cond);
        }
        let then = self.comma()?;
        self.close(Punct::Colon)?;
        let at = self.peek(E)?.span;
        self.enter(at)?;
        let otherwise = self.ternary();
        self.leave();
        let otherwise = otherwise?;
        let span = cond.e.span.to(otherwise.e.span);
        let d = cond.d.max(then.d).max(otherwise.d);
        let kind = ExprKind::Ternary {
            cond: Box::new(cond.e),
            then: Box::new(then.e),
            otherwise: Box::new(otherwise.e),
        };
        self.mk(kind, span, d)
    }

    fn binary(&mut self, min: u8) -> PResult<Sub> {
        let mut lhs = self.unary()?;
        loop {
            let Some((op, prec)) = binop(&self.peek(E)?.kind) else {
                return Ok(lhs);
            };
            if prec < min {
                return Ok(lhs);
            }
            self.bump(E)?;
            let rhs = self.binary(prec + 1)?;
            lhs = self.mk_binary(op, lhs, rhs)?;
        }
    }

    /// A prefix operator's operand (or a cast's), one level deeper.
    fn operand(&mut self, at: Span) -> PResult<Sub> {
        self.enter(at)?;
        let r = self.unary();
        self.leave();
        r
    }

    fn unary(&mut self) -> PResult<Sub> {
        let t = self.peek(E)?.clone();
        if let Some(op) = prefix_op(&t.kind) {
            self.bump(E)?;
            let x = self.operand(t.span)?;
            let span = t.span.to(x.e.span);
            let kind = ExprKind::Unary {
                op,
                expr: Box::new(x.e),
            };
            return self.mk(kind, span, x.d);
        }
        match t.kind {
            TokKind::Kw(Keyword::Sizeof) => {
                self.bump(E)?;
                if self.peek(E)?.kind == TokKind::P(Punct::LParen) && starts_type(&self.peek2()?) {
                    self.bump(E)?;
                    let ty = self.type_name()?;
                    self.close(Punct::RParen)?;
                    let span = t.span.to(Span::new(self.last_end, self.last_end));
                    return self.mk(ExprKind::SizeofType(ty), span, 0);
                }
                let x = self.operand(t.span)?;
                let span = t.span.to(x.e.span);
                self.mk(ExprKind::SizeofExpr(Box::new(x.e)), span, x.d)
            }
            TokKind::Kw(Keyword::Stringof) => {
                self.bump(E)?;
                let x = self.operand(t.span)?;
                let span = t.span.to(x.e.span);
                let kind = ExprKind::Call {
                    func: "stringof".into(),
                    func_span: t.span,
                    args: vec![x.e],
                };
                self.mk(kind, span, x.d)
            }
            TokKind::P(Punct::LParen) if starts_type(&self.peek2()?) => {
                self.bump(E)?;
                let ty = self.type_name()?;
                self.close(Punct::RParen)?;
                let x = self.operand(t.span)?;
                let span = t.span.to(x.e.span);
                let kind = ExprKind::Cast {
                    ty,
                    expr: Box::new(x.e),
                };
                self.mk(kind, span, x.d)
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> PResult<Sub> {
        let mut x = self.primary()?;
        loop {
            let t = self.peek(E)?.clone();
            let (kind, d) = match t.kind {
                TokKind::P(Punct::LBracket) => {
                    self.bump(E)?;
                    let (keys, d) = self.list(Punct::RBracket)?;
                    let kind = ExprKind::Index {
                        base: Box::new(x.e),
                        keys,
                    };
                    (kind, x.d.max(d))
                }
                TokKind::P(Punct::LParen) => {
                    let ExprKind::Ident(func) = &x.e.kind else {
                        return Err(self.error_at(&t));
                    };
                    let func = func.clone();
                    self.bump(E)?;
                    let (args, d) = self.list(Punct::RParen)?;
                    let func_span = x.e.span;
                    (
                        ExprKind::Call {
                            func,
                            func_span,
                            args,
                        },
                        d,
                    )
                }
                TokKind::P(p @ (Punct::Dot | Punct::Arrow)) => {
                    self.bump(E)?;
                    let member = self.member_name()?;
                    let kind = ExprKind::Member {
                        base: Box::new(x.e),
                        arrow: p == Punct::Arrow,
                        member,
                    };
                    (kind, x.d)
                }
                TokKind::P(p @ (Punct::PlusPlus | Punct::MinusMinus)) => {
                    self.bump(E)?;
                    let op = if p == Punct::PlusPlus {
                        UnaryOp::PostInc
                    } else {
                        UnaryOp::PostDec
                    };
                    let kind = ExprKind::Unary {
                        op,
                        expr: Box::new(x.e),
                    };
                    (kind, x.d)
                }
                _ => return Ok(x),
            };
            let span = Span::new(x_start(&kind), self.last_end);
            x = self.mk(kind, span, d)?;
        }
    }

    /// `a, b, …` up to `close` (the opening token taken); elements are
    /// assignment expressions. Returns them and their greatest depth.
    fn list(&mut self, close: Punct) -> PResult<(Vec<Expr>, usize)> {
        let mut items = Vec::new();
        let mut d = 0;
        if self.eat(E, close)? {
            return Ok((items, d));
        }
        loop {
            let x = self.assign()?;
            d = d.max(x.d);
            items.push(x.e);
            if !self.eat(E, Punct::Comma)? {
                break;
            }
        }
        self.close(close)?;
        Ok((items, d))
    }

    /// Expects `p`; a predicate's closing `/` in its place gets DTrace's
    /// message for an unclosed `(` or `[`.
    fn close(&mut self, p: Punct) -> PResult<()> {
        let t = self.peek(E)?.clone();
        if t.kind == TokKind::P(p) {
            self.bump(E)?;
            return Ok(());
        }
        let kind = match (&t.kind, p) {
            (TokKind::EndPred, Punct::RParen) => ParseErrorKind::PredicateParen,
            (TokKind::EndPred, Punct::RBracket) => ParseErrorKind::PredicateBracket,
            _ => return Err(self.error_at(&t)),
        };
        Err(ParseError::new(kind, t.span))
    }

    /// The name after `.` or `->`: any identifier, keywords included.
    fn member_name(&mut self) -> PResult<String> {
        let t = self.bump(E)?;
        match t.kind {
            TokKind::Ident(n) => Ok(n),
            TokKind::Kw(k) => Ok(k.as_str().to_owned()),
            _ => Err(self.error_at(&t)),
        }
    }

    fn primary(&mut self) -> PResult<Sub> {
        let t = self.bump(E)?;
        let kind = match t.kind.clone() {
            // A type name is not a value (DTrace lexes it as a type).
            TokKind::Ident(n) if TYPEDEF_NAMES.contains(&n.as_str()) => {
                return Err(self.error_at(&t));
            }
            TokKind::Ident(n) => ExprKind::Ident(n),
            TokKind::Int(v) => ExprKind::Int(v),
            TokKind::Str(s) => ExprKind::Str(s),
            TokKind::Agg(n) => ExprKind::Agg(n),
            TokKind::Kw(k @ (Keyword::SelfKw | Keyword::This)) => {
                self.expect(E, Punct::Arrow)?;
                let name = self.member_name()?;
                if k == Keyword::SelfKw {
                    ExprKind::ThreadVar(name)
                } else {
                    ExprKind::ClauseVar(name)
                }
            }
            TokKind::Kw(k @ (Keyword::Offsetof | Keyword::Xlate)) => {
                return Err(ParseError::new(
                    ParseErrorKind::Unsupported {
                        what: k.as_str().to_owned(),
                    },
                    t.span,
                ));
            }
            TokKind::P(Punct::LParen) => {
                let inner = self.comma()?;
                self.close(Punct::RParen)?;
                let span = t.span.to(Span::new(self.last_end, self.last_end));
                return Ok(Sub {
                    e: Expr {
                        kind: inner.e.kind,
                        span,
                    },
                    d: inner.d,
                });
            }
            _ => return Err(self.error_at(&t)),
        };
        let span = t.span.to(Span::new(self.last_end, self.last_end));
        self.mk(kind, span, 0)
    }

    /// `[qualifiers] specifier words [qualifiers] *…`
    pub(super) fn type_name(&mut self) -> PResult<TypeName> {
        let start = self.peek(E)?.span;
        let mut words: Vec<String> = Vec::new();
        loop {
            let t = self.peek(E)?.clone();
            match &t.kind {
                TokKind::Kw(k) if k.is_qualifier() => {}
                TokKind::Kw(k) if k.is_type_word() => words.push(k.as_str().to_owned()),
                TokKind::Kw(k @ (Keyword::Struct | Keyword::Union | Keyword::Enum)) => {
                    self.bump(E)?;
                    let n = self.bump(E)?;
                    let TokKind::Ident(name) = &n.kind else {
                        return Err(self.error_at(&n));
                    };
                    words.push(format!("{} {name}", k.as_str()));
                    continue;
                }
                TokKind::Ident(n) if words.is_empty() && TYPEDEF_NAMES.contains(&n.as_str()) => {
                    words.push(n.clone());
                }
                _ if words.is_empty() => return Err(self.error_at(&t)),
                _ => break,
            }
            self.bump(E)?;
        }
        let mut pointers: u8 = 0;
        while self.eat(E, Punct::Star)? {
            pointers = pointers
                .checked_add(1)
                .ok_or_else(|| ParseError::new(ParseErrorKind::TooDeep { limit: 255 }, start))?;
        }
        Ok(TypeName {
            base: words.join(" "),
            pointers,
            span: start.to(Span::new(self.last_end, self.last_end)),
        })
    }
}

/// Where a postfix expression starts: at its base.
fn x_start(kind: &ExprKind) -> usize {
    match kind {
        ExprKind::Index { base, .. } | ExprKind::Member { base, .. } => base.span.start,
        ExprKind::Unary { expr, .. } => expr.span.start,
        ExprKind::Call { func_span, .. } => func_span.start,
        _ => 0,
    }
}
