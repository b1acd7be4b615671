//! Host tests (root): the running kernel's BTF, from
//! `/sys/kernel/btf/vmlinux`. The task offsets found there are checked
//! against the types BTF gives them, and then against the kernel itself:
//! a raw-tracepoint program, fired by a test run in this thread, reads
//! this thread's task at those offsets and must see its tid, pid, parent
//! and CPU time.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use aya::Ebpf;
use aya::maps::Map;
use aya::programs::RawTracePoint;
use basalt_dtrace::bpf::asm::Asm;
use basalt_dtrace::bpf::elf::{self, MapDef, MapType, ProgramDef};
use basalt_dtrace::bpf::insn::{AluOp, Helper, Reg, Size};
use basalt_dtrace::bpf::load::{self, Loader};
use basalt_dtrace::bpf::sys;
use basalt_dtrace::btf::{self, Btf, Kind, TaskOffsets};
use rustix::time::{ClockId, clock_gettime};

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

fn kernel_btf() -> Vec<u8> {
    btf::read_kernel_btf()
        .expect("this kernel's BTF could not be read (built without CONFIG_DEBUG_INFO_BTF?)")
}

/// The median of `runs` timings of `f`.
fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

#[test]
fn parses_the_kernel_btf_quickly() {
    let data = kernel_btf();
    let btf = Btf::parse(&data).unwrap();
    let parse = median(21, || Btf::parse(&data).unwrap());
    let lookup = median(21, || TaskOffsets::from_btf(&btf).unwrap());
    let ours = median(11, || btf::read_kernel_task_offsets().unwrap());
    // The peer: aya's parser, as its loader runs it (file read included).
    let aya = median(5, || aya::Btf::from_sys_fs().unwrap());
    // Timings are printed, never asserted.
    println!(
        "{} bytes, {} types: parse {parse:?}, task offsets {lookup:?}; \
         read + parse + offsets {ours:?}; aya's read + parse {aya:?} ({:.1}x)",
        data.len(),
        btf.type_count(),
        aya.as_secs_f64() / ours.as_secs_f64(),
    );
}

#[test]
fn task_offsets_are_plausible() {
    let data = kernel_btf();
    let btf = Btf::parse(&data).unwrap();
    let offsets = btf::read_kernel_task_offsets().unwrap();
    assert_eq!(offsets, TaskOffsets::from_btf(&btf).unwrap());
    let task = btf.find_struct("task_struct").unwrap();
    let size = btf.size_of(task).unwrap().unwrap();
    println!("{offsets:?}, sizeof(struct task_struct) = {size}");

    let fields = [
        (offsets.real_parent, 8),
        (offsets.tgid, 4),
        (offsets.pid, 4),
        (offsets.sum_exec_runtime, 8),
    ];
    for (i, &(offset, width)) in fields.iter().enumerate() {
        assert!(offset + width <= size, "field {i} at {offset} of {size}");
        assert_eq!(offset % width, 0, "field {i} at {offset} is misaligned");
        for &(other, other_width) in &fields[..i] {
            assert!(
                offset + width <= other || other + other_width <= offset,
                "fields at {offset} and {other} overlap"
            );
        }
    }

    // real_parent is a `struct task_struct *` (through any type tag).
    let parent = btf.member("task_struct", &["real_parent"]).unwrap();
    let pointee = btf.pointee(parent.ty).unwrap().expect("not a pointer");
    assert_eq!(btf.resolve(pointee).unwrap(), task);
    // pid and tgid are pid_t, a 4-byte int.
    for name in ["pid", "tgid"] {
        let m = btf.member("task_struct", &[name]).unwrap();
        assert_eq!(btf.name(m.ty).unwrap(), "pid_t");
        let int = btf.resolve(m.ty).unwrap();
        assert_eq!(
            (btf.kind(int).unwrap(), btf.size_of(int).unwrap()),
            (Kind::Int, Some(4))
        );
    }
    // se is a struct sched_entity, holding an 8-byte sum_exec_runtime.
    let se = btf.member("task_struct", &["se"]).unwrap();
    let sched_entity = btf.resolve(se.ty).unwrap();
    assert_eq!(btf.name(sched_entity).unwrap(), "sched_entity");
    assert_eq!(sched_entity, btf.find_struct("sched_entity").unwrap());
    let runtime = btf::member_offset(&btf, "sched_entity", &["sum_exec_runtime"]).unwrap();
    assert_eq!(offsets.sum_exec_runtime, se.offset + runtime);
}

const SLOTS: u32 = 4;

/// `r6 = *(base + offset)`, `width` bytes zero-extended, read with
/// `bpf_probe_read_kernel`.
fn read_kernel(a: &mut Asm, base: Reg, offset: u32, width: i32) {
    a.st(Size::DW, Reg::FP, -8, 0);
    a.mov64(Reg::R1, Reg::FP).alu64(AluOp::Add, Reg::R1, -8);
    a.mov64(Reg::R2, width);
    a.mov64(Reg::R3, base)
        .alu64(AluOp::Add, Reg::R3, i32::try_from(offset).unwrap());
    a.call(Helper::ProbeReadKernel);
    a.ldx(Size::DW, Reg::R6, Reg::FP, -8);
}

/// `btf_task[index] = r6`.
fn store_r6(a: &mut Asm, index: i32) {
    a.st(Size::W, Reg::FP, -12, index);
    a.stx(Size::DW, Reg::FP, Reg::R6, -24);
    a.ld_map(Reg::R1, "btf_task");
    a.mov64(Reg::R2, Reg::FP).alu64(AluOp::Add, Reg::R2, -12);
    a.mov64(Reg::R3, Reg::FP).alu64(AluOp::Add, Reg::R3, -24);
    a.mov64(Reg::R4, 0);
    a.call(Helper::MapUpdateElem);
}

/// A program storing the current task's pid, tgid, parent's tgid and
/// sum_exec_runtime, read at `o`, in `btf_task[0..4]`.
fn object(o: TaskOffsets) -> Vec<u8> {
    let mut a = Asm::new();
    a.call(Helper::GetCurrentTask);
    a.mov64(Reg::R7, Reg::R0);
    read_kernel(&mut a, Reg::R7, o.pid, 4);
    store_r6(&mut a, 0);
    read_kernel(&mut a, Reg::R7, o.tgid, 4);
    store_r6(&mut a, 1);
    read_kernel(&mut a, Reg::R7, o.real_parent, 8);
    a.mov64(Reg::R8, Reg::R6);
    read_kernel(&mut a, Reg::R8, o.tgid, 4);
    store_r6(&mut a, 2);
    read_kernel(&mut a, Reg::R7, o.sum_exec_runtime, 8);
    store_r6(&mut a, 3);
    a.mov64(Reg::R0, 0).exit();
    let program = ProgramDef {
        section: "raw_tracepoint/sys_enter".into(),
        name: "btf_task_fields".into(),
        code: a.finish().unwrap(),
    };
    let map = MapDef {
        name: "btf_task".into(),
        map_type: MapType::Array,
        key_size: 4,
        value_size: 8,
        max_entries: SLOTS,
        flags: 0,
    };
    elf::build("GPL", &[map], &[program]).unwrap()
}

fn slot(ebpf: &Ebpf, index: u32) -> u64 {
    let Map::Array(data) = ebpf.map("btf_task").unwrap() else {
        panic!("btf_task is not an array");
    };
    let mut v = [0u8; 8];
    assert!(sys::map_lookup(data.fd().as_fd(), &index.to_ne_bytes(), &mut v).unwrap());
    u64::from_ne_bytes(v)
}

fn thread_cpu_ns() -> u64 {
    let t = clock_gettime(ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec).unwrap() * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap()
}

#[test]
fn a_bpf_program_reads_this_thread_at_the_offsets() {
    require_root();
    let offsets = btf::read_kernel_task_offsets().unwrap();
    let mut ebpf = Loader::new().open(&object(offsets)).unwrap();
    load::load_program::<RawTracePoint>(&mut ebpf, "btf_task_fields").unwrap();
    let program: &RawTracePoint = ebpf.program("btf_task_fields").unwrap().try_into().unwrap();
    let fd: BorrowedFd<'_> = program.fd().unwrap().as_fd();

    // Some CPU time of this thread's own, so that its runtime is not 0.
    let spin = Instant::now();
    while spin.elapsed() < Duration::from_millis(20) {
        std::hint::black_box(spin.elapsed());
    }
    // The thread CPU clock brings sum_exec_runtime up to date, then reads
    // it: the program's value lies between two readings.
    let before = thread_cpu_ns();
    assert_eq!(sys::prog_test_run(fd, &[]).unwrap(), 0);
    let after = thread_cpu_ns();

    let tid = nix::unistd::gettid().as_raw();
    let pid = nix::unistd::getpid().as_raw();
    let ppid = nix::unistd::getppid().as_raw();
    let read: Vec<u64> = (0..SLOTS).map(|i| slot(&ebpf, i)).collect();
    println!("read {read:?}; tid {tid}, pid {pid}, ppid {ppid}, cpu time {before}..{after} ns");
    assert_eq!(
        read[0],
        u64::try_from(tid).unwrap(),
        "task->pid is the thread id"
    );
    assert_eq!(
        read[1],
        u64::try_from(pid).unwrap(),
        "task->tgid is the process id"
    );
    assert_eq!(
        read[2],
        u64::try_from(ppid).unwrap(),
        "task->real_parent->tgid"
    );
    assert!(
        before > 0 && (before..=after).contains(&read[3]),
        "task->se.sum_exec_runtime {} not within {before}..={after}",
        read[3]
    );
}
