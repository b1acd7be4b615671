//! eBPF: instructions, programs as in-memory ELF, loading through aya.
//!
//! - [`insn`]: typed instructions and their wire encoding.
//! - [`asm`]: an assembler with labels and map references.
//! - [`elf`]: programs and maps wrapped in the ELF object the loader parses.
//! - [`load`]: the object into the kernel, the verifier's log on rejection.
//! - [`features`]: what the running kernel offers each program type.
//! - [`sys`]: bpf(2) on byte buffers, for keys and values sized at run
//!   time; the crate's only `unsafe`.

pub mod asm;
pub mod elf;
pub mod features;
pub mod insn;
pub mod load;
pub mod sys;
