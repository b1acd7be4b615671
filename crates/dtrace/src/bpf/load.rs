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
