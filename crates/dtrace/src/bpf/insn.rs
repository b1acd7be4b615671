//! eBPF instructions as typed values, and their 8-byte wire encoding.
//!
//! One [`Insn`] encodes to one slot (8 bytes: opcode, `dst | src << 4`,
//! a little-endian 16-bit offset and a little-endian 32-bit immediate),
//! except `ld_imm64`, which takes two. Jump offsets count slots from the
//! slot after the jump; [`super::asm::Asm`] computes them from labels.

/// Size of one instruction slot on the wire.
pub const SLOT: usize = 8;

/// `src_reg` of an `ld_imm64` whose immediate is a map file descriptor.
pub const PSEUDO_MAP_FD: u8 = 1;
/// `src_reg` of an `ld_imm64` whose immediate is a map fd and whose second
/// slot holds an offset into the map's single value.
pub const PSEUDO_MAP_VALUE: u8 = 2;

const CLASS_LD: u8 = 0x00;
const CLASS_LDX: u8 = 0x01;
const CLASS_ST: u8 = 0x02;
const CLASS_STX: u8 = 0x03;
const CLASS_ALU: u8 = 0x04;
const CLASS_JMP: u8 = 0x05;
const CLASS_JMP32: u8 = 0x06;
const CLASS_ALU64: u8 = 0x07;

const MODE_IMM: u8 = 0x00;
const MODE_MEM: u8 = 0x60;
const MODE_ATOMIC: u8 = 0xc0;

const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;

const OP_NEG: u8 = 0x80;
const OP_END: u8 = 0xd0;
const OP_JA: u8 = 0x00;
const OP_CALL: u8 = 0x80;
const OP_EXIT: u8 = 0x90;

/// `imm` of an atomic add; `| FETCH` returns the old value in `src`.
const ATOMIC_ADD: i32 = 0x00;
const ATOMIC_FETCH: i32 = 0x01;

/// A register: r0 (return value), r1–r5 (arguments, clobbered by calls),
/// r6–r9 (callee-saved), r10 (read-only frame pointer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    pub const R0: Reg = Reg(0);
    pub const R1: Reg = Reg(1);
    pub const R2: Reg = Reg(2);
    pub const R3: Reg = Reg(3);
    pub const R4: Reg = Reg(4);
    pub const R5: Reg = Reg(5);
    pub const R6: Reg = Reg(6);
    pub const R7: Reg = Reg(7);
    pub const R8: Reg = Reg(8);
    pub const R9: Reg = Reg(9);
    /// The frame pointer: the stack is the 512 bytes below it.
    pub const FP: Reg = Reg(10);

    /// The register numbered `n`, if there is one.
    pub fn new(n: u8) -> Option<Reg> {
        (n <= 10).then_some(Reg(n))
    }

    /// Its number, 0–10.
    pub fn number(self) -> u8 {
        self.0
    }
}

/// The second operand of an ALU or jump instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    Reg(Reg),
    /// A 32-bit immediate, sign-extended to 64 bits by 64-bit operations.
    Imm(i32),
}

impl From<Reg> for Operand {
    fn from(r: Reg) -> Self {
        Operand::Reg(r)
    }
}

impl From<i32> for Operand {
    fn from(imm: i32) -> Self {
        Operand::Imm(imm)
    }
}

/// Operand width of ALU and jump instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// 32 bits (`ALU`, `JMP32`); ALU results are zero-extended.
    W32,
    /// 64 bits (`ALU64`, `JMP`).
    W64,
}

/// Binary ALU operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AluOp {
    Add = 0x00,
    Sub = 0x10,
    Mul = 0x20,
    /// Unsigned division; division by zero yields 0.
    Div = 0x30,
    Or = 0x40,
    And = 0x50,
    Lsh = 0x60,
    Rsh = 0x70,
    /// Unsigned remainder; modulo zero leaves `dst` unchanged.
    Mod = 0x90,
    Xor = 0xa0,
    Mov = 0xb0,
    Arsh = 0xc0,
}

/// Conditions of conditional jumps: `if dst <cond> src goto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cond {
    Eq = 0x10,
    /// Unsigned `>`.
    Gt = 0x20,
    /// Unsigned `>=`.
    Ge = 0x30,
    /// `dst & src != 0`.
    Set = 0x40,
    Ne = 0x50,
    /// Signed `>`.
    Sgt = 0x60,
    /// Signed `>=`.
    Sge = 0x70,
    /// Unsigned `<`.
    Lt = 0xa0,
    /// Unsigned `<=`.
    Le = 0xb0,
    /// Signed `<`.
    Slt = 0xc0,
    /// Signed `<=`.
    Sle = 0xd0,
}

/// Size of a memory access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    B = 0x10,
    H = 0x08,
    W = 0x00,
    DW = 0x18,
}

impl Size {
    /// Its size in bytes.
    pub fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }
}

/// Byte order of an endianness conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// To little-endian (`BPF_TO_LE`).
    Le,
    /// To big-endian (`BPF_TO_BE`).
    Be,
}

/// The value an `ld_imm64` loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imm64 {
    /// A plain 64-bit constant.
    Value(u64),
    /// A map, by file descriptor (`BPF_PSEUDO_MAP_FD`). In an ELF object the
    /// fd is 0 and a relocation against the map's symbol fills it in.
    MapFd(i32),
    /// The address `offset` bytes into the single value of an array map
    /// (`BPF_PSEUDO_MAP_VALUE`).
    MapValue { fd: i32, offset: u32 },
}

/// Kernel helper functions by their stable numbers (`enum bpf_func_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Helper {
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    ProbeRead = 4,
    KtimeGetNs = 5,
    TracePrintk = 6,
    GetPrandomU32 = 7,
    GetSmpProcessorId = 8,
    GetCurrentPidTgid = 14,
    GetCurrentUidGid = 15,
    GetCurrentComm = 16,
    PerfEventOutput = 25,
    /// Socket and traffic-control programs only.
    SkbLoadBytes = 26,
    GetStackid = 27,
    GetCurrentTask = 35,
    ProbeReadStr = 45,
    GetStack = 67,
    GetCurrentCgroupId = 80,
    SendSignal = 109,
    ProbeReadUser = 112,
    ProbeReadKernel = 113,
    ProbeReadUserStr = 114,
    ProbeReadKernelStr = 115,
    GetCurrentAncestorCgroupId = 123,
    KtimeGetBootNs = 125,
    RingbufOutput = 130,
    RingbufReserve = 131,
    RingbufSubmit = 132,
    RingbufDiscard = 133,
    GetCurrentTaskBtf = 158,
}

/// One eBPF instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insn {
    /// `dst = dst <op> src` (`Mov`: `dst = src`).
    Alu {
        width: Width,
        op: AluOp,
        dst: Reg,
        src: Operand,
    },
    /// `dst = -dst`.
    Neg { width: Width, dst: Reg },
    /// Byte swap of the low `bits` (16, 32 or 64) of `dst` to `order`.
    End {
        order: ByteOrder,
        dst: Reg,
        bits: i32,
    },
    /// `if dst <cond> src goto +off`.
    Jmp {
        width: Width,
        cond: Cond,
        dst: Reg,
        src: Operand,
        off: i16,
    },
    /// `goto +off`.
    Ja { off: i16 },
    /// `dst = imm64` (two slots).
    LdImm64 { dst: Reg, imm: Imm64 },
    /// `dst = *(size *)(src + off)`.
    Ldx {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `*(size *)(dst + off) = imm`.
    St {
        size: Size,
        dst: Reg,
        off: i16,
        imm: i32,
    },
    /// `*(size *)(dst + off) = src`.
    Stx {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
    },
    /// `lock *(size *)(dst + off) += src` (`W` or `DW`); with `fetch`, `src`
    /// receives the old value.
    AtomicAdd {
        size: Size,
        dst: Reg,
        src: Reg,
        off: i16,
        fetch: bool,
    },
    /// Call a kernel helper: arguments in r1–r5, result in r0.
    Call(Helper),
    /// Return r0.
    Exit,
}

fn slot(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> [u8; SLOT] {
    let mut b = [0u8; SLOT];
    b[0] = code;
    b[1] = dst.0 | (src.0 << 4);
    b[2..4].copy_from_slice(&off.to_le_bytes());
    b[4..8].copy_from_slice(&imm.to_le_bytes());
    b
}

fn split_operand(src: Operand) -> (u8, Reg, i32) {
    match src {
        Operand::Reg(r) => (SRC_X, r, 0),
        Operand::Imm(i) => (SRC_K, Reg::R0, i),
    }
}

impl Insn {
    /// How many 8-byte slots it takes (2 for `ld_imm64`, else 1).
    pub fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// Appends its wire encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let r0 = Reg::R0;
        match *self {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let (s, src, imm) = split_operand(src);
                out.extend(slot(alu_class(width) | op as u8 | s, dst, src, 0, imm));
            }
            Insn::Neg { width, dst } => out.extend(slot(alu_class(width) | OP_NEG, dst, r0, 0, 0)),
            Insn::End { order, dst, bits } => {
                let s = match order {
                    ByteOrder::Le => SRC_K,
                    ByteOrder::Be => SRC_X,
                };
                out.extend(slot(CLASS_ALU | OP_END | s, dst, r0, 0, bits));
            }
            Insn::Jmp {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                let class = match width {
                    Width::W32 => CLASS_JMP32,
                    Width::W64 => CLASS_JMP,
                };
                let (s, src, imm) = split_operand(src);
                out.extend(slot(class | cond as u8 | s, dst, src, off, imm));
            }
            Insn::Ja { off } => out.extend(slot(CLASS_JMP | OP_JA, r0, r0, off, 0)),
            Insn::LdImm64 { dst, imm } => {
                let (src, lo, hi) = match imm {
                    Imm64::Value(v) => (0, v as u32 as i32, (v >> 32) as u32 as i32),
                    Imm64::MapFd(fd) => (PSEUDO_MAP_FD, fd, 0),
                    Imm64::MapValue { fd, offset } => (PSEUDO_MAP_VALUE, fd, offset as i32),
                };
                let code = CLASS_LD | MODE_IMM | Size::DW as u8;
                out.extend(slot(code, dst, Reg(src), 0, lo));
                out.extend(slot(0, r0, r0, 0, hi));
            }
            Insn::Ldx {
                size,
                dst,
                src,
                off,
            } => out.extend(slot(CLASS_LDX | MODE_MEM | size as u8, dst, src, off, 0)),
            Insn::St {
                size,
                dst,
                off,
                imm,
            } => out.extend(slot(CLASS_ST | MODE_MEM | size as u8, dst, r0, off, imm)),
            Insn::Stx {
                size,
                dst,
                src,
                off,
            } => out.extend(slot(CLASS_STX | MODE_MEM | size as u8, dst, src, off, 0)),
            Insn::AtomicAdd {
                size,
                dst,
                src,
                off,
                fetch,
            } => {
                let imm = ATOMIC_ADD | if fetch { ATOMIC_FETCH } else { 0 };
                out.extend(slot(
                    CLASS_STX | MODE_ATOMIC | size as u8,
                    dst,
                    src,
                    off,
                    imm,
                ));
            }
            Insn::Call(h) => out.extend(slot(CLASS_JMP | OP_CALL, r0, r0, 0, h as i32)),
            Insn::Exit => out.extend(slot(CLASS_JMP | OP_EXIT, r0, r0, 0, 0)),
        }
    }

    /// Its wire encoding (8 or 16 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.slots() * SLOT);
        self.encode_into(&mut out);
        out
    }
}

fn alu_class(width: Width) -> u8 {
    match width {
        Width::W32 => CLASS_ALU,
        Width::W64 => CLASS_ALU64,
    }
}

/// Encodes a sequence of instructions back to back.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.iter().map(Insn::slots).sum::<usize>() * SLOT);
    for i in insns {
        i.encode_into(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes
            .chunks(SLOT)
            .map(|s| {
                s.iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join(" | ")
    }

    fn mov64(dst: Reg, imm: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst,
            src: Operand::Imm(imm),
        }
    }

    #[test]
    fn return_zero() {
        let code = encode(&[mov64(Reg::R0, 0), Insn::Exit]);
        assert_eq!(
            hex(&code),
            "b7 00 00 00 00 00 00 00 | 95 00 00 00 00 00 00 00"
        );
    }

    // Expected bytes below are what `llvm-objdump -d` shows for the same
    // instructions in clang-built BPF objects.
    #[test]
    fn alu() {
        let r = |width, op, dst, src| Insn::Alu {
            width,
            op,
            dst,
            src,
        };
        let cases = [
            (mov64(Reg::R1, -1), "b7 01 00 00 ff ff ff ff"),
            (
                r(Width::W64, AluOp::Mov, Reg::R6, Reg::R1.into()),
                "bf 16 00 00 00 00 00 00",
            ),
            (
                r(Width::W64, AluOp::Add, Reg::R2, Operand::Imm(-8)),
                "07 02 00 00 f8 ff ff ff",
            ),
            (
                r(Width::W64, AluOp::Rsh, Reg::R0, Operand::Imm(32)),
                "77 00 00 00 20 00 00 00",
            ),
            (
                r(Width::W32, AluOp::Mov, Reg::R0, Operand::Imm(1)),
                "b4 00 00 00 01 00 00 00",
            ),
            (
                r(Width::W32, AluOp::Add, Reg::R1, Reg::R2.into()),
                "0c 21 00 00 00 00 00 00",
            ),
            (
                r(Width::W64, AluOp::Arsh, Reg::R3, Reg::R4.into()),
                "cf 43 00 00 00 00 00 00",
            ),
            (
                Insn::Neg {
                    width: Width::W64,
                    dst: Reg::R5,
                },
                "87 05 00 00 00 00 00 00",
            ),
            (
                Insn::End {
                    order: ByteOrder::Be,
                    dst: Reg::R1,
                    bits: 16,
                },
                "dc 01 00 00 10 00 00 00",
            ),
        ];
        for (insn, want) in cases {
            assert_eq!(hex(&insn.encode()), want, "{insn:?}");
        }
    }

    #[test]
    fn jumps_calls_exit() {
        let cases = [
            (
                Insn::Jmp {
                    width: Width::W64,
                    cond: Cond::Eq,
                    dst: Reg::R0,
                    src: Operand::Imm(0),
                    off: 5,
                },
                "15 00 05 00 00 00 00 00",
            ),
            (
                Insn::Jmp {
                    width: Width::W64,
                    cond: Cond::Ne,
                    dst: Reg::R1,
                    src: Reg::R2.into(),
                    off: -3,
                },
                "5d 21 fd ff 00 00 00 00",
            ),
            (
                Insn::Jmp {
                    width: Width::W32,
                    cond: Cond::Slt,
                    dst: Reg::R1,
                    src: Operand::Imm(7),
                    off: 1,
                },
                "c6 01 01 00 07 00 00 00",
            ),
            (Insn::Ja { off: -1 }, "05 00 ff ff 00 00 00 00"),
            (
                Insn::Call(Helper::GetCurrentPidTgid),
                "85 00 00 00 0e 00 00 00",
            ),
            (Insn::Call(Helper::MapLookupElem), "85 00 00 00 01 00 00 00"),
            (Insn::Exit, "95 00 00 00 00 00 00 00"),
        ];
        for (insn, want) in cases {
            assert_eq!(hex(&insn.encode()), want, "{insn:?}");
        }
    }

    #[test]
    fn memory() {
        let cases = [
            (
                Insn::Stx {
                    size: Size::DW,
                    dst: Reg::FP,
                    src: Reg::R0,
                    off: -8,
                },
                "7b 0a f8 ff 00 00 00 00",
            ),
            (
                Insn::Stx {
                    size: Size::W,
                    dst: Reg::FP,
                    src: Reg::R1,
                    off: -4,
                },
                "63 1a fc ff 00 00 00 00",
            ),
            (
                Insn::Ldx {
                    size: Size::DW,
                    dst: Reg::R1,
                    src: Reg::R0,
                    off: 0,
                },
                "79 01 00 00 00 00 00 00",
            ),
            (
                Insn::Ldx {
                    size: Size::B,
                    dst: Reg::R2,
                    src: Reg::R1,
                    off: 16,
                },
                "71 12 10 00 00 00 00 00",
            ),
            (
                Insn::St {
                    size: Size::DW,
                    dst: Reg::FP,
                    off: -16,
                    imm: 1,
                },
                "7a 0a f0 ff 01 00 00 00",
            ),
            (
                Insn::AtomicAdd {
                    size: Size::DW,
                    dst: Reg::R0,
                    src: Reg::R1,
                    off: 0,
                    fetch: false,
                },
                "db 10 00 00 00 00 00 00",
            ),
            (
                Insn::AtomicAdd {
                    size: Size::W,
                    dst: Reg::R0,
                    src: Reg::R1,
                    off: 4,
                    fetch: true,
                },
                "c3 10 04 00 01 00 00 00",
            ),
        ];
        for (insn, want) in cases {
            assert_eq!(hex(&insn.encode()), want, "{insn:?}");
        }
    }

    #[test]
    fn ld_imm64_forms() {
        let value = Insn::LdImm64 {
            dst: Reg::R1,
            imm: Imm64::Value(0x1122_3344_5566_7788),
        };
        assert_eq!(value.slots(), 2);
        assert_eq!(
            hex(&value.encode()),
            "18 01 00 00 88 77 66 55 | 00 00 00 00 44 33 22 11"
        );
        let map = Insn::LdImm64 {
            dst: Reg::R1,
            imm: Imm64::MapFd(0),
        };
        assert_eq!(
            hex(&map.encode()),
            "18 11 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00"
        );
        let fd = Insn::LdImm64 {
            dst: Reg::R2,
            imm: Imm64::MapValue { fd: 7, offset: 16 },
        };
        assert_eq!(
            hex(&fd.encode()),
            "18 22 00 00 07 00 00 00 | 00 00 00 00 10 00 00 00"
        );
    }

    #[test]
    fn registers() {
        assert_eq!(Reg::new(10), Some(Reg::FP));
        assert_eq!(Reg::new(11), None);
        assert_eq!(Reg::R9.number(), 9);
    }
}
