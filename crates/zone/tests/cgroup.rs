//! Host tests on this host's real cgroup layout: an instance's cgroup made,
//! written with a plan, changed live, enforcing `pids.max` on a real
//! process and removed; delegated to a zone's root, which makes its own
//! groups under it; and seen from inside a user and cgroup namespace
//! through the zone's mounts. Need root; fail (never skip) without it.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use basalt_zone::cgroup::{Backend, CgroupError, Cgroups, Limits, plan, plan_update};
use nix::unistd::{Gid, Uid};

/// The host uid a zone's root is mapped to in these tests.
const ZONE_ROOT: u32 = 1_000_000;

/// One zone's group under a parent group of its own test, removed with
/// the parent on drop (its process killed first), whatever the test did.
struct Zone {
    cgroups: Cgroups,
    name: String,
    child: Option<Child>,
}

impl Zone {
    fn new(test: &str) -> Zone {
        assert!(
            nix::unistd::geteuid().is_root(),
            "cgroup host tests need root (CI runs as root)"
        );
        let parent = format!("basalt-test-{}-{test}", std::process::id());
        Zone {
            cgroups: Cgroups::detect(Path::new("/sys/fs/cgroup"), &parent).unwrap(),
            name: "zone1".into(),
            child: None,
        }
    }

    /// The parent group's directory in every hierarchy.
    fn parents(&self) -> Vec<PathBuf> {
        let dirs = self.cgroups.dirs(&self.name);
        dirs.iter()
            .map(|d| d.parent().unwrap().to_owned())
            .collect()
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Zone {
    fn drop(&mut self) {
        self.kill();
        if let Ok(pids) = self.cgroups.pids(&self.name)
            && !pids.is_empty()
        {
            let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
            let _ = Command::new("kill").arg("-9").args(pids).status();
        }
        let _ = remove_when_empty(&self.cgroups, &self.name);
        let _ = self.cgroups.remove_parent();
    }
}

/// Removes a group whose last processes may still be on their way out;
/// gives them up to two seconds.
fn remove_when_empty(cgroups: &Cgroups, name: &str) -> Result<(), CgroupError> {
    let mut removed = cgroups.remove(name);
    for _ in 0..20 {
        if removed.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        removed = cgroups.remove(name);
    }
    removed
}

/// Removes the zone's group and its parent and checks that nothing of the
/// test's is left in any hierarchy.
fn remove_all(z: &Zone) {
    let parents = z.parents();
    remove_when_empty(&z.cgroups, &z.name).unwrap();
    z.cgroups.remove(&z.name).unwrap(); // already gone is fine
    z.cgroups.remove_parent().unwrap();
    for p in parents {
        assert!(!p.exists(), "{} is left", p.display());
    }
}

fn owner(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .uid()
}

/// A memory limit file, in the zone's group.
fn limit_file(cgroups: &Cgroups, name: &str) -> PathBuf {
    match cgroups.backend() {
        Backend::V1 => cgroups.dir("memory", name).join("memory.limit_in_bytes"),
        Backend::V2 => cgroups.dir("", name).join("memory.max"),
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
    let z = Zone::new("plan");
    let cgroups = &z.cgroups;
    cgroups.create(&z.name).unwrap();
    let settings = plan(&limits(), cgroups.backend());
    let skipped = cgroups.apply(&z.name, &settings).unwrap();
    let (mem, cpu) = match cgroups.backend() {
        Backend::V1 => (
            ("memory", "memory.limit_in_bytes"),
            ("cpu", "cpu.cfs_quota_us"),
        ),
        Backend::V2 => (("", "memory.max"), ("", "cpu.max")),
    };
    assert_eq!(cgroups.read(&z.name, mem.0, mem.1).unwrap(), "268435456");
    let quota = cgroups.read(&z.name, cpu.0, cpu.1).unwrap();
    assert!(quota.starts_with("50000"), "{quota}");
    assert!(skipped.iter().all(|s| s.optional));

    let bigger = Limits {
        memory_mib: 1024,
        swap_mib: 2048,
        max_lwps: 3,
        ..limits()
    };
    cgroups
        .apply(&z.name, &plan_update(&limits(), &bigger, cgroups.backend()))
        .unwrap();
    assert_eq!(cgroups.read(&z.name, mem.0, mem.1).unwrap(), "1073741824");

    // pids.max holds: a shell in the group cannot start a fourth process.
    let pids_dir = cgroups.dir("pids", &z.name);
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
    remove_all(&z);
}

/// As a zone's init would, as the zone's root: in each of its groups, make
/// a group two levels down and move itself there, then sleep.
const NEST: &str = r#"
read go || exit 1
for d in "$@"; do
    mkdir -p "$d/system.slice/demo.service" || exit 1
    echo $$ > "$d/system.slice/demo.service/cgroup.procs" || exit 1
done
echo ready
exec sleep 5
"#;

/// Spawns `sh -c script` as the zone's root, waiting on stdin.
fn spawn_as_zone_root(script: &str, args: &[PathBuf]) -> Child {
    Command::new("sh")
        .args(["-c", script, "sh"])
        .args(args)
        .current_dir("/")
        .uid(ZONE_ROOT)
        .gid(ZONE_ROOT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn delegated_zone(test: &str) -> Zone {
    let z = Zone::new(test);
    z.cgroups.create(&z.name).unwrap();
    let (uid, gid) = (Uid::from_raw(ZONE_ROOT), Gid::from_raw(ZONE_ROOT));
    z.cgroups.delegate(&z.name, uid, gid).unwrap();
    z
}

#[test]
fn a_delegated_group_holds_the_groups_its_zone_makes() {
    let mut z = delegated_zone("delegate");
    let cg = z.cgroups.clone();
    let dirs = cg.dirs(&z.name);
    assert_eq!(dirs.len(), cg.hierarchies().len());
    for d in &dirs {
        assert_eq!(owner(d), ZONE_ROOT, "{}", d.display());
        assert_eq!(owner(&d.join("cgroup.procs")), ZONE_ROOT, "{}", d.display());
    }
    assert_eq!(owner(&limit_file(&cg, &z.name)), 0, "a limit stays root's");

    let mut child = spawn_as_zone_root(NEST, &dirs);
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    z.child = Some(child);
    cg.attach(&z.name, pid).unwrap();
    assert_eq!(cg.pids(&z.name).unwrap(), [pid]);

    writeln!(stdin, "go").unwrap();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    if line.trim() != "ready" {
        let out = z.child.take().unwrap().wait_with_output().unwrap();
        panic!(
            "the zone's root could not make its own groups: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let nested = cg.dir("pids", &z.name).join("system.slice/demo.service");
    let procs = fs::read_to_string(nested.join("cgroup.procs")).unwrap();
    assert_eq!(procs.trim(), pid.to_string());
    assert_eq!(cg.pids(&z.name).unwrap(), [pid], "found two levels down");

    match cg.remove(&z.name) {
        Err(CgroupError::Occupied { pids, .. }) => assert_eq!(pids, [pid]),
        other => panic!("removed with a process in it: {other:?}"),
    }
    assert!(nested.exists(), "a refused removal removes nothing");

    z.kill();
    assert_eq!(cg.pids(&z.name).unwrap(), [0u32; 0]);
    remove_all(&z);
    assert_eq!(
        cg.pids(&z.name).unwrap(),
        [0u32; 0],
        "a gone group is empty"
    );
}

/// Runs as the zone's root: waits to be attached, then enters a user
/// namespace mapping it to root, a cgroup namespace rooted at the zone's
/// group and a mount namespace; mounts the zone's cgroup tree at `$1`
/// (triples of target, fstype, data follow), makes `init.scope` in every
/// hierarchy and moves itself there, and tries to raise the limit `$2`.
const INSIDE: &str = r#"
read go || exit 1
exec unshare --user --map-root-user --cgroup --mount --propagation private sh -e -c '
cd "$1"; limit=$2; shift 2
while [ $# -gt 0 ]; do
    mkdir -p "$1"
    mount -t "$2" -o "nosuid,nodev,noexec${3:+,$3}" "$2" "$1"
    shift 3
done
for d in sys/fs/cgroup/*/ sys/fs/cgroup/; do
    [ -e "$d/cgroup.procs" ] || continue
    mkdir "$d/init.scope"
    echo $$ > "$d/init.scope/cgroup.procs"
done
cat /proc/self/cgroup
if echo 1 > "$limit"; then echo limit-raised; else echo limit-refused; fi
' sh "$@"
"#;

#[test]
fn a_zone_sees_only_its_own_group_through_its_mounts() {
    let mut z = delegated_zone("inside");
    let cg = z.cgroups.clone();
    let root = tempfile::tempdir().unwrap();
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir_all(root.path().join("sys/fs/cgroup")).unwrap();
    let mounts = cg.zone_mounts();
    let limit = match cg.backend() {
        Backend::V1 => "sys/fs/cgroup/memory/memory.limit_in_bytes",
        Backend::V2 => "sys/fs/cgroup/memory.max",
    };
    let mut args = vec![root.path().to_owned(), limit.into()];
    for m in &mounts {
        args.extend([m.target.clone(), m.fstype.into(), m.data.clone().into()]);
    }

    let mut child = spawn_as_zone_root(INSIDE, &args);
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    z.child = Some(child);
    cg.attach(&z.name, pid).unwrap();
    writeln!(stdin, "go").unwrap();
    drop(stdin);
    let out = z.child.take().unwrap().wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{mounts:?}\n{text}\n{err}");

    // One line per hierarchy, each at init.scope under the zone's root.
    let lines: Vec<&str> = text.lines().filter(|l| l.contains(':')).collect();
    assert_eq!(lines.len(), cg.hierarchies().len(), "{text}");
    for l in &lines {
        assert!(l.ends_with(":/init.scope"), "{text}");
    }
    assert!(text.contains("limit-refused"), "{text}\n{err}");
    assert_eq!(owner(&limit_file(&cg, &z.name)), 0);
    remove_all(&z);
}
