//! What the `pid` and `usdt` providers and `ustack()` need from ELF files
//! and from a process's mappings.
//!
//! - [`ElfFunctions`]: the functions of one executable or shared library
//!   (`.symtab` and `.dynsym`), with the file offset a uprobe attaches at.
//! - [`ProcMaps`] and [`Symbolizer`]: a user address to `module`func+0xoff`,
//!   as DTrace prints user stacks.
//! - [`usdt_probes`] and [`UsdtArg`]: the probes of `.note.stapsdt` and
//!   their x86-64 argument operands, read through `struct pt_regs`.
//! - [`pid_functions`]: the (module, function) pairs a `pid` probe
//!   description names in one process.
//!
//! Only 64-bit ELF files are read. Addresses are in the ELF's own virtual
//! address space unless said otherwise; a file offset is what the kernel's
//! uprobes take.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{
    Dyn, ElfFile64, FileHeader, ProgramHeader, SectionHeader, Sym, SymbolTable, VersionTable,
};
use object::{Endian as _, Endianness};

use super::glob;

/// Why an ELF file or a process's mappings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ElfSymError {
    /// The file could not be read.
    #[error("failed to read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file is not an ELF file (or not a regular file).
    #[error("{} is not an ELF file", path.display())]
    NotElf { path: PathBuf },
    /// The file is ELF but not one this module reads (32-bit, or damaged).
    #[error("failed to parse the ELF file {}", path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: object::read::Error,
    },
    /// `/proc/<pid>/maps` could not be read (no such process, or no access).
    #[error("failed to read the mappings of process {pid}")]
    Maps {
        pid: u32,
        #[source]
        source: io::Error,
    },
}

impl ElfSymError {
    fn read(path: &Path) -> impl Fn(io::Error) -> Self {
        move |source| ElfSymError::Read {
            path: path.into(),
            source,
        }
    }
    fn parse(path: &Path) -> impl Fn(object::read::Error) -> Self {
        move |source| ElfSymError::Parse {
            path: path.into(),
            source,
        }
    }
    fn not_elf(path: &Path) -> Self {
        ElfSymError::NotElf { path: path.into() }
    }
}

/// One function of an ELF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    /// The symbol's name, without a version suffix.
    pub name: String,
    /// Its address (`st_value`).
    pub address: u64,
    /// Its size (`st_size`), 0 when the symbol does not say.
    pub size: u64,
    /// Where `address` is in the file: what a uprobe attaches at.
    pub file_offset: u64,
}

/// How strongly a symbol names its address: the lower, the better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    /// A non-default symbol version (`name@VER`, not `name@@VER`): not
    /// what the dynamic linker binds an unversioned reference to.
    hidden: bool,
    /// 0 global, 1 weak, 2 local.
    bind: u8,
}

/// A `PT_LOAD` segment: where a range of the file is in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

/// The file offset of an ELF address, through the segment containing it.
fn vaddr_to_offset(segments: &[Segment], addr: u64) -> Option<u64> {
    let s = segments
        .iter()
        .find(|s| addr >= s.vaddr && addr - s.vaddr < s.filesz)?;
    Some(addr - s.vaddr + s.offset)
}

/// The ELF address of a file offset, through the segment containing it.
fn offset_to_vaddr(segments: &[Segment], offset: u64) -> Option<u64> {
    let s = segments
        .iter()
        .find(|s| offset >= s.offset && offset - s.offset < s.filesz)?;
    Some(offset - s.offset + s.vaddr)
}

fn load_segments(endian: Endianness, headers: &[elf::ProgramHeader64<Endianness>]) -> Vec<Segment> {
    headers
        .iter()
        .filter(|p| p.p_type(endian) == elf::PT_LOAD)
        .map(|p| Segment {
            vaddr: p.p_vaddr(endian),
            offset: p.p_offset(endian),
            filesz: p.p_filesz(endian),
        })
        .collect()
}

/// Opens a regular file (a mapped `/dev/zero` would never end) and reads
/// up to `limit` bytes of it, refusing what is not ELF.
fn read_head(path: &Path, limit: u64) -> Result<Vec<u8>, ElfSymError> {
    if !fs::metadata(path)
        .map_err(ElfSymError::read(path))?
        .is_file()
    {
        return Err(ElfSymError::not_elf(path));
    }
    let mut data = Vec::new();
    File::open(path)
        .and_then(|f| f.take(limit).read_to_end(&mut data))
        .map_err(ElfSymError::read(path))?;
    if !data.starts_with(&elf::ELFMAG) {
        return Err(ElfSymError::not_elf(path));
    }
    Ok(data)
}

/// The `PT_LOAD` segments of a file, reading only its headers.
fn read_segments(path: &Path) -> Result<Vec<Segment>, ElfSymError> {
    let mut data = read_head(path, 4096)?;
    let header =
        elf::FileHeader64::<Endianness>::parse(&*data).map_err(ElfSymError::parse(path))?;
    let endian = header.endian().map_err(ElfSymError::parse(path))?;
    let end = header.e_phoff(endian)
        + u64::from(header.e_phnum(endian)) * u64::from(header.e_phentsize(endian));
    if end > data.len() as u64 && end <= 1 << 24 {
        data = read_head(path, end)?;
    }
    let header =
        elf::FileHeader64::<Endianness>::parse(&*data).map_err(ElfSymError::parse(path))?;
    let headers = header
        .program_headers(endian, &*data)
        .map_err(ElfSymError::parse(path))?;
    Ok(load_segments(endian, headers))
}

/// The defined functions of one symbol table, with their rank; `versions`
/// for `.dynsym`.
fn collect_functions(
    endian: Endianness,
    table: &SymbolTable<'_, elf::FileHeader64<Endianness>>,
    versions: Option<&VersionTable<'_, elf::FileHeader64<Endianness>>>,
    segments: &[Segment],
    out: &mut Vec<(Function, Rank)>,
) {
    for (index, sym) in table.enumerate() {
        let shndx = sym.st_shndx(endian);
        let defined =
            shndx != elf::SHN_UNDEF && (shndx < elf::SHN_LORESERVE || shndx == elf::SHN_XINDEX);
        if !defined || !matches!(sym.st_type(), elf::STT_FUNC | elf::STT_GNU_IFUNC) {
            continue;
        }
        let address = sym.st_value(endian);
        let (Ok(name), Some(file_offset)) = (
            sym.name(endian, table.strings()),
            vaddr_to_offset(segments, address),
        ) else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let bind = match sym.st_bind() {
            elf::STB_GLOBAL => 0,
            elf::STB_WEAK => 1,
            _ => 2,
        };
        let hidden = versions.is_some_and(|v| v.version_index(endian, index).is_hidden());
        let function = Function {
            name: String::from_utf8_lossy(name).into_owned(),
            address,
            size: sym.st_size(endian),
            file_offset,
        };
        out.push((function, Rank { hidden, bind }));
    }
}

/// The functions of one ELF file (executable or shared library).
#[derive(Debug, Clone, Default)]
pub struct ElfFunctions {
    /// By name, then address; one per (name, address).
    functions: Vec<Function>,
    /// `functions[i]`'s rank.
    ranks: Vec<Rank>,
    /// Indices into `functions`, by address.
    by_address: Vec<usize>,
    /// The largest size: no function starts further below an address
    /// than this and still contains it.
    max_size: u64,
}

impl ElfFunctions {
    /// The defined `STT_FUNC` and `STT_GNU_IFUNC` symbols of `.symtab` and
    /// `.dynsym`, whatever their size. Symbols outside every `PT_LOAD`'s
    /// file image (so in no executable or library) are left out.
    pub fn read(path: &Path) -> Result<ElfFunctions, ElfSymError> {
        let data = read_head(path, u64::MAX)?;
        let file = ElfFile64::<Endianness>::parse(&*data).map_err(ElfSymError::parse(path))?;
        let endian = file.endian();
        let segments = load_segments(endian, file.elf_program_headers());
        let versions = file
            .elf_section_table()
            .versions(endian, &*data)
            .map_err(ElfSymError::parse(path))?;
        let mut entries = Vec::new();
        collect_functions(
            endian,
            file.elf_symbol_table(),
            None,
            &segments,
            &mut entries,
        );
        let dynsym = file.elf_dynamic_symbol_table();
        collect_functions(endian, dynsym, versions.as_ref(), &segments, &mut entries);
        Ok(Self::from_entries(entries))
    }

    fn from_entries(mut entries: Vec<(Function, Rank)>) -> Self {
        entries.sort_by(|(a, ra), (b, rb)| (&a.name, a.address, ra).cmp(&(&b.name, b.address, rb)));
        entries.dedup_by(|(b, _), (a, _)| a.name == b.name && a.address == b.address);
        let (functions, ranks): (Vec<Function>, Vec<Rank>) = entries.into_iter().unzip();
        let mut by_address: Vec<usize> = (0..functions.len()).collect();
        by_address.sort_by_key(|&i| functions[i].address);
        let max_size = functions.iter().map(|f| f.size).max().unwrap_or(0);
        ElfFunctions {
            functions,
            ranks,
            by_address,
            max_size,
        }
    }

    /// Every function, by name; one per (name, address).
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// The function of this exact name; of several, the default version
    /// (`realpath@@GLIBC_2.3`) before an old one (`realpath@GLIBC_2.2.5`),
    /// then a global one before a weak one before a local one, then the
    /// lowest address.
    pub fn lookup(&self, name: &str) -> Option<&Function> {
        let start = self.functions.partition_point(|f| f.name.as_str() < name);
        let end = start + self.functions[start..].partition_point(|f| f.name == name);
        (start..end)
            .min_by_key(|&i| (self.ranks[i], self.functions[i].address))
            .map(|i| &self.functions[i])
    }

    /// The function containing an ELF address, and the offset into it. A
    /// function of size 0 contains only its own address. Of aliases, the
    /// name with the fewest leading underscores wins (`getpid` over
    /// `__getpid`, `malloc` over `__libc_malloc`), then the better rank,
    /// then the shorter name.
    pub fn symbolize(&self, address: u64) -> Option<(&Function, u64)> {
        let end = self
            .by_address
            .partition_point(|&i| self.functions[i].address <= address);
        let mut best: Option<usize> = None;
        for &i in self.by_address[..end].iter().rev() {
            let f = &self.functions[i];
            let into = address - f.address;
            if let Some(b) = best
                && self.functions[b].address != f.address
            {
                break;
            }
            if into > self.max_size {
                break;
            }
            let contains = into < f.size || (f.size == 0 && into == 0);
            if contains && best.is_none_or(|b| self.alias_key(i) < self.alias_key(b)) {
                best = Some(i);
            }
        }
        best.map(|i| (&self.functions[i], address - self.functions[i].address))
    }

    fn alias_key(&self, i: usize) -> (usize, Rank, usize, &str) {
        let name = self.functions[i].name.as_str();
        let underscores = name.len() - name.trim_start_matches('_').len();
        (underscores, self.ranks[i], name.len(), name)
    }
}

/// One file-backed mapping of `/proc/<pid>/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Mapping {
    start: u64,
    end: u64,
    offset: u64,
    inode: u64,
    /// As the maps show it, without a ` (deleted)` suffix.
    path: PathBuf,
}

/// The file-backed mappings of a maps file, in its order (by address).
fn parse_maps(text: &str) -> Vec<Mapping> {
    fn field<'a>(rest: &mut &'a str) -> &'a str {
        let r = rest.trim_start_matches(' ');
        let (f, tail) = r.split_once(' ').unwrap_or((r, ""));
        *rest = tail;
        f
    }
    let hex = |s: &str| u64::from_str_radix(s, 16).ok();
    text.lines()
        .filter_map(|line| {
            let mut rest = line;
            let (start, end) = field(&mut rest).split_once('-')?;
            let _perms = field(&mut rest);
            let offset = hex(field(&mut rest))?;
            let _dev = field(&mut rest);
            let inode = field(&mut rest).parse().ok()?;
            let path = rest.trim_start_matches(' ');
            let path = path.strip_suffix(" (deleted)").unwrap_or(path);
            let (start, end) = (hex(start)?, hex(end)?);
            path.starts_with('/').then(|| Mapping {
                start,
                end,
                offset,
                inode,
                path: PathBuf::from(path),
            })
        })
        .filter(|m| m.start < m.end)
        .collect()
}

/// One file a process maps.
#[derive(Debug, Clone)]
struct MappedFile {
    /// As the process's maps name it.
    path: PathBuf,
    /// Where this process opens the same file: `path`, or the path under
    /// `/proc/<pid>/root` when the target sees another root; None when
    /// neither is the mapped inode (the file was deleted or replaced).
    file: Option<PathBuf>,
    /// Its `PT_LOAD` segments, None when it cannot be read as ELF.
    segments: Option<Vec<Segment>>,
    /// Whether it is the process's executable (`/proc/<pid>/exe`).
    exe: bool,
}

/// The mappings of a process, from `/proc/<pid>/maps`.
#[derive(Debug, Clone)]
pub struct ProcMaps {
    /// With the index of their file in `files`.
    mappings: Vec<(Mapping, usize)>,
    files: Vec<MappedFile>,
}

/// Where this process can open a file another one maps: the same path
/// when it is the mapped inode, else the path under the target's root.
fn openable(pid: u32, path: &Path, inode: u64) -> Option<PathBuf> {
    let under_root = Path::new("/proc")
        .join(pid.to_string())
        .join("root")
        .join(path.strip_prefix("/").unwrap_or(path));
    [path.to_path_buf(), under_root]
        .into_iter()
        .find(|p| fs::metadata(p).is_ok_and(|m| m.ino() == inode))
}

impl ProcMaps {
    /// Reads `/proc/<pid>/maps`, and the program headers of each file.
    pub fn read(pid: u32) -> io::Result<ProcMaps> {
        let text = fs::read_to_string(format!("/proc/{pid}/maps"))?;
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
        let exe = exe.as_deref().map(|e| {
            let s = e.to_string_lossy();
            PathBuf::from(s.strip_suffix(" (deleted)").unwrap_or(&s))
        });
        let mut files: Vec<MappedFile> = Vec::new();
        let mut mappings = Vec::new();
        for m in parse_maps(&text) {
            let index = match files.iter().position(|f| f.path == m.path) {
                Some(i) => i,
                None => {
                    let file = openable(pid, &m.path, m.inode);
                    let segments = file.as_deref().and_then(|f| read_segments(f).ok());
                    files.push(MappedFile {
                        exe: exe.as_ref() == Some(&m.path),
                        path: m.path.clone(),
                        file,
                        segments,
                    });
                    files.len() - 1
                }
            };
            mappings.push((m, index));
        }
        Ok(ProcMaps { mappings, files })
    }

    /// The mapping containing a user address.
    fn mapping(&self, addr: u64) -> Option<&(Mapping, usize)> {
        let i = self.mappings.partition_point(|(m, _)| m.start <= addr);
        self.mappings[..i].last().filter(|(m, _)| addr < m.end)
    }

    /// The file mapped at a user address (a path this process can open,
    /// named as the target names it) and the ELF address there: the file
    /// offset `addr - start + offset`, translated through the file's
    /// `PT_LOAD` segments.
    pub fn resolve(&self, addr: u64) -> Option<(PathBuf, u64)> {
        let (m, index) = self.mapping(addr)?;
        let file = &self.files[*index];
        let vaddr = offset_to_vaddr(file.segments.as_deref()?, addr - m.start + m.offset)?;
        Some((file.file.clone()?, vaddr))
    }

    /// The files mapped (paths this process can open), in address order
    /// of their first mapping.
    pub fn modules(&self) -> Vec<PathBuf> {
        self.files.iter().filter_map(|f| f.file.clone()).collect()
    }
}

/// A file's basename, as DTrace names a module.
fn basename(path: &Path) -> String {
    path.file_name()
        .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy())
        .into_owned()
}

/// One frame of a user stack, as DTrace prints it.
fn format_frame(module: Option<&str>, symbol: Option<(&str, u64)>, addr: u64) -> String {
    match (module, symbol) {
        (Some(m), Some((name, 0))) => format!("{m}`{name}"),
        (Some(m), Some((name, off))) => format!("{m}`{name}+0x{off:x}"),
        (Some(m), None) => format!("{m}`0x{addr:x}"),
        (None, _) => format!("0x{addr:x}"),
    }
}

/// Prints user addresses of one process as DTrace does, reading each
/// file's symbols once.
#[derive(Debug)]
pub struct Symbolizer {
    pid: u32,
    maps: ProcMaps,
    /// By file; None when it could not be read.
    cache: HashMap<PathBuf, Option<ElfFunctions>>,
}

impl Symbolizer {
    /// Reads the process's mappings now; see [`Symbolizer::refresh`].
    pub fn new(pid: u32) -> io::Result<Self> {
        Ok(Symbolizer {
            pid,
            maps: ProcMaps::read(pid)?,
            cache: HashMap::new(),
        })
    }

    /// Reads the mappings again (after the process loaded a library).
    pub fn refresh(&mut self) -> io::Result<()> {
        self.maps = ProcMaps::read(self.pid)?;
        Ok(())
    }

    /// `module`func+0xoff` (`+0x…` left out at offset 0), `module`0xaddr`
    /// when no function contains the address, `0xaddr` when no file is
    /// mapped there.
    pub fn frame(&mut self, addr: u64) -> String {
        let Some((_, index)) = self.maps.mapping(addr) else {
            return format_frame(None, None, addr);
        };
        let module = basename(&self.maps.files[*index].path);
        let symbol = self.maps.resolve(addr).and_then(|(file, vaddr)| {
            let functions = self
                .cache
                .entry(file)
                .or_insert_with_key(|f| ElfFunctions::read(f).ok())
                .as_ref()?;
            functions.symbolize(vaddr)
        });
        format_frame(
            Some(&module),
            symbol.map(|(f, off)| (f.name.as_str(), off)),
            addr,
        )
    }
}

/// The functions a `pid` probe description names in one process: of each
/// mapped file whose basename matches `module_glob` (`a.out` is the
/// executable; empty is every file), those whose name matches
/// `function_glob`. Paths are ones this process can open. Files that are
/// not ELF are passed over; so is any file that cannot be read when the
/// module is a pattern rather than a name.
pub fn pid_functions(
    pid: u32,
    module_glob: &str,
    function_glob: &str,
) -> Result<Vec<(PathBuf, Function)>, ElfSymError> {
    let maps = ProcMaps::read(pid).map_err(|source| ElfSymError::Maps { pid, source })?;
    let pattern = module_glob.is_empty() || module_glob.contains(['*', '?', '[', '\\']);
    let mut out = Vec::new();
    for f in &maps.files {
        let hit = if module_glob == "a.out" {
            f.exe
        } else {
            glob(module_glob, &basename(&f.path))
        };
        let file = match (&f.file, hit) {
            (_, false) => continue,
            (Some(file), true) => file,
            (None, true) if pattern => continue,
            (None, true) => {
                return Err(ElfSymError::Read {
                    path: f.path.clone(),
                    source: io::Error::new(
                        io::ErrorKind::NotFound,
                        "mapped file deleted or replaced",
                    ),
                });
            }
        };
        let functions = match ElfFunctions::read(file) {
            Ok(functions) => functions,
            Err(ElfSymError::NotElf { .. }) => continue,
            Err(_) if pattern => continue,
            Err(e) => return Err(e),
        };
        out.extend(
            functions
                .functions()
                .iter()
                .filter(|x| glob(function_glob, &x.name))
                .map(|x| (file.clone(), x.clone())),
        );
    }
    Ok(out)
}

/// One USDT probe of `.note.stapsdt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtProbe {
    pub provider: String,
    pub name: String,
    /// Its location (ELF address), adjusted for prelinking: moved by the
    /// `.stapsdt.base` section's address minus the base the note recorded.
    pub pc: u64,
    /// The address of its semaphore (adjusted as `pc`), 0 when it has none.
    pub semaphore: u64,
    /// The semaphore's file offset (a uprobe's reference counter offset),
    /// 0 when it has none.
    pub semaphore_offset: u64,
    /// The argument operands, e.g. `-4@%edi 8@%rax`; see [`parse_usdt_args`].
    pub args: String,
    /// Where `pc` is in the file: what a uprobe attaches at.
    pub file_offset: u64,
}

impl UsdtProbe {
    /// Its arguments, parsed.
    pub fn arguments(&self) -> Result<Vec<UsdtArg>, UsdtArgError> {
        parse_usdt_args(&self.args)
    }
}

/// The note type of a SystemTap SDT v3 probe.
const NT_STAPSDT: u32 = 3;

/// A stapsdt note's descriptor: pc, base, semaphore (file-sized words),
/// then provider, name and arguments, each NUL-terminated.
#[derive(Debug, PartialEq, Eq)]
struct RawNote<'a> {
    pc: u64,
    base: u64,
    semaphore: u64,
    provider: &'a [u8],
    name: &'a [u8],
    args: &'a [u8],
}

fn parse_stapsdt(desc: &[u8], little_endian: bool) -> Option<RawNote<'_>> {
    let word = |i: usize| -> Option<u64> {
        let bytes: [u8; 8] = desc.get(i * 8..i * 8 + 8)?.try_into().ok()?;
        Some(if little_endian {
            u64::from_le_bytes(bytes)
        } else {
            u64::from_be_bytes(bytes)
        })
    };
    let mut strings = desc.get(24..)?.split(|b| *b == 0);
    Some(RawNote {
        pc: word(0)?,
        base: word(1)?,
        semaphore: word(2)?,
        provider: strings.next().filter(|s| !s.is_empty())?,
        name: strings.next().filter(|s| !s.is_empty())?,
        args: strings.next().unwrap_or_default(),
    })
}

/// The USDT probes of an ELF file, in note order; probes whose location is
/// in no `PT_LOAD` segment are left out.
/// The directories a program's libraries are found in here, in the
/// dynamic linker's order for this architecture.
const LIBRARY_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// The shared libraries an executable needs (`DT_NEEDED`, and theirs),
/// found in the system's library directories: what a program about to be
/// run will map, for probes placed before it starts. Unreadable files and
/// libraries not found are left out.
pub fn needed_libraries(exe: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut todo = vec![exe.to_path_buf()];
    while let Some(file) = todo.pop() {
        for name in needed_names(&file) {
            let found = LIBRARY_DIRS
                .iter()
                .map(|d| Path::new(d).join(&name))
                .find(|p| p.is_file());
            if let Some(lib) = found
                && !out.contains(&lib)
                && out.len() < 256
            {
                todo.push(lib.clone());
                out.push(lib);
            }
        }
    }
    out
}

/// A file's `DT_NEEDED` names.
fn needed_names(path: &Path) -> Vec<String> {
    let Ok(data) = fs::read(path) else {
        return Vec::new();
    };
    let Ok(file) = ElfFile64::<Endianness>::parse(&*data) else {
        return Vec::new();
    };
    let endian = file.endian();
    let sections = file.elf_section_table();
    // The dynamic entries, and the index of their string table.
    let Ok(Some((entries, strtab))) = sections.dynamic(endian, &*data) else {
        return Vec::new();
    };
    let Ok(strings) = sections.strings(endian, &*data, strtab) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|d| d.d_tag(endian) == elf::DT_NEEDED)
        .filter_map(|d| strings.get(d.d_val(endian) as u32).ok())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect()
}

pub fn usdt_probes(path: &Path) -> Result<Vec<UsdtProbe>, ElfSymError> {
    let data = read_head(path, u64::MAX)?;
    let file = ElfFile64::<Endianness>::parse(&*data).map_err(ElfSymError::parse(path))?;
    let parse_err = ElfSymError::parse(path);
    let endian = file.endian();
    let sections = file.elf_section_table();
    let segments = load_segments(endian, file.elf_program_headers());
    let actual_base = sections
        .section_by_name(endian, b".stapsdt.base")
        .map(|(_, s)| s.sh_addr(endian));
    let Some((_, notes)) = sections.section_by_name(endian, b".note.stapsdt") else {
        return Ok(Vec::new());
    };
    let Some(mut notes) = notes.notes(endian, &*data).map_err(&parse_err)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    while let Some(note) = notes.next().map_err(&parse_err)? {
        if note.name() != b"stapsdt" || note.n_type(endian) != NT_STAPSDT {
            continue;
        }
        let Some(raw) = parse_stapsdt(note.desc(), endian.is_little_endian()) else {
            continue;
        };
        let adjust = |addr: u64| match actual_base {
            Some(actual) if raw.base != 0 && addr != 0 => {
                addr.wrapping_add(actual).wrapping_sub(raw.base)
            }
            _ => addr,
        };
        let (pc, semaphore) = (adjust(raw.pc), adjust(raw.semaphore));
        let Some(file_offset) = vaddr_to_offset(&segments, pc) else {
            continue;
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        out.push(UsdtProbe {
            provider: text(raw.provider),
            name: text(raw.name),
            pc,
            semaphore,
            semaphore_offset: vaddr_to_offset(&segments, semaphore).unwrap_or(0),
            args: text(raw.args),
            file_offset,
        });
    }
    Ok(out)
}

/// One USDT argument operand (x86-64, AT&T syntax), with its size in
/// bytes (1, 2, 4 or 8; negative when signed). Registers are named by
/// their 64-bit register (`%edi` is `rdi`): read it through
/// [`pt_regs_offset`] and keep the low `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsdtArg {
    /// `-4@%edi`: a register's value.
    Reg { size: i8, reg: String },
    /// `8@-16(%rbp)`: memory at a register plus an offset.
    Mem { size: i8, base: String, offset: i64 },
    /// `4@$5`: a constant.
    Const { size: i8, value: i64 },
}

/// A USDT argument operand this module does not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported USDT argument `{arg}`: {reason}")]
pub struct UsdtArgError {
    pub arg: String,
    pub reason: &'static str,
}

impl UsdtArg {
    /// Parses one operand, `<size>@<operand>`.
    pub fn parse(arg: &str) -> Result<UsdtArg, UsdtArgError> {
        let err = |reason| UsdtArgError {
            arg: arg.into(),
            reason,
        };
        let (size, operand) = arg.split_once('@').ok_or(err("no size"))?;
        let size: i8 = size
            .parse()
            .ok()
            .filter(|s: &i8| matches!(s.unsigned_abs(), 1 | 2 | 4 | 8))
            .ok_or(err("size is not 1, 2, 4 or 8"))?;
        let reg = |name: &str| {
            canonical_register(name.strip_prefix('%').ok_or(err("not a register"))?)
                .map(String::from)
                .ok_or(err("unknown register"))
        };
        if let Some(value) = operand.strip_prefix('$') {
            let value = parse_int(value).ok_or(err("constant is not a number"))?;
            return Ok(UsdtArg::Const { size, value });
        }
        if operand.starts_with('%') {
            return Ok(UsdtArg::Reg {
                size,
                reg: reg(operand)?,
            });
        }
        let (offset, inner) = operand
            .strip_suffix(')')
            .and_then(|o| o.split_once('('))
            .ok_or(err("unknown operand"))?;
        if inner.contains(',') {
            return Err(err("indexed addressing"));
        }
        let offset = match offset {
            "" => 0,
            o => parse_int(o).ok_or(err("symbolic offset"))?,
        };
        Ok(UsdtArg::Mem {
            size,
            base: reg(inner)?,
            offset,
        })
    }

    /// The operand's size in bytes, negative when signed.
    pub fn size(&self) -> i8 {
        match self {
            UsdtArg::Reg { size, .. } | UsdtArg::Mem { size, .. } | UsdtArg::Const { size, .. } => {
                *size
            }
        }
    }
}

/// All the operands of a probe's argument string (space-separated).
pub fn parse_usdt_args(args: &str) -> Result<Vec<UsdtArg>, UsdtArgError> {
    args.split_whitespace().map(UsdtArg::parse).collect()
}

/// A decimal or `0x` hexadecimal integer, optionally negative.
fn parse_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let magnitude = match digits.strip_prefix("0x") {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i128>().ok()?,
    };
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// x86-64's `struct pt_regs`: each 64-bit register and its byte offset
/// (as the kernel's BTF lays it out: r15 first, ss last at 160).
const PT_REGS: &[(&str, usize)] = &[
    ("r15", 0),
    ("r14", 8),
    ("r13", 16),
    ("r12", 24),
    ("rbp", 32),
    ("rbx", 40),
    ("r11", 48),
    ("r10", 56),
    ("r9", 64),
    ("r8", 72),
    ("rax", 80),
    ("rcx", 88),
    ("rdx", 96),
    ("rsi", 104),
    ("rdi", 112),
    ("rip", 128),
    ("rsp", 152),
];

/// The 64-bit register a register name (without `%`) is part of:
/// `edi`, `di`, `dil` → `rdi`; `r8d`, `r8w`, `r8b` → `r8`. The high bytes
/// (`ah` and the like) are not a register's low bytes: refused.
fn canonical_register(name: &str) -> Option<&'static str> {
    let full = |n: &str| PT_REGS.iter().find(|(r, _)| *r == n).map(|(r, _)| *r);
    let legacy = match name {
        "eax" | "ax" | "al" => "rax",
        "ebx" | "bx" | "bl" => "rbx",
        "ecx" | "cx" | "cl" => "rcx",
        "edx" | "dx" | "dl" => "rdx",
        "esi" | "si" | "sil" => "rsi",
        "edi" | "di" | "dil" => "rdi",
        "ebp" | "bp" | "bpl" => "rbp",
        "esp" | "sp" | "spl" => "rsp",
        "eip" => "rip",
        _ => {
            return full(name).or_else(|| {
                let numbered = name.strip_suffix(['d', 'w', 'b'])?;
                full(numbered).filter(|r| r[1..].bytes().all(|b| b.is_ascii_digit()))
            });
        }
    };
    Some(legacy)
}

/// The byte offset in x86-64's `struct pt_regs` of a register, by any of
/// its names, with or without `%`.
pub fn pt_regs_offset(reg: &str) -> Option<usize> {
    let name = canonical_register(reg.strip_prefix('%').unwrap_or(reg))?;
    PT_REGS.iter().find(|(r, _)| *r == name).map(|(_, o)| *o)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libc.so.6's `PT_LOAD` segments on Debian 12 (`readelf -l`).
    const LIBC: &[Segment] = &[
        Segment {
            vaddr: 0,
            offset: 0,
            filesz: 0x25388,
        },
        Segment {
            vaddr: 0x26000,
            offset: 0x26000,
            filesz: 0x1550fc,
        },
        Segment {
            vaddr: 0x17c000,
            offset: 0x17c000,
            filesz: 0x52c31,
        },
        Segment {
            vaddr: 0x1cf8d0,
            offset: 0x1cf8d0,
            filesz: 0x4f98,
        },
    ];

    #[test]
    fn addresses_translate_through_the_segment_containing_them() {
        assert_eq!(vaddr_to_offset(LIBC, 0xd54e0), Some(0xd54e0));
        let moved = [Segment {
            vaddr: 0x401000,
            offset: 0x1000,
            filesz: 0x200,
        }];
        assert_eq!(vaddr_to_offset(&moved, 0x401010), Some(0x1010));
        assert_eq!(offset_to_vaddr(&moved, 0x1010), Some(0x401010));
        // Past the file image (bss), or below the first segment.
        assert_eq!(vaddr_to_offset(&moved, 0x401200), None);
        assert_eq!(offset_to_vaddr(&moved, 0x10), None);
        assert_eq!(vaddr_to_offset(LIBC, 0x25390), None);
    }

    #[test]
    fn maps_keep_file_backed_mappings_with_their_paths() {
        let text = "\
55d0c0a00000-55d0c0a02000 r--p 00000000 fd:01 1234   /usr/bin/my prog
55d0c0a02000-55d0c0a05000 r-xp 00002000 fd:01 1234   /usr/bin/my prog
55d0c1b00000-55d0c1b21000 rw-p 00000000 00:00 0      [heap]
7f1a2b400000-7f1a2b426000 r--p 00000000 fd:01 99     /usr/lib/x86_64-linux-gnu/libc.so.6
7f1a2b600000-7f1a2b601000 rw-s 00000000 00:01 5      /memfd:pool (deleted)
7f1a2b700000-7f1a2b702000 rw-p 00000000 00:00 0 
7ffd5e1f0000-7ffd5e1f2000 r-xp 00000000 00:00 0      [vdso]
";
        let maps = parse_maps(text);
        let paths: Vec<&str> = maps.iter().map(|m| m.path.to_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "/usr/bin/my prog",
                "/usr/bin/my prog",
                "/usr/lib/x86_64-linux-gnu/libc.so.6",
                "/memfd:pool",
            ]
        );
        assert_eq!(
            maps[1],
            Mapping {
                start: 0x55d0c0a02000,
                end: 0x55d0c0a05000,
                offset: 0x2000,
                inode: 1234,
                path: "/usr/bin/my prog".into(),
            }
        );
    }

    fn function(name: &str, address: u64, size: u64) -> Function {
        Function {
            name: name.into(),
            address,
            size,
            file_offset: address,
        }
    }

    fn rank(hidden: bool, bind: u8) -> Rank {
        Rank { hidden, bind }
    }

    fn sample() -> ElfFunctions {
        ElfFunctions::from_entries(vec![
            (function("malloc", 0x98930, 791), rank(false, 0)),
            (function("__libc_malloc", 0x98930, 791), rank(false, 0)),
            // The same symbol in .symtab (local view) and .dynsym.
            (function("malloc", 0x98930, 791), rank(false, 2)),
            (function("getpid", 0xd54e0, 8), rank(false, 1)),
            (function("__getpid", 0xd54e0, 8), rank(false, 0)),
            (function("realpath", 0x150070, 33), rank(true, 0)),
            (function("realpath", 0x3d560, 1966), rank(false, 0)),
            (function("_start", 0x1000, 0), rank(false, 0)),
            (function("outer", 0x2000, 0x100), rank(false, 2)),
            (function("inner", 0x2040, 0x10), rank(false, 2)),
        ])
    }

    #[test]
    fn functions_are_by_name_once_per_address() {
        let f = sample();
        let names: Vec<&str> = f.functions().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "__getpid",
                "__libc_malloc",
                "_start",
                "getpid",
                "inner",
                "malloc",
                "outer",
                "realpath",
                "realpath",
            ]
        );
    }

    #[test]
    fn lookup_prefers_the_default_version() {
        let f = sample();
        assert_eq!(f.lookup("realpath").unwrap().address, 0x3d560);
        assert_eq!(f.lookup("malloc").unwrap().address, 0x98930);
        assert_eq!(f.lookup("mallo"), None);
        assert_eq!(f.lookup("zzz"), None);
    }

    #[test]
    fn symbolize_finds_the_function_and_prefers_the_plain_alias() {
        let f = sample();
        let at = |a| f.symbolize(a).map(|(f, off)| (f.name.as_str(), off));
        assert_eq!(at(0x98930 + 3), Some(("malloc", 3)));
        assert_eq!(at(0x98930 + 790), Some(("malloc", 790)));
        assert_eq!(at(0x98930 + 791), None);
        assert_eq!(at(0xd54e0), Some(("getpid", 0)));
        assert_eq!(at(0x1000), Some(("_start", 0)));
        assert_eq!(at(0x1001), None);
        assert_eq!(at(0x2044), Some(("inner", 4)));
        assert_eq!(at(0x2050), Some(("outer", 0x50)));
        assert_eq!(at(0x10), None);
    }

    #[test]
    fn frames_print_as_dtrace_does() {
        assert_eq!(
            format_frame(Some("libc.so.6"), Some(("malloc", 0x1a)), 1),
            "libc.so.6`malloc+0x1a"
        );
        assert_eq!(format_frame(Some("a"), Some(("main", 0)), 1), "a`main");
        assert_eq!(format_frame(Some("a"), None, 0x7f00), "a`0x7f00");
        assert_eq!(format_frame(None, None, 0x7f00), "0x7f00");
    }

    #[test]
    fn stapsdt_descriptors_parse() {
        let mut desc = Vec::new();
        for word in [0xa90a1u64, 0x1c5973, 0xa84276] {
            desc.extend(word.to_le_bytes());
        }
        desc.extend(b"libstdcxx\0throw\08@%rdi 8@%rsi\0\0\0");
        assert_eq!(
            parse_stapsdt(&desc, true),
            Some(RawNote {
                pc: 0xa90a1,
                base: 0x1c5973,
                semaphore: 0xa84276,
                provider: b"libstdcxx",
                name: b"throw",
                args: b"8@%rdi 8@%rsi",
            })
        );
        let no_args = [&desc[..24], b"p\0n\0\0"].concat();
        assert_eq!(parse_stapsdt(&no_args, true).unwrap().args, b"");
        assert_eq!(parse_stapsdt(&desc[..20], true), None);
        assert_eq!(parse_stapsdt(&desc[..24], true), None);
    }

    #[test]
    fn usdt_arguments_parse() {
        let reg = |size, r: &str| UsdtArg::Reg {
            size,
            reg: r.into(),
        };
        let args =
            parse_usdt_args("-4@%edi 8@-16(%rbp) 4@$5 8@(%rax) 1@%r8b -8@$-0x10 2@%r10w 8@%rsp");
        assert_eq!(
            args.unwrap(),
            [
                reg(-4, "rdi"),
                UsdtArg::Mem {
                    size: 8,
                    base: "rbp".into(),
                    offset: -16
                },
                UsdtArg::Const { size: 4, value: 5 },
                UsdtArg::Mem {
                    size: 8,
                    base: "rax".into(),
                    offset: 0
                },
                reg(1, "r8"),
                UsdtArg::Const {
                    size: -8,
                    value: -16
                },
                reg(2, "r10"),
                reg(8, "rsp"),
            ]
        );
        assert_eq!(parse_usdt_args("").unwrap(), []);
        assert_eq!(UsdtArg::parse("-4@112(%rsp)").unwrap().size(), -4);
        for (bad, reason) in [
            ("8@foo(%rip)", "symbolic offset"),
            ("8@16(%rax,%rbx,8)", "indexed addressing"),
            ("3@%eax", "size is not 1, 2, 4 or 8"),
            ("8@%xmm0", "unknown register"),
            ("1@%ah", "unknown register"),
            ("8@%raxd", "unknown register"),
            ("%eax", "no size"),
            ("8@$x", "constant is not a number"),
            ("8@rax", "unknown operand"),
        ] {
            assert_eq!(UsdtArg::parse(bad).unwrap_err().reason, reason, "{bad}");
        }
    }

    #[test]
    fn registers_have_their_pt_regs_offsets() {
        // x86-64's struct pt_regs, as the kernel's BTF lays it out.
        let layout = [
            "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx",
            "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss",
        ];
        for (i, reg) in layout.iter().enumerate() {
            let expected = (!matches!(*reg, "orig_rax" | "cs" | "eflags" | "ss")).then_some(i * 8);
            assert_eq!(pt_regs_offset(reg), expected, "{reg}");
        }
        for (names, offset) in [
            (["%eax", "ax", "al"], 80),
            (["edi", "di", "dil"], 112),
            (["esi", "si", "sil"], 104),
            (["edx", "dx", "dl"], 96),
            (["ecx", "cx", "cl"], 88),
            (["ebx", "bx", "bl"], 40),
            (["ebp", "bp", "bpl"], 32),
            (["esp", "sp", "spl"], 152),
            (["r8d", "r8w", "r8b"], 72),
            (["r9d", "r9w", "r9b"], 64),
            (["r15d", "r15w", "r15b"], 0),
        ] {
            for name in names {
                assert_eq!(pt_regs_offset(name), Some(offset), "{name}");
            }
        }
        assert_eq!(pt_regs_offset("ah"), None);
    }
}
