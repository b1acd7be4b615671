//! A small assembler: instructions appended in order, forward and backward
//! jumps to labels, and map references left for the ELF writer to relocate.
//! Each instruction carries the tag set when it was appended (the caller's
//! meaning: the compiler's is the source construct it came from), so an
//! instruction the kernel names can be traced back.
//!
//! ```
//! use basalt_dtrace::bpf::asm::Asm;
//! use basalt_dtrace::bpf::insn::{Cond, Reg};
//!
//! let mut a = Asm::new();
//! let done = a.label();
//! a.mov64(Reg::R0, 0);
//! a.jmp(Cond::Eq, Reg::R1, 0, done);
//! a.mov64(Reg::R0, 1);
//! a.bind(done);
//! a.exit();
//! let prog = a.finish().unwrap();
//! assert_eq!(prog.insns.len(), 4);
//! ```

use super::insn::{AluOp, Cond, Helper, Imm64, Insn, Operand, Reg, Size, Width};

/// A jump target, bound to a position with [`Asm::bind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Label(usize);

/// An assembled program: instructions with every jump offset resolved, and
/// the instructions that load a map by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    pub insns: Vec<Insn>,
    pub map_refs: Vec<MapRef>,
    /// Per 8-byte slot, as the kernel counts instructions, the tag set by
    /// [`Asm::set_tag`] when its instruction was appended; both slots of
    /// an `ld_imm64` carry it.
    pub tags: Vec<Option<u32>>,
}

/// An `ld_imm64` that must be bound to a map when the program is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRef {
    /// Its position, in 8-byte slots from the start of the program.
    pub slot: usize,
    /// The map's name (its symbol in the ELF object).
    pub map: String,
}

/// Why a program could not be assembled.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AsmError {
    /// a jump targets a label that was never bound
    #[error("jump at instruction {at} targets a label that was never bound")]
    UnboundLabel { at: usize },
    /// a label was bound twice
    #[error("label bound twice, at instructions {first} and {second}")]
    Rebound { first: usize, second: usize },
    /// a jump is too far for a 16-bit offset
    #[error("jump at instruction {at} spans {distance} slots, more than 16 bits hold")]
    TooFar { at: usize, distance: i64 },
}

#[derive(Debug, Clone)]
enum Item {
    Insn(Insn),
    /// A jump whose `off` is filled in from the label at `finish`.
    Jump(Insn, Label),
    LdMap(Reg, String),
}

/// The assembler.
#[derive(Debug, Default, Clone)]
pub struct Asm {
    items: Vec<Item>,
    /// Each item's tag.
    tags: Vec<Option<u32>>,
    /// The tag of the items appended next.
    tag: Option<u32>,
    /// For each label, the item index it is bound before.
    labels: Vec<Option<usize>>,
    rebound: Option<AsmError>,
}

impl Asm {
    pub fn new() -> Self {
        Self::default()
    }

    /// A new label, not yet bound.
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Binds `label` to the next instruction appended.
    pub fn bind(&mut self, label: Label) {
        let here = self.items.len();
        match self.labels[label.0] {
            Some(first) if self.rebound.is_none() => {
                self.rebound = Some(AsmError::Rebound {
                    first,
                    second: here,
                });
            }
            _ => self.labels[label.0] = Some(here),
        }
    }

    /// Tags the instructions appended from now on (`None`: untagged), and
    /// returns the tag it replaces, for the caller to restore.
    pub fn set_tag(&mut self, tag: Option<u32>) -> Option<u32> {
        std::mem::replace(&mut self.tag, tag)
    }

    fn item(&mut self, item: Item) -> &mut Self {
        self.items.push(item);
        self.tags.push(self.tag);
        self
    }

    /// Appends any instruction (jump offsets taken as given).
    pub fn push(&mut self, insn: Insn) -> &mut Self {
        self.item(Item::Insn(insn))
    }

    pub fn alu64(&mut self, op: AluOp, dst: Reg, src: impl Into<Operand>) -> &mut Self {
        self.push(Insn::Alu {
            width: Width::W64,
            op,
            dst,
            src: src.into(),
        })
    }

    pub fn alu32(&mut self, op: AluOp, dst: Reg, src: impl Into<Operand>) -> &mut Self {
        self.push(Insn::Alu {
            width: Width::W32,
            op,
            dst,
            src: src.into(),
        })
    }

    /// `dst = src` (64 bits).
    pub fn mov64(&mut self, dst: Reg, src: impl Into<Operand>) -> &mut Self {
        self.alu64(AluOp::Mov, dst, src)
    }

    /// `dst = imm` for any 64-bit constant (two slots).
    pub fn ld_imm64(&mut self, dst: Reg, imm: u64) -> &mut Self {
        self.push(Insn::LdImm64 {
            dst,
            imm: Imm64::Value(imm),
        })
    }

    /// `dst = &map`, relocated against the map named `map` at load time.
    pub fn ld_map(&mut self, dst: Reg, map: &str) -> &mut Self {
        self.item(Item::LdMap(dst, map.to_owned()))
    }

    pub fn ldx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.push(Insn::Ldx {
            size,
            dst,
            src,
            off,
        })
    }

    pub fn st(&mut self, size: Size, dst: Reg, off: i16, imm: i32) -> &mut Self {
        self.push(Insn::St {
            size,
            dst,
            off,
            imm,
        })
    }

    pub fn stx(&mut self, size: Size, dst: Reg, src: Reg, off: i16) -> &mut Self {
        self.push(Insn::Stx {
            size,
            dst,
            src,
            off,
        })
    }

    pub fn call(&mut self, helper: Helper) -> &mut Self {
        self.push(Insn::Call(helper))
    }

    pub fn exit(&mut self) -> &mut Self {
        self.push(Insn::Exit)
    }

    /// `if dst <cond> src goto target` (64-bit comparison).
    pub fn jmp(
        &mut self,
        cond: Cond,
        dst: Reg,
        src: impl Into<Operand>,
        target: Label,
    ) -> &mut Self {
        self.jump(Width::W64, cond, dst, src.into(), target)
    }

    /// `if dst <cond> src goto target` (32-bit comparison).
    pub fn jmp32(
        &mut self,
        cond: Cond,
        dst: Reg,
        src: impl Into<Operand>,
        target: Label,
    ) -> &mut Self {
        self.jump(Width::W32, cond, dst, src.into(), target)
    }

    fn jump(&mut self, width: Width, cond: Cond, dst: Reg, src: Operand, to: Label) -> &mut Self {
        let insn = Insn::Jmp {
            width,
            cond,
            dst,
            src,
            off: 0,
        };
        self.item(Item::Jump(insn, to))
    }

    /// `goto target`.
    pub fn ja(&mut self, target: Label) -> &mut Self {
        self.item(Item::Jump(Insn::Ja { off: 0 }, target))
    }

    /// Resolves labels to offsets and map loads to relocations.
    pub fn finish(self) -> Result<Assembled, AsmError> {
        if let Some(e) = self.rebound {
            return Err(e);
        }
        // Slot position of each item, plus one past the end.
        let mut starts = Vec::with_capacity(self.items.len() + 1);
        let mut tags = Vec::with_capacity(self.items.len());
        let mut pos = 0usize;
        for (item, &tag) in self.items.iter().zip(&self.tags) {
            starts.push(pos);
            let slots = match item {
                Item::Insn(i) | Item::Jump(i, _) => i.slots(),
                Item::LdMap(..) => 2,
            };
            tags.extend(std::iter::repeat_n(tag, slots));
            pos += slots;
        }
        starts.push(pos);

        let mut out = Assembled {
            insns: Vec::with_capacity(self.items.len()),
            map_refs: Vec::new(),
            tags,
        };
        for (at, item) in self.items.into_iter().enumerate() {
            let insn = match item {
                Item::Insn(i) => i,
                Item::LdMap(dst, map) => {
                    out.map_refs.push(MapRef {
                        slot: starts[at],
                        map,
                    });
                    Insn::LdImm64 {
                        dst,
                        imm: Imm64::MapFd(0),
                    }
                }
                Item::Jump(mut i, label) => {
                    let target = self.labels[label.0].ok_or(AsmError::UnboundLabel { at })?;
                    let distance = starts[target] as i64 - (starts[at] as i64 + 1);
                    let off =
                        i16::try_from(distance).map_err(|_| AsmError::TooFar { at, distance })?;
                    match &mut i {
                        Insn::Jmp { off: o, .. } | Insn::Ja { off: o } => *o = off,
                        _ => unreachable!("only jumps are queued with a label"),
                    }
                    i
                }
            };
            out.insns.push(insn);
        }
        Ok(out)
    }
}

impl Assembled {
    /// The program's bytes.
    pub fn encode(&self) -> Vec<u8> {
        super::insn::encode(&self.insns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn off(i: &Insn) -> i16 {
        match i {
            Insn::Jmp { off, .. } | Insn::Ja { off } => *off,
            other => panic!("not a jump: {other:?}"),
        }
    }

    #[test]
    fn forward_jump_counts_slots_after_the_jump() {
        let mut a = Asm::new();
        let out = a.label();
        a.jmp(Cond::Eq, Reg::R1, 0, out); // slot 0
        a.ld_imm64(Reg::R0, 1); // slots 1-2
        a.mov64(Reg::R0, 2); // slot 3
        a.bind(out);
        a.exit(); // slot 4
        let p = a.finish().unwrap();
        assert_eq!(off(&p.insns[0]), 3);
    }

    #[test]
    fn backward_jump_is_negative() {
        let mut a = Asm::new();
        let top = a.label();
        a.bind(top);
        a.alu64(AluOp::Add, Reg::R1, 1); // slot 0
        a.jmp(Cond::Lt, Reg::R1, 10, top); // slot 1
        a.exit();
        let p = a.finish().unwrap();
        assert_eq!(off(&p.insns[1]), -2);
        let mut b = Asm::new();
        let here = b.label();
        b.bind(here);
        b.ja(here);
        assert_eq!(off(&b.finish().unwrap().insns[0]), -1);
    }

    #[test]
    fn map_refs_record_slot_positions() {
        let mut a = Asm::new();
        a.ld_imm64(Reg::R6, 5); // slots 0-1
        a.mov64(Reg::R2, Reg::FP); // slot 2
        a.ld_map(Reg::R1, "counts"); // slots 3-4
        a.ld_map(Reg::R1, "other"); // slots 5-6
        a.exit();
        let p = a.finish().unwrap();
        assert_eq!(
            p.map_refs,
            [
                MapRef {
                    slot: 3,
                    map: "counts".into()
                },
                MapRef {
                    slot: 5,
                    map: "other".into()
                }
            ]
        );
        assert_eq!(p.encode().len(), 8 * 8);
    }

    #[test]
    fn tags_follow_slots_and_are_restored() {
        let mut a = Asm::new();
        let done = a.label();
        a.mov64(Reg::R0, 0); // slot 0, untagged
        assert_eq!(a.set_tag(Some(7)), None);
        a.ld_imm64(Reg::R1, 1 << 40); // slots 1-2
        let outer = a.set_tag(Some(9));
        assert_eq!(outer, Some(7));
        a.ld_map(Reg::R2, "m"); // slots 3-4
        a.jmp(Cond::Eq, Reg::R0, 0, done); // slot 5
        a.set_tag(outer);
        a.ja(done); // slot 6
        a.set_tag(None);
        a.bind(done);
        a.exit(); // slot 7
        let p = a.finish().unwrap();
        let (s, n) = (Some(7), Some(9));
        assert_eq!(p.tags, [None, s, s, n, n, n, s, None]);
        assert_eq!(p.tags.len() * 8, p.encode().len());
    }

    #[test]
    fn errors() {
        let mut a = Asm::new();
        let l = a.label();
        a.ja(l);
        assert_eq!(a.finish(), Err(AsmError::UnboundLabel { at: 0 }));

        let mut a = Asm::new();
        let l = a.label();
        a.bind(l);
        a.exit();
        a.bind(l);
        assert_eq!(
            a.finish(),
            Err(AsmError::Rebound {
                first: 0,
                second: 1
            })
        );

        let mut a = Asm::new();
        let l = a.label();
        a.ja(l);
        for _ in 0..40_000 {
            a.exit();
        }
        a.bind(l);
        a.exit();
        assert!(matches!(a.finish(), Err(AsmError::TooFar { at: 0, .. })));
    }
}
