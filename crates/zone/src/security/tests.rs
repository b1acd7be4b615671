use std::collections::HashSet;

use caps::Capability as C;
use nix::libc;
use seccompiler::sock_filter;

use super::*;

#[test]
fn the_capability_lists_are_disjoint_and_cover_every_capability() {
    let allowed: HashSet<_> = ZONE_CAPABILITIES.iter().copied().collect();
    let denied: HashSet<_> = DENIED_CAPABILITIES.iter().copied().collect();
    assert_eq!(allowed.len(), ZONE_CAPABILITIES.len(), "a duplicate");
    assert_eq!(denied.len(), DENIED_CAPABILITIES.len(), "a duplicate");
    assert!(allowed.is_disjoint(&denied));
    let union: HashSet<_> = allowed.union(&denied).copied().collect();
    assert_eq!(union, caps::all(), "every capability is decided");
}

#[test]
fn what_acts_on_the_host_is_denied() {
    for cap in [
        C::CAP_SYS_MODULE,
        C::CAP_SYS_RAWIO,
        C::CAP_SYS_TIME,
        C::CAP_MAC_ADMIN,
        C::CAP_MAC_OVERRIDE,
        C::CAP_WAKE_ALARM,
        C::CAP_BLOCK_SUSPEND,
        C::CAP_AUDIT_CONTROL,
        C::CAP_AUDIT_READ,
        C::CAP_BPF,
        C::CAP_PERFMON,
        C::CAP_SYS_PACCT,
        C::CAP_CHECKPOINT_RESTORE,
        C::CAP_SYSLOG,
    ] {
        assert!(DENIED_CAPABILITIES.contains(&cap), "{cap}");
    }
}

#[test]
fn what_a_full_init_needs_is_kept() {
    for cap in [
        C::CAP_SYS_ADMIN,
        C::CAP_SYS_BOOT,
        C::CAP_SETPCAP,
        C::CAP_SETUID,
        C::CAP_SETGID,
        C::CAP_NET_ADMIN,
        C::CAP_MKNOD,
        C::CAP_AUDIT_WRITE,
    ] {
        assert!(ZONE_CAPABILITIES.contains(&cap), "{cap}");
    }
}

#[test]
fn the_denied_calls_are_listed_once_each() {
    let denied = denied_syscalls();
    let names: HashSet<_> = denied.iter().map(|d| d.name).collect();
    assert_eq!(names.len(), denied.len());
    let numbers: HashSet<_> = denied
        .iter()
        .flat_map(|d| std::iter::once(d.nr).chain(d.x32_nr))
        .collect();
    let expected = denied.len() * if cfg!(target_arch = "x86_64") { 2 } else { 1 };
    assert_eq!(numbers.len(), expected, "two names share a number");
    for name in [
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "swapon",
        "swapoff",
        "bpf",
        "perf_event_open",
        "open_by_handle_at",
        "clock_settime",
        "clock_adjtime",
        "settimeofday",
        "adjtimex",
        "acct",
        "userfaultfd",
    ] {
        let d = denied.iter().find(|d| d.name == name).expect(name);
        assert_eq!(d.refusal, Refusal::NotPermitted, "{name}");
    }
    for name in ["keyctl", "add_key", "request_key"] {
        let d = denied.iter().find(|d| d.name == name).expect(name);
        assert_eq!(d.refusal, Refusal::NotImplemented, "{name}");
    }
}

// A reader of the classic BPF that seccompiler emits: loads of
// `seccomp_data.nr`, `.arch` and argument words, jumps on equality,
// unconditional jumps and returns. Anything else fails the test.
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_RET_K: u16 = 0x06;
const DATA_NR: u32 = 0;
const DATA_ARCH: u32 = 4;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

fn run(program: &[sock_filter], arch: u32, nr: i64, args: [u64; 6]) -> u32 {
    let nr = u32::try_from(nr).expect("call numbers fit in 32 bits");
    let mut acc = 0u32;
    let mut pc = 0usize;
    loop {
        let insn = program.get(pc).expect("the program ends in a return");
        pc += 1;
        match insn.code {
            BPF_LD_W_ABS => {
                acc = match insn.k {
                    DATA_NR => nr,
                    DATA_ARCH => arch,
                    // args[i] at 16 + 8 i, little-endian: low word first.
                    k @ 16..=63 if k % 4 == 0 => {
                        let arg = args[(k as usize - 16) / 8];
                        if k % 8 == 0 {
                            arg as u32
                        } else {
                            (arg >> 32) as u32
                        }
                    }
                    k => panic!("load of seccomp_data offset {k}"),
                }
            }
            BPF_JMP_JA => pc += insn.k as usize,
            BPF_JMP_JEQ_K => pc += usize::from(if acc == insn.k { insn.jt } else { insn.jf }),
            BPF_RET_K => return insn.k,
            code => panic!("instruction {code:#x} at {}", pc - 1),
        }
    }
}

/// The kernel's answer with both programs installed: the strictest action,
/// comparing action bits as signed numbers (kill is the most negative).
fn answer(filter: &ZoneFilter, arch: u32, nr: i64) -> u32 {
    answer_with(filter, arch, nr, [0; 6])
}

fn answer_with(filter: &ZoneFilter, arch: u32, nr: i64, args: [u64; 6]) -> u32 {
    let strictness = |ret: u32| (ret & 0xffff_0000) as i32;
    let a = run(&filter.refused, arch, nr, args);
    let b = run(&filter.absent, arch, nr, args);
    if strictness(b) < strictness(a) { b } else { a }
}

fn native_arch() -> (u32, u32) {
    if cfg!(target_arch = "x86_64") {
        (AUDIT_ARCH_X86_64, AUDIT_ARCH_I386)
    } else {
        (AUDIT_ARCH_AARCH64, AUDIT_ARCH_ARM)
    }
}

#[test]
fn the_filter_refuses_each_denied_call_with_its_errno() {
    let filter = seccomp_filter().unwrap();
    let (arch, _) = native_arch();
    for d in denied_syscalls() {
        let expected = libc::SECCOMP_RET_ERRNO | d.refusal.errno() as u32;
        assert_eq!(answer(&filter, arch, d.nr), expected, "{}", d.name);
        if let Some(x32) = d.x32_nr {
            assert_eq!(answer(&filter, arch, x32), expected, "x32 {}", d.name);
        }
    }
}

#[test]
fn the_filter_allows_everything_else() {
    let filter = seccomp_filter().unwrap();
    let (arch, _) = native_arch();
    for nr in [
        libc::SYS_getpid,
        libc::SYS_read,
        libc::SYS_openat,
        libc::SYS_mount,
        libc::SYS_reboot,
        libc::SYS_name_to_handle_at,
        libc::SYS_seccomp,
        libc::SYS_execve,
    ] {
        assert_eq!(answer(&filter, arch, nr), libc::SECCOMP_RET_ALLOW, "{nr}");
    }
}

#[test]
fn making_btrfs_subvolumes_is_refused_and_other_ioctls_are_not() {
    let filter = seccomp_filter().unwrap();
    let (arch, _) = native_arch();
    let eperm = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    for (name, request) in REFUSED_IOCTLS {
        let request = u64::from(request);
        let args = [3, request, 0, 0, 0, 0];
        assert_eq!(
            answer_with(&filter, arch, libc::SYS_ioctl, args),
            eperm,
            "{name}"
        );
        // The kernel reads the request as 32 bits: high bits change nothing.
        let args = [3, request | 1 << 32, 0, 0, 0, 0];
        assert_eq!(
            answer_with(&filter, arch, libc::SYS_ioctl, args),
            eperm,
            "{name}"
        );
    }
    let tcgets = [0, libc::TCGETS, 0, 0, 0, 0];
    assert_eq!(
        answer_with(&filter, arch, libc::SYS_ioctl, tcgets),
        libc::SECCOMP_RET_ALLOW
    );
}

#[test]
fn a_foreign_abi_kills_the_caller() {
    let filter = seccomp_filter().unwrap();
    let (_, foreign) = native_arch();
    // getpid and swapoff by their 32-bit numbers on both architectures' ABI.
    for nr in [20, 115, 0] {
        assert_eq!(
            answer(&filter, foreign, nr),
            libc::SECCOMP_RET_KILL_PROCESS,
            "{nr}"
        );
    }
}
