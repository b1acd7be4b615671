//! The D program as the parser hands it on: pragmas, declarations and
//! clauses, each clause its probe descriptions, an optional predicate and a
//! list of statements.
//!
//! The tree is syntax only: names are not resolved (a builtin such as
//! `execname`, a global variable and `arg0` are all [`ExprKind::Ident`]),
//! calls are not checked against the actions and subroutines that exist,
//! and member access is kept as written. Every node carries the byte
//! [`Span`] of its source so that later stages report errors where the user
//! wrote the construct.
//!
//! Bounded: the parser refuses expressions and statements nested deeper
//! than [`super::MAX_DEPTH`], so code walking this tree recursively (the
//! printer in `print.rs`, `Drop`, the compiler) needs no more stack than
//! that depth allows.

/// A byte range of the source, `start..end`, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// A whole D program: a script (`-s`) or one `-n` description with its
/// optional predicate and actions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Program {
    /// `#pragma` control lines, in source order.
    pub pragmas: Vec<Pragma>,
    /// Outer-scope variable declarations (`int x;`, `self string s;`).
    pub decls: Vec<Decl>,
    pub clauses: Vec<Clause>,
}

/// A `#pragma` control line.
#[derive(Debug, Clone, PartialEq)]
pub struct Pragma {
    pub kind: PragmaKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PragmaKind {
    /// `#pragma D option name` or `#pragma D option name=value`.
    Option { name: String, value: Option<String> },
    /// Any other `#pragma` (`#pragma D depends_on …`, `#pragma ident …`):
    /// the words after `#pragma`, kept for a later stage to judge.
    Other { words: Vec<String> },
}

/// One clause: `descriptions [/predicate/] { statements }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// At least one.
    pub probes: Vec<ProbeSpec>,
    pub predicate: Option<Expr>,
    /// Empty both for `{ }` and for a bare `-n` description (`dtrace -n BEGIN`).
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// A probe description `provider:module:function:name`.
///
/// Fewer than four fields fill from the right: `BEGIN` is the name alone,
/// `read:entry` is function and name, `::open*:entry` leaves provider and
/// module empty. An empty field matches everything. Macro references
/// (`pid$target`, `$1`) are already replaced in the four fields; `raw`
/// keeps the text as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    pub raw: String,
    pub provider: String,
    pub module: String,
    pub function: String,
    pub name: String,
    pub span: Span,
}

/// An outer-scope declaration, `[self|this] type name[key types];`.
#[derive(Debug, Clone, PartialEq)]
pub struct Decl {
    pub scope: VarScope,
    pub ty: TypeName,
    pub name: String,
    /// Key types of an associative array (`int a[string, int];`), empty for
    /// a scalar.
    pub keys: Vec<TypeName>,
    pub span: Span,
}

/// Where a variable lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarScope {
    Global,
    /// `self->x`: per thread.
    Thread,
    /// `this->x`: per clause firing.
    Clause,
}

/// A type as written in a cast, `sizeof` or declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName {
    /// The specifier words joined by one space, qualifiers dropped:
    /// `int`, `unsigned long long`, `char`, `string`, `uint64_t`,
    /// `struct task_struct`.
    pub base: String,
    /// How many `*` follow.
    pub pointers: u8,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stmt {
    /// An expression statement: assignments, actions and subroutine calls.
    Expr(Expr),
    /// `if (cond) … [else …]`, each branch a block or one statement.
    If {
        cond: Expr,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
        span: Span,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(IntLit),
    /// The bytes of a string literal after escapes (`"\x41\n"` is `A\n`);
    /// not NUL-terminated, and possibly not UTF-8.
    Str(Vec<u8>),
    /// A plain identifier: builtin (`pid`, `execname`, `arg0`, `args`),
    /// global variable, or (as the callee of [`ExprKind::Call`]) an action
    /// or subroutine. Kernel symbols keep their backquotes (``` `max_pfn ```).
    Ident(String),
    /// `self->name`.
    ThreadVar(String),
    /// `this->name`.
    ClauseVar(String),
    /// `@name`; the anonymous aggregation `@` has the empty name.
    Agg(String),
    /// `func(args)`; `stringof x` and `stringof(x)` are calls of `stringof`.
    Call {
        func: String,
        func_span: Span,
        args: Vec<Expr>,
    },
    /// `base[k1, k2, …]`: associative arrays, `@a[keys]`, `args[N]`.
    Index {
        base: Box<Expr>,
        keys: Vec<Expr>,
    },
    /// `base.member` (`arrow == false`) or `base->member`.
    Member {
        base: Box<Expr>,
        arrow: bool,
        member: String,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `cond ? then : otherwise`.
    Ternary {
        cond: Box<Expr>,
        then: Box<Expr>,
        otherwise: Box<Expr>,
    },
    Assign {
        op: AssignOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `(type) expr`.
    Cast {
        ty: TypeName,
        expr: Box<Expr>,
    },
    /// `sizeof (type)`.
    SizeofType(TypeName),
    /// `sizeof expr`.
    SizeofExpr(Box<Expr>),
}

/// An integer constant as written: `10`, `010` (octal), `0x1f`, `'a'`,
/// with its `u`/`l`/`ll` suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntLit {
    pub value: u64,
    /// A `u` or `U` suffix.
    pub unsigned: bool,
    /// How many `l`/`L` follow: 0, 1 or 2.
    pub longs: u8,
    /// Written in decimal (or a character constant). C's typing rules for
    /// constants differ between decimal and octal/hex.
    pub decimal: bool,
}

impl IntLit {
    /// A plain decimal constant without suffix.
    pub fn decimal(value: u64) -> Self {
        IntLit {
            value,
            unsigned: false,
            longs: 0,
            decimal: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `+x`
    Plus,
    /// `!x`
    Not,
    /// `~x`
    BitNot,
    /// `*x`
    Deref,
    /// `&x`
    AddrOf,
    /// `++x`
    PreInc,
    /// `--x`
    PreDec,
    /// `x++`
    PostInc,
    /// `x--`
    PostDec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    Mul,
    Div,
    Mod,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitXor,
    BitOr,
    /// `&&`
    And,
    /// `^^`, D's logical exclusive or.
    Xor,
    /// `||`
    Or,
    /// `a, b` outside an argument list.
    Comma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssignOp {
    /// `=`
    Assign,
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=`
    Div,
    /// `%=`
    Mod,
    /// `&=`
    BitAnd,
    /// `^=`
    BitXor,
    /// `|=`
    BitOr,
    /// `<<=`
    Shl,
    /// `>>=`
    Shr,
}
