//! dtrace: the D language on eBPF.
//!
//! - [`parse`]: D source to an AST, with errors at file:line:column.
//! - [`bpf`]: eBPF instructions, programs wrapped as in-memory ELF objects
//!   and loaded through aya.
//! - [`probes`]: the probes this host offers, as DTrace names them, and
//!   where each attaches.

#![forbid(unsafe_code)]

pub mod bpf;
pub mod parse;
pub mod probes;
