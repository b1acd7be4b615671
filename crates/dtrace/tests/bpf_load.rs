//! Host tests (root): programs this crate assembles, wrapped in its ELF
//! objects, loaded through aya into the running kernel, attached, fired,
//! read back and detached.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aya::maps::{Array, HashMap, PerCpuHashMap};
use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::uprobe::UProbeScope;
use aya::programs::{PerfEvent, RawTracePoint, TracePoint, UProbe, loaded_programs};
use basalt_dtrace::bpf::asm::Asm;
use basalt_dtrace::bpf::elf::{self, MapDef, MapType, ProgramDef};
use basalt_dtrace::bpf::features::{ProgKind, helper_available};
use basalt_dtrace::bpf::insn::{AluOp, Cond, Helper, Reg, Size};
use basalt_dtrace::bpf::load::{self, LoadError, Loader};

/// The tests count their own process's system calls and the kernel's
/// loaded programs: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn require_root() {
    assert!(
        euid_is_root(),
        "these tests load BPF programs: run them as root"
    );
}

fn euid_is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

fn map(name: &str, map_type: MapType, key_size: u32, value_size: u32) -> MapDef {
    MapDef {
        name: name.into(),
        map_type,
        key_size,
        value_size,
        max_entries: 1024,
        flags: 0,
    }
}

/// `map[tgid] += 1` in a per-CPU hash keyed by the current tgid.
fn count_by_tgid(a: &mut Asm, map: &str) {
    let insert = a.label();
    let done = a.label();
    a.call(Helper::GetCurrentPidTgid);
    a.alu64(AluOp::Rsh, Reg::R0, 32);
    a.stx(Size::W, Reg::FP, Reg::R0, -4);
    a.ld_map(Reg::R1, map);
    a.mov64(Reg::R2, Reg::FP).alu64(AluOp::Add, Reg::R2, -4);
    a.call(Helper::MapLookupElem);
    a.jmp(Cond::Eq, Reg::R0, 0, insert);
    a.ldx(Size::DW, Reg::R1, Reg::R0, 0);
    a.alu64(AluOp::Add, Reg::R1, 1);
    a.stx(Size::DW, Reg::R0, Reg::R1, 0);
    a.ja(done);
    a.bind(insert);
    a.st(Size::DW, Reg::FP, -16, 1);
    update_from_stack(a, map, -4, -16);
    a.bind(done);
    a.mov64(Reg::R0, 0).exit();
}

/// `map_update_elem(map, fp+key, fp+value, BPF_ANY)`.
fn update_from_stack(a: &mut Asm, map: &str, key: i32, value: i32) {
    a.ld_map(Reg::R1, map);
    a.mov64(Reg::R2, Reg::FP).alu64(AluOp::Add, Reg::R2, key);
    a.mov64(Reg::R3, Reg::FP).alu64(AluOp::Add, Reg::R3, value);
    a.mov64(Reg::R4, 0);
    a.call(Helper::MapUpdateElem);
}

fn program_ids(name: &str) -> Vec<u32> {
    loaded_programs()
        .filter_map(|p| p.ok())
        .filter(|p| p.name_as_str() == Some(name))
        .map(|p| p.id())
        .collect()
}

/// Programs are freed after an RCU grace period: wait for them to go.
fn wait_unloaded(name: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !program_ids(name).is_empty() {
        assert!(
            Instant::now() < deadline,
            "program {name} still loaded 10 s after its last fd was closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tracepoint_counts_exactly_and_detaches_on_drop() {
    let _g = serial();
    require_root();
    const NAME: &str = "bt_count_getpid";
    const N: u64 = 1000;
    let mut a = Asm::new();
    count_by_tgid(&mut a, "counts");
    let prog = ProgramDef {
        section: "tracepoint/syscalls/sys_enter_getpid".into(),
        name: NAME.into(),
        code: a.finish().unwrap(),
    };
    let object = elf::build("GPL", &[map("counts", MapType::PercpuHash, 4, 8)], &[prog]).unwrap();

    // Read before attaching: this is a getpid(2) too.
    let tgid = std::process::id();
    let mut ebpf = Loader::new().open(&object).unwrap();
    let tp = load::load_program::<TracePoint>(&mut ebpf, NAME).unwrap();
    tp.attach("syscalls", "sys_enter_getpid").unwrap();
    assert_eq!(program_ids(NAME).len(), 1, "loaded once");

    for _ in 0..N {
        // glibc no longer caches the pid: each call is a getpid(2).
        std::hint::black_box(std::process::id());
    }
    let counts = ebpf.take_map("counts").unwrap();
    let read = |counts: &aya::maps::Map| -> u64 {
        let m = PerCpuHashMap::<_, u32, u64>::try_from(counts).unwrap();
        m.get(&tgid, 0).unwrap().iter().sum()
    };
    assert_eq!(read(&counts), N, "getpid calls counted");

    // Dropping the object detaches and unloads; the map, taken out, lives on.
    drop(ebpf);
    for _ in 0..N {
        std::hint::black_box(std::process::id());
    }
    assert_eq!(read(&counts), N, "nothing counted after the drop");
    wait_unloaded(NAME);
}

/// x86-64's number for getpid(2).
#[cfg(target_arch = "x86_64")]
const NR_GETPID: i32 = 39;

#[cfg(target_arch = "x86_64")]
#[test]
fn raw_tracepoint_reads_its_arguments() {
    let _g = serial();
    require_root();
    const NAME: &str = "bt_raw_enter";
    const N: u64 = 300;
    let mut a = Asm::new();
    let skip = a.label();
    // ctx->args[1] of sys_enter is the syscall number.
    a.ldx(Size::DW, Reg::R2, Reg::R1, 8);
    a.jmp(Cond::Ne, Reg::R2, NR_GETPID, skip);
    count_by_tgid(&mut a, "calls");
    a.bind(skip);
    a.mov64(Reg::R0, 0).exit();
    let prog = ProgramDef {
        section: "raw_tracepoint/sys_enter".into(),
        name: NAME.into(),
        code: a.finish().unwrap(),
    };
    let object = elf::build("GPL", &[map("calls", MapType::PercpuHash, 4, 8)], &[prog]).unwrap();
    let tgid = std::process::id();
    let mut ebpf = Loader::new().open(&object).unwrap();
    let rtp = load::load_program::<RawTracePoint>(&mut ebpf, NAME).unwrap();
    rtp.attach("sys_enter").unwrap();
    for _ in 0..N {
        std::hint::black_box(std::process::id());
    }
    let calls = PerCpuHashMap::<_, u32, u64>::try_from(ebpf.map("calls").unwrap()).unwrap();
    let n: u64 = calls.get(&tgid, 0).unwrap().iter().sum();
    assert_eq!(n, N, "getpid entries seen by the raw tracepoint");
    drop(ebpf);
    wait_unloaded(NAME);
}

#[test]
fn uprobe_on_libc_counts_exactly() {
    let _g = serial();
    require_root();
    const NAME: &str = "bt_uprobe";
    const N: u64 = 500;
    let mut a = Asm::new();
    count_by_tgid(&mut a, "calls");
    let prog = ProgramDef {
        section: "uprobe".into(),
        name: NAME.into(),
        code: a.finish().unwrap(),
    };
    let object = elf::build("GPL", &[map("calls", MapType::PercpuHash, 4, 8)], &[prog]).unwrap();
    let tgid = std::process::id();
    let mut ebpf = Loader::new().open(&object).unwrap();
    let up = load::load_program::<UProbe>(&mut ebpf, NAME).unwrap();
    up.attach("getpid", "libc", UProbeScope::CallingProcess)
        .unwrap();
    for _ in 0..N {
        std::hint::black_box(std::process::id());
    }
    let calls = PerCpuHashMap::<_, u32, u64>::try_from(ebpf.map("calls").unwrap()).unwrap();
    let n: u64 = calls.get(&tgid, 0).unwrap().iter().sum();
    assert_eq!(n, N, "libc getpid() entries counted");
    drop(ebpf);
    wait_unloaded(NAME);
}

#[test]
fn perf_event_cpu_clock_fires() {
    let _g = serial();
    require_root();
    const NAME: &str = "bt_profile";
    let mut a = Asm::new();
    a.ld_map(Reg::R1, "ticks");
    a.st(Size::W, Reg::FP, -4, 0);
    a.mov64(Reg::R2, Reg::FP).alu64(AluOp::Add, Reg::R2, -4);
    a.call(Helper::MapLookupElem);
    let done = a.label();
    a.jmp(Cond::Eq, Reg::R0, 0, done);
    a.mov64(Reg::R1, 1);
    a.push(basalt_dtrace::bpf::insn::Insn::AtomicAdd {
        size: Size::DW,
        dst: Reg::R0,
        src: Reg::R1,
        off: 0,
        fetch: false,
    });
    a.bind(done);
    a.mov64(Reg::R0, 0).exit();
    let ticks = MapDef {
        max_entries: 1,
        ..map("ticks", MapType::Array, 4, 8)
    };
    let prog = ProgramDef {
        section: "perf_event".into(),
        name: NAME.into(),
        code: a.finish().unwrap(),
    };
    let object = elf::build("GPL", &[ticks], &[prog]).unwrap();
    let mut ebpf = Loader::new().open(&object).unwrap();
    let pe = load::load_program::<PerfEvent>(&mut ebpf, NAME).unwrap();
    for cpu in aya::util::online_cpus().unwrap() {
        pe.attach(
            PerfEventConfig::Software(SoftwareEvent::CpuClock),
            PerfEventScope::AllProcessesOneCpu { cpu },
            SamplePolicy::Frequency(997),
            false,
        )
        .unwrap();
    }
    let until = Instant::now() + Duration::from_millis(300);
    let mut spin = 0u64;
    while Instant::now() < until {
        spin = std::hint::black_box(spin.wrapping_add(1));
    }
    let ticks = Array::<_, u64>::try_from(ebpf.map("ticks").unwrap()).unwrap();
    let fired = ticks.get(&0, 0).unwrap();
    eprintln!("profile-997 fired {fired} times in 300 ms of spinning");
    assert!(fired > 0, "the cpu-clock program never fired");
    drop(ebpf);
    wait_unloaded(NAME);
}

#[test]
fn verifier_rejection_returns_its_log() {
    let _g = serial();
    require_root();
    let mut a = Asm::new();
    a.exit(); // r0 never written
    let prog = ProgramDef {
        section: "tracepoint/syscalls/sys_enter_getpid".into(),
        name: "bt_rejected".into(),
        code: a.finish().unwrap(),
    };
    let object = elf::build("GPL", &[], &[prog]).unwrap();
    let mut ebpf = Loader::new().open(&object).unwrap();
    match load::load_program::<TracePoint>(&mut ebpf, "bt_rejected") {
        Err(LoadError::Rejected { log, .. }) => {
            assert!(log.contains("R0 !read_ok"), "verifier log: {log}");
        }
        Err(e) => panic!("rejected for another reason: {e:?}"),
        Ok(_) => panic!("the verifier accepted a program that never sets r0"),
    }
}

#[test]
fn helpers_available_here() {
    let _g = serial();
    require_root();
    use Helper as H;
    let needed = [
        H::MapLookupElem,
        H::MapUpdateElem,
        H::MapDeleteElem,
        H::KtimeGetNs,
        H::GetSmpProcessorId,
        H::GetCurrentPidTgid,
        H::GetCurrentUidGid,
        H::GetCurrentComm,
        H::GetCurrentTask,
        H::ProbeReadUser,
        H::ProbeReadKernel,
        H::ProbeReadUserStr,
        H::ProbeReadKernelStr,
        H::GetStackid,
        H::GetStack,
        H::PerfEventOutput,
        H::RingbufOutput,
        H::RingbufReserve,
        H::RingbufSubmit,
        H::GetCurrentCgroupId,
        H::GetCurrentAncestorCgroupId,
    ];
    let mut missing = Vec::new();
    let mut loader = Loader::new();
    for kind in [
        ProgKind::TracePoint,
        ProgKind::RawTracePoint,
        ProgKind::PerfEvent,
        ProgKind::UProbe,
    ] {
        for h in needed {
            if !helper_available(&mut loader, kind, h).unwrap() {
                missing.push(format!("{kind:?}/{h:?}"));
            }
        }
        let btf = helper_available(&mut loader, kind, H::GetCurrentTaskBtf).unwrap();
        let signal = helper_available(&mut loader, kind, H::SendSignal).unwrap();
        eprintln!("{kind:?}: get_current_task_btf {btf}, send_signal {signal}");
        // A socket helper is refused to tracing programs: absence is seen.
        assert!(
            !helper_available(&mut loader, kind, H::SkbLoadBytes).unwrap(),
            "{kind:?}"
        );
    }
    assert!(missing.is_empty(), "helpers missing: {missing:?}");
}

/// A cgroup directory in the unified hierarchy, removed on drop.
struct Cgroup(PathBuf);

impl Cgroup {
    fn create(path: PathBuf) -> Cgroup {
        std::fs::create_dir(&path)
            .unwrap_or_else(|e| panic!("failed to create cgroup {}: {e}", path.display()));
        Cgroup(path)
    }

    fn id(&self) -> u64 {
        std::fs::metadata(&self.0).unwrap().ino()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Records, per tgid, the cgroup id and its ancestors at levels 1 and 2
/// in the unified hierarchy, at each syscall entry.
fn cgroup_recorder() -> Vec<u8> {
    let mut a = Asm::new();
    a.call(Helper::GetCurrentPidTgid);
    a.alu64(AluOp::Rsh, Reg::R0, 32);
    a.stx(Size::W, Reg::FP, Reg::R0, -4);
    a.call(Helper::GetCurrentCgroupId);
    a.stx(Size::DW, Reg::FP, Reg::R0, -16);
    update_from_stack(&mut a, "cg", -4, -16);
    for (level, map) in [(1, "anc1"), (2, "anc2")] {
        a.mov64(Reg::R1, level);
        a.call(Helper::GetCurrentAncestorCgroupId);
        a.stx(Size::DW, Reg::FP, Reg::R0, -16);
        update_from_stack(&mut a, map, -4, -16);
    }
    a.mov64(Reg::R0, 0).exit();
    let prog = ProgramDef {
        section: "tracepoint/raw_syscalls/sys_enter".into(),
        name: "bt_cgroup".into(),
        code: a.finish().unwrap(),
    };
    let maps = ["cg", "anc1", "anc2"].map(|n| map(n, MapType::Hash, 4, 8));
    elf::build("GPL", &maps, &[prog]).unwrap()
}

#[test]
fn cgroup_id_identifies_a_zone_cgroup() {
    let _g = serial();
    require_root();
    let unified = PathBuf::from("/sys/fs/cgroup/unified");
    let unified = if unified.join("cgroup.procs").exists() {
        unified
    } else {
        PathBuf::from("/sys/fs/cgroup")
    };
    assert!(
        unified.join("cgroup.procs").exists(),
        "no unified (cgroup2) hierarchy mounted at /sys/fs/cgroup/unified or /sys/fs/cgroup"
    );
    let parent = Cgroup::create(unified.join(format!("dtrace-test-{}", std::process::id())));
    let zone = Cgroup::create(parent.0.join("zone0"));

    let object = cgroup_recorder();
    let mut ebpf = Loader::new().open(&object).unwrap();
    let tp = load::load_program::<TracePoint>(&mut ebpf, "bt_cgroup").unwrap();
    tp.attach("raw_syscalls", "sys_enter").unwrap();

    // The shell joins the zone's cgroup, then becomes cat: same pid.
    let procs = zone.0.join("cgroup.procs");
    let script = format!("echo $$ > {} && exec cat /dev/null", procs.display());
    let mut child = Command::new("sh").arg("-c").arg(&script).spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success(), "{script}");

    let get = |name: &str, key: u32| -> u64 {
        let m = HashMap::<_, u32, u64>::try_from(ebpf.map(name).unwrap()).unwrap();
        m.get(&key, 0).unwrap()
    };
    let (cg, anc1, anc2) = (get("cg", pid), get("anc1", pid), get("anc2", pid));
    eprintln!(
        "zone cgroup id {} (inode {}), level 1 {anc1} (inode {}), level 2 {anc2}",
        cg,
        zone.id(),
        parent.id()
    );
    assert_eq!(cg, zone.id(), "bpf_get_current_cgroup_id is the inode");
    assert_eq!(anc1, parent.id(), "ancestor at level 1");
    assert_eq!(anc2, zone.id(), "ancestor at level 2");

    // This test process stays in the hierarchy's root: no ancestor at 2.
    let me = std::process::id();
    let root_id = std::fs::metadata(&unified).unwrap().ino();
    eprintln!(
        "host process: cgroup id {}, root inode {root_id}",
        get("cg", me)
    );
    assert_eq!(get("anc2", me), 0, "no ancestor at level 2 for the host");
    drop(ebpf);
    drop(zone);
    drop(parent);
    wait_unloaded("bt_cgroup");
}
