//! An instruction the kernel's verifier refuses, traced back to what it
//! was assembled for: the assembler's tags, the verifier's log read for
//! the instruction it stopped at, and the compiler's table from tags to
//! D constructs.

use aya::programs::TracePoint;
use basalt_dtrace::bpf::asm::Asm;
use basalt_dtrace::bpf::elf::{self, MapDef, MapType, ProgramDef};
use basalt_dtrace::bpf::insn::{AluOp, Helper, Reg, Size};
use basalt_dtrace::bpf::load::{self, LoadError, Loader};
use basalt_dtrace::compile::{self, Ctx, Options, Origins, ProgramOrigins, Site};
use basalt_dtrace::parse::{MacroEnv, Span, parse_probe_arg};
use basalt_dtrace::probes::{Attach, Probe};
use object::{Object, ObjectSection, ObjectSymbol};

fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1));
    assert_eq!(
        euid,
        Some("0"),
        "this test loads a BPF program: run it as root"
    );
}

#[test]
fn a_refused_instruction_maps_back_to_its_construct() {
    require_root();
    const NAME: &str = "bt_origin";
    let (setup, read) = ((0, Span::new(0, 5)), (1, Span::new(10, 17)));
    let mut a = Asm::new();
    a.mov64(Reg::R6, Reg::R1); // slot 0, untagged
    a.set_tag(Some(0));
    a.ld_imm64(Reg::R3, 1 << 40); // slots 1-2
    a.st(Size::W, Reg::FP, -4, 0); // slot 3
    a.ld_map(Reg::R1, "m"); // slots 4-5
    a.mov64(Reg::R2, Reg::FP).alu64(AluOp::Add, Reg::R2, -4); // slots 6-7
    a.call(Helper::MapLookupElem); // slot 8
    let outer = a.set_tag(Some(1));
    // Slot 9: the value read without checking the lookup found one.
    a.ldx(Size::W, Reg::R1, Reg::R0, 0);
    a.set_tag(outer);
    a.mov64(Reg::R0, 0).exit();
    let code = a.finish().unwrap();
    let mut origins = Origins::default();
    origins.insert(
        NAME,
        ProgramOrigins::new(code.tags.clone(), vec![setup, read]),
    );

    // A hash map: a lookup in it may find nothing, whatever the key.
    let m = MapDef {
        name: "m".into(),
        map_type: MapType::Hash,
        key_size: 4,
        value_size: 8,
        max_entries: 16,
        flags: 0,
    };
    let prog = ProgramDef {
        section: "tracepoint/syscalls/sys_enter_getpid".into(),
        name: NAME.into(),
        code,
    };
    let object = elf::build("GPL", &[m], &[prog]).unwrap();
    let mut ebpf = Loader::new().open(&object).unwrap();
    let log = match load::load_program::<TracePoint>(&mut ebpf, NAME) {
        Err(LoadError::Rejected { log, .. }) => log,
        Err(e) => panic!("refused for another reason: {e:?}"),
        Ok(_) => panic!("the verifier accepted a read of a value that may be null"),
    };
    let insn = load::rejected_insn(&log);
    assert_eq!(insn, Some(9), "verifier log:\n{log}");
    let reason = load::rejection_reason(&log).unwrap_or_default();
    assert!(
        reason.contains("invalid mem access"),
        "reason {reason:?}, log:\n{log}"
    );
    assert_eq!(origins.origin_of(NAME, 9), Some(read));
    assert_eq!(origins.origin_of(NAME, 8), Some(setup));
    assert_eq!(origins.origin_of(NAME, 10), Some(setup), "restored");
    assert_eq!(origins.origin_of(NAME, 0), None);
}

/// Program `name`'s instructions in `elf`, 8 bytes each.
fn program_slots(elf: &[u8], name: &str) -> Vec<[u8; 8]> {
    let file = object::File::parse(elf).unwrap();
    let sym = file.symbols().find(|s| s.name() == Ok(name)).unwrap();
    let section = file.section_by_index(sym.section_index().unwrap()).unwrap();
    let data = section.data().unwrap();
    let code = &data[sym.address() as usize..][..sym.size() as usize];
    code.chunks_exact(8)
        .map(|c| c.try_into().unwrap())
        .collect()
}

/// The slot of the first call of `helper`.
fn call_of(slots: &[[u8; 8]], helper: Helper) -> usize {
    slots
        .iter()
        .position(|s| s[0] == 0x85 && i32::from_le_bytes([s[4], s[5], s[6], s[7]]) == helper as i32)
        .unwrap_or_else(|| panic!("no call of {helper:?}"))
}

#[test]
fn compiled_instructions_point_at_their_construct() {
    let src = "BEGIN { y = 1; }\nBEGIN /pid != 0/ { x = timestamp; }";
    let program =
        parse_probe_arg(src, &MacroEnv::new("dtrace", Vec::<String>::new())).expect("parses");
    let site = Site {
        probe: Probe {
            id: 1,
            provider: "dtrace".into(),
            module: String::new(),
            function: String::new(),
            name: "BEGIN".into(),
            attach: Attach::Dtrace,
        },
        ctx: Ctx::Dtrace,
        clauses: vec![0, 1],
    };
    let compiled = compile::compile(&program, vec![site], &Options::default()).unwrap();
    let name = &compiled.programs[0].name;
    let slots = program_slots(&compiled.elf, name);
    let text = |at: Option<(usize, Span)>| at.map(|(c, s)| (c, &src[s.start..s.end]));
    let origin = |insn| text(compiled.origin_of(name, insn));

    assert_eq!(origin(0), None, "the prologue");
    assert_eq!(origin(slots.len() - 1), None, "the exit");
    let pid = call_of(&slots, Helper::GetCurrentPidTgid);
    assert_eq!(origin(pid), Some((1, "pid")));
    let ts = call_of(&slots, Helper::KtimeGetNs);
    assert_eq!(origin(ts), Some((1, "timestamp")));
    assert!(
        (ts..slots.len()).any(|i| origin(i) == Some((1, "x = timestamp"))),
        "the assignment's own code follows its operand's"
    );
    assert!((0..pid).any(|i| origin(i) == Some((0, "y = 1"))));
    assert_eq!(origin(slots.len()), None, "past the end");
}
