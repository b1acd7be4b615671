//! The tree printed back as D, every compound expression in parentheses:
//! `@[execname] = count()` prints as `(@[execname] = count())`. Used by tests
//! (parse, print, parse again gives the same tree) and for debugging.
//!
//! Recursive, and bounded by the parser's depth limit on the tree.

use std::fmt::{self, Display, Formatter, Write};

use super::ast::*;

impl Display for Program {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for p in &self.pragmas {
            writeln!(f, "{p}")?;
        }
        for d in &self.decls {
            writeln!(f, "{d}")?;
        }
        for c in &self.clauses {
            writeln!(f, "{c}")?;
        }
        Ok(())
    }
}

impl Display for Pragma {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("#pragma")?;
        match &self.kind {
            PragmaKind::Option { name, value } => {
                let word = match value {
                    None => name.clone(),
                    Some(v) => format!("{name}={v}"),
                };
                f.write_str(" D option ")?;
                write_control_word(f, &word)
            }
            PragmaKind::Other { words } => {
                for w in words {
                    f.write_char(' ')?;
                    write_control_word(f, w)?;
                }
                Ok(())
            }
        }
    }
}

/// A word of a control line: as is, or quoted when it holds blanks or
/// quotes (or is empty).
fn write_control_word(f: &mut Formatter<'_>, w: &str) -> fmt::Result {
    let plain = !w.is_empty()
        && !w
            .chars()
            .any(|c| c == '"' || c.is_ascii_whitespace() || c == '\u{b}');
    if plain {
        return f.write_str(w);
    }
    f.write_char('"')?;
    for c in w.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl Display for Decl {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.scope {
            VarScope::Global => {}
            VarScope::Thread => f.write_str("self ")?,
            VarScope::Clause => f.write_str("this ")?,
        }
        write!(f, "{} {}", self.ty, self.name)?;
        if !self.keys.is_empty() {
            f.write_char('[')?;
            for (i, k) in self.keys.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}")?;
            }
            f.write_char(']')?;
        }
        f.write_char(';')
    }
}

impl Display for Clause {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, p) in self.probes.iter().enumerate() {
            if i > 0 {
                f.write_str(",\n")?;
            }
            f.write_str(&p.raw)?;
        }
        f.write_char('\n')?;
        if let Some(p) = &self.predicate {
            writeln!(f, "/{p}/")?;
        }
        f.write_str("{\n")?;
        for s in &self.body {
            write_stmt(f, s, 1)?;
        }
        f.write_str("}\n")
    }
}

fn write_stmt(f: &mut Formatter<'_>, s: &Stmt, indent: usize) -> fmt::Result {
    let pad = "\t".repeat(indent);
    match s {
        Stmt::Expr(e) => writeln!(f, "{pad}{e};"),
        Stmt::If {
            cond,
            then,
            otherwise,
            ..
        } => {
            writeln!(f, "{pad}if ({cond}) {{")?;
            for s in then {
                write_stmt(f, s, indent + 1)?;
            }
            if otherwise.is_empty() {
                return writeln!(f, "{pad}}}");
            }
            writeln!(f, "{pad}}} else {{")?;
            for s in otherwise {
                write_stmt(f, s, indent + 1)?;
            }
            writeln!(f, "{pad}}}")
        }
    }
}

impl Display for Stmt {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_stmt(f, self, 0)
    }
}

impl Display for TypeName {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.base)?;
        if self.pointers > 0 {
            f.write_char(' ')?;
            for _ in 0..self.pointers {
                f.write_char('*')?;
            }
        }
        Ok(())
    }
}

fn write_str_lit(f: &mut Formatter<'_>, s: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    for &b in s {
        match b {
            b'"' => f.write_str("\\\"")?,
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\t' => f.write_str("\\t")?,
            0x20..=0x7e => f.write_char(b as char)?,
            _ => write!(f, "\\{b:03o}")?,
        }
    }
    f.write_char('"')
}

fn write_int(f: &mut Formatter<'_>, v: &IntLit) -> fmt::Result {
    if v.decimal || v.value == 0 {
        write!(f, "{}", v.value)?;
    } else {
        write!(f, "{:#x}", v.value)?;
    }
    if v.unsigned {
        f.write_char('u')?;
    }
    for _ in 0..v.longs {
        f.write_char('l')?;
    }
    Ok(())
}

fn write_list(f: &mut Formatter<'_>, items: &[Expr]) -> fmt::Result {
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{e}")?;
    }
    Ok(())
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::Int(v) => write_int(f, v),
            ExprKind::Str(s) => write_str_lit(f, s),
            ExprKind::Ident(n) => f.write_str(n),
            ExprKind::ThreadVar(n) => write!(f, "self->{n}"),
            ExprKind::ClauseVar(n) => write!(f, "this->{n}"),
            ExprKind::Agg(n) => write!(f, "@{n}"),
            ExprKind::Call { func, args, .. } => {
                write!(f, "{func}(")?;
                write_list(f, args)?;
                f.write_char(')')
            }
            ExprKind::Index { base, keys } => {
                write!(f, "{base}[")?;
                write_list(f, keys)?;
                f.write_char(']')
            }
            ExprKind::Member {
                base,
                arrow,
                member,
            } => write!(f, "{base}{}{member}", if *arrow { "->" } else { "." }),
            ExprKind::Unary { op, expr } => match op {
                UnaryOp::PostInc => write!(f, "({expr}++)"),
                UnaryOp::PostDec => write!(f, "({expr}--)"),
                _ => write!(f, "({}{expr})", unary_str(*op)),
            },
            ExprKind::Binary { op, lhs, rhs } => write!(f, "({lhs} {} {rhs})", bin_str(*op)),
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => write!(f, "({cond} ? {then} : {otherwise})"),
            ExprKind::Assign { op, lhs, rhs } => write!(f, "({lhs} {} {rhs})", assign_str(*op)),
            ExprKind::Cast { ty, expr } => write!(f, "(({ty}){expr})"),
            ExprKind::SizeofType(ty) => write!(f, "sizeof ({ty})"),
            ExprKind::SizeofExpr(e) => write!(f, "(sizeof {e})"),
        }
    }
}

fn unary_str(op: UnaryOp) -> &'static str {
    match op {
        UnaryOp::Neg => "-",
        UnaryOp::Plus => "+",
        UnaryOp::Not => "!",
        UnaryOp::BitNot => "~",
        UnaryOp::Deref => "*",
        UnaryOp::AddrOf => "&",
        UnaryOp::PreInc | UnaryOp::PostInc => "++",
        UnaryOp::PreDec | UnaryOp::PostDec => "--",
    }
}

/// An operator as D writes it.
pub fn bin_str(op: BinOp) -> &'static str {
    match op {
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Mod => "%",
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Shl => "<<",
        BinOp::Shr => ">>",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::BitAnd => "&",
        BinOp::BitXor => "^",
        BinOp::BitOr => "|",
        BinOp::And => "&&",
        BinOp::Xor => "^^",
        BinOp::Or => "||",
        BinOp::Comma => ",",
    }
}

fn assign_str(op: AssignOp) -> &'static str {
    match op {
        AssignOp::Assign => "=",
        AssignOp::Add => "+=",
        AssignOp::Sub => "-=",
        AssignOp::Mul => "*=",
        AssignOp::Div => "/=",
        AssignOp::Mod => "%=",
        AssignOp::BitAnd => "&=",
        AssignOp::BitXor => "^=",
        AssignOp::BitOr => "|=",
        AssignOp::Shl => "<<=",
        AssignOp::Shr => ">>=",
    }
}
