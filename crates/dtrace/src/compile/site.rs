//! Where a compiled program runs: a probe and what its context holds, so
//! that `arg0`, `args[N]`, `pid` and `execname` read the right bytes.

use crate::probes::Probe;
use crate::probes::format::Field;

use super::types::{Ty, str_len};

/// The context a probe's program receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Ctx {
    /// BEGIN, END and ERROR: a raw tracepoint program dtrace runs itself,
    /// whose context is an array of 64-bit arguments.
    Dtrace,
    /// A tracepoint's record: its fields (after the common header) as its
    /// format file lists them. `args[N]` is field `N + skip` (a syscall's
    /// first field is its number).
    Tracepoint {
        fields: Vec<Field>,
        skip: usize,
        kind: TpKind,
    },
    /// A perf clock event (`struct bpf_perf_event_data`: registers first).
    Clock,
    /// A uprobe or uretprobe: the user registers (`struct pt_regs`).
    Uprobe { ret: bool },
    /// A USDT probe: a uprobe whose arguments are where its note says.
    Usdt { args: Vec<UsdtLoc> },
}

/// Where a USDT probe's argument is, as its note's operand says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsdtLoc {
    /// A register (`struct pt_regs` offset), its low `size` bytes.
    Reg {
        off: u32,
        size: u8,
        signed: bool,
    },
    /// `size` bytes of user memory at a register plus `offset`.
    Mem {
        base: u32,
        offset: i64,
        size: u8,
        signed: bool,
    },
    Const(i64),
}

/// What a tracepoint is to D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TpKind {
    /// `syscalls:sys_enter_*`: `arg0`…`arg5` are the call's arguments.
    SyscallEntry,
    /// `syscalls:sys_exit_*`: `arg0` and `arg1` are the return value,
    /// `errno` is its negation when it failed.
    SyscallReturn,
    /// `sched:sched_switch` as `sched:::on-cpu`: the thread is the one
    /// coming on (its tid and comm are the record's `next_pid`,
    /// `next_comm`), the tracepoint firing in the one going off.
    OnCpu,
    /// Any other: `argN` is field N.
    Other,
}

/// One probe a program is made for.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub probe: Probe,
    pub ctx: Ctx,
    /// The clauses (indices into the program's clauses) it runs, in
    /// program order.
    pub clauses: Vec<usize>,
}

/// Where argument N comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgSrc {
    /// A 64-bit word of the dtrace context.
    Word(u32),
    /// A tracepoint field: offset, size, sign.
    Field {
        offset: u32,
        size: u32,
        signed: bool,
    },
    /// A `char[N]` array in the record.
    Array {
        offset: u32,
        size: u32,
    },
    /// A `__data_loc` string: a 32-bit word at `offset` whose low half is
    /// the string's offset in the record.
    DataLoc {
        offset: u32,
    },
    /// A user register (`struct pt_regs` offset).
    Reg(u32),
    /// The sampled program counter of a clock event: kernel (`arg0`) or
    /// user (`arg1`); zero when the other mode was interrupted.
    Pc {
        user: bool,
    },
    /// The low `size` bytes of a user register.
    RegSized {
        off: u32,
        size: u8,
        signed: bool,
    },
    /// `size` bytes of user memory at a register plus `offset`.
    UserMem {
        base: u32,
        offset: i64,
        size: u8,
        signed: bool,
    },
    Const(i64),
    /// Nothing: reads as zero.
    Zero,
}

/// x86-64 `struct pt_regs` offsets of the integer argument registers, in
/// calling-convention order, and of the return value.
const ARG_REGS: [u32; 6] = [112, 104, 96, 88, 72, 64];
pub const RAX: u32 = 80;
pub const REG_IP: u32 = 128;
pub const REG_CS: u32 = 136;

impl Site {
    /// Where `argN` comes from (`args[N]` for the typed form, `typed`).
    pub fn arg(&self, n: u32, typed: bool) -> ArgSrc {
        match &self.ctx {
            Ctx::Dtrace => ArgSrc::Word(n),
            Ctx::Clock => match n {
                0 => ArgSrc::Pc { user: false },
                1 => ArgSrc::Pc { user: true },
                _ => ArgSrc::Zero,
            },
            Ctx::Uprobe { ret: false } => match ARG_REGS.get(n as usize) {
                Some(&r) => ArgSrc::Reg(r),
                None => ArgSrc::Zero,
            },
            Ctx::Usdt { args } => match args.get(n as usize) {
                Some(&UsdtLoc::Reg { off, size, signed }) => ArgSrc::RegSized { off, size, signed },
                Some(&UsdtLoc::Mem {
                    base,
                    offset,
                    size,
                    signed,
                }) => ArgSrc::UserMem {
                    base,
                    offset,
                    size,
                    signed,
                },
                Some(&UsdtLoc::Const(v)) => ArgSrc::Const(v),
                None => ArgSrc::Zero,
            },
            Ctx::Uprobe { ret: true } => match n {
                // DTrace's pid return probes: arg0 the offset of the
                // return, arg1 the value. There is no offset here.
                0 if typed => ArgSrc::Reg(RAX),
                1 => ArgSrc::Reg(RAX),
                _ => ArgSrc::Zero,
            },
            Ctx::Tracepoint { fields, skip, kind } => {
                if *kind == TpKind::SyscallReturn {
                    // The record's one field after the number is `ret`.
                    return match n {
                        0 | 1 => field_src(fields.get(*skip)),
                        _ => ArgSrc::Zero,
                    };
                }
                field_src(fields.get(*skip + n as usize))
            }
        }
    }

    /// The type of `argN` or `args[N]`.
    pub fn arg_ty(&self, n: u32, typed: bool) -> Ty {
        if !typed {
            return Ty::I64;
        }
        match self.arg(n, true) {
            ArgSrc::Field { size, signed, .. } => Ty::Int {
                size: size.min(8) as u8,
                signed,
            },
            ArgSrc::Array { size, .. } => Ty::Str {
                len: str_len(size + 1),
            },
            ArgSrc::DataLoc { .. } => Ty::Str { len: 0 },
            ArgSrc::RegSized { size, signed, .. } | ArgSrc::UserMem { size, signed, .. } => {
                Ty::Int { size, signed }
            }
            _ => Ty::I64,
        }
    }

    pub fn tp_kind(&self) -> Option<TpKind> {
        match &self.ctx {
            Ctx::Tracepoint { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// A field of the record by name (`next_pid`).
    pub fn field(&self, name: &str) -> Option<&Field> {
        match &self.ctx {
            Ctx::Tracepoint { fields, .. } => fields.iter().find(|f| f.name == name),
            _ => None,
        }
    }
}

fn field_src(f: Option<&Field>) -> ArgSrc {
    let Some(f) = f else {
        return ArgSrc::Zero;
    };
    if f.ty.starts_with("__data_loc") {
        return ArgSrc::DataLoc { offset: f.offset };
    }
    if f.ty.contains('[') && f.ty.starts_with("char") {
        return ArgSrc::Array {
            offset: f.offset,
            size: f.size,
        };
    }
    if f.size > 8 || f.ty.contains('[') {
        return ArgSrc::Zero;
    }
    ArgSrc::Field {
        offset: f.offset,
        size: f.size,
        signed: f.signed,
    }
}
