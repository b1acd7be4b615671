//! D to eBPF: a program's clauses, for the probes each matched, become one
//! eBPF program per probe, plus the maps they share, wrapped in one ELF
//! object; and the description of every record those programs send, which
//! the consumer needs to print them.
//!
//! Pure: what the host offers comes in as [`Site`]s (the probe and its
//! context's layout); nothing here touches the kernel.
//!
//! Data at run time:
//!
//! | map | kind | holds |
//! | --- | --- | --- |
//! | `scratch` | per-CPU array, 1 entry | clause-locals, strings, keys and records being built |
//! | `globals` | array, 1 entry | the wall-clock offset, then global scalars |
//! | `events` | ring buffer | records: `u32` id, `u32` CPU, then values, 8-aligned |
//! | `drops` | per-CPU array | drops: records, dynamic variables, aggregations |
//! | `zones` | hash | unified-cgroup id → zone name, for `zonename` |
//! | `kstacks`, `ustacks` | stack traces | `stack()` and `ustack()` |
//! | `aggN` | per-CPU hash | aggregation N: composite key → its words |
//! | `g_NAME` | hash | associative array NAME |
//! | `t_NAME` | hash | thread-local NAME, by thread id |

pub mod codegen;
pub mod site;
pub mod types;

use crate::bpf::asm::AsmError;
use crate::bpf::elf::{self, MapDef, MapType, ProgramDef};
use crate::output::printf::Format;
use crate::parse::{self, Span, VarScope};
use crate::probes::Attach;

pub use site::{Ctx, Site, TpKind, UsdtLoc};
pub use types::{Agg, Symbols, Ty, Var};

use codegen::{Gen, Mode};
use types::{GLOBALS_HEADER, str_len};

/// The maps every object has, by name.
pub mod maps {
    pub const SCRATCH: &str = "scratch";
    pub const GLOBALS: &str = "globals";
    pub const EVENTS: &str = "events";
    pub const DROPS: &str = "drops";
    pub const ZONES: &str = "zones";
    pub const KSTACKS: &str = "kstacks";
    pub const USTACKS: &str = "ustacks";
    /// Indices of `drops`: records the ring buffer had no room for,
    /// dynamic variables and aggregation entries a full map refused.
    pub const DROP_RECORD: i32 = 0;
    pub const DROP_DYNVAR: i32 = 1;
    pub const DROP_AGG: i32 = 2;
    pub const DROP_KINDS: u32 = 3;
    /// Zones the zones map holds.
    pub const MAX_ZONES: u32 = 4096;
}

/// The options (`-x`) the compiler uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Bytes of a string (`strsize`, 256 by default).
    pub strsize: u32,
    /// Bytes of the ring buffer (`bufsize`, 4 MiB), a power of two.
    pub bufsize: u32,
    /// Entries of each associative array and thread-local (`dynvarsize`).
    pub dynvars: u32,
    /// Entries of each aggregation (`aggsize`).
    pub aggs: u32,
    /// Stacks kept (distinct stacks of a run).
    pub stacks: u32,
    /// Frames of a stack (`stackframes`, `ustackframes`; at most 127).
    pub frames: u32,
    /// `-w`: destructive actions allowed.
    pub destructive: bool,
    /// Where the running kernel keeps the task fields `ppid` and
    /// `vtimestamp` read (from its BTF); without them those built-ins are
    /// an error.
    pub task: Option<crate::btf::TaskOffsets>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strsize: 256,
            bufsize: 4 << 20,
            dynvars: 65536,
            aggs: 65536,
            stacks: 16384,
            frames: 127,
            destructive: false,
            task: None,
        }
    }
}

/// A D program that compiles to nothing the kernel would take, with the
/// span of the construct at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct CompileError {
    pub message: String,
    pub span: Span,
    /// The clause it is in, when it is in one (its span is in that
    /// clause's source).
    pub clause: Option<usize>,
}

impl CompileError {
    /// For a script: `dtrace: failed to compile script F: line N, column C:
    /// MESSAGE`.
    pub fn render(&self, file: &str, source: &str) -> String {
        parse::render_at(self.span, &self.message, file, source)
    }

    /// For a `-n` description: `dtrace: invalid probe specifier TEXT: …`.
    pub fn render_n(&self, source: &str) -> String {
        parse::render_n_at(self.span, &self.message, source)
    }
}

/// What a record asks of the consumer.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A clause without actions: the probe's line.
    Default,
    /// `trace(x)`, `stack()`, `ustack()`.
    Trace,
    Printf(Format),
    /// `printa([format,] @a)`: print aggregation N now.
    Printa {
        agg: usize,
        format: Option<Format>,
    },
    Clear(usize),
    /// `trunc(@a[, n])`: keep the top n (the record's value) or none.
    Trunc {
        agg: usize,
    },
    /// `normalize(@a, n)`: the record's value is the factor.
    Normalize(usize),
    Denormalize(usize),
    /// `exit(n)`.
    Exit,
    /// A runtime error (`divide-by-zero`): the clause ended there.
    Error(&'static str),
}

/// One kind of record a program sends.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The site (probe) whose program sends it.
    pub site: usize,
    pub action: Action,
    /// The values after the header, in order.
    pub fields: Vec<Ty>,
    /// Its action's number in its clause, from 1.
    pub action_no: u32,
}

/// One compiled program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Its name in the object.
    pub name: String,
    /// The site it is for.
    pub site: usize,
}

/// A compiled D program.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The object: programs and maps.
    pub elf: Vec<u8>,
    pub programs: Vec<Program>,
    pub sites: Vec<Site>,
    pub records: Vec<Record>,
    pub syms: Symbols,
    /// Bytes of the globals map's value.
    pub globals_bytes: u32,
    pub options: Options,
    /// The D construct behind each instruction of each program.
    pub origins: Origins,
}

impl Compiled {
    /// The construct (clause, span in its source) whose code is instruction
    /// `insn` (in 8-byte slots, as the kernel counts) of program
    /// `program_name`.
    pub fn origin_of(&self, program_name: &str, insn: usize) -> Option<(usize, Span)> {
        self.origins.origin_of(program_name, insn)
    }
}

/// Where the instructions of one program came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgramOrigins {
    /// Per instruction slot, the index in `spots` of its construct.
    tags: Vec<Option<u32>>,
    /// The constructs: a clause, by its index in the program, and a span
    /// of its source.
    spots: Vec<(usize, Span)>,
}

impl ProgramOrigins {
    /// From the assembler's tags, each an index in `spots`.
    pub fn new(tags: Vec<Option<u32>>, spots: Vec<(usize, Span)>) -> Self {
        ProgramOrigins { tags, spots }
    }

    /// The construct of instruction slot `insn`; none for the code of no
    /// clause (the prologue, the exit) or past the end.
    pub fn at(&self, insn: usize) -> Option<(usize, Span)> {
        let tag = (*self.tags.get(insn)?)?;
        self.spots.get(tag as usize).copied()
    }
}

/// Where the instructions of every program came from, by program name: what
/// points an instruction the kernel's verifier refused back at the D
/// construct it was compiled from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(Vec<(String, ProgramOrigins)>);

impl Origins {
    pub fn insert(&mut self, program_name: &str, origins: ProgramOrigins) {
        self.0.retain(|(n, _)| n != program_name);
        self.0.push((program_name.to_owned(), origins));
    }

    /// See [`Compiled::origin_of`].
    pub fn origin_of(&self, program_name: &str, insn: usize) -> Option<(usize, Span)> {
        let (_, p) = self.0.iter().find(|(n, _)| n == program_name)?;
        p.at(insn)
    }
}

/// Whether a program reads a built-in that needs the kernel's task
/// layout ([`Options::task`]).
pub fn needs_task_offsets(source: &str) -> bool {
    source.contains("ppid") || source.contains("vtimestamp")
}

/// How many times typing may go over the program before types must have
/// settled: each round can only widen a string or type a variable first
/// read before the clause that assigns it.
const TYPING_ROUNDS: usize = 8;

/// Compiles `program` for `sites`, each listing the clauses that run at
/// its probe.
pub fn compile(
    program: &parse::Program,
    sites: Vec<Site>,
    opts: &Options,
) -> Result<Compiled, CompileError> {
    let mut syms = Symbols::default();
    declare(program, &mut syms, opts)?;
    let clauses_of = |site: &Site| -> Vec<(usize, &parse::Clause)> {
        site.clauses
            .iter()
            .map(|&c| (c, &program.clauses[c]))
            .collect()
    };
    // Typing: every clause at every site it runs at, until nothing changes.
    let mut settled = false;
    for _ in 0..TYPING_ROUNDS {
        let mut changed = false;
        for (i, site) in sites.iter().enumerate() {
            let mut records = Vec::new();
            let mut g = Gen::new(&mut syms, site, i, opts, Mode::Typing, &mut records);
            g.program(&clauses_of(site))?;
            changed |= g.changed;
        }
        if !changed {
            settled = true;
            break;
        }
    }
    if !settled {
        return Err(CompileError {
            message: "variable types did not settle".into(),
            span: Span::default(),
            clause: None,
        });
    }
    layout(&mut syms);

    let mut records = Vec::new();
    let mut programs = Vec::new();
    let mut origins = Origins::default();
    let mut defs = Vec::new();
    let mut scratch = 8;
    let mut stacks = [false; 2];
    for (i, site) in sites.iter().enumerate() {
        if site.clauses.is_empty() {
            continue;
        }
        let mut g = Gen::new(&mut syms, site, i, opts, Mode::Emit, &mut records);
        g.program(&clauses_of(site))?;
        scratch = scratch.max(g.scratch_max);
        stacks[0] |= g.uses_stack[0];
        stacks[1] |= g.uses_stack[1];
        let code = std::mem::take(&mut g.asm)
            .finish()
            .map_err(|e| asm_error(e, site))?;
        let name = format!("p{i}");
        let spots = std::mem::take(&mut g.origins);
        origins.insert(&name, ProgramOrigins::new(code.tags.clone(), spots));
        defs.push(ProgramDef {
            section: section(site),
            name: name.clone(),
            code,
        });
        programs.push(Program { name, site: i });
    }
    let globals_bytes = GLOBALS_HEADER + syms.globals_size;
    let maps = map_defs(&syms, opts, scratch, globals_bytes, stacks);
    let elf = elf::build("GPL", &maps, &defs).map_err(|e| CompileError {
        message: format!("internal error: {e}"),
        span: Span::default(),
        clause: None,
    })?;
    Ok(Compiled {
        elf,
        programs,
        sites,
        records,
        syms,
        globals_bytes,
        options: opts.clone(),
        origins,
    })
}

fn asm_error(e: AsmError, site: &Site) -> CompileError {
    CompileError {
        message: format!(
            "the program for {}:{}:{}:{} is too large: {e}",
            site.probe.provider, site.probe.module, site.probe.function, site.probe.name
        ),
        span: Span::default(),
        clause: None,
    }
}

/// Types the variables the program declares (`int x;`, `self string s;`).
fn declare(
    program: &parse::Program,
    syms: &mut Symbols,
    opts: &Options,
) -> Result<(), CompileError> {
    let ty_of = |t: &parse::TypeName| -> Result<Ty, CompileError> {
        if t.base == "string" && t.pointers == 0 {
            return Ok(Ty::Str {
                len: str_len(opts.strsize),
            });
        }
        codegen::scalar_type(&t.base, t.pointers).ok_or_else(|| CompileError {
            message: format!("unknown type {}", t.base),
            span: t.span,
            clause: None,
        })
    };
    for d in &program.decls {
        let ty = ty_of(&d.ty)?;
        let keys = d.keys.iter().map(&ty_of).collect::<Result<Vec<_>, _>>()?;
        let table = match d.scope {
            VarScope::Global => &mut syms.globals,
            VarScope::Thread => &mut syms.thread,
            VarScope::Clause => &mut syms.clause,
        };
        table.insert(
            d.name.clone(),
            Var {
                ty,
                keys,
                offset: 0,
                map: String::new(),
            },
        );
    }
    Ok(())
}

/// Places global scalars in the globals value and clause-locals at the
/// start of the scratch area, and names the maps of the others.
fn layout(syms: &mut Symbols) {
    let mut names: Vec<String> = syms.globals.keys().cloned().collect();
    names.sort();
    let mut at = 0;
    for n in names {
        let v = syms.globals.get_mut(&n).expect("listed");
        if v.keys.is_empty() {
            v.offset = at;
            at += v.ty.bytes();
        } else {
            v.map = format!("g_{n}");
        }
    }
    syms.globals_size = at;
    for (n, v) in syms.thread.iter_mut() {
        v.map = format!("t_{n}");
    }
    let mut names: Vec<String> = syms.clause.keys().cloned().collect();
    names.sort();
    let mut at = 0;
    for n in names {
        let v = syms.clause.get_mut(&n).expect("listed");
        v.offset = at;
        at += v.ty.bytes();
    }
    syms.clause_size = at;
}

/// The ELF section a site's program goes in: its program type.
fn section(site: &Site) -> String {
    match (&site.ctx, &site.probe.attach) {
        (Ctx::Tracepoint { .. }, Attach::Tracepoint { category, name }) => {
            format!("tracepoint/{category}/{name}")
        }
        (Ctx::Clock, _) => "perf_event".into(),
        (Ctx::Uprobe { ret: false } | Ctx::Usdt { .. }, _) => "uprobe".into(),
        (Ctx::Uprobe { ret: true }, _) => "uretprobe".into(),
        _ => "raw_tracepoint/dtrace".into(),
    }
}

fn map_defs(
    syms: &Symbols,
    opts: &Options,
    scratch: u32,
    globals_bytes: u32,
    stacks: [bool; 2],
) -> Vec<MapDef> {
    let def = |name: &str, map_type, key_size, value_size, max_entries, flags| MapDef {
        name: name.into(),
        map_type,
        key_size,
        value_size,
        max_entries,
        flags,
    };
    /// `BPF_F_NO_PREALLOC`: entries are allocated as they are made.
    const NO_PREALLOC: u32 = 1;
    let mut out = vec![
        def(maps::SCRATCH, MapType::PercpuArray, 4, scratch, 1, 0),
        def(maps::GLOBALS, MapType::Array, 4, globals_bytes, 1, 0),
        def(maps::EVENTS, MapType::RingBuf, 0, 0, opts.bufsize, 0),
        def(maps::DROPS, MapType::PercpuArray, 4, 8, maps::DROP_KINDS, 0),
        def(
            maps::ZONES,
            MapType::Hash,
            8,
            codegen::ZONENAME_LEN,
            maps::MAX_ZONES,
            0,
        ),
    ];
    let frames = opts.frames.clamp(1, 127) * 8;
    if stacks[0] {
        out.push(def(
            maps::KSTACKS,
            MapType::StackTrace,
            4,
            frames,
            opts.stacks,
            0,
        ));
    }
    if stacks[1] {
        out.push(def(
            maps::USTACKS,
            MapType::StackTrace,
            4,
            frames,
            opts.stacks,
            0,
        ));
    }
    for a in &syms.aggs {
        out.push(def(
            &a.map,
            MapType::PercpuHash,
            a.key_bytes(),
            a.value_bytes(),
            opts.aggs,
            NO_PREALLOC,
        ));
    }
    let mut vars: Vec<&Var> = syms
        .globals
        .values()
        .filter(|v| !v.keys.is_empty())
        .chain(syms.thread.values())
        .collect();
    vars.sort_by(|a, b| a.map.cmp(&b.map));
    for v in vars {
        let key = if v.keys.is_empty() {
            8
        } else {
            types::key_bytes(&v.keys)
        };
        out.push(def(
            &v.map,
            MapType::Hash,
            key,
            v.ty.bytes(),
            opts.dynvars,
            NO_PREALLOC,
        ));
    }
    out
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod origin_tests {
    use super::*;

    #[test]
    fn slots_map_through_their_tags() {
        let (a, b) = ((0, Span::new(4, 9)), (1, Span::new(20, 31)));
        let p = ProgramOrigins::new(vec![None, Some(0), Some(0), Some(1), Some(7)], vec![a, b]);
        assert_eq!(p.at(0), None, "untagged");
        assert_eq!(p.at(1), Some(a));
        assert_eq!(p.at(2), Some(a), "an ld_imm64's second slot");
        assert_eq!(p.at(3), Some(b));
        assert_eq!(p.at(4), None, "a tag with no construct");
        assert_eq!(p.at(5), None, "past the end");
    }

    #[test]
    fn programs_are_found_by_name() {
        let spot = (2, Span::new(1, 2));
        let mut o = Origins::default();
        o.insert("p0", ProgramOrigins::new(vec![None], vec![]));
        o.insert("p3", ProgramOrigins::new(vec![None, Some(0)], vec![spot]));
        assert_eq!(o.origin_of("p3", 1), Some(spot));
        assert_eq!(o.origin_of("p0", 1), None);
        assert_eq!(o.origin_of("p1", 1), None, "no such program");
        o.insert("p3", ProgramOrigins::default());
        assert_eq!(o.origin_of("p3", 1), None, "replaced");
    }
}
