//! The tokens the lexer hands the parser: D's keywords, operators and
//! punctuation, literals, and the probe-description unit of the outer scope.

use super::ast::{IntLit, Span};

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokKind {
    Ident(String),
    Kw(Keyword),
    Int(IntLit),
    /// A string literal's bytes after escapes.
    Str(Vec<u8>),
    /// `@name`, or `@` alone (empty name).
    Agg(String),
    /// Outer scope only: a probe description as one unit
    /// (`syscall::open*:entry`, `profile-997`, `pid$target:::entry`).
    Pspec(String),
    P(Punct),
    /// The `/` that closes a predicate: a `/` whose next non-blank
    /// character is `{`, `;`, `/` or the end of input.
    EndPred,
    Eof,
}

macro_rules! keywords {
    ($($v:ident = $s:literal,)*) => {
        /// D's reserved words.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Keyword { $($v,)* }

        impl Keyword {
            pub fn as_str(self) -> &'static str {
                match self { $(Keyword::$v => $s,)* }
            }

            pub fn from_word(w: &str) -> Option<Keyword> {
                match w { $($s => Some(Keyword::$v),)* _ => None }
            }
        }
    };
}

keywords! {
    Auto = "auto", Break = "break", Case = "case", Char = "char", Const = "const",
    Continue = "continue", Counter = "counter", Default = "default", Do = "do",
    Double = "double", Else = "else", Enum = "enum", Extern = "extern", Float = "float",
    For = "for", Goto = "goto", If = "if", Import = "import", Inline = "inline",
    Int = "int", Long = "long", Offsetof = "offsetof", Probe = "probe",
    Provider = "provider", Register = "register", Restrict = "restrict",
    Return = "return", SelfKw = "self", Short = "short", Signed = "signed",
    Sizeof = "sizeof", Static = "static", String = "string", Stringof = "stringof",
    Struct = "struct", Switch = "switch", This = "this", Translator = "translator",
    Typedef = "typedef", Union = "union", Unsigned = "unsigned", Void = "void",
    Volatile = "volatile", While = "while", Xlate = "xlate",
}

impl Keyword {
    /// Words that name (part of) a scalar type.
    pub fn is_type_word(self) -> bool {
        use Keyword::*;
        matches!(
            self,
            Char | Short | Int | Long | Signed | Unsigned | Void | String | Float | Double
        )
    }

    /// Qualifiers that may surround a type and are dropped from it.
    pub fn is_qualifier(self) -> bool {
        matches!(self, Keyword::Const | Keyword::Volatile | Keyword::Restrict)
    }
}

/// Type names D knows without a declaration; a word among these after `(`
/// makes a cast.
pub const TYPEDEF_NAMES: &[&str] = &[
    "int8_t",
    "int16_t",
    "int32_t",
    "int64_t",
    "uint8_t",
    "uint16_t",
    "uint32_t",
    "uint64_t",
    "intptr_t",
    "uintptr_t",
    "size_t",
    "ssize_t",
    "off_t",
    "pid_t",
    "uid_t",
    "gid_t",
    "id_t",
    "time_t",
    "dev_t",
    "ino_t",
    "mode_t",
    "caddr_t",
    "uchar_t",
    "ushort_t",
    "uint_t",
    "ulong_t",
    "u_char",
    "u_short",
    "u_int",
    "u_long",
    "boolean_t",
];

macro_rules! puncts {
    ($($v:ident = $s:literal,)*) => {
        /// Operators and punctuation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Punct { $($v,)* }

        impl Punct {
            pub fn as_str(self) -> &'static str {
                match self { $(Punct::$v => $s,)* }
            }
        }

        /// Every operator, longest first, so that a scan taking the first
        /// prefix match takes the longest.
        pub const PUNCTS_LONGEST_FIRST: &[Punct] = &[$(Punct::$v,)*];
    };
}

// Keep longer spellings before their prefixes.
puncts! {
    ShlEq = "<<=", ShrEq = ">>=", Ellipsis = "...",
    Arrow = "->", PlusPlus = "++", MinusMinus = "--", Shl = "<<", Shr = ">>",
    Le = "<=", Ge = ">=", EqEq = "==", Ne = "!=", AndAnd = "&&", OrOr = "||",
    XorXor = "^^", PlusEq = "+=", MinusEq = "-=", StarEq = "*=", SlashEq = "/=",
    PercentEq = "%=", AndEq = "&=", XorEq = "^=", OrEq = "|=",
    Plus = "+", Minus = "-", Star = "*", Slash = "/", Percent = "%", Lt = "<", Gt = ">",
    Amp = "&", Pipe = "|", Caret = "^", Tilde = "~", Bang = "!", Question = "?",
    Colon = ":", Dot = ".", Assign = "=", Comma = ",", Semi = ";",
    LParen = "(", RParen = ")", LBracket = "[", RBracket = "]", LBrace = "{", RBrace = "}",
}
