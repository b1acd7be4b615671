//! Host test: an instance's cgroup made, written with a plan, changed live,
//! enforcing `pids.max` on a real process, and removed — on this host's
//! real cgroup layout. Needs root; fails (never skips) without it.

use std::path::Path;
use std::process::Command;

use basalt_zone::cgroup::{Backend, Cgroups, Limits, plan, plan_update};

struct Group {
    cgroups: Cgroups,
    name: String,
}

impl Drop for Group {
    fn drop(&mut self) {
        let _ = self.cgroups.remove(&self.name);
        let _ = self.cgroups.remove_parent();
    }
}

fn limits() -> Limits {
    Limits {
        memory_mib: 256,
        swap_mib: 512,
        cpu_cap: Some(50),
        cpu_shares: 100,
        max_lwps: 2000,
        io_priority: 100,
    }
}

#[test]
fn a_plan_applied_to_a_real_cgroup() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "cgroup host tests need root (CI runs as root)"
    );
    let parent = format!("basalt-test-{}", std::process::id());
    let cgroups = Cgroups::detect(Path::new("/sys/fs/cgroup"), &parent).unwrap();
    let g = Group {
        cgroups: cgroups.clone(),
        name: "zone1".into(),
    };
    cgroups.create(&g.name).unwrap();
    let settings = plan(&limits(), cgroups.backend());
    let skipped = cgroups.apply(&g.name, &settings).unwrap();
    let (mem, cpu) = match cgroups.backend() {
        Backend::V1 => (
            ("memory", "memory.limit_in_bytes"),
            ("cpu", "cpu.cfs_quota_us"),
        ),
        Backend::V2 => (("", "memory.max"), ("", "cpu.max")),
    };
    assert_eq!(cgroups.read(&g.name, mem.0, mem.1).unwrap(), "268435456");
    let quota = cgroups.read(&g.name, cpu.0, cpu.1).unwrap();
    assert!(quota.starts_with("50000"), "{quota}");
    assert!(skipped.iter().all(|s| s.optional));

    let bigger = Limits {
        memory_mib: 1024,
        swap_mib: 2048,
        max_lwps: 3,
        ..limits()
    };
    cgroups
        .apply(&g.name, &plan_update(&limits(), &bigger, cgroups.backend()))
        .unwrap();
    assert_eq!(cgroups.read(&g.name, mem.0, mem.1).unwrap(), "1073741824");

    // pids.max holds: a shell in the group cannot start a fourth process.
    let pids_dir = cgroups.dir("pids", &g.name);
    let script = format!(
        "echo $$ > {}/cgroup.procs && (sleep 0.2 & sleep 0.2 & sleep 0.2 & sleep 0.2 & wait) 2>&1; echo done",
        pids_dir.display()
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fork") || text.contains("Resource temporarily unavailable"),
        "{text}"
    );
    // The group empties as the last processes are reaped; give it up to
    // two seconds.
    let mut removed = cgroups.remove(&g.name);
    for _ in 0..20 {
        if removed.is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        removed = cgroups.remove(&g.name);
    }
    removed.unwrap();
    assert!(!cgroups.dir("memory", &g.name).exists());
}
