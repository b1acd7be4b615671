//! Host tests (root): the raw bpf(2) calls of `bpf::sys` on maps that aya
//! created from this crate's ELF objects, read back through aya's typed
//! maps where a type exists, and a raw-tracepoint program loaded (not
//! attached) and fired by a test run.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use aya::Ebpf;
use aya::maps::{HashMap, Map, PerCpuHashMap};
use aya::programs::RawTracePoint;
use basalt_dtrace::bpf::asm::Asm;
use basalt_dtrace::bpf::elf::{self, MapDef, MapType, ProgramDef};
use basalt_dtrace::bpf::insn::{AluOp, Helper, Reg, Size};
use basalt_dtrace::bpf::load::{self, Loader};
use basalt_dtrace::bpf::sys::{self, BPF_ANY, BPF_EXIST, BPF_NOEXIST};

const KEY: usize = 20;
const VALUE: usize = 12;

fn require_root() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1));
    assert_eq!(
        euid,
        Some("0"),
        "these tests create BPF maps: run them as root"
    );
}

fn map(name: &str, map_type: MapType, key_size: u32, value_size: u32, max: u32) -> MapDef {
    MapDef {
        name: name.into(),
        map_type,
        key_size,
        value_size,
        max_entries: max,
        flags: 0,
    }
}

/// `map_update_elem(map, fp+key, fp+value, BPF_ANY)`.
fn update_from_stack(a: &mut Asm, map: &str, key: i16, value: i16) {
    a.ld_map(Reg::R1, map);
    a.mov64(Reg::R2, Reg::FP)
        .alu64(AluOp::Add, Reg::R2, i32::from(key));
    a.mov64(Reg::R3, Reg::FP)
        .alu64(AluOp::Add, Reg::R3, i32::from(value));
    a.mov64(Reg::R4, 0);
    a.call(Helper::MapUpdateElem);
}

/// `arr[index] = r6; return 7`.
fn store_r6_and_return_7(a: &mut Asm, index: i32) {
    a.st(Size::W, Reg::FP, -4, index);
    a.stx(Size::DW, Reg::FP, Reg::R6, -16);
    update_from_stack(a, "bts_arr", -4, -16);
    a.mov64(Reg::R0, 7).exit();
}

/// Maps of every kind the tests use, with 20-byte keys and 12-byte values
/// where the kind allows, and two raw-tracepoint programs:
/// `bts_args` stores its first argument in `bts_arr[0]`, `bts_tgid` its
/// process's tgid in `bts_arr[1]`; both return 7.
fn object() -> Vec<u8> {
    let mut args = Asm::new();
    args.ldx(Size::DW, Reg::R6, Reg::R1, 0);
    store_r6_and_return_7(&mut args, 0);
    let mut tgid = Asm::new();
    tgid.call(Helper::GetCurrentPidTgid);
    tgid.mov64(Reg::R6, Reg::R0).alu64(AluOp::Rsh, Reg::R6, 32);
    store_r6_and_return_7(&mut tgid, 1);
    let programs = [("bts_args", args), ("bts_tgid", tgid)].map(|(name, a)| ProgramDef {
        section: "raw_tracepoint/sys_enter".into(),
        name: name.into(),
        code: a.finish().unwrap(),
    });
    let maps = [
        map("bts_hash", MapType::Hash, KEY as u32, VALUE as u32, 64),
        map(
            "bts_pcpu",
            MapType::PercpuHash,
            KEY as u32,
            VALUE as u32,
            64,
        ),
        map("bts_arr", MapType::Array, 4, 8, 2),
    ];
    elf::build("GPL", &maps, &programs).unwrap()
}

fn open() -> Ebpf {
    require_root();
    Loader::new().open(&object()).unwrap()
}

/// A map's descriptor: aya 0.14 has no accessor on `Map` for its
/// `MapData`, so each kind is matched.
fn map_fd<'a>(ebpf: &'a Ebpf, name: &str) -> BorrowedFd<'a> {
    match ebpf.map(name).unwrap() {
        Map::HashMap(d) | Map::PerCpuHashMap(d) | Map::Array(d) => d.fd().as_fd(),
        other => panic!("map {name} is {other:?}"),
    }
}

fn key(i: u8) -> [u8; KEY] {
    std::array::from_fn(|j| i.wrapping_mul(31).wrapping_add(j as u8))
}

fn value(i: u8) -> [u8; VALUE] {
    std::array::from_fn(|j| i ^ (j as u8 * 7))
}

fn errno(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
}

#[test]
fn hash_with_odd_sized_keys_and_values() {
    let ebpf = open();
    let fd = map_fd(&ebpf, "bts_hash");
    let info = sys::map_info(fd).unwrap();
    assert_eq!(
        (
            info.map_type,
            info.key_size,
            info.value_size,
            info.max_entries
        ),
        (1, 20, 12, 64)
    );
    assert_eq!(info.name, "bts_hash");
    assert!(!info.is_percpu());

    for i in 1..=3 {
        sys::map_update(fd, &key(i), &value(i), BPF_ANY).unwrap();
    }
    let mut v = [0u8; VALUE];
    for i in 1..=3 {
        assert!(sys::map_lookup(fd, &key(i), &mut v).unwrap());
        assert_eq!(v, value(i));
    }
    assert!(!sys::map_lookup(fd, &key(9), &mut v).unwrap(), "absent key");

    let e = sys::map_update(fd, &key(1), &value(7), BPF_NOEXIST).unwrap_err();
    assert_eq!(errno(&e), Some(libc::EEXIST));
    let e = sys::map_update(fd, &key(9), &value(9), BPF_EXIST).unwrap_err();
    assert_eq!(errno(&e), Some(libc::ENOENT));
    sys::map_update(fd, &key(1), &value(7), BPF_EXIST).unwrap();

    // Seen the same way through aya's typed map.
    let typed =
        HashMap::<_, [u8; KEY], [u8; VALUE]>::try_from(ebpf.map("bts_hash").unwrap()).unwrap();
    assert_eq!(typed.get(&key(1), 0).unwrap(), value(7));
    assert_eq!(typed.get(&key(2), 0).unwrap(), value(2));

    assert!(sys::map_delete(fd, &key(2)).unwrap());
    assert!(!sys::map_delete(fd, &key(2)).unwrap(), "deleted twice");

    let mut entries = sys::map_entries(fd, KEY, VALUE).unwrap();
    entries.sort();
    let mut want = vec![
        (key(1).to_vec(), value(7).to_vec()),
        (key(3).to_vec(), value(3).to_vec()),
    ];
    want.sort();
    assert_eq!(entries, want);
}

#[test]
fn buffers_of_the_wrong_size_are_refused() {
    let ebpf = open();
    let fd = map_fd(&ebpf, "bts_hash");
    let mut v = [0u8; VALUE];
    let invalid = |r: io::Result<()>| {
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    };
    invalid(sys::map_update(fd, &[0; KEY - 1], &value(1), BPF_ANY));
    invalid(sys::map_update(fd, &key(1), &[0; VALUE + 1], BPF_ANY));
    invalid(sys::map_lookup(fd, &[0; KEY + 1], &mut v).map(drop));
    invalid(sys::map_lookup(fd, &key(1), &mut [0; VALUE - 4]).map(drop));
    invalid(sys::map_delete(fd, &[]).map(drop));
    invalid(sys::map_next_key(fd, None, &mut [0; 4]).map(drop));
    invalid(sys::map_entries(fd, KEY, 16).map(drop));
    assert!(sys::map_entries(fd, KEY, VALUE).unwrap().is_empty());
}

#[test]
fn next_key_walks_every_key_and_restarts_from_a_missing_one() {
    let ebpf = open();
    let fd = map_fd(&ebpf, "bts_hash");
    for i in 0..5 {
        sys::map_update(fd, &key(i), &value(i), BPF_ANY).unwrap();
    }
    let mut walked = Vec::new();
    let mut next = [0u8; KEY];
    let mut at: Option<[u8; KEY]> = None;
    while sys::map_next_key(fd, at.as_ref().map(|k| &k[..]), &mut next).unwrap() {
        walked.push(next);
        at = Some(next);
    }
    walked.sort();
    let mut want: Vec<_> = (0..5).map(key).collect();
    want.sort();
    assert_eq!(walked, want);

    // A key not in the map leads back to the first: what the walk in
    // `map_entries` relies on when the key it stands on is deleted.
    let mut first = [0u8; KEY];
    assert!(sys::map_next_key(fd, None, &mut first).unwrap());
    assert!(sys::map_next_key(fd, Some(&key(200)), &mut next).unwrap());
    assert_eq!(next, first);
}

#[test]
fn percpu_values_span_every_possible_cpu() {
    let ebpf = open();
    let fd = map_fd(&ebpf, "bts_pcpu");
    let cpus = sys::possible_cpus().unwrap();
    assert_eq!(cpus, aya::util::nr_cpus().unwrap(), "aya's count");
    assert!(cpus >= 1);
    let len = sys::percpu_value_len(VALUE).unwrap();
    assert_eq!(len, 16 * cpus);
    assert_eq!(sys::map_info(fd).unwrap().value_len().unwrap(), len);

    // CPU c holds value(c), then four bytes of padding.
    let mut stored = vec![0u8; len];
    for (c, slot) in stored.chunks_exact_mut(16).enumerate() {
        slot[..VALUE].copy_from_slice(&value(c as u8));
    }
    sys::map_update(fd, &key(1), &stored, BPF_ANY).unwrap();
    let mut read = vec![0xffu8; len];
    assert!(sys::map_lookup(fd, &key(1), &mut read).unwrap());
    assert_eq!(read, stored);

    let typed = PerCpuHashMap::<_, [u8; KEY], [u8; VALUE]>::try_from(ebpf.map("bts_pcpu").unwrap())
        .unwrap();
    let per_cpu = typed.get(&key(1), 0).unwrap();
    assert_eq!(per_cpu.len(), cpus);
    for (c, v) in per_cpu.iter().enumerate() {
        assert_eq!(*v, value(c as u8), "cpu {c}");
    }

    let e = sys::map_update(fd, &key(2), &value(2), BPF_ANY).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "one CPU's value");
    assert_eq!(
        sys::map_entries(fd, KEY, len).unwrap(),
        [(key(1).to_vec(), stored)]
    );
}

#[test]
fn array_entries_always_exist() {
    let ebpf = open();
    let fd = map_fd(&ebpf, "bts_arr");
    let mut v = [0xffu8; 8];
    assert!(sys::map_lookup(fd, &0u32.to_ne_bytes(), &mut v).unwrap());
    assert_eq!(v, [0; 8]);
    assert!(
        !sys::map_lookup(fd, &2u32.to_ne_bytes(), &mut v).unwrap(),
        "past the end"
    );
    let e = sys::map_delete(fd, &0u32.to_ne_bytes()).unwrap_err();
    assert_eq!(errno(&e), Some(libc::EINVAL));
    let entries = sys::map_entries(fd, 4, 8).unwrap();
    let indexes: Vec<_> = entries.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(indexes, [0u32.to_ne_bytes(), 1u32.to_ne_bytes()]);
}

fn read_arr(ebpf: &Ebpf, index: u32) -> u64 {
    let mut v = [0u8; 8];
    assert!(sys::map_lookup(map_fd(ebpf, "bts_arr"), &index.to_ne_bytes(), &mut v).unwrap());
    u64::from_ne_bytes(v)
}

/// A loaded program's descriptor.
fn prog_fd<'a>(ebpf: &'a Ebpf, name: &str) -> BorrowedFd<'a> {
    let p: &RawTracePoint = ebpf.program(name).unwrap().try_into().unwrap();
    p.fd().unwrap().as_fd()
}

#[test]
fn test_run_fires_a_loaded_raw_tracepoint_program() {
    let mut ebpf = open();
    load::load_program::<RawTracePoint>(&mut ebpf, "bts_args").unwrap();
    load::load_program::<RawTracePoint>(&mut ebpf, "bts_tgid").unwrap();
    let args = prog_fd(&ebpf, "bts_args");
    let tgid = prog_fd(&ebpf, "bts_tgid");

    const ARG: u64 = 0x1122_3344_5566_7788;
    assert_eq!(sys::prog_test_run(args, &[ARG]).unwrap(), 7);
    assert_eq!(read_arr(&ebpf, 0), ARG);
    assert_eq!(sys::prog_test_run(args, &[ARG + 1, 0, 0]).unwrap(), 7);
    assert_eq!(read_arr(&ebpf, 0), ARG + 1);

    // The program reads args[0]: a shorter context is refused, as is one
    // of more than twelve arguments.
    for ctx in [&[][..], &[0; 13][..]] {
        let e = sys::prog_test_run(args, ctx).unwrap_err();
        assert_eq!(errno(&e), Some(libc::EINVAL), "{} arguments", ctx.len());
    }
    assert_eq!(read_arr(&ebpf, 0), ARG + 1, "not run");

    // A program reading no argument runs without any, as this process.
    assert_eq!(sys::prog_test_run(tgid, &[]).unwrap(), 7);
    assert_eq!(read_arr(&ebpf, 1), u64::from(std::process::id()));
}
