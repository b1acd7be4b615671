//! Clauses to eBPF instructions, for one probe at a time.
//!
//! Registers: r6 holds the probe's context, r7 the per-CPU scratch area
//! (strings, keys, records, clause-locals), r8 a map value being updated;
//! an integer expression leaves its value in r0, a string or stack its
//! bytes in the scratch area. Integers waiting for their other operand
//! live on the stack below two fixed words: a zero key (`fp-8`) and a
//! thread's key (`fp-16`).
//!
//! The same code types the program: run with [`Mode::Typing`], an
//! assignment gives a variable its type (strings widening to the longest
//! assigned), and reading one not typed yet reads a placeholder; the
//! compiler repeats that until the types settle, then emits for real.

use crate::bpf::asm::{Asm, Label};
use crate::bpf::insn::{AluOp, Cond, Helper, Reg, Size};
use crate::output::agg::AggKind;
use crate::output::printf::{ArgKind, Format};
use crate::parse::{AssignOp, BinOp, Expr, ExprKind, IntLit, Span, Stmt, UnaryOp};

use super::site::{ArgSrc, REG_CS, REG_IP, Site, TpKind};
use super::types::{Agg, GLOBALS_HEADER, STOPPED, Symbols, Ty, Var, arith, key_bytes, str_len};
use super::{Action, CompileError, Options, Record, maps};

const R0: Reg = Reg::R0;
const R1: Reg = Reg::R1;
const R2: Reg = Reg::R2;
const R3: Reg = Reg::R3;
const R4: Reg = Reg::R4;
const R5: Reg = Reg::R5;
const CTX: Reg = Reg::R6;
const SCRATCH: Reg = Reg::R7;
const R8: Reg = Reg::R8;
const FP: Reg = Reg::FP;

/// `fp-8`: a zero word, the key of every one-entry array.
const ZERO_KEY: i16 = -8;
/// `fp-16`: the current thread's id, the key of thread-locals.
const TID_KEY: i16 = -16;
/// The first temporary below those.
const TMP_BASE: i16 = -24;
/// Temporaries the 512-byte stack holds below the fixed words.
const MAX_TMPS: u32 = 60;
/// The scratch area's limit: a per-CPU map value holds at most 32 KiB.
pub const MAX_SCRATCH: u32 = 32 * 1024 - 8;
/// The bytes of `zonename`: a zone's name is at most 64 bytes.
pub const ZONENAME_LEN: u32 = 64;
/// `execname`: the kernel's `TASK_COMM_LEN`.
const COMM_LEN: u32 = 16;
/// `BPF_F_USER_STACK`, for `ustack()`.
const USER_STACK: i32 = 1 << 8;
/// `BPF_NOEXIST`.
const NOEXIST: i32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Types are being settled: variables may be typed, code is thrown
    /// away.
    Typing,
    /// Types are final; reading an untyped variable is an error.
    Emit,
}

/// Where an expression's value is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Val {
    /// In r0.
    Int(Ty),
    /// In the scratch area at `off`.
    Mem { off: u32, ty: Ty },
}

impl Val {
    fn ty(self) -> Ty {
        match self {
            Val::Int(t) | Val::Mem { ty: t, .. } => t,
        }
    }
}

/// A value kept while others are computed.
#[derive(Debug, Clone, Copy)]
enum Saved {
    /// On the stack.
    Tmp(i16, Ty),
    Mem {
        off: u32,
        ty: Ty,
    },
}

impl Saved {
    fn ty(self) -> Ty {
        match self {
            Saved::Tmp(_, t) | Saved::Mem { ty: t, .. } => t,
        }
    }
}

type R<T> = Result<T, CompileError>;

fn err<T>(span: Span, message: impl Into<String>) -> R<T> {
    Err(CompileError {
        message: message.into(),
        span,
        clause: None,
    })
}

pub struct Gen<'a> {
    pub asm: Asm,
    syms: &'a mut Symbols,
    site: &'a Site,
    site_no: usize,
    opts: &'a Options,
    mode: Mode,
    pub records: &'a mut Vec<Record>,
    scratch: u32,
    pub scratch_max: u32,
    tmps: u32,
    exit: Label,
    /// Where the current clause ends (a failed predicate, a runtime error).
    clause_end: Label,
    /// Actions of the current clause, counted from 1 (for error messages).
    action_no: u32,
    /// Set when the typing changed a symbol.
    pub changed: bool,
    /// Maps the program uses beyond the always-present ones.
    pub uses_stack: [bool; 2],
    pub uses_zones: bool,
    /// The assignment being compiled stores the constant 0, which frees a
    /// dynamic variable of any type, strings included.
    zero_literal: bool,
    /// The clause being compiled, by its index in the program.
    clause_no: usize,
    /// What the instructions' tags stand for: the construct (its clause
    /// and span) whose code they are, by tag.
    pub origins: Vec<(usize, Span)>,
}

impl<'a> Gen<'a> {
    pub fn new(
        syms: &'a mut Symbols,
        site: &'a Site,
        site_no: usize,
        opts: &'a Options,
        mode: Mode,
        records: &'a mut Vec<Record>,
    ) -> Self {
        let mut asm = Asm::new();
        let exit = asm.label();
        let clause_end = asm.label();
        let scratch = syms.clause_size;
        Gen {
            asm,
            syms,
            site,
            site_no,
            opts,
            mode,
            records,
            scratch,
            scratch_max: scratch,
            tmps: 0,
            exit,
            clause_end,
            action_no: 0,
            changed: false,
            uses_stack: [false; 2],
            uses_zones: false,
            zero_literal: false,
            clause_no: 0,
            origins: Vec::new(),
        }
    }

    /// Tags the code emitted from now on with the construct at `span`, and
    /// returns the tag to restore once its code is done.
    fn enter(&mut self, span: Span) -> Option<u32> {
        let here = (self.clause_no, span);
        if self.origins.last() != Some(&here) {
            self.origins.push(here);
        }
        let tag = u32::try_from(self.origins.len() - 1).ok();
        self.asm.set_tag(tag)
    }

    /// The whole program: the prologue, every clause of the site, the exit.
    pub fn program(&mut self, clauses: &[(usize, &crate::parse::Clause)]) -> R<()> {
        let a = &mut self.asm;
        a.mov64(CTX, R1);
        a.st(Size::DW, FP, ZERO_KEY, 0);
        a.ld_map(R1, maps::SCRATCH);
        a.mov64(R2, FP).alu64(AluOp::Add, R2, ZERO_KEY as i32);
        a.call(Helper::MapLookupElem);
        a.jmp(Cond::Eq, R0, 0, self.exit);
        a.mov64(SCRATCH, R0);
        if !matches!(self.site.ctx, super::site::Ctx::Dtrace) {
            // Nothing more once the run is stopping.
            let a = &mut self.asm;
            a.ld_map(R1, maps::GLOBALS);
            a.mov64(R2, FP).alu64(AluOp::Add, R2, ZERO_KEY as i32);
            a.call(Helper::MapLookupElem);
            a.jmp(Cond::Eq, R0, 0, self.exit);
            a.ldx(Size::DW, R1, R0, STOPPED as i16);
            a.jmp(Cond::Ne, R1, 0, self.exit);
        }
        for &(i, c) in clauses {
            self.clause_no = i;
            self.clause(c).map_err(|mut e| {
                e.clause.get_or_insert(i);
                e
            })?;
        }
        let exit = self.exit;
        self.asm.bind(exit);
        self.asm.mov64(R0, 0).exit();
        Ok(())
    }

    fn clause(&mut self, c: &crate::parse::Clause) -> R<()> {
        self.clause_end = self.asm.label();
        self.action_no = 0;
        self.reset_temps();
        let outer = self.enter(c.span);
        if let Some(p) = &c.predicate {
            let clause = self.enter(p.span);
            let v = self.expr(p)?;
            self.truth(v, p.span)?;
            let end = self.clause_end;
            self.asm.jmp(Cond::Eq, R0, 0, end);
            self.asm.set_tag(clause);
        }
        if c.body.is_empty() {
            self.action_no += 1;
            self.emit_record(Action::Default, &[])?;
        }
        for s in &c.body {
            self.stmt(s)?;
        }
        let end = self.clause_end;
        self.asm.bind(end);
        self.asm.set_tag(outer);
        Ok(())
    }

    fn reset_temps(&mut self) {
        self.scratch = self.syms.clause_size;
        self.tmps = 0;
    }

    fn stmt(&mut self, s: &Stmt) -> R<()> {
        let span = match s {
            Stmt::Expr(e) => e.span,
            Stmt::If { span, .. } => *span,
        };
        let outer = self.enter(span);
        let done = self.stmt_code(s);
        self.asm.set_tag(outer);
        done
    }

    fn stmt_code(&mut self, s: &Stmt) -> R<()> {
        self.reset_temps();
        match s {
            Stmt::Expr(e) => {
                // Every statement is an action, as DTrace numbers them.
                self.action_no += 1;
                if let ExprKind::Call {
                    func,
                    func_span,
                    args,
                } = &e.kind
                    && is_action(func)
                {
                    return self.action(func, *func_span, args, e.span);
                }
                self.expr(e)?;
                Ok(())
            }
            Stmt::If {
                cond,
                then,
                otherwise,
                ..
            } => {
                let v = self.expr(cond)?;
                self.truth(v, cond.span)?;
                let else_ = self.asm.label();
                let done = self.asm.label();
                self.asm.jmp(Cond::Eq, R0, 0, else_);
                for s in then {
                    self.stmt(s)?;
                }
                self.asm.ja(done);
                self.asm.bind(else_);
                for s in otherwise {
                    self.stmt(s)?;
                }
                self.asm.bind(done);
                Ok(())
            }
        }
    }

    /// Leaves r0 non-zero when `v` is true: a non-zero integer, or a
    /// non-empty string.
    fn truth(&mut self, v: Val, span: Span) -> R<()> {
        match v {
            Val::Int(_) => Ok(()),
            Val::Mem {
                off,
                ty: Ty::Str { .. },
            } => {
                self.asm.ldx(Size::B, R0, SCRATCH, soff(off)?);
                Ok(())
            }
            Val::Mem { .. } => err(span, "a stack cannot be used as a condition"),
        }
    }

    // ---------------------------------------------------------------
    // Temporaries

    fn alloc(&mut self, bytes: u32, span: Span) -> R<u32> {
        let off = self.scratch;
        let end = off + bytes.div_ceil(8) * 8;
        if end > MAX_SCRATCH {
            return err(
                span,
                format!(
                    "the clause needs more than {MAX_SCRATCH} bytes of scratch space (strsize is {})",
                    self.opts.strsize
                ),
            );
        }
        self.scratch = end;
        self.scratch_max = self.scratch_max.max(end);
        Ok(off)
    }

    /// Saves r0 on the stack.
    fn push(&mut self, span: Span) -> R<i16> {
        if self.tmps >= MAX_TMPS {
            return err(span, "expression is too complex for the BPF stack");
        }
        let off = TMP_BASE - 8 * self.tmps as i16;
        self.tmps += 1;
        self.asm.stx(Size::DW, FP, R0, off);
        Ok(off)
    }

    fn pop(&mut self) {
        self.tmps -= 1;
    }

    /// Keeps a value while others are computed.
    fn save(&mut self, v: Val, span: Span) -> R<Saved> {
        Ok(match v {
            Val::Int(t) => Saved::Tmp(self.push(span)?, t),
            Val::Mem { off, ty } => Saved::Mem { off, ty },
        })
    }

    /// Writes a kept value at `base + off`, `len` bytes for a string
    /// (copied, then zero-padded).
    fn write_saved(&mut self, s: Saved, base: Reg, off: u32, len: u32) -> R<()> {
        match s {
            Saved::Tmp(slot, _) => {
                self.asm.ldx(Size::DW, R1, FP, slot);
                self.asm.stx(Size::DW, base, R1, soff(off)?);
            }
            Saved::Mem { off: src, ty } => {
                let n = ty.bytes().min(len);
                self.copy(base, off, SCRATCH, src, n)?;
                self.zero(base, off + n, len - n)?;
            }
        }
        Ok(())
    }

    /// Copies `len` bytes (a multiple of 8) through r1.
    fn copy(&mut self, dst: Reg, doff: u32, src: Reg, soff_: u32, len: u32) -> R<()> {
        for i in (0..len).step_by(8) {
            self.asm.ldx(Size::DW, R1, src, soff(soff_ + i)?);
            self.asm.stx(Size::DW, dst, R1, soff(doff + i)?);
        }
        Ok(())
    }

    fn zero(&mut self, dst: Reg, off: u32, len: u32) -> R<()> {
        for i in (0..len).step_by(8) {
            self.asm.st(Size::DW, dst, soff(off + i)?, 0);
        }
        Ok(())
    }

    /// `reg = &scratch[off]`.
    fn scratch_ptr(&mut self, reg: Reg, off: u32) {
        self.asm.mov64(reg, SCRATCH);
        self.asm.alu64(AluOp::Add, reg, off as i32);
    }

    /// A string constant in the scratch area.
    fn literal(&mut self, bytes: &[u8], span: Span) -> R<Val> {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let text = &bytes[..end];
        let len = str_len(text.len() as u32 + 1);
        let off = self.alloc(len, span)?;
        self.store_text(off, text, len)?;
        Ok(Val::Mem {
            off,
            ty: Ty::Str { len },
        })
    }

    /// Writes `text` at `off` in the scratch area, NUL-padded to `len` (a
    /// multiple of 8 at least one longer than `text`).
    fn store_text(&mut self, off: u32, text: &[u8], len: u32) -> R<()> {
        let mut padded = text.to_vec();
        padded.resize(len as usize, 0);
        for (i, chunk) in padded.chunks(4).enumerate() {
            let w = i32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            self.asm.st(Size::W, SCRATCH, soff(off + 4 * i as u32)?, w);
        }
        Ok(())
    }

    /// Loads a 64-bit constant into r0.
    fn constant(&mut self, v: u64) {
        if let Ok(i) = i32::try_from(v as i64) {
            self.asm.mov64(R0, i);
        } else {
            self.asm.ld_imm64(R0, v);
        }
    }

    // ---------------------------------------------------------------
    // Expressions

    /// Compiles `e`, its code tagged with its span.
    fn expr(&mut self, e: &Expr) -> R<Val> {
        let outer = self.enter(e.span);
        let v = self.expr_code(e);
        self.asm.set_tag(outer);
        v
    }

    fn expr_code(&mut self, e: &Expr) -> R<Val> {
        match &e.kind {
            ExprKind::Int(lit) => {
                self.constant(lit.value);
                Ok(Val::Int(int_type(lit)))
            }
            ExprKind::Str(bytes) => self.literal(bytes, e.span),
            ExprKind::Ident(name) => self.ident(name, e.span),
            ExprKind::ThreadVar(name) => self.thread_read(name, e.span),
            ExprKind::ClauseVar(name) => self.clause_read(name, e.span),
            ExprKind::Agg(_) => err(
                e.span,
                "an aggregation may only be used in aggregating actions",
            ),
            ExprKind::Call {
                func,
                func_span,
                args,
            } => self.subroutine(func, *func_span, args, e.span),
            ExprKind::Index { base, keys } => self.index(base, keys, e.span),
            ExprKind::Member { .. } => err(
                e.span,
                "structure members are not available: the kernel's types are not loaded",
            ),
            ExprKind::Unary { op, expr } => self.unary(*op, expr, e.span),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, e.span),
            ExprKind::Ternary {
                cond,
                then,
                otherwise,
            } => self.ternary(cond, then, otherwise, e.span),
            ExprKind::Assign { op, lhs, rhs } => self.assign(*op, lhs, rhs, e.span),
            ExprKind::Cast { ty, expr } => {
                let v = self.expr(expr)?;
                let Some(target) = scalar_type(&ty.base, ty.pointers) else {
                    return err(ty.span, format!("cannot cast to {}", ty.base));
                };
                if !matches!(v, Val::Int(_)) {
                    return err(e.span, "invalid cast: only integers can be cast");
                }
                self.narrow(target);
                Ok(Val::Int(target))
            }
            ExprKind::SizeofType(ty) => match scalar_type(&ty.base, ty.pointers) {
                Some(Ty::Int { size, .. }) => {
                    self.asm.mov64(R0, size as i32);
                    Ok(Val::Int(Ty::U64))
                }
                _ if ty.base == "string" => {
                    self.asm.mov64(R0, self.opts.strsize as i32);
                    Ok(Val::Int(Ty::U64))
                }
                _ => err(ty.span, format!("unknown type {}", ty.base)),
            },
            ExprKind::SizeofExpr(inner) => {
                // Typed only: its code is made aside and thrown away, so
                // that `sizeof (x = 1)` assigns nothing.
                let mark = self.scratch;
                let kept = std::mem::take(&mut self.asm);
                let v = self.expr(inner);
                self.asm = kept;
                self.scratch = mark;
                let v = v?;
                let n = match v.ty() {
                    Ty::Int { size, .. } => size as u32,
                    Ty::Str { .. } => self.opts.strsize,
                    t => t.bytes(),
                };
                self.asm.mov64(R0, n as i32);
                Ok(Val::Int(Ty::U64))
            }
        }
    }

    /// Truncates and extends r0 to `ty`.
    fn narrow(&mut self, ty: Ty) {
        if let Ty::Int { size, signed } = ty
            && size < 8
        {
            let shift = 64 - 8 * size as i32;
            self.asm.alu64(AluOp::Lsh, R0, shift);
            let op = if signed { AluOp::Arsh } else { AluOp::Rsh };
            self.asm.alu64(op, R0, shift);
        }
    }

    fn ident(&mut self, name: &str, span: Span) -> R<Val> {
        let site = self.site;
        match name {
            "pid" | "tid" if site.tp_kind() == Some(TpKind::OnCpu) => {
                self.load_field("next_pid", span)?;
                Ok(Val::Int(Ty::I32))
            }
            "pid" => {
                self.asm.call(Helper::GetCurrentPidTgid);
                self.asm.alu64(AluOp::Rsh, R0, 32);
                Ok(Val::Int(Ty::I32))
            }
            "tid" => {
                self.asm.call(Helper::GetCurrentPidTgid);
                self.asm.alu32(AluOp::Mov, R0, R0);
                Ok(Val::Int(Ty::I32))
            }
            "uid" => {
                self.asm.call(Helper::GetCurrentUidGid);
                self.asm.alu32(AluOp::Mov, R0, R0);
                Ok(Val::Int(Ty::U32))
            }
            "gid" => {
                self.asm.call(Helper::GetCurrentUidGid);
                self.asm.alu64(AluOp::Rsh, R0, 32);
                Ok(Val::Int(Ty::U32))
            }
            "cpu" => {
                self.asm.call(Helper::GetSmpProcessorId);
                Ok(Val::Int(Ty::I32))
            }
            "timestamp" => {
                self.asm.call(Helper::KtimeGetNs);
                Ok(Val::Int(Ty::U64))
            }
            "walltimestamp" => {
                self.lookup_globals()?;
                self.asm.ldx(Size::DW, R8, R0, 0);
                self.asm.call(Helper::KtimeGetNs);
                self.asm.alu64(AluOp::Add, R0, R8);
                Ok(Val::Int(Ty::U64))
            }
            "id" => {
                self.constant(site.probe.id as u64);
                Ok(Val::Int(Ty::U32))
            }
            "errno" => {
                if site.tp_kind() == Some(TpKind::SyscallReturn) {
                    self.load_arg(0, false, span)?;
                    let done = self.asm.label();
                    let neg = self.asm.label();
                    self.asm.jmp(Cond::Slt, R0, 0, neg);
                    self.asm.mov64(R0, 0).ja(done);
                    self.asm.bind(neg);
                    self.asm.push(crate::bpf::insn::Insn::Neg {
                        width: crate::bpf::insn::Width::W64,
                        dst: R0,
                    });
                    self.asm.bind(done);
                } else {
                    self.asm.mov64(R0, 0);
                }
                Ok(Val::Int(Ty::I32))
            }
            "execname" => self.execname(span),
            "zonename" => self.zonename(span),
            "probeprov" => self.literal(site.probe.provider.as_bytes(), span),
            "probemod" => self.literal(site.probe.module.as_bytes(), span),
            "probefunc" => self.literal(site.probe.function.as_bytes(), span),
            "probename" => self.literal(site.probe.name.as_bytes(), span),
            "args" => err(span, "args[ ] must be indexed with an integer constant"),
            "ppid" | "vtimestamp" if self.opts.task.is_some() => self.task_field(name, span),
            "vtimestamp" | "ppid" | "curthread" | "curpsinfo" | "curlwpsinfo" | "ipl"
            | "stackdepth" | "ustackdepth" | "uregs" | "caller" | "ucaller" | "cwd" | "root"
            | "epid" | "machtimestamp" | "projid" | "taskid" | "arg" => err(
                span,
                format!(
                    "{name} is not available on this kernel: reading it needs the kernel's types"
                ),
            ),
            _ => {
                if let Some(n) = name.strip_prefix("arg")
                    && let Ok(n) = n.parse::<u32>()
                    && n <= 9
                    && n.to_string() == name[3..]
                {
                    self.load_arg(n, false, span)?;
                    return Ok(Val::Int(Ty::I64));
                }
                self.global_read(name, span)
            }
        }
    }

    /// `ppid` (the current task's `real_parent->tgid`) or `vtimestamp` (its
    /// `se.sum_exec_runtime`: on-CPU time as of the scheduler's last
    /// accounting), read from the task at the offsets the kernel's BTF
    /// gives.
    fn task_field(&mut self, name: &str, span: Span) -> R<Val> {
        let Some(t) = self.opts.task else {
            return err(span, format!("{name} needs the kernel's types"));
        };
        let tmp = self.alloc(8, span)?;
        let read = |g: &mut Self, size: i32, off: u32| -> R<()> {
            // tmp = *(r3 + off), `size` bytes, r3 the address.
            g.asm.st(Size::DW, SCRATCH, soff(tmp)?, 0);
            g.asm.alu64(AluOp::Add, R3, off as i32);
            g.scratch_ptr(R1, tmp);
            g.asm.mov64(R2, size);
            g.asm.call(Helper::ProbeReadKernel);
            g.asm.ldx(Size::DW, R0, SCRATCH, soff(tmp)?);
            Ok(())
        };
        self.asm.call(Helper::GetCurrentTask);
        self.asm.mov64(R3, R0);
        if name == "ppid" {
            read(self, 8, t.real_parent)?;
            self.asm.mov64(R3, R0);
            read(self, 4, t.tgid)?;
            self.narrow(Ty::I32);
            Ok(Val::Int(Ty::I32))
        } else {
            read(self, 8, t.sum_exec_runtime)?;
            Ok(Val::Int(Ty::U64))
        }
    }

    /// Loads a named tracepoint field into r0.
    fn load_field(&mut self, name: &str, span: Span) -> R<()> {
        let Some(f) = self.site.field(name) else {
            return err(span, format!("the tracepoint has no field {name}"));
        };
        let (off, size, signed) = (f.offset, f.size, f.signed);
        self.load_ctx(off, size, signed)
    }

    fn load_ctx(&mut self, off: u32, size: u32, signed: bool) -> R<()> {
        let sz = match size {
            1 => Size::B,
            2 => Size::H,
            4 => Size::W,
            _ => Size::DW,
        };
        self.asm.ldx(sz, R0, CTX, soff(off)?);
        if signed && size < 8 {
            self.narrow(Ty::Int {
                size: size as u8,
                signed: true,
            });
        }
        Ok(())
    }

    /// `argN` (or `args[N]`) into r0, or into the scratch area for a
    /// string argument.
    fn load_arg(&mut self, n: u32, typed: bool, span: Span) -> R<Val> {
        let ty = self.arg_ty(n, typed);
        match self.site.arg(n, typed) {
            ArgSrc::Word(i) => {
                self.asm.ldx(Size::DW, R0, CTX, soff(8 * i)?);
            }
            ArgSrc::Reg(off) => {
                self.asm.ldx(Size::DW, R0, CTX, soff(off)?);
            }
            ArgSrc::Field {
                offset,
                size,
                signed,
            } => {
                self.load_ctx(offset, size, signed)?;
                return Ok(Val::Int(ty));
            }
            ArgSrc::Array { offset, size } => {
                let len = ty.bytes();
                let off = self.alloc(len, span)?;
                self.zero(SCRATCH, off, len)?;
                self.scratch_ptr(R1, off);
                self.asm.mov64(R2, size.min(len - 1) as i32);
                self.asm.mov64(R3, CTX).alu64(AluOp::Add, R3, offset as i32);
                self.asm.call(Helper::ProbeReadKernel);
                return Ok(Val::Mem { off, ty });
            }
            ArgSrc::DataLoc { offset } => {
                let len = ty.bytes();
                let off = self.alloc(len, span)?;
                self.zero(SCRATCH, off, len)?;
                self.asm.ldx(Size::W, R3, CTX, soff(offset)?);
                self.asm.alu64(AluOp::And, R3, 0xffff);
                self.asm.alu64(AluOp::Add, R3, CTX);
                self.scratch_ptr(R1, off);
                self.asm.mov64(R2, len as i32);
                self.asm.call(Helper::ProbeReadKernelStr);
                return Ok(Val::Mem { off, ty });
            }
            ArgSrc::Pc { user } => {
                // User mode when the interrupted code segment's privilege
                // level is 3.
                let zero = self.asm.label();
                let done = self.asm.label();
                self.asm.ldx(Size::DW, R1, CTX, soff(REG_CS)?);
                self.asm.alu64(AluOp::And, R1, 3);
                let cond = if user { Cond::Ne } else { Cond::Eq };
                self.asm.jmp(cond, R1, 3, zero);
                self.asm.ldx(Size::DW, R0, CTX, soff(REG_IP)?);
                self.asm.ja(done);
                self.asm.bind(zero);
                self.asm.mov64(R0, 0);
                self.asm.bind(done);
            }
            ArgSrc::RegSized { off, size, signed } => {
                self.asm.ldx(Size::DW, R0, CTX, soff(off)?);
                self.narrow(Ty::Int { size, signed });
            }
            ArgSrc::UserMem {
                base,
                offset,
                size,
                signed,
            } => {
                // Read into a zeroed scratch word, then loaded at its size.
                let tmp = self.alloc(8, span)?;
                self.asm.st(Size::DW, SCRATCH, soff(tmp)?, 0);
                self.asm.ldx(Size::DW, R3, CTX, soff(base)?);
                self.asm.ld_imm64(R1, offset as u64);
                self.asm.alu64(AluOp::Add, R3, R1);
                self.scratch_ptr(R1, tmp);
                self.asm.mov64(R2, i32::from(size.clamp(1, 8)));
                self.asm.call(Helper::ProbeReadUser);
                self.asm.ldx(Size::DW, R0, SCRATCH, soff(tmp)?);
                self.narrow(Ty::Int { size, signed });
            }
            ArgSrc::Const(v) => self.constant(v as u64),
            ArgSrc::Zero => {
                self.asm.mov64(R0, 0);
            }
        }
        Ok(Val::Int(ty))
    }

    fn arg_ty(&self, n: u32, typed: bool) -> Ty {
        match self.site.arg_ty(n, typed) {
            Ty::Str { len: 0 } => Ty::Str {
                len: str_len(self.opts.strsize),
            },
            t => t,
        }
    }

    fn execname(&mut self, span: Span) -> R<Val> {
        let ty = Ty::Str { len: COMM_LEN };
        let off = self.alloc(COMM_LEN, span)?;
        if self.site.tp_kind() == Some(TpKind::OnCpu) {
            let Some(f) = self.site.field("next_comm") else {
                return err(span, "the tracepoint has no field next_comm");
            };
            let src = f.offset;
            self.zero(SCRATCH, off, COMM_LEN)?;
            self.scratch_ptr(R1, off);
            self.asm.mov64(R2, (COMM_LEN - 1) as i32);
            self.asm.mov64(R3, CTX).alu64(AluOp::Add, R3, src as i32);
            self.asm.call(Helper::ProbeReadKernel);
        } else {
            self.scratch_ptr(R1, off);
            self.asm.mov64(R2, COMM_LEN as i32);
            self.asm.call(Helper::GetCurrentComm);
        }
        Ok(Val::Mem { off, ty })
    }

    /// The zone of the current task: its cgroup two levels below the
    /// unified root (`basalt/<uuid>`) looked up in the zones map, which
    /// dtrace fills; `global` when it is not there.
    fn zonename(&mut self, span: Span) -> R<Val> {
        self.uses_zones = true;
        let len = ZONENAME_LEN;
        let off = self.alloc(len, span)?;
        let key = self.alloc(8, span)?;
        self.asm.mov64(R1, 2);
        self.asm.call(Helper::GetCurrentAncestorCgroupId);
        self.asm.stx(Size::DW, SCRATCH, R0, soff(key)?);
        self.asm.ld_map(R1, maps::ZONES);
        self.scratch_ptr(R2, key);
        self.asm.call(Helper::MapLookupElem);
        let global = self.asm.label();
        let done = self.asm.label();
        self.asm.jmp(Cond::Eq, R0, 0, global);
        self.copy(SCRATCH, off, R0, 0, len)?;
        self.asm.ja(done);
        self.asm.bind(global);
        self.store_text(off, b"global", len)?;
        self.asm.bind(done);
        Ok(Val::Mem {
            off,
            ty: Ty::Str { len },
        })
    }

    /// r0 = the globals map's value; leaves the clause when it is missing
    /// (it never is: an array's entries always exist).
    fn lookup_globals(&mut self) -> R<()> {
        self.asm.ld_map(R1, maps::GLOBALS);
        self.asm
            .mov64(R2, FP)
            .alu64(AluOp::Add, R2, ZERO_KEY as i32);
        self.asm.call(Helper::MapLookupElem);
        let end = self.clause_end;
        self.asm.jmp(Cond::Eq, R0, 0, end);
        Ok(())
    }

    fn unknown(&self, name: &str, span: Span) -> R<Val> {
        err(
            span,
            format!("failed to resolve {name}: Unknown variable name"),
        )
    }

    /// Reading a variable not typed yet: an error once types are final, a
    /// placeholder while they settle.
    fn untyped(&mut self, name: &str, span: Span) -> R<Val> {
        if self.mode == Mode::Emit {
            return self.unknown(name, span);
        }
        self.asm.mov64(R0, 0);
        Ok(Val::Int(Ty::I64))
    }

    /// A value read from a map value (r0, not null) at `off` into r0 or
    /// the scratch area.
    fn read_value(&mut self, ty: Ty, off: u32, span: Span) -> R<Val> {
        match ty {
            Ty::Int { .. } => {
                self.asm.ldx(Size::DW, R0, R0, soff(off)?);
                Ok(Val::Int(ty))
            }
            _ => {
                let dst = self.alloc(ty.bytes(), span)?;
                self.copy(SCRATCH, dst, R0, off, ty.bytes())?;
                Ok(Val::Mem { off: dst, ty })
            }
        }
    }

    /// Reads a map entry whose key is at `key` in the scratch area (or the
    /// thread key on the stack); absent entries read as zero.
    fn map_read(&mut self, map: &str, key: KeyAt, ty: Ty, span: Span) -> R<Val> {
        self.asm.ld_map(R1, map);
        self.key_ptr(R2, key);
        self.asm.call(Helper::MapLookupElem);
        let missing = self.asm.label();
        let done = self.asm.label();
        self.asm.jmp(Cond::Eq, R0, 0, missing);
        let found = self.read_value(ty, 0, span)?;
        self.asm.ja(done);
        self.asm.bind(missing);
        match found {
            Val::Int(_) => {
                self.asm.mov64(R0, 0);
            }
            Val::Mem { off, ty } => {
                self.zero(SCRATCH, off, ty.bytes())?;
            }
        }
        self.asm.bind(done);
        Ok(found)
    }

    fn key_ptr(&mut self, reg: Reg, key: KeyAt) {
        match key {
            KeyAt::Scratch(off) => self.scratch_ptr(reg, off),
            KeyAt::Thread => {
                self.asm
                    .mov64(reg, FP)
                    .alu64(AluOp::Add, reg, TID_KEY as i32);
            }
        }
    }

    fn global_read(&mut self, name: &str, span: Span) -> R<Val> {
        let Some(var) = self.syms.globals.get(name).cloned() else {
            return self.untyped(name, span);
        };
        if !var.keys.is_empty() {
            return err(span, format!("{name} is an associative array: index it"));
        }
        self.lookup_globals()?;
        self.read_value(var.ty, GLOBALS_HEADER + var.offset, span)
    }

    /// Stores the current thread's id at `fp-16`.
    fn thread_key(&mut self, span: Span) -> R<()> {
        if self.site.tp_kind() == Some(TpKind::OnCpu) {
            self.load_field("next_pid", span)?;
        } else {
            self.asm.call(Helper::GetCurrentPidTgid);
            self.asm.alu32(AluOp::Mov, R0, R0);
        }
        self.asm.stx(Size::DW, FP, R0, TID_KEY);
        Ok(())
    }

    fn thread_read(&mut self, name: &str, span: Span) -> R<Val> {
        let Some(var) = self.syms.thread.get(name).cloned() else {
            return self.untyped(&format!("self->{name}"), span);
        };
        self.thread_key(span)?;
        self.map_read(&var.map, KeyAt::Thread, var.ty, span)
    }

    fn clause_read(&mut self, name: &str, span: Span) -> R<Val> {
        let Some(var) = self.syms.clause.get(name).cloned() else {
            return self.untyped(&format!("this->{name}"), span);
        };
        match var.ty {
            Ty::Int { .. } => {
                self.asm.ldx(Size::DW, R0, SCRATCH, soff(var.offset)?);
                Ok(Val::Int(var.ty))
            }
            ty => {
                let dst = self.alloc(ty.bytes(), span)?;
                self.copy(SCRATCH, dst, SCRATCH, var.offset, ty.bytes())?;
                Ok(Val::Mem { off: dst, ty })
            }
        }
    }

    fn index(&mut self, base: &Expr, keys: &[Expr], span: Span) -> R<Val> {
        match &base.kind {
            ExprKind::Ident(name) if name == "args" => {
                let [k] = keys else {
                    return err(span, "args[ ] takes one index");
                };
                let ExprKind::Int(IntLit { value, .. }) = k.kind else {
                    return err(k.span, "args[ ] must be indexed with an integer constant");
                };
                if value > 9 {
                    return err(k.span, format!("index {value} is out of range for args[ ]"));
                }
                self.load_arg(value as u32, true, span)
            }
            ExprKind::Ident(name) => {
                let Some(var) = self.syms.globals.get(name).cloned() else {
                    if self.mode == Mode::Typing {
                        self.keys(keys)?;
                    }
                    return self.untyped(name, span);
                };
                if var.keys.is_empty() {
                    return err(span, format!("{name} is not an associative array"));
                }
                let key = self.build_key(keys, &var.keys, name, span)?;
                self.map_read(&var.map, KeyAt::Scratch(key), var.ty, span)
            }
            ExprKind::Agg(_) => err(
                span,
                "an aggregation may only be used in aggregating actions",
            ),
            _ => err(span, "only associative arrays and args[ ] can be indexed"),
        }
    }

    /// Evaluates keys, keeping each (for typing an array or aggregation).
    fn keys(&mut self, keys: &[Expr]) -> R<Vec<Saved>> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let v = self.expr(k)?;
            out.push(self.save(v, k.span)?);
        }
        Ok(out)
    }

    /// Builds a composite key in the scratch area for `types`.
    fn build_key(&mut self, keys: &[Expr], types: &[Ty], what: &str, span: Span) -> R<u32> {
        let saved = self.keys(keys)?;
        if saved.len() != types.len() {
            return err(
                span,
                format!(
                    "{what}[ ] takes {} key{}, not {}",
                    types.len(),
                    if types.len() == 1 { "" } else { "s" },
                    saved.len()
                ),
            );
        }
        self.key_from(&saved, types, span)
    }

    fn key_from(&mut self, saved: &[Saved], types: &[Ty], span: Span) -> R<u32> {
        let size = key_bytes(types);
        let key = self.alloc(size, span)?;
        if types.is_empty() {
            self.asm.st(Size::DW, SCRATCH, soff(key)?, 0);
        }
        let mut at = key;
        for (s, t) in saved.iter().zip(types) {
            if s.ty().is_str() != t.is_str()
                || matches!(s.ty(), Ty::Stack { .. }) != matches!(t, Ty::Stack { .. })
            {
                return err(
                    span,
                    format!(
                        "key types do not match: {} where {} was used before",
                        s.ty().name(),
                        t.name()
                    ),
                );
            }
            self.write_saved(*s, SCRATCH, at, t.bytes())?;
            at += t.bytes();
        }
        for _ in saved.iter().filter(|s| matches!(s, Saved::Tmp(..))) {
            self.pop();
        }
        Ok(key)
    }

    fn unary(&mut self, op: UnaryOp, inner: &Expr, span: Span) -> R<Val> {
        match op {
            UnaryOp::PreInc | UnaryOp::PreDec | UnaryOp::PostInc | UnaryOp::PostDec => {
                let one = Expr {
                    kind: ExprKind::Int(IntLit::decimal(1)),
                    span,
                };
                let aop = if matches!(op, UnaryOp::PreInc | UnaryOp::PostInc) {
                    AssignOp::Add
                } else {
                    AssignOp::Sub
                };
                let v = self.assign(aop, inner, &one, span)?;
                if matches!(op, UnaryOp::PostInc) {
                    self.asm.alu64(AluOp::Sub, R0, 1);
                } else if matches!(op, UnaryOp::PostDec) {
                    self.asm.alu64(AluOp::Add, R0, 1);
                }
                return Ok(v);
            }
            UnaryOp::Deref | UnaryOp::AddrOf => {
                return err(
                    span,
                    "pointers cannot be followed here: use copyin(), copyinstr() or stringof()",
                );
            }
            _ => {}
        }
        let v = self.expr(inner)?;
        if op == UnaryOp::Not {
            self.truth(v, inner.span)?;
            self.asm.mov64(R1, 0);
            self.set_if(R0, Cond::Eq, R0, R1);
            return Ok(Val::Int(Ty::I32));
        }
        let Val::Int(ty) = v else {
            return err(span, "operator requires an integer operand");
        };
        match op {
            UnaryOp::Neg => {
                self.asm.push(crate::bpf::insn::Insn::Neg {
                    width: crate::bpf::insn::Width::W64,
                    dst: R0,
                });
            }
            UnaryOp::BitNot => {
                self.asm.alu64(AluOp::Xor, R0, -1);
            }
            _ => {}
        }
        Ok(Val::Int(ty.join(Ty::I64).unwrap_or(Ty::I64)))
    }

    fn binary(&mut self, op: BinOp, lhs: &Expr, rhs: &Expr, span: Span) -> R<Val> {
        match op {
            BinOp::And | BinOp::Or => {
                let short = self.asm.label();
                let done = self.asm.label();
                let l = self.expr(lhs)?;
                self.truth(l, lhs.span)?;
                let (cond, short_val) = if op == BinOp::And {
                    (Cond::Eq, 0)
                } else {
                    (Cond::Ne, 1)
                };
                self.asm.jmp(cond, R0, 0, short);
                let r = self.expr(rhs)?;
                self.truth(r, rhs.span)?;
                self.asm.mov64(R1, 0);
                self.set_if(R0, Cond::Ne, R0, R1);
                self.asm.ja(done);
                self.asm.bind(short);
                self.asm.mov64(R0, short_val);
                self.asm.bind(done);
                return Ok(Val::Int(Ty::I32));
            }
            BinOp::Comma => {
                self.expr(lhs)?;
                return self.expr(rhs);
            }
            _ => {}
        }
        let l = self.expr(lhs)?;
        let saved = self.save(l, lhs.span)?;
        let r = self.expr(rhs)?;
        if let (Saved::Mem { off: a, ty: ta }, Val::Mem { off: b, ty: tb }) = (saved, r) {
            if !(ta.is_str() && tb.is_str()) {
                return err(span, "stacks cannot be compared");
            }
            return self.compare_strings(op, a, ta, b, tb, span);
        }
        let (Saved::Tmp(slot, lt), Val::Int(rt)) = (saved, r) else {
            return err(
                span,
                format!(
                    "operands have incompatible types: \"{}\" {} \"{}\"",
                    saved.ty().name(),
                    crate::parse::bin_str(op),
                    r.ty().name()
                ),
            );
        };
        self.asm.mov64(R1, R0);
        self.asm.ldx(Size::DW, R0, FP, slot);
        self.pop();
        let ty = arith(lt, rt);
        let signed = ty.signed();
        let compare = |g: &mut Self, c: Cond| {
            g.set_if(R0, c, R0, R1);
            Ok(Val::Int(Ty::I32))
        };
        let pick = |s: Cond, u: Cond| if signed { s } else { u };
        match op {
            BinOp::Add => self.asm.alu64(AluOp::Add, R0, R1),
            BinOp::Sub => self.asm.alu64(AluOp::Sub, R0, R1),
            BinOp::Mul => self.asm.alu64(AluOp::Mul, R0, R1),
            BinOp::BitAnd => self.asm.alu64(AluOp::And, R0, R1),
            BinOp::BitOr => self.asm.alu64(AluOp::Or, R0, R1),
            BinOp::BitXor => self.asm.alu64(AluOp::Xor, R0, R1),
            BinOp::Shl => self.asm.alu64(AluOp::Lsh, R0, R1),
            BinOp::Shr => self
                .asm
                .alu64(if signed { AluOp::Arsh } else { AluOp::Rsh }, R0, R1),
            BinOp::Div | BinOp::Mod => return self.divide(op == BinOp::Div, signed, ty),
            BinOp::Lt => return compare(self, pick(Cond::Slt, Cond::Lt)),
            BinOp::Le => return compare(self, pick(Cond::Sle, Cond::Le)),
            BinOp::Gt => return compare(self, pick(Cond::Sgt, Cond::Gt)),
            BinOp::Ge => return compare(self, pick(Cond::Sge, Cond::Ge)),
            BinOp::Eq => return compare(self, Cond::Eq),
            BinOp::Ne => return compare(self, Cond::Ne),
            BinOp::Xor => {
                // Logical exclusive or: both operands made 0 or 1.
                self.asm.mov64(R2, 0);
                self.set_if(R0, Cond::Ne, R0, R2);
                self.set_if(R1, Cond::Ne, R1, R2);
                self.asm.alu64(AluOp::Xor, R0, R1);
                return Ok(Val::Int(Ty::I32));
            }
            BinOp::And | BinOp::Or | BinOp::Comma => unreachable!("handled above"),
        };
        Ok(Val::Int(ty))
    }

    /// r0 = r0 / r1 (or %), signed or not; a zero divisor is DTrace's
    /// runtime error, ending the clause.
    fn divide(&mut self, div: bool, signed: bool, ty: Ty) -> R<Val> {
        let ok = self.asm.label();
        self.asm.jmp(Cond::Ne, R1, 0, ok);
        self.runtime_error("divide-by-zero")?;
        self.asm.bind(ok);
        let op = if div { AluOp::Div } else { AluOp::Mod };
        if !signed {
            self.asm.alu64(op, R0, R1);
            return Ok(Val::Int(ty));
        }
        // Signed: divide the magnitudes, then set the sign (the quotient's
        // is the product of the signs, the remainder's the dividend's).
        let neg = |g: &mut Self, r: Reg| {
            g.asm.push(crate::bpf::insn::Insn::Neg {
                width: crate::bpf::insn::Width::W64,
                dst: r,
            });
        };
        self.asm.mov64(R2, 0);
        let a = self.asm.label();
        self.asm.jmp(Cond::Sge, R0, 0, a);
        neg(self, R0);
        self.asm.alu64(AluOp::Xor, R2, if div { 1 } else { 3 });
        self.asm.bind(a);
        let b = self.asm.label();
        self.asm.jmp(Cond::Sge, R1, 0, b);
        neg(self, R1);
        if div {
            self.asm.alu64(AluOp::Xor, R2, 1);
        }
        self.asm.bind(b);
        self.asm.alu64(op, R0, R1);
        let c = self.asm.label();
        self.asm.jmp(Cond::Eq, R2, 0, c);
        neg(self, R0);
        self.asm.bind(c);
        Ok(Val::Int(ty))
    }

    /// Compares two strings byte by byte up to the shorter's length (both
    /// are NUL-padded), for ==, !=, <, <=, >, >=.
    fn compare_strings(&mut self, op: BinOp, a: u32, ta: Ty, b: u32, tb: Ty, span: Span) -> R<Val> {
        let cond = match op {
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => op,
            _ => {
                return err(
                    span,
                    format!(
                        "operator {} cannot be applied to strings",
                        crate::parse::bin_str(op)
                    ),
                );
            }
        };
        let n = ta.bytes().min(tb.bytes());
        let differ = self.asm.label();
        let equal = self.asm.label();
        let done = self.asm.label();
        // r1, r2: the bytes at i; a NUL in both is the end. The verifier
        // follows a branch's fall-through first and keeps its target for
        // later, at most 8192 of them: the next byte is the target, so
        // that one is kept per string, not two per byte.
        for i in 0..n {
            let same = self.asm.label();
            let next = self.asm.label();
            self.asm.ldx(Size::B, R1, SCRATCH, soff(a + i)?);
            self.asm.ldx(Size::B, R2, SCRATCH, soff(b + i)?);
            self.asm.jmp(Cond::Eq, R1, R2, same);
            self.asm.ja(differ);
            self.asm.bind(same);
            self.asm.jmp(Cond::Ne, R1, 0, next);
            self.asm.ja(equal);
            self.asm.bind(next);
        }
        // Equal over the shorter buffer's length: the longer one's next
        // byte decides (the shorter has ended).
        if ta.bytes() != tb.bytes() {
            let (longer, is_a) = if ta.bytes() > tb.bytes() {
                (a, true)
            } else {
                (b, false)
            };
            self.asm.ldx(Size::B, R1, SCRATCH, soff(longer + n)?);
            self.asm.jmp(Cond::Eq, R1, 0, equal);
            if is_a {
                self.asm.mov64(R2, 0);
            } else {
                self.asm.mov64(R2, R1).mov64(R1, 0);
            }
            self.asm.ja(differ);
        } else {
            self.asm.ja(equal);
        }
        // r0 = sign of (r1 - r2) as -1 / 1, or 0 when equal.
        self.asm.bind(differ);
        let less = self.asm.label();
        self.asm.jmp(Cond::Lt, R1, R2, less);
        self.asm.mov64(R0, 1).ja(done);
        self.asm.bind(less);
        self.asm.mov64(R0, -1).ja(done);
        self.asm.bind(equal);
        self.asm.mov64(R0, 0);
        self.asm.bind(done);
        self.forget_r0(span)?;
        let c = match cond {
            BinOp::Eq => Cond::Eq,
            BinOp::Ne => Cond::Ne,
            BinOp::Lt => Cond::Slt,
            BinOp::Le => Cond::Sle,
            BinOp::Gt => Cond::Sgt,
            _ => Cond::Sge,
        };
        self.asm.mov64(R1, 0);
        self.set_if(R0, c, R0, R1);
        Ok(Val::Int(Ty::I32))
    }

    /// `dst = (a c b) ? 1 : 0` without a branch (r3-r5 clobbered; `a`
    /// and `b` are not among them). A branch would leave the verifier two
    /// states that differ in `dst`, and a later test of it on a constant
    /// makes it track both to the end: a chain of such tests doubles its
    /// work at each.
    fn set_if(&mut self, dst: Reg, c: Cond, a: Reg, b: Reg) {
        let (x, y, flip) = match c {
            Cond::Eq => (a, b, true),
            Cond::Ne => (a, b, false),
            Cond::Lt | Cond::Slt => (a, b, false),
            Cond::Ge | Cond::Sge => (a, b, true),
            Cond::Gt | Cond::Sgt => (b, a, false),
            Cond::Le | Cond::Sle => (b, a, true),
            Cond::Set => {
                self.asm.mov64(R3, a).alu64(AluOp::And, R3, b);
                self.asm.mov64(R4, 0);
                return self.set_if(dst, Cond::Ne, R3, R4);
            }
        };
        let a = &mut self.asm;
        match c {
            Cond::Eq | Cond::Ne => {
                // x != y: the top bit of t | -t, t = x ^ y.
                a.mov64(R3, x).alu64(AluOp::Xor, R3, y);
                a.mov64(R4, R3);
                a.push(crate::bpf::insn::Insn::Neg {
                    width: crate::bpf::insn::Width::W64,
                    dst: R4,
                });
                a.alu64(AluOp::Or, R3, R4);
            }
            Cond::Lt | Cond::Ge | Cond::Gt | Cond::Le => {
                // Unsigned x < y: the borrow of x - y,
                // (~x & y) | ((~x | y) & (x - y)), in the top bit.
                a.mov64(R3, x).alu64(AluOp::Xor, R3, -1);
                a.mov64(R4, R3).alu64(AluOp::And, R4, y);
                a.alu64(AluOp::Or, R3, y);
                a.mov64(R5, x).alu64(AluOp::Sub, R5, y);
                a.alu64(AluOp::And, R3, R5);
                a.alu64(AluOp::Or, R3, R4);
            }
            _ => {
                // Signed x < y: the sign of x - y corrected for overflow,
                // d ^ ((x ^ y) & (d ^ x)), d = x - y.
                a.mov64(R3, x).alu64(AluOp::Sub, R3, y);
                a.mov64(R4, x).alu64(AluOp::Xor, R4, y);
                a.mov64(R5, R3).alu64(AluOp::Xor, R5, x);
                a.alu64(AluOp::And, R4, R5);
                a.alu64(AluOp::Xor, R3, R4);
            }
        }
        a.alu64(AluOp::Rsh, R3, 63);
        if flip {
            a.alu64(AluOp::Xor, R3, 1);
        }
        a.mov64(dst, R3);
    }

    fn ternary(&mut self, cond: &Expr, then: &Expr, otherwise: &Expr, span: Span) -> R<Val> {
        let c = self.expr(cond)?;
        self.truth(c, cond.span)?;
        let else_ = self.asm.label();
        let done = self.asm.label();
        self.asm.jmp(Cond::Eq, R0, 0, else_);
        let t = self.expr(then)?;
        match t {
            Val::Int(tt) => {
                self.asm.ja(done);
                self.asm.bind(else_);
                let o = self.expr(otherwise)?;
                let Val::Int(ot) = o else {
                    return err(span, "? : operands must have the same type");
                };
                self.asm.bind(done);
                self.forget_r0(span)?;
                Ok(Val::Int(arith(tt, ot)))
            }
            Val::Mem { ty: tt, .. } => {
                // Both branches copy into one buffer as long as the longer.
                // Its size is known only after both are typed: reserve the
                // longest string a branch can give (strsize), at least the
                // first's, rounded up as every string is.
                let len = str_len(tt.bytes().max(self.opts.strsize));
                let dst = self.alloc(len, span)?;
                let sv = self.save(t, then.span)?;
                self.write_saved(sv, SCRATCH, dst, len)?;
                self.asm.ja(done);
                self.asm.bind(else_);
                let o = self.expr(otherwise)?;
                if !o.ty().is_str() || !tt.is_str() {
                    return err(span, "? : operands must have the same type");
                }
                let so = self.save(o, otherwise.span)?;
                self.write_saved(so, SCRATCH, dst, len)?;
                self.asm.bind(done);
                Ok(Val::Mem {
                    off: dst,
                    ty: Ty::Str { len },
                })
            }
        }
    }

    // ---------------------------------------------------------------
    // Assignment

    fn assign(&mut self, op: AssignOp, lhs: &Expr, rhs: &Expr, span: Span) -> R<Val> {
        if let Some((name, keys)) = agg_target(lhs) {
            if op != AssignOp::Assign {
                return err(span, "aggregations may only be assigned with =");
            }
            return self.aggregate(name, keys, rhs, lhs.span);
        }
        self.zero_literal = op == AssignOp::Assign
            && matches!(rhs.kind, ExprKind::Int(IntLit { value: 0, .. }))
            && matches!(lhs.kind, ExprKind::ThreadVar(_) | ExprKind::Index { .. });
        let value = if op == AssignOp::Assign {
            self.expr(rhs)?
        } else {
            let bop = match op {
                AssignOp::Add => BinOp::Add,
                AssignOp::Sub => BinOp::Sub,
                AssignOp::Mul => BinOp::Mul,
                AssignOp::Div => BinOp::Div,
                AssignOp::Mod => BinOp::Mod,
                AssignOp::BitAnd => BinOp::BitAnd,
                AssignOp::BitXor => BinOp::BitXor,
                AssignOp::BitOr => BinOp::BitOr,
                AssignOp::Shl => BinOp::Shl,
                AssignOp::Shr => BinOp::Shr,
                AssignOp::Assign => unreachable!("handled above"),
            };
            self.binary(bop, lhs, rhs, span)?
        };
        match &lhs.kind {
            ExprKind::Ident(name) if !is_builtin(name) => self.global_write(name, value, span),
            ExprKind::ThreadVar(name) => self.thread_write(name, value, span),
            ExprKind::ClauseVar(name) => self.clause_write(name, value, span),
            ExprKind::Index { base, keys } => match &base.kind {
                ExprKind::Ident(name) if name != "args" => {
                    self.array_write(name, keys, value, span)
                }
                _ => err(lhs.span, "operator = requires a modifiable left-hand side"),
            },
            _ => err(lhs.span, "operator = requires a modifiable left-hand side"),
        }
    }

    /// Types `name` from an assigned value: the first assignment decides;
    /// a string variable holds `strsize` bytes, as in DTrace. Returns the
    /// variable's final type.
    fn type_var(&mut self, scope: Scope, name: &str, ty: Ty, keys: &[Ty], span: Span) -> R<Var> {
        let table = match scope {
            Scope::Global => &mut self.syms.globals,
            Scope::Thread => &mut self.syms.thread,
            Scope::Clause => &mut self.syms.clause,
        };
        let mode = self.mode;
        let ty = match ty {
            Ty::Str { .. } => Ty::Str {
                len: str_len(self.opts.strsize),
            },
            t => t,
        };
        let zero = std::mem::take(&mut self.zero_literal);
        match table.get_mut(name) {
            // `self->s = 0` frees a string variable as it does any other.
            Some(v) if zero && v.ty.is_str() && keys.len() == v.keys.len() => Ok(v.clone()),
            Some(v) => {
                let joined = match (v.ty.join(ty), mode) {
                    (Some(j), _) => j,
                    (None, _) => {
                        return err(
                            span,
                            format!(
                                "operands have incompatible types: \"{}\" = \"{}\"",
                                v.ty.name(),
                                ty.name()
                            ),
                        );
                    }
                };
                // Integers keep the type of their first assignment.
                let joined = if joined.is_str() { joined } else { v.ty };
                let new_keys = join_keys(&v.keys, keys, name, span)?;
                if joined != v.ty || new_keys != v.keys {
                    if mode == Mode::Emit {
                        return err(span, format!("internal error: {name}'s type changed"));
                    }
                    v.ty = joined;
                    v.keys = new_keys;
                    self.changed = true;
                }
                Ok(v.clone())
            }
            None => {
                if mode == Mode::Emit {
                    return err(span, format!("internal error: {name} has no type"));
                }
                let ty = match ty {
                    Ty::Int { .. } => ty,
                    Ty::Str { .. } => ty,
                    Ty::Stack { .. } | Ty::Void => {
                        return err(span, format!("{name} cannot hold a {}", ty.name()));
                    }
                };
                let v = Var {
                    ty,
                    keys: keys.to_vec(),
                    offset: 0,
                    map: String::new(),
                };
                table.insert(name.to_owned(), v.clone());
                self.changed = true;
                Ok(v)
            }
        }
    }

    fn global_write(&mut self, name: &str, value: Val, span: Span) -> R<Val> {
        let saved = self.save(value, span)?;
        let var = self.type_var(Scope::Global, name, value.ty(), &[], span)?;
        if !var.keys.is_empty() {
            return err(span, format!("{name} is an associative array: index it"));
        }
        self.lookup_globals()?;
        self.asm.mov64(R8, R0);
        self.write_saved(saved, R8, GLOBALS_HEADER + var.offset, var.ty.bytes())?;
        self.result_of(saved)
    }

    /// The value of an assignment expression, back where a value is.
    fn result_of(&mut self, saved: Saved) -> R<Val> {
        Ok(match saved {
            Saved::Tmp(slot, ty) => {
                self.asm.ldx(Size::DW, R0, FP, slot);
                self.pop();
                Val::Int(ty)
            }
            Saved::Mem { off, ty } => Val::Mem { off, ty },
        })
    }

    fn clause_write(&mut self, name: &str, value: Val, span: Span) -> R<Val> {
        let saved = self.save(value, span)?;
        let var = self.type_var(Scope::Clause, name, value.ty(), &[], span)?;
        self.write_saved(saved, SCRATCH, var.offset, var.ty.bytes())?;
        self.result_of(saved)
    }

    fn thread_write(&mut self, name: &str, value: Val, span: Span) -> R<Val> {
        let saved = self.save(value, span)?;
        let var = self.type_var(Scope::Thread, name, value.ty(), &[], span)?;
        self.thread_key(span)?;
        self.map_write(&var, KeyAt::Thread, saved, span)?;
        self.result_of(saved)
    }

    fn array_write(&mut self, name: &str, keys: &[Expr], value: Val, span: Span) -> R<Val> {
        let saved = self.save(value, span)?;
        let kept = self.keys(keys)?;
        let key_types: Vec<Ty> = kept.iter().map(|s| s.ty()).collect();
        let var = self.type_var(Scope::Global, name, value.ty(), &key_types, span)?;
        if var.keys.is_empty() {
            return err(span, format!("{name} is a scalar: it cannot be indexed"));
        }
        let key = self.key_from(&kept, &var.keys, span)?;
        self.map_write(&var, KeyAt::Scratch(key), saved, span)?;
        self.result_of(saved)
    }

    /// Stores a dynamic variable; an integer zero deletes it, as in
    /// DTrace. A full map counts a dynamic variable drop.
    fn map_write(&mut self, var: &Var, key: KeyAt, saved: Saved, span: Span) -> R<()> {
        let done = self.asm.label();
        if let Saved::Tmp(slot, _) = saved {
            let store = self.asm.label();
            self.asm.ldx(Size::DW, R1, FP, slot);
            self.asm.jmp(Cond::Ne, R1, 0, store);
            self.asm.ld_map(R1, &var.map);
            self.key_ptr(R2, key);
            self.asm.call(Helper::MapDeleteElem);
            self.asm.ja(done);
            self.asm.bind(store);
        }
        let value = self.alloc(var.ty.bytes(), span)?;
        self.write_saved(saved, SCRATCH, value, var.ty.bytes())?;
        self.asm.ld_map(R1, &var.map);
        self.key_ptr(R2, key);
        self.scratch_ptr(R3, value);
        self.asm.mov64(R4, 0);
        self.asm.call(Helper::MapUpdateElem);
        self.asm.jmp(Cond::Eq, R0, 0, done);
        self.count_drop(maps::DROP_DYNVAR);
        self.asm.bind(done);
        Ok(())
    }

    /// Adds one to a drop counter (per CPU).
    fn count_drop(&mut self, which: i32) {
        self.asm.st(Size::DW, FP, TID_KEY, which);
        self.asm.ld_map(R1, maps::DROPS);
        self.asm.mov64(R2, FP).alu64(AluOp::Add, R2, TID_KEY as i32);
        self.asm.call(Helper::MapLookupElem);
        let none = self.asm.label();
        self.asm.jmp(Cond::Eq, R0, 0, none);
        self.asm.ldx(Size::DW, R1, R0, 0);
        self.asm.alu64(AluOp::Add, R1, 1);
        self.asm.stx(Size::DW, R0, R1, 0);
        self.asm.bind(none);
    }

    // ---------------------------------------------------------------
    // Aggregations

    fn aggregate(&mut self, name: &str, keys: &[Expr], rhs: &Expr, span: Span) -> R<Val> {
        let ExprKind::Call {
            func,
            func_span,
            args,
        } = &rhs.kind
        else {
            return err(
                rhs.span,
                "an aggregation must be assigned an aggregating function",
            );
        };
        let kind = agg_kind(func, args, *func_span, rhs.span)?;
        let wants = match kind {
            AggKind::Count => 0,
            AggKind::Quantize => 1,
            AggKind::Lquantize { .. } | AggKind::Llquantize { .. } => 1,
            _ => 1,
        };
        if args.len() < wants {
            return err(rhs.span, format!("{func}( ) takes a value"));
        }
        // The value (and a quantize's weight), then the keys.
        let value = match args.first().filter(|_| wants == 1) {
            Some(a) => {
                let v = self.expr(a)?;
                let Val::Int(_) = v else {
                    return err(a.span, format!("{func}( ) takes an integer value"));
                };
                Some(self.push(a.span)?)
            }
            None => None,
        };
        let weight_arg = match kind {
            AggKind::Quantize => args.get(1),
            AggKind::Lquantize { .. } => args.get(4),
            AggKind::Llquantize { .. } => args.get(5),
            _ => None,
        };
        let weight = match weight_arg {
            Some(w) => {
                let v = self.expr(w)?;
                let Val::Int(_) = v else {
                    return err(w.span, "an increment must be an integer");
                };
                Some(self.push(w.span)?)
            }
            None => None,
        };
        let kept = self.keys(keys)?;
        let key_types: Vec<Ty> = kept.iter().map(|s| s.ty()).collect();
        let agg = self.type_agg(name, kind, &key_types, span)?;
        let key = self.key_from(&kept, &agg.keys, span)?;

        // r8 = the entry, made zero when missing.
        let have = self.asm.label();
        let end = self.asm.label();
        self.asm.ld_map(R1, &agg.map);
        self.scratch_ptr(R2, key);
        self.asm.call(Helper::MapLookupElem);
        self.asm.jmp(Cond::Ne, R0, 0, have);
        let zero = self.alloc(agg.value_bytes(), span)?;
        self.zero(SCRATCH, zero, agg.value_bytes())?;
        self.asm.ld_map(R1, &agg.map);
        self.scratch_ptr(R2, key);
        self.scratch_ptr(R3, zero);
        self.asm.mov64(R4, NOEXIST);
        self.asm.call(Helper::MapUpdateElem);
        self.asm.ld_map(R1, &agg.map);
        self.scratch_ptr(R2, key);
        self.asm.call(Helper::MapLookupElem);
        self.asm.jmp(Cond::Ne, R0, 0, have);
        self.count_drop(maps::DROP_AGG);
        self.asm.ja(end);
        self.asm.bind(have);
        self.asm.mov64(R8, R0);
        // r3 = the value, r4 = the weight.
        if let Some(slot) = value {
            self.asm.ldx(Size::DW, R3, FP, slot);
        }
        match weight {
            Some(slot) => self.asm.ldx(Size::DW, R4, FP, slot),
            None => self.asm.mov64(R4, 1),
        };
        let add = |g: &mut Self, word: i16, src: Reg| {
            g.asm.ldx(Size::DW, R1, R8, word * 8);
            g.asm.alu64(AluOp::Add, R1, src);
            g.asm.stx(Size::DW, R8, R1, word * 8);
        };
        match &kind {
            AggKind::Count => {
                self.asm.mov64(R3, 1);
                add(self, 0, R3);
            }
            AggKind::Sum => add(self, 0, R3),
            AggKind::Avg => {
                self.asm.mov64(R2, 1);
                add(self, 0, R2);
                add(self, 1, R3);
            }
            AggKind::Min | AggKind::Max => {
                let set = self.asm.label();
                let skip = self.asm.label();
                self.asm.ldx(Size::DW, R1, R8, 0);
                self.asm.jmp(Cond::Eq, R1, 0, set);
                self.asm.ldx(Size::DW, R1, R8, 8);
                let keep = if kind == AggKind::Min {
                    Cond::Sge
                } else {
                    Cond::Sle
                };
                self.asm.jmp(keep, R3, R1, skip);
                self.asm.bind(set);
                self.asm.st(Size::DW, R8, 0, 1);
                self.asm.stx(Size::DW, R8, R3, 8);
                self.asm.bind(skip);
            }
            AggKind::Stddev => {
                self.asm.mov64(R2, 1);
                add(self, 0, R2);
                add(self, 1, R3);
                self.square_sum()?;
            }
            AggKind::Quantize | AggKind::Lquantize { .. } | AggKind::Llquantize { .. } => {
                self.bucket(&kind)?;
                let buckets = kind.words() as i32;
                self.asm.jmp(Cond::Ge, R1, buckets, end);
                self.asm.alu64(AluOp::Lsh, R1, 3);
                self.asm.alu64(AluOp::Add, R8, R1);
                add(self, 0, R4);
            }
        }
        self.asm.bind(end);
        if weight.is_some() {
            self.pop();
        }
        if value.is_some() {
            self.pop();
        }
        Ok(Val::Int(Ty::Void))
    }

    /// Adds the square of r3, as a 128-bit number, to the stddev words at
    /// r8 (16: low, 24: high). The square of |v| is hi²·2⁶⁴ + lo·hi·2³³ +
    /// lo², lo and hi its 32-bit halves.
    fn square_sum(&mut self) -> R<()> {
        let a = &mut self.asm;
        let pos = a.label();
        a.mov64(R5, R3);
        a.jmp(Cond::Sge, R5, 0, pos);
        a.push(crate::bpf::insn::Insn::Neg {
            width: crate::bpf::insn::Width::W64,
            dst: R5,
        });
        a.bind(pos);
        a.alu32(AluOp::Mov, R0, R5); // lo
        a.mov64(R1, R5).alu64(AluOp::Rsh, R1, 32); // hi
        a.mov64(R2, R0).alu64(AluOp::Mul, R2, R0); // lo²
        a.alu64(AluOp::Mul, R0, R1); // lo·hi
        a.alu64(AluOp::Mul, R1, R1); // hi²
        a.mov64(R4, R0).alu64(AluOp::Lsh, R4, 33); // lo·hi·2³³, low word
        a.alu64(AluOp::Rsh, R0, 31); // its high word
        a.alu64(AluOp::Add, R2, R4); // the square's low word
        let no_carry = a.label();
        a.jmp(Cond::Ge, R2, R4, no_carry);
        a.alu64(AluOp::Add, R1, 1);
        a.bind(no_carry);
        a.alu64(AluOp::Add, R1, R0); // the square's high word
        // Into the sum: low, its carry, high.
        a.ldx(Size::DW, R0, R8, 16);
        a.alu64(AluOp::Add, R0, R2);
        a.stx(Size::DW, R8, R0, 16);
        let no_carry = a.label();
        a.jmp(Cond::Ge, R0, R2, no_carry);
        a.alu64(AluOp::Add, R1, 1);
        a.bind(no_carry);
        a.ldx(Size::DW, R0, R8, 24);
        a.alu64(AluOp::Add, R0, R1);
        a.stx(Size::DW, R8, R0, 24);
        Ok(())
    }

    /// r1 = the histogram bucket of the value in r3 (r3 and r4 kept;
    /// r0, r2, r5 clobbered).
    fn bucket(&mut self, kind: &AggKind) -> R<()> {
        match *kind {
            AggKind::Quantize => {
                // Zero is bucket 63; a positive v is 64 + log2(v), a
                // negative one 62 - log2(-v).
                let done = self.asm.label();
                let pos = self.asm.label();
                self.asm.mov64(R1, 63);
                self.asm.jmp(Cond::Eq, R3, 0, done);
                self.asm.mov64(R5, R3);
                self.asm.jmp(Cond::Sgt, R3, 0, pos);
                self.asm.push(crate::bpf::insn::Insn::Neg {
                    width: crate::bpf::insn::Width::W64,
                    dst: R5,
                });
                self.log2(R5, R0);
                self.asm.mov64(R1, 62).alu64(AluOp::Sub, R1, R0);
                // -2⁶³ has no bucket of its own: the lowest.
                self.asm.jmp(Cond::Sge, R1, 0, done);
                self.asm.mov64(R1, 0);
                self.asm.ja(done);
                self.asm.bind(pos);
                self.log2(R5, R0);
                self.asm.mov64(R1, 64).alu64(AluOp::Add, R1, R0);
                self.asm.bind(done);
            }
            AggKind::Lquantize { base, limit, step } => {
                let done = self.asm.label();
                let levels = (limit - base) / step;
                self.asm.mov64(R1, 0);
                self.asm.ld_imm64(R2, base as u64);
                self.asm.jmp(Cond::Slt, R3, R2, done);
                self.asm.mov64(R1, (levels + 1) as i32);
                self.asm.ld_imm64(R2, limit as u64);
                self.asm.jmp(Cond::Sge, R3, R2, done);
                self.asm.mov64(R1, R3);
                self.asm.ld_imm64(R2, base as u64);
                self.asm.alu64(AluOp::Sub, R1, R2);
                self.asm.ld_imm64(R2, step as u64);
                self.asm.alu64(AluOp::Div, R1, R2);
                self.asm.alu64(AluOp::Add, R1, 1);
                self.asm.bind(done);
            }
            AggKind::Llquantize { .. } => {
                // The bucket is the number of lower bounds at or below the
                // value, less one: a compare against each bound.
                let bounds = kind.bounds();
                self.asm.mov64(R1, 0);
                let done = self.asm.label();
                for (i, b) in bounds.iter().enumerate().skip(1) {
                    self.asm.ld_imm64(R2, *b as u64);
                    self.asm.jmp(Cond::Slt, R3, R2, done);
                    self.asm.mov64(R1, i as i32);
                }
                self.asm.bind(done);
            }
            _ => {}
        }
        Ok(())
    }

    /// `out = floor(log2(v))` for v > 0 (v clobbered), by halving.
    fn log2(&mut self, v: Reg, out: Reg) {
        self.asm.mov64(out, 0);
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.asm.label();
            self.asm.mov64(R2, v).alu64(AluOp::Rsh, R2, shift);
            self.asm.jmp(Cond::Eq, R2, 0, skip);
            self.asm.mov64(v, R2);
            self.asm.alu64(AluOp::Add, out, shift);
            self.asm.bind(skip);
        }
    }

    fn type_agg(&mut self, name: &str, kind: AggKind, keys: &[Ty], span: Span) -> R<Agg> {
        let at = if name.is_empty() {
            "@".to_owned()
        } else {
            format!("@{name}")
        };
        match self.syms.aggs.iter_mut().find(|a| a.name == name) {
            Some(a) => {
                if a.kind != kind {
                    return err(span, format!("{at}: aggregation redefined"));
                }
                let new = join_keys(&a.keys, keys, &at, span)?;
                if new != a.keys {
                    if self.mode == Mode::Emit {
                        return err(span, format!("internal error: {at}'s keys changed"));
                    }
                    a.keys = new;
                    self.changed = true;
                }
                Ok(a.clone())
            }
            None => {
                if self.mode == Mode::Emit {
                    return err(span, format!("internal error: {at} has no type"));
                }
                let a = Agg {
                    name: name.to_owned(),
                    kind,
                    keys: keys.to_vec(),
                    map: format!("agg{}", self.syms.aggs.len()),
                };
                self.syms.aggs.push(a.clone());
                self.changed = true;
                Ok(a)
            }
        }
    }

    // ---------------------------------------------------------------
    // Subroutines and actions

    fn subroutine(&mut self, func: &str, fspan: Span, args: &[Expr], span: Span) -> R<Val> {
        let nargs = |lo: usize, hi: usize| arity(func, args.len(), lo, hi, span);
        match func {
            "copyinstr" | "stringof" => {
                nargs(1, if func == "copyinstr" { 2 } else { 1 })?;
                let v = self.expr(&args[0])?;
                if let Val::Mem {
                    ty: Ty::Str { .. }, ..
                } = v
                {
                    if func == "stringof" {
                        return Ok(v);
                    }
                    return err(args[0].span, "copyinstr( ) takes an address, not a string");
                }
                let Val::Int(_) = v else {
                    return err(args[0].span, format!("{func}( ) takes an address"));
                };
                let mut len = self.opts.strsize;
                if let Some(m) = args.get(1) {
                    let ExprKind::Int(IntLit { value, .. }) = m.kind else {
                        return err(m.span, "copyinstr( )'s size must be a constant");
                    };
                    len = len.min(u32::try_from(value).unwrap_or(u32::MAX).saturating_add(1));
                }
                let len = str_len(len);
                let off = self.alloc(len, span)?;
                self.asm.mov64(R3, R0);
                self.zero(SCRATCH, off, len)?;
                self.scratch_ptr(R1, off);
                let read = if let Some(m) = args.get(1)
                    && let ExprKind::Int(IntLit { value, .. }) = m.kind
                {
                    u32::try_from(value)
                        .unwrap_or(u32::MAX)
                        .saturating_add(1)
                        .min(len)
                } else {
                    len
                };
                self.asm.mov64(R2, read as i32);
                self.asm.call(if func == "copyinstr" {
                    Helper::ProbeReadUserStr
                } else {
                    Helper::ProbeReadKernelStr
                });
                Ok(Val::Mem {
                    off,
                    ty: Ty::Str { len },
                })
            }
            "strlen" => {
                nargs(1, 1)?;
                let v = self.expr(&args[0])?;
                let Val::Mem {
                    off,
                    ty: Ty::Str { len },
                } = v
                else {
                    return err(args[0].span, "strlen( ) takes a string");
                };
                self.find_nul(off, len);
                self.forget_r0(span)?;
                Ok(Val::Int(Ty::U64))
            }
            "strjoin" => {
                nargs(2, 2)?;
                let a = self.expr(&args[0])?;
                let sa = self.save(a, args[0].span)?;
                let b = self.expr(&args[1])?;
                let (
                    Saved::Mem {
                        off: ao,
                        ty: Ty::Str { len: al },
                    },
                    Val::Mem {
                        off: bo,
                        ty: Ty::Str { len: bl },
                    },
                ) = (sa, b)
                else {
                    return err(span, "strjoin( ) takes two strings");
                };
                // As long as both, up to strsize; the result is cut there.
                let len = str_len((al + bl).min(self.opts.strsize));
                // Twice that: the verifier bounds the copy of b by the
                // largest offset and the largest size, not their sum.
                let dst = self.alloc(2 * len, span)?;
                self.zero(SCRATCH, dst, len)?;
                let head = al.min(len);
                self.copy(SCRATCH, dst, SCRATCH, ao, head)?;
                // r0 = strlen(a) (at most len - 1), then b is copied there.
                self.find_nul(dst, head - 1);
                // One unknown length, bounded again for the offset and the
                // size below (a no-op when it runs).
                self.forget_r0(span)?;
                let bounded = self.asm.label();
                self.asm.jmp(Cond::Le, R0, (head - 1) as i32, bounded);
                self.asm.mov64(R0, (head - 1) as i32);
                self.asm.bind(bounded);
                self.scratch_ptr(R1, dst);
                self.asm.alu64(AluOp::Add, R1, R0);
                self.asm.mov64(R2, len as i32);
                self.asm.alu64(AluOp::Sub, R2, R0);
                self.scratch_ptr(R3, bo);
                self.asm.call(Helper::ProbeReadKernelStr);
                self.asm.st(Size::B, SCRATCH, soff(dst + len - 1)?, 0);
                Ok(Val::Mem {
                    off: dst,
                    ty: Ty::Str { len },
                })
            }
            "stack" | "ustack" => {
                let user = func == "ustack";
                self.uses_stack[user as usize] = true;
                let off = self.alloc(16, span)?;
                self.asm.mov64(R1, CTX);
                self.asm
                    .ld_map(R2, if user { maps::USTACKS } else { maps::KSTACKS });
                self.asm.mov64(R3, if user { USER_STACK } else { 0 });
                self.asm.call(Helper::GetStackid);
                self.asm.stx(Size::DW, SCRATCH, R0, soff(off)?);
                self.asm.call(Helper::GetCurrentPidTgid);
                self.asm.alu64(AluOp::Rsh, R0, 32);
                self.asm.stx(Size::DW, SCRATCH, R0, soff(off + 8)?);
                Ok(Val::Mem {
                    off,
                    ty: Ty::Stack { user },
                })
            }
            "rand" => {
                nargs(0, 0)?;
                self.asm.call(Helper::GetPrandomU32);
                Ok(Val::Int(Ty::I32))
            }
            f if is_action(f) => err(fspan, format!("{f}( ) may not be used in an expression")),
            f if agg_function(f) => err(
                fspan,
                format!("{f}( ) may only be assigned to an aggregation"),
            ),
            f => err(
                fspan,
                format!("failed to resolve {f}: Unknown function name"),
            ),
        }
    }

    /// r0 = the index of the first NUL in the `limit` bytes at `off` in the
    /// scratch area, or `limit` (r1 clobbered): a bounded loop. The
    /// verifier follows a branch's fall-through first and keeps its target
    /// for later, at most 8192 of them: the next byte is the target, so
    /// that one is kept per loop, not one per byte.
    fn find_nul(&mut self, off: u32, limit: u32) {
        let top = self.asm.label();
        let next = self.asm.label();
        let done = self.asm.label();
        self.asm.mov64(R0, 0);
        self.asm.bind(top);
        self.asm.jmp(Cond::Ge, R0, limit as i32, done);
        self.scratch_ptr(R1, off);
        self.asm.alu64(AluOp::Add, R1, R0);
        self.asm.ldx(Size::B, R1, R1, 0);
        self.asm.jmp(Cond::Ne, R1, 0, next);
        self.asm.ja(done);
        self.asm.bind(next);
        self.asm.alu64(AluOp::Add, R0, 1);
        self.asm.ja(top);
        self.asm.bind(done);
    }

    /// Passes r0 through memory the verifier does not follow. Code that
    /// branches (a loop, `? :`) leaves r0 a different constant on each way
    /// out; a later test of it on a constant (a histogram's bucket) or its
    /// use as an offset would have the verifier follow each to the end,
    /// times every other such value. It comes back as one unknown value,
    /// and the ways out meet.
    fn forget_r0(&mut self, span: Span) -> R<()> {
        let tmp = self.alloc(8, span)?;
        self.asm.stx(Size::DW, SCRATCH, R0, soff(tmp)?);
        self.asm.ldx(Size::DW, R0, SCRATCH, soff(tmp)?);
        Ok(())
    }

    fn action(&mut self, func: &str, fspan: Span, args: &[Expr], span: Span) -> R<()> {
        match func {
            "trace" => {
                let [a] = args else {
                    return err(span, "trace( ) takes one argument");
                };
                let v = self.expr(a)?;
                let s = self.save(v, a.span)?;
                self.emit_record(Action::Trace, &[s])
            }
            "printf" => {
                let Some((fmt, rest)) = args.split_first() else {
                    return err(span, "printf( ) requires a format string");
                };
                let ExprKind::Str(text) = &fmt.kind else {
                    return err(fmt.span, "printf( ) format must be a string constant");
                };
                let format = Format::parse(text)
                    .and_then(|f| f.check_args("printf", rest.len(), false).map(|()| f))
                    .map_err(|e| CompileError {
                        message: e.to_string(),
                        span: fmt.span,
                        clause: None,
                    })?;
                let convs = format.args();
                let mut saved = Vec::with_capacity(rest.len());
                for (i, (a, c)) in rest.iter().zip(&convs).enumerate() {
                    let v = self.expr(a)?;
                    let ok = match c.kind {
                        ArgKind::Int => matches!(v, Val::Int(_)),
                        ArgKind::Str => v.ty().is_str(),
                        _ => true,
                    };
                    if !ok {
                        return err(
                            a.span,
                            format!(
                                "printf( ) argument #{} is incompatible with conversion #{} prototype:\n\tconversion: %{}\n\t prototype: {}\n\t  argument: {}",
                                i + 2,
                                i + 1,
                                c.conv,
                                if c.kind == ArgKind::Str {
                                    "char [] or string"
                                } else {
                                    "char, short, int, long, or long long"
                                },
                                v.ty().name()
                            ),
                        );
                    }
                    saved.push(self.save(v, a.span)?);
                }
                self.emit_record(Action::Printf(format), &saved)
            }
            "printa" => {
                let (format, agg) = match args {
                    [a] => (None, a),
                    [f, a] => {
                        let ExprKind::Str(text) = &f.kind else {
                            return err(f.span, "printa( ) format must be a string constant");
                        };
                        let format = Format::parse(text).map_err(|e| CompileError {
                            message: format!("printa( ) {e}"),
                            span: f.span,
                            clause: None,
                        })?;
                        (Some(format), a)
                    }
                    _ => {
                        return err(
                            span,
                            "printa( ) takes an optional format and an aggregation",
                        );
                    }
                };
                let n = self.agg_arg(agg)?;
                self.emit_record(Action::Printa { agg: n, format }, &[])
            }
            "clear" | "denormalize" => {
                let [a] = args else {
                    return err(span, format!("{func}( ) takes one aggregation"));
                };
                let n = self.agg_arg(a)?;
                let act = if func == "clear" {
                    Action::Clear(n)
                } else {
                    Action::Denormalize(n)
                };
                self.emit_record(act, &[])
            }
            "trunc" | "normalize" => {
                let (a, rest) = match args.split_first() {
                    Some((a, rest)) if rest.len() <= 1 => (a, rest),
                    _ => return err(span, format!("{func}( ) takes an aggregation and a value")),
                };
                let n = self.agg_arg(a)?;
                if func == "normalize" && rest.is_empty() {
                    return err(span, "normalize( ) takes an aggregation and a factor");
                }
                let mut saved = Vec::new();
                if let Some(v) = rest.first() {
                    let val = self.expr(v)?;
                    if !matches!(val, Val::Int(_)) {
                        return err(v.span, format!("{func}( ) takes an integer"));
                    }
                    saved.push(self.save(val, v.span)?);
                }
                let act = if func == "trunc" {
                    Action::Trunc { agg: n }
                } else {
                    Action::Normalize(n)
                };
                self.emit_record(act, &saved)
            }
            "exit" => {
                let [a] = args else {
                    return err(span, "exit( ) takes one argument");
                };
                let v = self.expr(a)?;
                if !matches!(v, Val::Int(_)) {
                    return err(a.span, "exit( ) takes an integer");
                }
                let s = self.save(v, a.span)?;
                self.emit_record(Action::Exit, &[s])
            }
            "stack" | "ustack" => {
                let v = self.subroutine(func, fspan, &[], span)?;
                let s = self.save(v, span)?;
                self.emit_record(Action::Trace, &[s])
            }
            "raise" | "system" | "stop" | "copyout" | "copyoutstr" | "panic" | "breakpoint"
            | "chill" => {
                if !self.opts.destructive {
                    return err(
                        fspan,
                        format!("{func}( ): destructive actions not allowed (use -w)"),
                    );
                }
                err(fspan, format!("{func}( ) is not available yet"))
            }
            _ => err(fspan, format!("{func}( ) is not available yet")),
        }
    }

    fn agg_arg(&mut self, e: &Expr) -> R<usize> {
        let ExprKind::Agg(name) = &e.kind else {
            return err(e.span, "an aggregation (@name) is expected");
        };
        match self.syms.agg(name) {
            Some((n, _)) => Ok(n),
            None if self.mode == Mode::Typing => Ok(0),
            None => err(
                e.span,
                format!("failed to resolve @{name}: Unknown aggregation name"),
            ),
        }
    }

    /// A runtime error: an ERROR record, then the clause ends.
    fn runtime_error(&mut self, what: &'static str) -> R<()> {
        self.emit_record(Action::Error(what), &[])?;
        let end = self.clause_end;
        self.asm.ja(end);
        Ok(())
    }

    /// Sends one record: its id, the CPU, then each value, 8-byte aligned.
    fn emit_record(&mut self, action: Action, values: &[Saved]) -> R<()> {
        let id = self.records.len() as u32;
        let fields: Vec<Ty> = values.iter().map(|s| s.ty()).collect();
        let size = 8 + fields.iter().map(|t| t.bytes()).sum::<u32>();
        let span = Span::default();
        let rec = self.alloc(size, span)?;
        self.asm.st(Size::W, SCRATCH, soff(rec)?, id as i32);
        self.asm.call(Helper::GetSmpProcessorId);
        self.asm.stx(Size::W, SCRATCH, R0, soff(rec + 4)?);
        let mut at = rec + 8;
        for s in values {
            self.write_saved(*s, SCRATCH, at, s.ty().bytes())?;
            at += s.ty().bytes();
        }
        for s in values.iter().rev() {
            if let Saved::Tmp(..) = s {
                self.pop();
            }
        }
        self.asm.ld_map(R1, maps::EVENTS);
        self.scratch_ptr(R2, rec);
        self.asm.mov64(R3, size as i32);
        self.asm.mov64(R4, 0);
        self.asm.call(Helper::RingbufOutput);
        let ok = self.asm.label();
        self.asm.jmp(Cond::Eq, R0, 0, ok);
        self.count_drop(maps::DROP_RECORD);
        self.asm.bind(ok);
        self.records.push(Record {
            site: self.site_no,
            action,
            fields,
            action_no: self.action_no,
        });
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
enum KeyAt {
    Scratch(u32),
    Thread,
}

#[derive(Debug, Clone, Copy)]
enum Scope {
    Global,
    Thread,
    Clause,
}

/// Key types widened by another use's: strings to the longer, integers
/// kept; a different number of keys or a string where an integer was is
/// an error.
fn join_keys(known: &[Ty], used: &[Ty], what: &str, span: Span) -> R<Vec<Ty>> {
    if known.len() != used.len() {
        return err(
            span,
            format!(
                "{what}[ ] is used with {} keys and with {}",
                known.len(),
                used.len()
            ),
        );
    }
    let mut out = known.to_vec();
    for (k, t) in out.iter_mut().zip(used) {
        match k.join(*t) {
            Some(j) if j.is_str() => *k = j,
            Some(_) => {}
            None => return err(span, format!("{what}[ ] key types do not match")),
        }
    }
    Ok(out)
}

/// `func( )` called with `n` arguments, where it takes `lo` to `hi`.
fn arity(func: &str, n: usize, lo: usize, hi: usize, span: Span) -> R<()> {
    if n < lo || n > hi {
        return err(
            span,
            format!("{func}( ) prototype mismatch: {n} arguments passed"),
        );
    }
    Ok(())
}

/// A scratch or record offset as an instruction's 16-bit displacement.
fn soff(off: u32) -> R<i16> {
    i16::try_from(off).or_else(|_| err(Span::default(), "scratch offset out of range"))
}

fn int_type(lit: &IntLit) -> Ty {
    let v = lit.value;
    let signed = !lit.unsigned && (v <= i64::MAX as u64);
    if lit.longs == 0 && v <= i32::MAX as u64 && !lit.unsigned {
        return Ty::I32;
    }
    Ty::Int { size: 8, signed }
}

/// The integer type a cast or declaration names.
pub fn scalar_type(base: &str, pointers: u8) -> Option<Ty> {
    if pointers > 0 {
        return Some(Ty::U64);
    }
    let (size, signed) = match base {
        "char" | "signed char" | "int8_t" => (1, true),
        "unsigned char" | "uchar_t" | "uint8_t" => (1, false),
        "short" | "signed short" | "short int" | "int16_t" => (2, true),
        "unsigned short" | "ushort_t" | "uint16_t" => (2, false),
        "int" | "signed" | "signed int" | "int32_t" | "pid_t" | "processorid_t" => (4, true),
        "unsigned" | "unsigned int" | "uint_t" | "uint32_t" | "uid_t" | "gid_t" => (4, false),
        "long" | "long long" | "long int" | "int64_t" | "ssize_t" | "off_t" | "hrtime_t"
        | "intptr_t" => (8, true),
        "unsigned long" | "unsigned long long" | "uint64_t" | "size_t" | "uintptr_t"
        | "ulong_t" => (8, false),
        _ => return None,
    };
    Some(Ty::Int { size, signed })
}

fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "pid"
            | "tid"
            | "ppid"
            | "uid"
            | "gid"
            | "execname"
            | "zonename"
            | "probeprov"
            | "probemod"
            | "probefunc"
            | "probename"
            | "timestamp"
            | "vtimestamp"
            | "walltimestamp"
            | "cpu"
            | "errno"
            | "args"
            | "id"
    ) || (name.len() == 4 && name.starts_with("arg") && name.as_bytes()[3].is_ascii_digit())
}

/// Actions: statements that record something rather than give a value.
pub fn is_action(f: &str) -> bool {
    matches!(
        f,
        "trace"
            | "printf"
            | "printa"
            | "exit"
            | "clear"
            | "trunc"
            | "normalize"
            | "denormalize"
            | "raise"
            | "system"
            | "stop"
            | "copyout"
            | "copyoutstr"
            | "panic"
            | "breakpoint"
            | "chill"
            | "tracemem"
            | "speculate"
            | "commit"
            | "discard"
            | "setopt"
            | "freopen"
            | "ftruncate"
            | "jstack"
    )
}

fn agg_function(f: &str) -> bool {
    matches!(
        f,
        "count"
            | "sum"
            | "avg"
            | "min"
            | "max"
            | "stddev"
            | "quantize"
            | "lquantize"
            | "llquantize"
    )
}

/// `@name` or `@name[keys]` as an assignment's target.
fn agg_target(e: &Expr) -> Option<(&str, &[Expr])> {
    match &e.kind {
        ExprKind::Agg(name) => Some((name, &[])),
        ExprKind::Index { base, keys } => match &base.kind {
            ExprKind::Agg(name) => Some((name, keys)),
            _ => None,
        },
        _ => None,
    }
}

/// The aggregating function called, with its constant parameters checked.
fn agg_kind(func: &str, args: &[Expr], fspan: Span, span: Span) -> R<AggKind> {
    let kind = agg_kind_of(func, args, fspan, span)?;
    // An entry is made zero in the scratch area, and a per-CPU value holds
    // at most 32 KiB.
    let most = (MAX_SCRATCH / 2 / 8) as usize;
    if kind.words() > most {
        return err(
            span,
            format!(
                "{func}( ) has {} buckets: at most {most} fit in an aggregation's entry",
                kind.words()
            ),
        );
    }
    Ok(kind)
}

fn agg_kind_of(func: &str, args: &[Expr], fspan: Span, span: Span) -> R<AggKind> {
    let constant = |i: usize| -> R<i64> {
        match args.get(i).map(|a| &a.kind) {
            Some(ExprKind::Int(IntLit { value, .. })) => Ok(*value as i64),
            Some(ExprKind::Unary {
                op: UnaryOp::Neg,
                expr,
            }) => match &expr.kind {
                ExprKind::Int(IntLit { value, .. }) => Ok((*value as i64).wrapping_neg()),
                _ => err(
                    args[i].span,
                    format!("{func}( ) argument #{} must be a constant", i + 1),
                ),
            },
            Some(_) => err(
                args[i].span,
                format!("{func}( ) argument #{} must be a constant", i + 1),
            ),
            None => err(
                span,
                format!("{func}( ) prototype mismatch: too few arguments"),
            ),
        }
    };
    let arity = |lo: usize, hi: usize| arity(func, args.len(), lo, hi, span);
    Ok(match func {
        "count" => {
            arity(0, 0)?;
            AggKind::Count
        }
        "sum" | "avg" | "min" | "max" | "stddev" => {
            arity(1, 1)?;
            match func {
                "sum" => AggKind::Sum,
                "avg" => AggKind::Avg,
                "min" => AggKind::Min,
                "max" => AggKind::Max,
                _ => AggKind::Stddev,
            }
        }
        "quantize" => {
            arity(1, 2)?;
            AggKind::Quantize
        }
        "lquantize" => {
            arity(3, 5)?;
            let base = constant(1)?;
            let limit = constant(2)?;
            let step = if args.len() >= 4 { constant(3)? } else { 1 };
            crate::output::agg::lquantize(base, limit, step).map_err(|message| CompileError {
                message,
                span,
                clause: None,
            })?
        }
        "llquantize" => {
            arity(5, 6)?;
            // Checked whole: a factor of 65546 is not one of 10.
            let c = &constant;
            crate::output::agg::llquantize(c(1)?, c(2)?, c(3)?, c(4)?).map_err(|message| {
                CompileError {
                    message,
                    span,
                    clause: None,
                }
            })?
        }
        _ => return err(fspan, format!("{func}( ) is not an aggregating function")),
    })
}
