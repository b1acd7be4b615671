//! What the running kernel offers: which helpers a program type may call.
//!
//! A helper is probed as libbpf probes it: a program that only calls it is
//! handed to the verifier. Whether the verifier then accepts the program
//! does not matter (the call has no valid arguments); what matters is
//! whether its log says the helper is unknown to, or forbidden for, the
//! program type.

use aya::programs::{PerfEvent, RawTracePoint, TracePoint, UProbe};

use super::asm::Asm;
use super::elf::{self, ProgramDef};
use super::insn::{Helper, Reg};
use super::load::{self, LoadError, Loader};

/// Program types the providers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProgKind {
    /// A tracepoint (`syscall`, `sched`, `proc`, `io` providers).
    TracePoint,
    /// A raw tracepoint (arguments as the kernel passes them).
    RawTracePoint,
    /// A perf event (`profile`, `tick`).
    PerfEvent,
    /// A uprobe (`pid`, `usdt`).
    UProbe,
}

impl ProgKind {
    /// The ELF section name the loader reads this type from.
    pub fn section(self) -> &'static str {
        match self {
            ProgKind::TracePoint => "tracepoint",
            ProgKind::RawTracePoint => "raw_tracepoint",
            ProgKind::PerfEvent => "perf_event",
            ProgKind::UProbe => "uprobe",
        }
    }
}

/// Log lines by which the verifier says a helper is not available.
const UNAVAILABLE: [&str; 3] = [
    "unknown func",
    "invalid func",
    "program of this type cannot use helper",
];

/// Whether programs of `kind` may call `helper` on this kernel.
pub fn helper_available(
    loader: &mut Loader,
    kind: ProgKind,
    helper: Helper,
) -> Result<bool, LoadError> {
    const NAME: &str = "helper_probe";
    let mut a = Asm::new();
    a.call(helper).mov64(Reg::R0, 0).exit();
    let code = a.finish().expect("a program without jumps assembles");
    let prog = ProgramDef {
        section: kind.section().to_owned(),
        name: NAME.to_owned(),
        code,
    };
    let object = elf::build("GPL", &[], &[prog]).expect("a program without maps builds");
    let mut ebpf = loader.open(&object)?;
    let loaded = match kind {
        ProgKind::TracePoint => load::load_program::<TracePoint>(&mut ebpf, NAME).map(drop),
        ProgKind::RawTracePoint => load::load_program::<RawTracePoint>(&mut ebpf, NAME).map(drop),
        ProgKind::PerfEvent => load::load_program::<PerfEvent>(&mut ebpf, NAME).map(drop),
        ProgKind::UProbe => load::load_program::<UProbe>(&mut ebpf, NAME).map(drop),
    };
    match loaded {
        Ok(()) => Ok(true),
        Err(LoadError::Rejected { log, .. }) => Ok(!UNAVAILABLE.iter().any(|m| log.contains(m))),
        Err(e) => Err(e),
    }
}
