//! Host test: a zone's confinement applied for real, on a thread of this
//! test (capability sets and seccomp filters are per thread in Linux) and
//! checked from there and from processes that thread starts, which inherit
//! both as the zone's init would. Needs root and a C compiler (`cc`, for
//! the probe that makes raw and 32-bit system calls); fails, never skips,
//! without them.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use basalt_zone::security::{
    DeniedSyscall, Refusal, ZONE_CAPABILITIES, bound_capabilities, denied_syscalls,
    install_seccomp, seccomp_filter,
};
use caps::{CapSet, Capability};
use nix::errno::Errno;

fn assert_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the zone security host tests need root (CI runs as root)"
    );
}

/// Builds the probe (tests/probe/syscall_probe.c) into `dir`.
fn build_probe(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/probe/syscall_probe.c");
    let binary = dir.join("syscall_probe");
    let out = Command::new("cc")
        .arg("-O0")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .output()
        .unwrap_or_else(|e| panic!("the host test needs a C compiler as `cc`: {e}"));
    assert!(
        out.status.success(),
        "cc failed to build {}: {}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}

/// Arguments with which each denied call fails, or does nothing, on the
/// host should the filter let it through.
fn harmless_args(name: &str) -> [i64; 6] {
    const BAD: i64 = 0xffff_ffff;
    match name {
        // Invalid flags.
        "kexec_load" => [0, 0, 0, BAD, 0, 0],
        "kexec_file_load" => [-1, -1, 0, 0, BAD, 0],
        "finit_module" => [-1, 0, BAD, 0, 0, 0],
        // An empty module image.
        "init_module" => [0, 0, 0, 0, 0, 0],
        // Null or invalid pointers.
        "delete_module" | "swapon" | "swapoff" | "adjtimex" | "perf_event_open" => [0; 6],
        "add_key" | "request_key" => [0; 6],
        "open_by_handle_at" => [-1, 0, 0, 0, 0, 0],
        "acct" => [1, 0, 0, 0, 0, 0],
        // Invalid commands, clocks, levels.
        "bpf" => [BAD, 0, 0, 0, 0, 0],
        "keyctl" => [0xffff, 0, 0, 0, 0, 0],
        "clock_settime" | "clock_adjtime" => [0x7fff, 0, 0, 0, 0, 0],
        "quotactl" => [BAD, 0, 0, 0, 0, 0],
        "quotactl_fd" => [-1, BAD, 0, 0, 0, 0],
        "userfaultfd" => [BAD, 0, 0, 0, 0, 0],
        "iopl" => [4, 0, 0, 0, 0, 0],
        "ioperm" => [BAD, 1, 0, 0, 0, 0],
        // Both null: succeeds and changes nothing.
        "settimeofday" => [0; 6],
        // Removed from Linux 6.8.
        "lookup_dcookie" => [0; 6],
        other => panic!("no harmless arguments for {other}: add them here"),
    }
}

struct Probe {
    name: &'static str,
    nr: i64,
    x32: bool,
    refusal: Refusal,
}

fn probes() -> Vec<Probe> {
    let mut all = Vec::new();
    for DeniedSyscall {
        name,
        nr,
        x32_nr,
        refusal,
    } in denied_syscalls()
    {
        all.push(Probe {
            name,
            nr,
            x32: false,
            refusal,
        });
        if let Some(nr) = x32_nr {
            all.push(Probe {
                name,
                nr,
                x32: true,
                refusal,
            });
        }
    }
    all
}

/// Runs every probe call in one process; errno by call number.
fn run_probe(binary: &Path, probes: &[Probe]) -> HashMap<i64, i32> {
    let mut cmd = Command::new(binary);
    for p in probes {
        cmd.arg(p.nr.to_string());
        cmd.args(harmless_args(p.name).map(|a| a.to_string()));
    }
    let out = cmd.output().expect("failed to run the probe");
    assert!(out.status.success(), "probe failed: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let f: Vec<i64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
            (f[0], i32::try_from(f[2]).unwrap())
        })
        .collect()
}

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(":"))
        .unwrap_or_else(|| panic!("{key} missing from /proc/self/status"))
        .trim()
        .to_string()
}

fn child_status() -> String {
    let Output { status, stdout, .. } = Command::new("cat")
        .arg("/proc/self/status")
        .output()
        .expect("failed to run cat");
    assert!(status.success());
    String::from_utf8(stdout).unwrap()
}

#[test]
fn the_filter_refuses_what_a_zone_must_never_do() {
    assert_root();
    let dir = tempfile::tempdir().unwrap();
    let binary = build_probe(dir.path());
    let calls = probes();
    let unfiltered = run_probe(&binary, &calls);
    let filters_before: u32 = status_field(&child_status(), "Seccomp_filters")
        .parse()
        .unwrap();

    let filter = seccomp_filter().unwrap();
    let (filtered, status, i386) = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                install_seccomp(&filter).unwrap();
                ordinary_calls_still_work();
                denied_calls_with_safe_wrappers_fail();
                let i386 = Command::new(&binary).arg("i386-getpid").output().unwrap();
                (run_probe(&binary, &calls), child_status(), i386)
            })
            .join()
            .unwrap()
    });

    for p in &calls {
        let abi = if p.x32 { "x32 " } else { "" };
        let expected = p.refusal.errno();
        assert_eq!(
            filtered[&p.nr],
            expected,
            "{abi}{} ({}) gave {} under the filter",
            p.name,
            p.nr,
            Errno::from_raw(filtered[&p.nr])
        );
        // Where the kernel alone answers the same, this run cannot tell the
        // filter from the kernel: only for x32 keyring calls on a kernel
        // without x32, which answers ENOSYS to every x32 call.
        let inconclusive = p.x32 && p.refusal == Refusal::NotImplemented;
        assert!(
            unfiltered[&p.nr] != expected || inconclusive,
            "the kernel itself answers {} to {abi}{}: choose other harmless arguments",
            Errno::from_raw(expected),
            p.name
        );
    }

    assert_eq!(status_field(&status, "Seccomp"), "2");
    assert_eq!(
        status_field(&status, "Seccomp_filters"),
        (filters_before + 2).to_string()
    );
    // Installed without no_new_privs, so setuid programs still work.
    assert_eq!(status_field(&status, "NoNewPrivs"), "0");

    foreign_abi_is_killed(&binary, &i386);
}

fn ordinary_calls_still_work() {
    assert_eq!(
        nix::unistd::getpid().as_raw(),
        i32::try_from(std::process::id()).unwrap()
    );
    std::fs::File::open("/dev/null").expect("open of /dev/null under the filter");
    let out = Command::new("true")
        .output()
        .expect("exec under the filter");
    assert!(out.status.success());
}

fn denied_calls_with_safe_wrappers_fail() {
    use nix::kmod::{DeleteModuleFlags, delete_module, init_module};
    use nix::sys::time::TimeSpec;
    use nix::time::{ClockId, clock_settime};

    // An invalid clock: the kernel alone would answer EINVAL.
    let clock = ClockId::from_raw(0x7fff);
    assert_eq!(clock_settime(clock, TimeSpec::new(0, 0)), Err(Errno::EPERM));
    assert_eq!(init_module(&[], c""), Err(Errno::EPERM));
    let flags = DeleteModuleFlags::O_NONBLOCK;
    assert_eq!(
        delete_module(c"basalt_no_such_module", flags),
        Err(Errno::EPERM)
    );
    // keyctl has no safe wrapper in nix or rustix: the probe checks it.
}

#[cfg(target_arch = "x86_64")]
fn foreign_abi_is_killed(binary: &Path, filtered: &Output) {
    let unfiltered = Command::new(binary).arg("i386-getpid").output().unwrap();
    assert!(
        unfiltered.status.success(),
        "32-bit calls (int 0x80) do not work on this kernel even without the filter \
         (ia32 emulation off?), so the arch check cannot be seen: {unfiltered:?}"
    );
    assert_eq!(
        filtered.status.signal(),
        Some(nix::libc::SIGSYS),
        "a 32-bit call under the filter must kill the caller: {filtered:?}"
    );
}

#[cfg(not(target_arch = "x86_64"))]
fn foreign_abi_is_killed(_binary: &Path, _filtered: &Output) {
    // AArch32 calls need a 32-bit binary; the unit tests check the
    // program's arch check instead.
}

fn mask(caps: impl IntoIterator<Item = Capability>) -> u64 {
    caps.into_iter().map(|c| c.bitmask()).fold(0, |a, b| a | b)
}

#[test]
fn an_exec_after_bounding_holds_only_zone_capabilities() {
    assert_root();
    let (before, status) = std::thread::spawn(|| {
        let before = caps::read(None, CapSet::Bounding).unwrap();
        assert!(
            before.contains(&Capability::CAP_SYS_MODULE) && before.contains(&Capability::CAP_CHOWN),
            "the test's bounding set lacks CAP_SYS_MODULE or CAP_CHOWN to begin with: {before:?}"
        );
        bound_capabilities().unwrap();
        let bounding = |c| caps::has_cap(None, CapSet::Bounding, c).unwrap();
        assert!(!bounding(Capability::CAP_SYS_MODULE));
        assert!(!bounding(Capability::CAP_SYS_TIME));
        assert!(bounding(Capability::CAP_CHOWN));
        assert!(bounding(Capability::CAP_SYS_ADMIN));
        for set in [CapSet::Effective, CapSet::Permitted, CapSet::Inheritable] {
            let held = caps::read(None, set).unwrap();
            assert!(
                held.iter().all(|c| ZONE_CAPABILITIES.contains(c)),
                "{set:?} still holds {held:?}"
            );
        }
        (before, child_status())
    })
    .join()
    .unwrap();

    let kept = mask(before.into_iter().filter(|c| ZONE_CAPABILITIES.contains(c)));
    let field = |key| u64::from_str_radix(&status_field(&status, key), 16).unwrap();
    assert_eq!(field("CapBnd"), kept, "bounding set of an exec'd child");
    // Root execs with permitted = bounding (no inheritable, no file caps).
    assert_eq!(field("CapPrm"), kept, "permitted set of an exec'd child");
    assert_eq!(field("CapEff"), kept, "effective set of an exec'd child");
    assert_eq!(field("CapAmb") & !kept, 0, "ambient set of an exec'd child");
    assert_eq!(
        field("CapInh") & !kept,
        0,
        "inheritable set of an exec'd child"
    );
}
