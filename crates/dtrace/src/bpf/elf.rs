//! Assembled programs and their maps wrapped in an in-memory ELF object, in
//! the BTF-less layout the loader parses:
//!
//! - one executable section per program, named for its type and attach
//!   point (`tracepoint/syscalls/sys_enter_getpid`, `perf_event`,
//!   `uprobe`, `raw_tracepoint/sys_enter`), holding one global function
//!   symbol (`STT_FUNC`, sized) whose name is the program's name;
//! - a `maps` section of legacy `struct bpf_map_def` records (seven `u32`:
//!   type, key size, value size, max entries, flags, id, pinning), one
//!   global object symbol (`STT_OBJECT`, sized) per map naming it;
//! - `R_BPF_64_64` relocations, in `.rel<section>`, from each map-loading
//!   `ld_imm64` to its map's symbol; the loader writes the map's fd into
//!   the immediate and sets `src_reg` to `BPF_PSEUDO_MAP_FD`;
//! - a `license` section holding a NUL-terminated licence string ("GPL"
//!   unlocks the GPL-only helpers, `probe_read*` and `perf_event_output`
//!   among them).

use std::collections::HashMap;

use object::write::{Object, Relocation, StandardSegment, Symbol, SymbolId, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope, elf,
};

use super::asm::Assembled;
use super::insn::SLOT;

/// Kinds of maps (`enum bpf_map_type`) the compiler uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapType {
    Hash = 1,
    Array = 2,
    PerfEventArray = 4,
    PercpuHash = 5,
    PercpuArray = 6,
    StackTrace = 7,
    LruHash = 9,
    LruPercpuHash = 10,
    RingBuf = 27,
}

/// One map, as the legacy `struct bpf_map_def` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDef {
    /// Its symbol: what programs reference and user space looks up.
    pub name: String,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    /// For a ring buffer, its size in bytes (a power of two pages).
    pub max_entries: u32,
    pub flags: u32,
}

impl MapDef {
    /// The 28-byte record: type, key size, value size, max entries, flags,
    /// id (0) and pinning (0: not pinned).
    fn record(&self) -> [u8; 28] {
        let fields = [
            self.map_type as u32,
            self.key_size,
            self.value_size,
            self.max_entries,
            self.flags,
            0,
            0,
        ];
        let mut out = [0u8; 28];
        for (chunk, v) in out.chunks_exact_mut(4).zip(fields) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }
}

/// One program and where the loader should take it to be attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramDef {
    /// Its ELF section: the program type, then `/`-separated details the
    /// loader ignores or keeps (`tracepoint/raw_syscalls/sys_enter`).
    pub section: String,
    /// Its function symbol, the name the loader lists it under.
    pub name: String,
    pub code: Assembled,
}

/// Why an object could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ElfError {
    /// a program loads a map that was not defined
    #[error("program {program} loads map {map}, which is not defined")]
    UnknownMap { program: String, map: String },
    /// two programs or maps share a symbol name
    #[error("symbol {name} is defined twice")]
    Duplicate { name: String },
    /// the licence string holds a NUL byte
    #[error("licence string holds a NUL byte")]
    License,
    /// the object writer failed
    #[error("failed to write the ELF object")]
    Write(#[source] object::write::Error),
}

/// Builds the ELF object holding `programs` and `maps`.
pub fn build(license: &str, maps: &[MapDef], programs: &[ProgramDef]) -> Result<Vec<u8>, ElfError> {
    if license.contains('\0') {
        return Err(ElfError::License);
    }
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let mut names = std::collections::HashSet::new();
    for name in maps
        .iter()
        .map(|m| &m.name)
        .chain(programs.iter().map(|p| &p.name))
    {
        if !names.insert(name.as_str()) {
            return Err(ElfError::Duplicate { name: name.clone() });
        }
    }

    let lic = obj.add_section(Vec::new(), b"license".to_vec(), SectionKind::Data);
    let mut text = license.as_bytes().to_vec();
    text.push(0);
    obj.append_section_data(lic, &text, 1);

    let symbols = add_maps(&mut obj, maps);
    for p in programs {
        add_program(&mut obj, p, &symbols)?;
    }
    obj.write().map_err(ElfError::Write)
}

fn global(name: &str, value: u64, size: u64, kind: SymbolKind, section: SymbolSection) -> Symbol {
    Symbol {
        name: name.as_bytes().to_vec(),
        value,
        size,
        kind,
        scope: SymbolScope::Linkage,
        weak: false,
        section,
        flags: SymbolFlags::None,
    }
}

fn add_maps<'m>(obj: &mut Object<'_>, maps: &'m [MapDef]) -> HashMap<&'m str, SymbolId> {
    let mut symbols = HashMap::new();
    if maps.is_empty() {
        return symbols;
    }
    let section = obj.add_section(
        obj.segment_name(StandardSegment::Data).to_vec(),
        b"maps".to_vec(),
        SectionKind::Data,
    );
    for m in maps {
        let record = m.record();
        let at = obj.append_section_data(section, &record, 4);
        let sym = global(
            &m.name,
            at,
            record.len() as u64,
            SymbolKind::Data,
            SymbolSection::Section(section),
        );
        symbols.insert(m.name.as_str(), obj.add_symbol(sym));
    }
    symbols
}

fn add_program(
    obj: &mut Object<'_>,
    p: &ProgramDef,
    maps: &HashMap<&str, SymbolId>,
) -> Result<(), ElfError> {
    let code = p.code.encode();
    let section = obj.add_section(
        obj.segment_name(StandardSegment::Text).to_vec(),
        p.section.as_bytes().to_vec(),
        SectionKind::Text,
    );
    obj.append_section_data(section, &code, SLOT as u64);
    let sym = global(
        &p.name,
        0,
        code.len() as u64,
        SymbolKind::Text,
        SymbolSection::Section(section),
    );
    obj.add_symbol(sym);
    for r in &p.code.map_refs {
        let symbol = *maps
            .get(r.map.as_str())
            .ok_or_else(|| ElfError::UnknownMap {
                program: p.name.clone(),
                map: r.map.clone(),
            })?;
        let reloc = Relocation {
            offset: (r.slot * SLOT) as u64,
            symbol,
            addend: 0,
            flags: RelocationFlags::Elf {
                r_type: elf::R_BPF_64_64,
            },
        };
        obj.add_relocation(section, reloc)
            .map_err(ElfError::Write)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use object::read::{Object as _, ObjectSection as _, ObjectSymbol as _};

    use super::*;
    use crate::bpf::asm::Asm;
    use crate::bpf::insn::Reg;

    fn counter() -> (Vec<MapDef>, Vec<ProgramDef>) {
        let mut a = Asm::new();
        a.ld_map(Reg::R1, "counts");
        a.mov64(Reg::R0, 0);
        a.exit();
        let maps = vec![MapDef {
            name: "counts".into(),
            map_type: MapType::Hash,
            key_size: 4,
            value_size: 8,
            max_entries: 1024,
            flags: 0,
        }];
        let progs = vec![ProgramDef {
            section: "tracepoint/syscalls/sys_enter_getpid".into(),
            name: "probe0".into(),
            code: a.finish().unwrap(),
        }];
        (maps, progs)
    }

    #[test]
    fn layout_is_what_the_loader_parses() {
        let (maps, progs) = counter();
        let bytes = build("GPL", &maps, &progs).unwrap();
        let file = object::read::File::parse(&*bytes).unwrap();
        assert_eq!(file.architecture(), Architecture::Bpf);

        let lic = file.section_by_name("license").unwrap();
        assert_eq!(lic.data().unwrap(), b"GPL\0");

        let m = file.section_by_name("maps").unwrap();
        let want: Vec<u8> = [1u32, 4, 8, 1024, 0, 0, 0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(m.data().unwrap(), want);

        let text = file
            .section_by_name("tracepoint/syscalls/sys_enter_getpid")
            .unwrap();
        assert_eq!(text.kind(), SectionKind::Text);
        assert_eq!(text.size(), 4 * 8);
        let relocs: Vec<_> = text.relocations().collect();
        assert_eq!(relocs.len(), 1);
        let (offset, r) = &relocs[0];
        assert_eq!(*offset, 0);
        assert_eq!(r.flags(), RelocationFlags::Elf { r_type: 1 });
        let object::RelocationTarget::Symbol(target) = r.target() else {
            panic!("relocation against {:?}", r.target());
        };
        let target = file.symbol_by_index(target).unwrap();
        assert_eq!(target.name().unwrap(), "counts");
        assert_eq!(target.kind(), SymbolKind::Data);
        assert_eq!(target.size(), 28);

        let prog = file.symbol_by_name("probe0").unwrap();
        assert_eq!(prog.kind(), SymbolKind::Text);
        assert!(prog.is_global());
        assert_eq!(prog.size(), 32);
    }

    #[test]
    fn unknown_and_duplicate_names_are_refused() {
        let (maps, progs) = counter();
        let e = build("GPL", &[], &progs).unwrap_err();
        assert!(matches!(e, ElfError::UnknownMap { ref map, .. } if map == "counts"));

        let mut twice = progs.clone();
        twice[0].name = "counts".into();
        let e = build("GPL", &maps, &twice).unwrap_err();
        assert!(matches!(e, ElfError::Duplicate { ref name } if name == "counts"));

        assert!(matches!(
            build("G\0PL", &maps, &progs),
            Err(ElfError::License)
        ));
    }
}
