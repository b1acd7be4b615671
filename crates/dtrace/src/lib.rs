//! dtrace: the D language on eBPF.
//!
//! - [`parse`]: D source to an AST, with errors at file:line:column.
//! - [`bpf`]: eBPF instructions, programs wrapped as in-memory ELF objects
//!   and loaded through aya.
//! - [`probes`]: the probes this host offers, as DTrace names them, and
//!   where each attaches.
//! - [`compile`]: clauses to eBPF programs, one per probe, and the records
//!   they send.
//! - [`btf`]: the kernel's BTF, for the task offsets D's built-ins read.
//! - [`run`]: a compiled program loaded, attached and consumed.
//! - [`output`]: DTrace's text output (printf, trace, aggregations and
//!   their histograms), rendered byte for byte.

#![deny(unsafe_code)]

pub mod bpf;
pub mod btf;
pub mod compile;
pub mod output;
pub mod parse;
pub mod probes;
pub mod run;
