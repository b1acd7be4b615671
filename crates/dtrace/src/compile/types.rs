//! D's types as the compiler keeps them, and the variables and
//! aggregations of a program with the types their first uses give them.
//!
//! Every integer travels in a 64-bit register; its declared size and sign
//! decide how it is loaded, compared, divided and printed. A string is a
//! NUL-padded buffer of a fixed length (a multiple of 8) in the per-CPU
//! scratch area: 16 bytes for `execname`, `strsize` for `copyinstr`.

use std::collections::HashMap;

use crate::output::agg::AggKind;

/// A value's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int {
        size: u8,
        signed: bool,
    },
    /// A NUL-padded string of `len` bytes (a multiple of 8).
    Str {
        len: u32,
    },
    /// A stack trace: its id in the program's stack map, and the process
    /// (user stacks) — 16 bytes in records and keys.
    Stack {
        user: bool,
    },
    /// No value (actions).
    Void,
}

impl Ty {
    pub const I64: Ty = Ty::Int {
        size: 8,
        signed: true,
    };
    pub const U64: Ty = Ty::Int {
        size: 8,
        signed: false,
    };
    pub const I32: Ty = Ty::Int {
        size: 4,
        signed: true,
    };
    pub const U32: Ty = Ty::Int {
        size: 4,
        signed: false,
    };

    /// Bytes it takes in a record, a key or a variable.
    pub fn bytes(self) -> u32 {
        match self {
            Ty::Int { .. } => 8,
            Ty::Str { len } => len,
            Ty::Stack { .. } => 16,
            Ty::Void => 0,
        }
    }

    pub fn is_str(self) -> bool {
        matches!(self, Ty::Str { .. })
    }

    pub fn signed(self) -> bool {
        matches!(self, Ty::Int { signed: true, .. })
    }

    /// How DTrace names it in messages.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Int {
                size: 8,
                signed: true,
            } => "int64_t",
            Ty::Int {
                size: 8,
                signed: false,
            } => "uint64_t",
            Ty::Int { signed: true, .. } => "int",
            Ty::Int { signed: false, .. } => "uint_t",
            Ty::Str { .. } => "string",
            Ty::Stack { .. } => "stack",
            Ty::Void => "void",
        }
    }

    /// The type both of two types widen to: the longer string, or the
    /// integer C's usual conversions give (64 bits, unsigned when either
    /// operand is an unsigned 64-bit value).
    pub fn join(self, other: Ty) -> Option<Ty> {
        match (self, other) {
            (Ty::Str { len: a }, Ty::Str { len: b }) => Some(Ty::Str { len: a.max(b) }),
            (Ty::Int { .. }, Ty::Int { .. }) => Some(arith(self, other)),
            (a, b) if a == b => Some(a),
            _ => None,
        }
    }
}

/// The type of an arithmetic result: 64 bits, unsigned if either side is
/// an unsigned 64-bit integer.
pub fn arith(a: Ty, b: Ty) -> Ty {
    let unsigned64 = |t: Ty| {
        matches!(
            t,
            Ty::Int {
                size: 8,
                signed: false
            }
        )
    };
    if unsigned64(a) || unsigned64(b) {
        Ty::U64
    } else {
        Ty::I64
    }
}

/// Rounds a string length up to the 8 bytes values are stored in.
pub fn str_len(bytes: u32) -> u32 {
    bytes.max(1).div_ceil(8) * 8
}

/// A global, thread-local or clause-local variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    pub ty: Ty,
    /// An associative array's key types; empty for a scalar.
    pub keys: Vec<Ty>,
    /// Global scalars: their offset in the globals map's value; clause
    /// locals: in the scratch area.
    pub offset: u32,
    /// The map holding it (associative arrays and thread-locals).
    pub map: String,
}

/// One aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct Agg {
    /// As written, without `@` (empty for `@`).
    pub name: String,
    pub kind: AggKind,
    pub keys: Vec<Ty>,
    /// Its per-CPU hash map.
    pub map: String,
}

impl Agg {
    /// Bytes of its key: the keys' bytes, or 8 for an unkeyed
    /// aggregation's one entry.
    pub fn key_bytes(&self) -> u32 {
        key_bytes(&self.keys)
    }

    pub fn value_bytes(&self) -> u32 {
        self.kind.words() as u32 * 8
    }
}

/// Bytes of a composite key, at least 8.
pub fn key_bytes(keys: &[Ty]) -> u32 {
    keys.iter().map(|k| k.bytes()).sum::<u32>().max(8)
}

/// Every variable and aggregation of a program.
#[derive(Debug, Default, Clone)]
pub struct Symbols {
    pub globals: HashMap<String, Var>,
    pub thread: HashMap<String, Var>,
    pub clause: HashMap<String, Var>,
    pub aggs: Vec<Agg>,
    /// Bytes of the globals map's value (after its header word).
    pub globals_size: u32,
    /// Bytes of the clause-local area at the start of the scratch buffer.
    pub clause_size: u32,
}

impl Symbols {
    pub fn agg(&self, name: &str) -> Option<(usize, &Agg)> {
        self.aggs.iter().enumerate().find(|(_, a)| a.name == name)
    }
}

/// The offset of the first global in the globals map's value. The words
/// before it: the wall-clock offset user space writes for `walltimestamp`
/// (realtime minus monotonic nanoseconds), then the stop word: once user
/// space sets it (a program called `exit()`, or the run is ending), every
/// probe but dtrace's own returns at once.
pub const GLOBALS_HEADER: u32 = 16;
/// The stop word's offset.
pub const STOPPED: u32 = 8;
