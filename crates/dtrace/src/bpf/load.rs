//! Loading an object into the kernel through aya, and the verifier's log
//! when it refuses a program.

use aya::programs::ProgramError;
use aya::{Ebpf, EbpfError, EbpfLoader, VerifierLogLevel};

/// Why a program could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// the object was refused before any program was loaded
    #[error("failed to load the BPF object")]
    Object(#[source] Box<EbpfError>),
    /// the object holds no program of that name and kind
    #[error("failed to find program {name} of the expected kind")]
    NoProgram { name: String },
    /// the kernel's verifier rejected the program
    #[error("the kernel's verifier rejected program {name}")]
    Rejected {
        name: String,
        /// The verifier's log, whose last lines say why.
        log: String,
        #[source]
        source: std::io::Error,
    },
    /// loading failed for another reason
    #[error("failed to load program {name}")]
    Program {
        name: String,
        #[source]
        source: Box<ProgramError>,
    },
}

/// The loader. Creating one costs a parse of the kernel's BTF
/// (`/sys/kernel/btf/vmlinux`, tens of milliseconds), which aya does in its
/// constructor whether or not the BTF is used: make one per process and
/// open every object through it.
pub struct Loader(EbpfLoader<'static>);

impl Loader {
    /// A loader that hands no kernel BTF to aya: the programs this crate
    /// emits carry no CO-RE relocations.
    pub fn new() -> Self {
        let mut l = EbpfLoader::new();
        l.btf(None)
            .verifier_log_level(VerifierLogLevel::DEBUG | VerifierLogLevel::STATS);
        Loader(l)
    }

    /// Creates the object's maps and parses its programs, without loading
    /// them.
    pub fn open(&mut self, elf: &[u8]) -> Result<Ebpf, LoadError> {
        self.0.load(elf).map_err(|e| LoadError::Object(Box::new(e)))
    }
}

impl Loader {
    /// A loader made without reading the kernel's BTF at all, for a quick
    /// start: aya 0.14's constructor always parses `/sys/kernel/btf/vmlinux`
    /// (30–40 ms), though these programs carry no CO-RE relocations and the
    /// loader is told to use none. It is made on a thread of its own that
    /// enters a private mount namespace, where an empty tmpfs hides
    /// `/sys/kernel/btf`; the namespace, and that mount, end with the
    /// thread, and nothing is seen outside it. Where that cannot be done
    /// (no privilege, no thread), it is the plain constructor.
    pub fn quick() -> Self {
        let made = std::thread::Builder::new()
            .name("bpf-loader".into())
            .spawn(|| {
                // Without the namespace it is still a loader, only slower
                // to make.
                let _ = hide_kernel_btf();
                Loader::new()
            })
            .ok()
            .and_then(|t| t.join().ok());
        made.unwrap_or_default()
    }
}

/// In this thread only: a private copy of the mount table, with an empty
/// read-only tmpfs over `/sys/kernel/btf`.
fn hide_kernel_btf() -> nix::Result<()> {
    use nix::mount::{MsFlags, mount};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    // Private first, so that the mount below does not propagate back to
    // the namespace this thread came from.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )?;
    mount(
        Some("none"),
        "/sys/kernel/btf",
        Some("tmpfs"),
        MsFlags::MS_RDONLY,
        None::<&str>,
    )
}

impl Default for Loader {
    fn default() -> Self {
        Self::new()
    }
}

/// Maps a failed `load()` of program `name` to a [`LoadError`], keeping
/// the verifier's log when the kernel rejected it.
pub fn program_error(name: &str, e: ProgramError) -> LoadError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => LoadError::Rejected {
            name: name.to_owned(),
            log: verifier_log.to_string(),
            source: io_error,
        },
        other => LoadError::Program {
            name: name.to_owned(),
            source: Box::new(other),
        },
    }
}

/// The instruction the verifier refused, from its log, in 8-byte slots
/// from the program's start: the last line of the form `N: (op) …` (the
/// verifier prints each instruction as it reaches it and stops at the
/// first it refuses); when it refused before walking the program
/// (`unreachable insn N`, `jump out of range from insn N to M`), the
/// instruction its message names.
pub fn rejected_insn(log: &str) -> Option<usize> {
    match log.lines().rev().find_map(insn_line) {
        Some(n) => Some(n),
        None => rejection_reason(log).and_then(insn_named),
    }
}

/// What the verifier said when it refused the program: the line after the
/// instruction it stopped at, or without one the last before its
/// statistics.
pub fn rejection_reason(log: &str) -> Option<&str> {
    let lines: Vec<&str> = log.lines().map(str::trim).collect();
    let said = |l: &&str| !l.is_empty() && !is_statistics(l);
    match lines.iter().rposition(|l| insn_line(l).is_some()) {
        Some(at) => lines[at + 1..].iter().copied().find(said),
        None => lines.iter().rev().copied().find(said),
    }
}

/// `N` of an instruction line `N: (op) …`, where `op` is two hex digits.
fn insn_line(line: &str) -> Option<usize> {
    let (n, rest) = line.split_once(": (")?;
    let (op, _) = rest.split_once(") ")?;
    let hex = op.len() == 2 && op.bytes().all(|b| b.is_ascii_hexdigit());
    let num = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    if hex && num { n.parse().ok() } else { None }
}

/// `N` of the first `insn N` in a message.
fn insn_named(message: &str) -> Option<usize> {
    let (_, after) = message.split_once("insn ")?;
    let digits = after.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

/// The lines the verifier ends its log with, whatever the outcome.
fn is_statistics(line: &str) -> bool {
    ["verification time ", "stack depth ", "processed "]
        .iter()
        .any(|p| line.starts_with(p))
}

/// Loads program `name` of kind `P` (`TracePoint`, `PerfEvent`, `UProbe`…)
/// into the kernel and returns it, ready to attach.
pub fn load_program<'a, P>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut P, LoadError>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program>,
    P: Loadable,
{
    let no_program = || LoadError::NoProgram {
        name: name.to_owned(),
    };
    let program = ebpf.program_mut(name).ok_or_else(no_program)?;
    let p: &mut P = program.try_into().map_err(|_| no_program())?;
    p.load_into_kernel().map_err(|e| program_error(name, e))?;
    Ok(p)
}

/// Program kinds whose `load()` takes no argument.
pub trait Loadable {
    fn load_into_kernel(&mut self) -> Result<(), ProgramError>;
}

macro_rules! loadable {
    ($($t:ty),*) => {$(
        impl Loadable for $t {
            fn load_into_kernel(&mut self) -> Result<(), ProgramError> {
                self.load()
            }
        }
    )*};
}

loadable!(
    aya::programs::TracePoint,
    aya::programs::PerfEvent,
    aya::programs::UProbe,
    aya::programs::RawTracePoint
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Logs the kernel (6.18) wrote for programs it refused, at the level
    /// [`Loader`] asks for.
    const NULL_CHECK: &str = "\
0: R1=ctx() R10=fp0
0: (bf) r6 = r1                       ; R1=ctx() R6=ctx()
1: (79) r2 = *(u64 *)(r6 +8)          ; R2=scalar() R6=ctx()
2: (15) if r2 == 0x3 goto pc+1        ; R2=scalar()
3: (b7) r2 = 5                        ; R2=5
4: (62) *(u32 *)(r10 -4) = 0          ; R10=fp0 fp-8=0000????
5: (18) r1 = 0xffff888247eef000       ; R1=map_ptr(map=m,ks=4,vs=8)
7: (bf) r2 = r10                      ; R2=fp0 R10=fp0
8: (07) r2 += -4                      ; R2=fp-4
9: (85) call bpf_map_lookup_elem#1    ; R0=map_value_or_null(id=1,map=m,ks=4,vs=8)
10: (61) r1 = *(u32 *)(r0 +0)
R0 invalid mem access 'map_value_or_null'
verification time 64 usec
stack depth 8
processed 10 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
";

    const MAP_BOUNDS: &str = "\
0: R1=ctx() R10=fp0
0: (62) *(u32 *)(r10 -4) = 0          ; R10=fp0 fp-8=0000????
1: (18) r1 = 0xffff88825884e400       ; R1=map_ptr(map=m,ks=4,vs=8)
3: (bf) r2 = r10                      ; R2=fp0 R10=fp0
4: (07) r2 += -4                      ; R2=fp-4
5: (85) call bpf_map_lookup_elem#1    ; R0=map_value(map=m,ks=4,vs=8)
6: (15) if r0 == 0x0 goto pc+1        ; R0=map_value(map=m,ks=4,vs=8)
7: (61) r1 = *(u32 *)(r0 +12)
invalid access to map value, value_size=8 off=12 size=4
R0 min value is outside of the allowed memory range
verification time 107 usec
stack depth 8
processed 7 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";

    const R0_UNSET: &str = "\
0: R1=ctx() R10=fp0
0: (95) exit
R0 !read_ok
verification time 27 usec
stack depth 0
processed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";

    const UNREACHABLE: &str = "\
unreachable insn 2
verification time 11 usec
stack depth 0
processed 0 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";

    #[test]
    fn the_last_instruction_line_is_the_one_refused() {
        assert_eq!(rejected_insn(NULL_CHECK), Some(10));
        assert_eq!(rejected_insn(MAP_BOUNDS), Some(7));
        assert_eq!(rejected_insn(R0_UNSET), Some(0));
    }

    #[test]
    fn a_refusal_before_the_walk_names_its_instruction() {
        assert_eq!(rejected_insn(UNREACHABLE), Some(2));
        assert_eq!(
            rejected_insn("jump out of range from insn 1 to 9\nprocessed 0 insns\n"),
            Some(1)
        );
    }

    #[test]
    fn state_and_precision_lines_are_not_instructions() {
        let log = "\
4: (b7) r0 = 0
5: R0=0 R10=fp0
mark_precise: frame0: regs=r2 stack= before 3: (b7) r2 = 5
from 2 to 4: R2=3
R1 type=scalar expected=fp
";
        assert_eq!(rejected_insn(log), Some(4));
        assert_eq!(rejected_insn(""), None);
        assert_eq!(rejected_insn("processed 0 insns\n"), None);
    }

    #[test]
    fn the_reason_is_the_line_after_the_instruction() {
        let r = rejection_reason;
        assert_eq!(
            r(NULL_CHECK),
            Some("R0 invalid mem access 'map_value_or_null'")
        );
        assert_eq!(
            r(MAP_BOUNDS),
            Some("invalid access to map value, value_size=8 off=12 size=4")
        );
        assert_eq!(r(R0_UNSET), Some("R0 !read_ok"));
        assert_eq!(r(UNREACHABLE), Some("unreachable insn 2"));
        assert_eq!(r("verification time 1 usec\n"), None);
    }
}
