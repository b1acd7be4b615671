//! The probes of this host: tracefs found (mounted if need be), its
//! syscall tracepoints named as DTrace names them, their record layouts
//! read. Needs root, as CI runs it.

use basalt_dtrace::probes::{self, Attach, tracefs};

#[test]
fn this_host_s_syscalls_sched_and_proc_probes_are_listed() {
    assert!(
        is_root(),
        "this test needs root: tracefs is root's (run it as root, as CI does)"
    );
    let root = tracefs::root().expect("tracefs");
    let tps = tracefs::tracepoints(&root).unwrap();
    let all = probes::catalog(&tps);
    let find = |pr: &str, f: &str, n: &str| {
        all.iter()
            .find(|p| probes::matches(p, pr, "", f, n))
            .unwrap_or_else(|| panic!("no {pr}::{f}:{n} on this host"))
    };
    let openat = find("syscall", "openat", "entry");
    let Attach::Tracepoint { category, name } = &openat.attach else {
        panic!("{openat:?}");
    };
    let format = tracefs::format_of(&root, category, name).unwrap();
    assert!(format.id > 0);
    assert!(
        format
            .fields
            .iter()
            .any(|f| f.name == "filename" && f.ty.contains("char *")),
        "{format:?}"
    );
    find("syscall", "read", "return");
    find("proc", "", "exec-success");
    find("sched", "", "on-cpu");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1).map(|e| e == "0"))
        .unwrap_or(false)
}
