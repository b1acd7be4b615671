//! Zones that really run: vmadm's lifecycle on the minimal image, in a
//! relocated root with its own pool, as root. Every test deletes what it
//! made, even when it fails (the `Zones` guard).

mod common;

use std::path::Path;

use common::images::minimal_image;
use common::{Root, Run};
use serde_json::Value;

const MINIMAL: &str = "274bb020-dded-4b53-a848-94609d9dc815";

/// A root with the minimal image installed; deletes every instance when
/// dropped (before the root unmounts its pool).
struct Zones {
    root: Root,
}

impl Zones {
    fn new(test: &str) -> Zones {
        let root = Root::new(test);
        let (manifest, file) = minimal_image();
        let r = root.run(
            env!("CARGO_BIN_EXE_imgadm"),
            &[
                "install",
                "-m",
                manifest.to_str().unwrap(),
                "-f",
                file.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        Zones { root }
    }

    fn vmadm(&self, args: &[&str]) -> Run {
        self.root.run(env!("CARGO_BIN_EXE_vmadm"), args)
    }

    fn vmadm_stdin(&self, args: &[&str], stdin: &str) -> Run {
        use std::io::Write;
        let mut child = self
            .root
            .command(env!("CARGO_BIN_EXE_vmadm"))
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        Run {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }

    fn zlogin(&self, uuid: &str, command: &str) -> Run {
        self.root
            .run(env!("CARGO_BIN_EXE_zlogin"), &[uuid, command])
    }

    /// Creates a minimal zone with `extra` properties; returns its uuid.
    fn create(&self, extra: &str) -> String {
        let payload = format!(
            r#"{{"brand": "joyent-minimal", "image_uuid": "{MINIMAL}", "max_physical_memory": 128 {extra}}}"#
        );
        let r = self.vmadm_stdin(&["create"], &payload);
        assert_eq!(r.code, 0, "create: {}", r.stderr);
        r.stderr
            .strip_prefix("Successfully created VM ")
            .unwrap_or_else(|| panic!("create said {:?}", r.stderr))
            .trim()
            .to_owned()
    }

    fn get(&self, uuid: &str) -> Value {
        let r = self.vmadm(&["get", uuid]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap()
    }

    fn state(&self, uuid: &str) -> String {
        self.get(uuid)["state"].as_str().unwrap().to_owned()
    }

    fn path(&self) -> &Path {
        self.root.path()
    }
}

impl Drop for Zones {
    fn drop(&mut self) {
        let r = self.vmadm(&["list", "-H", "-o", "uuid"]);
        for uuid in r.stdout.lines() {
            let _ = self.vmadm(&["delete", uuid]);
        }
    }
}

fn host_uid_of(pid: u64) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

fn cgroup_exists(uuid: &str) -> bool {
    ["memory", "pids", "cpu", "unified", ""].iter().any(|h| {
        Path::new("/sys/fs/cgroup")
            .join(h)
            .join("basalt")
            .join(uuid)
            .exists()
    })
}

#[test]
fn a_minimal_zone_runs_isolated_and_follows_the_lifecycle() {
    let z = Zones::new("zone-lifecycle");
    let uuid = z.create(r#", "hostname": "web01", "alias": "web""#);
    let vm = z.get(&uuid);
    assert_eq!(vm["state"], "running");
    assert_eq!(vm["zone_state"], "running");
    let pid = vm["pid"].as_u64().expect("a running zone has a pid");

    // Root inside, an unprivileged range outside.
    let r = z.zlogin(&uuid, "id -u");
    assert_eq!((r.code, r.stdout.as_str()), (0, "0\n"), "{}", r.stderr);
    assert!(
        host_uid_of(pid) >= 1 << 20,
        "init runs as host uid {}",
        host_uid_of(pid)
    );

    // Its own hostname, processes and file system.
    assert_eq!(z.zlogin(&uuid, "hostname").stdout, "web01\n");
    let procs = z.zlogin(&uuid, "ls /proc | grep -c '^[0-9]'").stdout;
    let n: u32 = procs.trim().parse().unwrap();
    assert!(n < 10, "the zone sees {n} processes");
    let r = z.zlogin(
        &uuid,
        "cat /etc/os-release; ls /zones 2>&1; ls /var/basalt 2>&1",
    );
    assert!(r.stdout.contains("basalt minimal"), "{}", r.stdout);
    assert!(!r.stdout.contains("zones.btrfs"));

    // The command's exit status comes through.
    assert_eq!(z.zlogin(&uuid, "exit 7").code, 7);

    // start of a running zone, stop, stop of a stopped zone, start.
    let r = z.vmadm(&["start", &uuid]);
    assert_eq!(
        (r.code, r.stderr.clone()),
        (0, format!("VM {uuid} is already 'running'\n"))
    );
    let r = z.vmadm(&["stop", &uuid]);
    assert_eq!(
        (r.code, r.stderr.clone()),
        (0, format!("Successfully completed stop for VM {uuid}\n"))
    );
    assert_eq!(z.state(&uuid), "stopped");
    assert_eq!(z.get(&uuid)["autoboot"], false);
    assert!(!cgroup_exists(&uuid), "a stopped zone has no cgroup");
    let r = z.zlogin(&uuid, "true");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("running zones"), "{}", r.stderr);
    let r = z.vmadm(&["stop", &uuid]);
    assert_eq!(
        (r.code, r.stderr.clone()),
        (
            0,
            format!("VM {uuid} is already not 'running' (currently: stopped)\n")
        )
    );
    let r = z.vmadm(&["start", &uuid]);
    assert_eq!(
        (r.code, r.stderr.clone()),
        (0, format!("Successfully started VM {uuid}\n"))
    );
    assert_eq!(z.get(&uuid)["autoboot"], true);

    // reboot gives a new init.
    let before = z.get(&uuid)["pid"].clone();
    let r = z.vmadm(&["reboot", &uuid]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let after = z.get(&uuid);
    assert_eq!(after["state"], "running");
    assert_ne!(after["pid"], before);

    // The init killed from the host: the zone is stopped and says how.
    let r = z.vmadm(&["kill", "-s", "KILL", &uuid]);
    assert_eq!(
        (r.code, r.stderr.clone()),
        (
            0,
            format!("Sent signal \"KILL\" to init process for VM {uuid}\n")
        )
    );
    let mut state = String::new();
    for _ in 0..100 {
        state = z.state(&uuid);
        if state == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(state, "stopped");
    assert_eq!(z.get(&uuid)["exit_status"], 137);

    // delete leaves nothing: dataset, cgroups, runtime files, configuration.
    z.vmadm(&["start", &uuid]);
    let r = z.vmadm(&["delete", &uuid]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!z.path().join("zones").join(&uuid).exists());
    assert!(!cgroup_exists(&uuid));
    let run = z.path().join("var/basalt/run");
    let left: Vec<_> = std::fs::read_dir(&run)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.iter().all(|n| !n.to_string_lossy().contains(&uuid)),
        "{left:?}"
    );
    assert_eq!(z.vmadm(&["list", "-H"]).stdout, "");
}

#[test]
fn a_create_with_a_missing_image_is_refused_and_leaves_nothing() {
    let z = Zones::new("zone-bad-image");
    let r = z.vmadm_stdin(
        &["create"],
        r#"{"brand": "joyent-minimal", "image_uuid": "00000000-1111-4222-8333-444444444444"}"#,
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Invalid value(s) for: image_uuid\n")
    );
    let r = z.vmadm_stdin(
        &["create"],
        &format!(r#"{{"brand": "lx", "kernel_version": "6.1.0", "image_uuid": "{MINIMAL}"}}"#),
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Invalid value(s) for: image_uuid\n"),
        "a zone-dataset image is not for lx"
    );
    assert_eq!(z.vmadm(&["list", "-H"]).stdout, "");
}

#[test]
fn parallel_creates_of_one_image_all_run() {
    let z = Zones::new("zone-parallel");
    let children: Vec<_> = (0..20)
        .map(|i| {
            use std::io::Write;
            let mut c = z
                .root
                .command(env!("CARGO_BIN_EXE_vmadm"))
                .arg("create")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let payload = format!(
                r#"{{"brand": "joyent-minimal", "image_uuid": "{MINIMAL}", "alias": "p{i}", "max_physical_memory": 64}}"#
            );
            c.stdin.take().unwrap().write_all(payload.as_bytes()).unwrap();
            c
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = z.vmadm(&["list", "-H", "-o", "state"]).stdout;
    assert_eq!(listed.lines().count(), 20);
    assert!(listed.lines().all(|s| s == "running"), "{listed}");
    let listed = z.vmadm(&["list", "-H", "-o", "uuid"]).stdout;
    let mut bases = std::collections::BTreeSet::new();
    for uuid in listed.lines() {
        let pid = z.get(uuid)["pid"].as_u64().unwrap();
        bases.insert(host_uid_of(pid));
    }
    assert_eq!(bases.len(), 20, "every zone has its own id range");
}
