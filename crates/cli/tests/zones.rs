//! Zones that really run: vmadm's lifecycle on the minimal image, in a
//! relocated root with its own pool, as root. Every test deletes what it
//! made, even when it fails (the `Zones` guard).

mod common;

use std::path::Path;

use common::images::cached_image;
use common::zones::Zones;
use serde_json::Value;

const DEBIAN: &str = "d38f656a-e8da-43f6-a84e-fd0bd2447a82";

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
    assert!(!z.path().join("var/zonecontrol").join(&uuid).exists());
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
        &format!(
            r#"{{"brand": "lx", "kernel_version": "6.1.0", "image_uuid": "{}"}}"#,
            z.image
        ),
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Invalid value(s) for: image_uuid\n"),
        "a zone-dataset image is not for lx"
    );
    // An init that cannot run: the create fails and leaves nothing.
    let r = z.vmadm_stdin(
        &["create"],
        &format!(r#"{{"brand": "joyent-minimal", "image_uuid": "{}", "init_name": "/sbin/nonexistent"}}"#, z.image),
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("exec /sbin/nonexistent"), "{}", r.stderr);
    assert_eq!(z.vmadm(&["list", "-H"]).stdout, "");
    let top: Vec<_> = std::fs::read_dir(z.path().join("zones"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && *n != z.image)
        .collect();
    assert!(top.is_empty(), "left on the pool: {top:?}");
}

#[test]
fn parallel_creates_of_one_image_all_run() {
    let z = Zones::new("zone-parallel");
    let children: Vec<_> = (0..20)
        .map(|i| {
            z.root.spawn_create(&format!(
                r#"{{"brand": "joyent-minimal", "image_uuid": "{}", "alias": "p{i}", "max_physical_memory": 64}}"#,
                z.image
            ))
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

/// Polls `f` every 50 ms for up to `secs` seconds until it holds.
fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..secs * 20 {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

#[test]
fn a_debian_lx_zone_boots_systemd_and_stops_cleanly() {
    let z = Zones::new("zone-lx");
    z.install(cached_image("debian"));
    let r = z.vmadm_stdin(
        &["create"],
        &format!(
            r#"{{"brand": "lx", "kernel_version": "6.1.0", "image_uuid": "{DEBIAN}", "hostname": "deb1", "max_physical_memory": 512}}"#
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let uuid = r.stderr.trim().rsplit(' ').next().unwrap().to_owned();
    // systemd reaches its default target: `is-system-running --wait`
    // returns once start-up is over, with `running` (or `degraded` when a
    // unit failed, which is reported below).
    // Until systemd listens on its socket, systemctl cannot ask it.
    let mut r = z.zlogin(&uuid, "true");
    let up = eventually(60, || {
        r = z.zlogin(
            &uuid,
            "systemctl is-system-running --wait; systemctl --failed --no-legend",
        );
        !r.stderr.contains("Failed to connect to bus")
    });
    assert!(up, "systemd never answered: {}", r.stderr);
    assert_eq!(
        r.stdout.lines().next(),
        Some("running"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    assert_eq!(z.zlogin(&uuid, "hostname").stdout, "deb1\n");
    assert_eq!(z.zlogin(&uuid, "id -u").stdout, "0\n");
    let pid = z.get(&uuid)["pid"].as_u64().unwrap();
    assert!(host_uid_of(pid) >= 1 << 20);

    // A graceful stop: systemd powers off by itself, well within the
    // timeout, and the init's end is a clean one.
    let r = z.vmadm(&["stop", &uuid]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let vm = z.get(&uuid);
    assert_eq!(vm["state"], "stopped");
    assert_eq!(vm["exit_status"], 0, "systemd was not killed");
    let log = std::fs::read_to_string(z.path().join(format!("var/basalt/run/{uuid}.console.log")))
        .unwrap_or_default();
    assert!(
        log.contains("System Power Off") || log.contains("Power-Off"),
        "{log}"
    );
}

#[test]
fn limits_hold_and_change_live() {
    let z = Zones::new("zone-limits");
    let uuid = z.create(r#", "max_physical_memory": 64, "max_lwps": 30, "cpu_cap": 50"#);

    // A memory hog dies at max_physical_memory; the zone lives on.
    let r = z.zlogin(&uuid, "head -c 300m /dev/zero | tail > /dev/null; echo $?");
    assert_ne!(
        r.stdout.trim(),
        "0",
        "the hog was not stopped: {}",
        r.stderr
    );
    assert_eq!(z.state(&uuid), "running");
    let oom = std::fs::read_to_string(format!(
        "/sys/fs/cgroup/memory/basalt/{uuid}/memory.oom_control"
    ))
    .unwrap();
    assert!(
        oom.contains("oom_kill ") && !oom.contains("oom_kill 0"),
        "{oom}"
    );

    // A fork bomb stops at max_lwps (counted from the host: inside, even
    // `ls` cannot fork once the zone is at its limit).
    let pids = |f: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/pids/basalt/{uuid}/{f}")).unwrap()
    };
    let bomb = "i=0; while [ $i -lt 60 ]; do sleep 3 & i=$((i+1)); done 2>/dev/null; true";
    z.zlogin(&uuid, bomb);
    let n: u32 = pids("pids.current").trim().parse().unwrap();
    assert!(n <= 30, "{n} processes under max_lwps=30");
    assert!(
        !pids("pids.events").contains("max 0"),
        "the limit was never hit"
    );
    // Raised live, the same bomb gets further.
    let r = z.vmadm(&["update", &uuid, "max_lwps=100"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(pids("pids.max").trim(), "100");
    assert!(eventually(10, || pids("pids.current").trim() == "1"));
    z.zlogin(&uuid, bomb);
    let n: u32 = pids("pids.current").trim().parse().unwrap();
    assert!(n > 30, "only {n} processes after max_lwps=100");

    // cpu_cap=50 holds a busy loop near half a CPU: the CPU time the
    // zone's group used over two seconds of wall time, with wide bounds (a
    // loaded build machine may give it less; more means no cap).
    let host = |f: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{f}")).unwrap();
    assert_eq!(
        host(&format!("cpu/basalt/{uuid}/cpu.cfs_quota_us")).trim(),
        "50000"
    );
    let used = || -> f64 {
        host(&format!("cpuacct/basalt/{uuid}/cpuacct.usage"))
            .trim()
            .parse::<f64>()
            .unwrap()
            / 1e9
    };
    let (cpu0, wall0) = (used(), std::time::Instant::now());
    z.zlogin(&uuid, "timeout 2 sh -c 'while :; do :; done'");
    let share = (used() - cpu0) / wall0.elapsed().as_secs_f64();
    assert!(
        (0.2..=0.65).contains(&share),
        "the zone used {share:.2} of a CPU"
    );
    let throttled = host(&format!("cpu/basalt/{uuid}/cpu.stat"));
    assert!(!throttled.contains("nr_throttled 0"), "{throttled}");
    // Memory changes live, and the hog that died at 64 MiB now runs.
    let r = z.vmadm(&["update", &uuid, "max_physical_memory=512"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        host(&format!("memory/basalt/{uuid}/memory.limit_in_bytes")).trim(),
        (512u64 << 20).to_string()
    );
    let r = z.zlogin(&uuid, "head -c 100m /dev/zero | tail > /dev/null; echo $?");
    assert_eq!(r.stdout.trim(), "0", "{}", r.stderr);

    // tmpfs changes /tmp's size live.
    let r = z.vmadm(&["update", &uuid, "tmpfs=32"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let df = z.zlogin(&uuid, "df -k /tmp | tail -1").stdout;
    assert_eq!(df.split_whitespace().nth(1), Some("32768"), "{df}");

    // Raised live to 200, the cap is the new quota.
    let r = z.vmadm(&["update", &uuid, "cpu_cap=200"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let cap = z.root.run(
        "cat",
        &[&format!(
            "/sys/fs/cgroup/cpu/basalt/{uuid}/cpu.cfs_quota_us"
        )],
    );
    assert_eq!(cap.stdout.trim(), "200000");
}

#[test]
fn quota_stops_writes_with_edquot_and_changes_live() {
    // A pool larger than the quota, so that the quota stops the writes.
    let z = Zones::with_pool("zone-quota", "3G");
    let uuid = z.create(r#", "quota": 1"#);
    let r = z.zlogin(&uuid, "dd if=/dev/zero of=/big bs=1M count=1200 2>&1; sync");
    assert!(r.stdout.contains("Disk quota exceeded"), "{}", r.stdout);
    z.zlogin(&uuid, "rm -f /big; sync");
    let r = z.vmadm(&["update", &uuid, "quota=0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = z.zlogin(
        &uuid,
        "dd if=/dev/zero of=/big bs=1M count=1100 2>&1; echo rc=$?; rm -f /big",
    );
    assert!(r.stdout.contains("rc=0"), "{}", r.stdout);
}

#[test]
fn escape_attempts_fail() {
    let z = Zones::new("zone-escape");
    let a = z.create(r#", "alias": "a""#);
    let b = z.create(r#", "alias": "b""#);
    let b_pid = z.get(&b)["pid"].as_u64().unwrap();
    std::fs::write(
        z.path().join(format!("zones/{b}/root/root/secret")),
        "b's secret",
    )
    .unwrap();
    let sup = std::fs::read_to_string(z.path().join(format!("var/basalt/run/{a}.json"))).unwrap();
    let sup: Value = serde_json::from_str(&sup).unwrap();
    let sup_pid = sup["supervisor"]["pid"].as_u64().unwrap();
    let loop_dev = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.contains(&format!("{}/zones ", z.path().display())))
        .and_then(|l| l.split(" - ").nth(1))
        .and_then(|l| l.split(' ').nth(1))
        .unwrap()
        .to_owned();
    for (what, cmd) in [
        ("create a device node", "mknod /tmp/disk b 7 0".to_owned()),
        (
            "mount the host's pool device",
            format!("mkdir -p /mnt; mount {loop_dev} /mnt"),
        ),
        (
            "mount a new proc over /mnt",
            "mount -t sysfs sysfs /mnt && echo 1 > /mnt/kernel/mm/ksm/run".into(),
        ),
        (
            "write /proc/sys",
            "echo 3 > /proc/sys/vm/drop_caches".into(),
        ),
        ("write /sys", "echo 1 > /sys/kernel/mm/ksm/run".into()),
        (
            "load a module",
            "insmod /nonexistent.ko 2>&1 | grep -q 'not permitted' && false || modprobe -q dummy"
                .into(),
        ),
        (
            "read another zone's files",
            format!("cat /zones/{b}/root/root/secret || cat /proc/{b_pid}/root/root/secret"),
        ),
        ("signal a host process", format!("kill -0 {sup_pid}")),
        (
            "see the host's processes",
            format!("test -e /proc/{sup_pid}"),
        ),
        (
            "set the clock",
            "date -s 2001-01-01 && [ $(date +%Y) = 2001 ]".into(),
        ),
        ("reboot the host", "echo b > /proc/sysrq-trigger".into()),
    ] {
        let r = z.zlogin(&a, &cmd);
        assert_ne!(
            r.code, 0,
            "{what} succeeded: {cmd}\n{}{}",
            r.stdout, r.stderr
        );
    }
    assert_eq!(z.state(&a), "running");
    assert_eq!(z.state(&b), "running");

    // The init holds its console and nothing else of the host's; a
    // command run by zlogin holds pipes, not the caller's terminal or
    // anything else it had open.
    assert_eq!(z.zlogin(&a, "ls /proc/1/fd").stdout, "0\n1\n2\n");
    let r = z.zlogin(&a, "for f in /proc/$$/fd/*; do readlink $f; done");
    let fds: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(fds.len(), 3, "{}", r.stdout);
    assert!(fds.iter().all(|l| l.starts_with("pipe:")), "{}", r.stdout);

    // Links the zone plants where its next boot mounts things resolve
    // inside the zone, never on the host.
    let probe = format!("/tmp/basalt-escape-probe-{a}");
    let r = z.zlogin(
        &a,
        &format!(
            "umount /run && rmdir /run && ln -s ../../../../../../..{probe} /run && ls -ld /run"
        ),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // The zone may well not boot again with its /run broken; what
    // matters is the host.
    z.vmadm(&["reboot", &a]);
    assert!(
        !Path::new(&probe).exists(),
        "the zone's boot made {probe} on the host"
    );

    // What the zone makes set-uid (its root is uid 0 on disk) means
    // nothing on the host: the pool is mounted nosuid and nodev there.
    let r = z.zlogin(
        &b,
        "cp /bin/busybox /root/sush && chmod 4755 /root/sush && ls -l /root/sush",
    );
    assert!(
        r.stdout.starts_with("-rwsr-xr-x"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let pool = format!("{}/zones ", z.path().display());
    let opts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.contains(&pool))
        .and_then(|l| l.split(' ').nth(5).map(str::to_owned))
        .unwrap();
    assert!(opts.contains("nosuid") && opts.contains("nodev"), "{opts}");
}

fn sigkill(pid: u64) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[test]
fn basaltd_adopts_running_zones_and_autoboots_after_a_host_reboot() {
    let z = Zones::new("zone-basaltd");
    let a = z.create(r#", "alias": "a""#);
    let b = z.create(r#", "alias": "b", "autoboot": false"#);
    assert_eq!(z.state(&b), "stopped");
    let a_pid = z.get(&a)["pid"].clone();

    // First start: a runs and is adopted; b stays stopped (no autoboot).
    let (mut d, ready) = z.basaltd();
    assert_eq!(
        ready,
        "basaltd: ready (1 adopted, 0 cleaned, 0 booted, 0 failed)\n"
    );
    // Killed and restarted: the zone is untouched, adopted again.
    d.kill().unwrap();
    d.wait().unwrap();
    let (mut d, ready) = z.basaltd();
    assert_eq!(
        ready,
        "basaltd: ready (1 adopted, 0 cleaned, 0 booted, 0 failed)\n"
    );
    assert_eq!(z.get(&a)["pid"], a_pid);
    d.kill().unwrap();
    d.wait().unwrap();

    // A simulated host reboot: every supervisor and zone gone, /run empty.
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(z.path().join(format!("var/basalt/run/{a}.json"))).unwrap(),
    )
    .unwrap();
    sigkill(record["supervisor"]["pid"].as_u64().unwrap());
    sigkill(a_pid.as_u64().unwrap());
    std::fs::remove_dir_all(z.path().join("run")).unwrap();
    assert!(
        eventually(10, || z.state(&a) == "stopped"),
        "{}",
        z.state(&a)
    );

    let (mut d, ready) = z.basaltd();
    assert_eq!(
        ready,
        "basaltd: ready (0 adopted, 1 cleaned, 1 booted, 0 failed)\n"
    );
    let vm = z.get(&a);
    assert_eq!(vm["state"], "running");
    assert_ne!(vm["pid"], a_pid);
    assert_eq!(z.state(&b), "stopped");
    assert_eq!(z.zlogin(&a, "echo up").stdout, "up\n");
    d.kill().unwrap();
    d.wait().unwrap();
}

#[test]
fn console_reboot_from_inside_and_a_pty() {
    use std::io::{Read, Write};
    let z = Zones::new("zone-console");
    let uuid = z.create("");

    // What the zone writes on /dev/console reaches `vmadm console`; Ctrl-]
    // ends the session.
    let mut console = z
        .root
        .command(env!("CARGO_BIN_EXE_vmadm"))
        .args(["console", &uuid])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = console.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&all).contains("hello-console") {
                break;
            }
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let mut input = console.stdin.take().unwrap();
    let seen = eventually(10, || {
        z.zlogin(&uuid, "echo hello-console > /dev/console");
        reader.is_finished()
    });
    assert!(seen, "the console never showed the zone's output");
    assert!(reader.join().unwrap().contains("hello-console"));
    input.write_all(&[0x1d]).unwrap();
    let status = console.wait().unwrap();
    assert!(status.success());

    // A reboot asked for inside the zone boots it again.
    let before = z.get(&uuid)["pid"].clone();
    z.zlogin(&uuid, "reboot");
    assert!(eventually(20, || {
        let vm = z.get(&uuid);
        vm["state"] == "running" && vm["pid"] != before && !vm["pid"].is_null()
    }));

    // zlogin -t gives the command a terminal of the zone's own devpts.
    let r = z
        .root
        .run(env!("CARGO_BIN_EXE_zlogin"), &["-t", &uuid, "tty"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("/dev/pts/"), "{:?}", r.stdout);
}

/// A metadata client on the host side of a zone's socket, one line at a
/// time.
struct Mdata {
    stream: std::os::unix::net::UnixStream,
    reader: std::io::BufReader<std::os::unix::net::UnixStream>,
}

impl Mdata {
    fn connect(z: &Zones, uuid: &str) -> Mdata {
        let path = z
            .path()
            .join(format!("var/zonecontrol/{uuid}/metadata.sock"));
        let stream = std::os::unix::net::UnixStream::connect(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let reader = std::io::BufReader::new(stream.try_clone().unwrap());
        Mdata { stream, reader }
    }

    fn send(&mut self, bytes: &[u8]) {
        use std::io::Write;
        self.stream.write_all(bytes).unwrap();
    }

    fn line(&mut self) -> String {
        use std::io::BufRead;
        let mut l = String::new();
        self.reader.read_line(&mut l).unwrap();
        l
    }

    /// A V2 request and its decoded answer.
    fn v2(&mut self, id: u32, command: basalt_metadata::Command) -> basalt_metadata::Response {
        let reqid = basalt_metadata::ReqId::from_u32(id);
        let frame = basalt_metadata::codec::encode_v2(&reqid, &command).unwrap();
        self.send(&frame);
        let line = self.line();
        basalt_metadata::codec::decode_frame(line.trim_end().as_bytes(), &reqid).unwrap()
    }
}

#[test]
fn the_metadata_socket_serves_the_zones_keys_and_takes_its_writes() {
    use basalt_metadata::{Command, Response};
    let z = Zones::new("zone-metadata");
    let uuid = z.create(
        r##", "alias": "md", "hostname": "md1", "customer_metadata": {"user-script": "#!/bin/sh\necho hi", "role": "web\n.dotted"}"##,
    );
    // The zone sees the socket, its root alone may use it.
    let r = z.zlogin(&uuid, "ls -l /.zonecontrol/metadata.sock");
    assert!(
        r.stdout.starts_with("srw-------"),
        "{}{}",
        r.stdout,
        r.stderr
    );

    // V1: a value with dot-stuffing, a missing key, a blank line.
    let mut c = Mdata::connect(&z, &uuid);
    c.send(b"GET role\n");
    assert_eq!(
        [c.line(), c.line(), c.line(), c.line()].concat(),
        "SUCCESS\nweb\n..dotted\n.\n"
    );
    c.send(b"GET nothing\n");
    assert_eq!(c.line(), "NOTFOUND\n");
    c.send(b"\n");
    assert_eq!(c.line(), "invalid command\n");

    // V2: sdc: keys from the configuration, writes stored, sdc: refused.
    c.send(b"NEGOTIATE V2\n");
    assert_eq!(c.line(), "V2_OK\n");
    assert_eq!(
        c.v2(1, Command::Get("sdc:uuid".into())),
        Response::Success(uuid.clone())
    );
    assert_eq!(
        c.v2(2, Command::Get("sdc:hostname".into())),
        Response::Success("md1".into())
    );
    assert_eq!(
        c.v2(
            3,
            Command::Put {
                key: "from-guest".into(),
                value: "42".into()
            }
        ),
        Response::Success("OK".into())
    );
    assert_eq!(z.get(&uuid)["customer_metadata"]["from-guest"], "42");
    assert!(matches!(
        c.v2(
            4,
            Command::Put {
                key: "sdc:uuid".into(),
                value: "x".into()
            }
        ),
        Response::Failure(_)
    ));
    assert_eq!(
        c.v2(5, Command::Delete("from-guest".into())),
        Response::Success("OK".into())
    );
    assert!(
        z.get(&uuid)["customer_metadata"]
            .get("from-guest")
            .is_none()
    );

    // vmadm update is seen at once.
    let r = z.vmadm_stdin(
        &["update", &uuid],
        r#"{"set_customer_metadata": {"late": "yes"}}"#,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        c.v2(6, Command::Get("late".into())),
        Response::Success("yes".into())
    );

    // 200 clients at once, each asking for its own key.
    let keys: serde_json::Map<String, Value> = (0..200)
        .map(|i| (format!("k{i}"), Value::String(format!("v{i}"))))
        .collect();
    let r = z.vmadm_stdin(
        &["update", &uuid],
        &serde_json::json!({ "set_customer_metadata": keys }).to_string(),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut clients: Vec<Mdata> = (0..200).map(|_| Mdata::connect(&z, &uuid)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(format!("GET k{i}\n").as_bytes());
    }
    for (i, c) in clients.iter_mut().enumerate().rev() {
        assert_eq!(
            [c.line(), c.line(), c.line()].concat(),
            format!("SUCCESS\nv{i}\n.\n")
        );
    }
}

/// The guest tools (`mdata-*`), built statically for the zones — the
/// minimal image has no C library — and copied into a directory of their
/// own, which the supervisor binds into every zone.
fn guest_tools() -> tempfile::TempDir {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let host = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["build", "--locked", "-p", "basalt-mdata", "--target", &host])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the guest tools: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = tempfile::Builder::new()
        .prefix("basalt-zone-tools-")
        .tempdir()
        .unwrap();
    for tool in ["mdata-get", "mdata-put", "mdata-list", "mdata-delete"] {
        std::fs::copy(
            target.join(&host).join("debug").join(tool),
            dir.path().join(tool),
        )
        .unwrap();
    }
    dir
}

#[test]
fn the_mdata_tools_work_inside_a_zone() {
    let tools = guest_tools();
    let mut z = Zones::new("zone-mdata");
    z.root
        .set_env("BASALT_ZONE_TOOLS", tools.path().to_str().unwrap());
    let uuid = z.create(r#", "customer_metadata": {"foo": "bar"}"#);
    let run = |cmd: &str| z.zlogin(&uuid, cmd);

    let r = run("mdata-get foo");
    assert_eq!((r.code, r.stdout.as_str()), (0, "bar\n"), "{}", r.stderr);
    let r = run("mdata-get sdc:uuid");
    assert_eq!(r.stdout, format!("{uuid}\n"), "{}", r.stderr);
    let r = run("mdata-get nope");
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("No metadata for 'nope'"), "{}", r.stderr);

    let r = run("mdata-put color blue");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(z.get(&uuid)["customer_metadata"]["color"], "blue");
    let r = run("mdata-list");
    assert!(r.stdout.lines().any(|l| l == "color"), "{}", r.stdout);
    assert!(r.stdout.lines().any(|l| l == "foo"), "{}", r.stdout);
    let r = run("mdata-delete color");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(z.get(&uuid)["customer_metadata"].get("color").is_none());

    let r = run("mdata-put sdc:uuid x");
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    // The tools are the host's, read-only.
    let r = run("echo x > /native/usr/sbin/mdata-get");
    assert_ne!(r.code, 0);
}

/// A short python program run by the system's python3, where Debian's
/// cloud-init is importable: its SmartOS datasource's own client reads
/// and writes through `sys.argv[2]` (`socket`: a metadata socket;
/// `serial`: a tty) and prints what it saw as JSON.
const CLOUD_INIT_CLIENT: &str = r#"
import json, sys
from cloudinit.sources import DataSourceSmartOS as ds

kind, path = sys.argv[1], sys.argv[2]
if kind == "socket":
    client = ds.jmc_client_factory(smartos_type=ds.SMARTOS_ENV_LX_BRAND, metadata_sockfile=path)
    assert isinstance(client, ds.JoyentMetadataSocketClient), client
else:
    client = ds.JoyentMetadataSerialClient(path, timeout=10, smartos_type=ds.SMARTOS_ENV_KVM)
seen = {"class": type(client).__name__, "exists": client.exists()}
with client:
    seen["uuid"] = client.get("sdc:uuid")
    seen["hostname"] = client.get("hostname")
    seen["sdc:hostname"] = client.get("sdc:hostname")
    seen["root_authorized_keys"] = client.get("root_authorized_keys")
    seen["user-script"] = client.get("user-script")
    seen["missing"] = client.get("no-such-key", default="<default>")
    seen["nics"] = client.get_json("sdc:nics")
    seen["put"] = client.put("written-by-" + kind, "from cloud-init")
    seen["after-put"] = client.get("written-by-" + kind)
    seen["list"] = client.list()
    seen["delete"] = client.delete("written-by-" + kind)
    seen["after-delete"] = client.get("written-by-" + kind)
print(json.dumps(seen))
"#;

/// Runs [`CLOUD_INIT_CLIENT`] on `path`; its JSON.
fn cloud_init_client(kind: &str, path: &Path) -> Value {
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", CLOUD_INIT_CLIENT, kind])
        .arg(path)
        .output()
        .expect("/usr/bin/python3");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{kind}: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{kind}: {e}: {:?} {stderr}", out.stdout))
}

#[test]
fn cloud_inits_smartos_clients_read_the_zone_over_its_socket_and_a_pty() {
    common::require_cloud_init();
    let z = Zones::in_netns("zone-cloud-init");
    let key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJhc2FsdCBjbG91ZC1pbml0IHRlc3Qga2V5 test@basalt";
    let uuid = z.create(&format!(
        r##", "hostname": "ci1", "nics": [{{"nic_tag": "admin", "ip": "192.0.2.10", "netmask": "255.255.255.0", "primary": true}}], "customer_metadata": {{"root_authorized_keys": "{key}", "user-script": "#!/bin/sh\ntouch /var/tmp/ran"}}"##
    ));
    let check = |kind: &str, seen: &Value| {
        assert_eq!(seen["exists"], true, "{kind}: {seen}");
        assert_eq!(seen["uuid"], uuid.as_str(), "{kind}: {seen}");
        // Plain `hostname` is customer metadata, absent here (cloud-init
        // falls back to sdc:hostname), as on SmartOS.
        assert_eq!(seen["hostname"], Value::Null, "{kind}: {seen}");
        assert_eq!(seen["sdc:hostname"], "ci1", "{kind}: {seen}");
        assert_eq!(seen["root_authorized_keys"], key, "{kind}: {seen}");
        assert_eq!(
            seen["user-script"], "#!/bin/sh\ntouch /var/tmp/ran",
            "{kind}: {seen}"
        );
        assert_eq!(seen["missing"], "<default>", "{kind}: {seen}");
        let nics = seen["nics"].as_array().expect("sdc:nics is a list");
        assert_eq!(nics.len(), 1, "{kind}: {seen}");
        assert_eq!(nics[0]["ip"], "192.0.2.10", "{kind}: {seen}");
        assert_eq!(nics[0]["netmask"], "255.255.255.0", "{kind}: {seen}");
        assert_eq!(nics[0]["nic_tag"], "admin", "{kind}: {seen}");
        assert!(nics[0]["mac"].is_string(), "{kind}: {seen}");
        assert_eq!(seen["put"], "OK", "{kind}: {seen}");
        assert_eq!(seen["after-put"], "from cloud-init", "{kind}: {seen}");
        let list: Vec<&str> = seen["list"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|k| k.as_str())
            .collect();
        for k in [
            "root_authorized_keys",
            "user-script",
            &format!("written-by-{kind}"),
        ] {
            assert!(list.contains(&k), "{kind}: {k} not in {list:?}");
        }
        assert_eq!(seen["delete"], "OK", "{kind}: {seen}");
        assert_eq!(seen["after-delete"], Value::Null, "{kind}: {seen}");
    };

    // The socket the supervisor serves.
    let socket = z
        .path()
        .join(format!("var/zonecontrol/{uuid}/metadata.sock"));
    let seen = cloud_init_client("socket", &socket);
    assert_eq!(seen["class"], "JoyentMetadataSocketClient");
    check("socket", &seen);

    // A pty whose master this process serves with the node's backend, the
    // guest's serial port being its slave.
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = nix::unistd::ttyname(&pty.slave).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = {
        let (root, uuid, stop) = (z.path().to_owned(), uuid.clone(), stop.clone());
        std::thread::spawn(move || {
            let node =
                basalt_node::instances::Node::open(basalt_node::paths::Paths::new(root)).unwrap();
            let uuid: basalt_model::VmUuid = uuid.parse().unwrap();
            let mut backend = basalt_node::zones::metadata::NodeBackend::new(&node, &uuid);
            basalt_node::zones::metadata::serve_tty(pty.master, &mut backend, &stop)
        })
    };
    // The slave stays open here too, as a VM's serial port stays there
    // between the guest's opens.
    let seen = cloud_init_client("serial", &slave);
    assert_eq!(seen["class"], "JoyentMetadataSerialClient");
    check("serial", &seen);
    // Closed and opened again by another guest program: served again.
    drop(pty.slave);
    let seen = cloud_init_client("serial", &slave);
    check("serial", &seen);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    server.join().unwrap().unwrap();
}

/// The metadata an image consumes at boot (reference 4.6), for the test
/// zones below: a key for root and a user-script that leaves a mark.
const BOOT_METADATA: &str = r##""customer_metadata": {"root_authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBasaltBootTestKeyOnly test", "user-script": "#!/bin/sh\necho ran > /var/tmp/user-script-ran"}"##;

/// Checks, in a zone created with [`BOOT_METADATA`], that its image ran
/// the user-script (within `secs`) and wrote root's authorized_keys.
fn check_boot_metadata(z: &Zones, uuid: &str, secs: u64) {
    let mut r = z.zlogin(uuid, "true");
    let ran = eventually(secs, || {
        r = z.zlogin(uuid, "cat /var/tmp/user-script-ran");
        r.stdout == "ran\n"
    });
    let log = z.zlogin(uuid, "cat /var/svc/log/mdata-user-script.log");
    assert!(ran, "the user-script never ran: {r:?} {log:?}");
    assert!(
        log.stdout.contains("running /var/svc/mdata-user-script"),
        "{log:?}"
    );

    let r = z.zlogin(uuid, "cat /root/.ssh/authorized_keys");
    assert_eq!(
        r.stdout, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBasaltBootTestKeyOnly test\n",
        "{}",
        r.stderr
    );
    let r = z.zlogin(
        uuid,
        "stat -c '%a %u' /root/.ssh /root/.ssh/authorized_keys /var/svc/mdata-user-script",
    );
    assert_eq!(r.stdout, "700 0\n600 0\n700 0\n", "{}", r.stderr);
    // No user-data: nothing written for it.
    let r = z.zlogin(uuid, "test -e /var/db/mdata-user-data; echo $?");
    assert_eq!(r.stdout, "1\n", "{}", r.stderr);
}

#[test]
fn the_minimal_image_consumes_the_user_script_and_root_keys_at_boot() {
    let tools = guest_tools();
    let mut z = Zones::new("zone-boot-mdata");
    z.root
        .set_env("BASALT_ZONE_TOOLS", tools.path().to_str().unwrap());
    let uuid = z.create(&format!(", {BOOT_METADATA}"));
    check_boot_metadata(&z, &uuid, 10);
}

#[test]
fn the_debian_image_consumes_the_user_script_and_root_keys_at_boot() {
    let tools = guest_tools();
    let mut z = Zones::new("zone-lx-boot-mdata");
    z.root
        .set_env("BASALT_ZONE_TOOLS", tools.path().to_str().unwrap());
    z.install(cached_image("debian"));
    let r = z.vmadm_stdin(
        &["create"],
        &format!(
            r#"{{"brand": "lx", "kernel_version": "6.1.0", "image_uuid": "{DEBIAN}", "max_physical_memory": 512, {BOOT_METADATA}}}"#
        ),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let uuid = r.stderr.trim().rsplit(' ').next().unwrap().to_owned();
    check_boot_metadata(&z, &uuid, 60);
    // Both units ran, neither failed.
    let r = z.zlogin(
        &uuid,
        "systemctl show -p Result --value mdata-fetch.service mdata-execute.service",
    );
    assert_eq!(r.stdout, "success\n\nsuccess\n", "{}", r.stderr);
}

#[test]
fn a_docker_zone_runs_its_command_as_init_as_its_user_in_its_workdir() {
    let z = Zones::new("zone-docker");
    let uuid = z.create_json(serde_json::json!({
        "hostname": "box",
        "docker": true,
        "internal_metadata": {
            "docker:entrypoint": "[\"/bin/sh\",\"-c\"]",
            "docker:cmd": "[\"exec sleep 1000\"]",
            "docker:env": "[\"GREETING=hi there\"]",
            "docker:workdir": "/srv/app",
            "docker:user": "nobody"
        }
    }));
    assert_eq!(z.state(&uuid), "running");
    let r = z.zlogin(
        &uuid,
        "tr '\\0' ' ' < /proc/1/cmdline; echo; readlink /proc/1/cwd; \
         grep -E '^(Uid|Gid|Groups):' /proc/1/status; \
         tr '\\0' '\\n' < /proc/1/environ | sort | grep -Ev '^(PWD|SHLVL)='",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().map(str::trim_end).collect();
    assert_eq!(lines[0], "sleep 1000");
    assert_eq!(lines[1], "/srv/app");
    assert!(lines[2].starts_with("Uid:\t65534\t65534"), "{lines:?}");
    assert!(lines[3].starts_with("Gid:\t65534\t65534"), "{lines:?}");
    assert_eq!(lines[4], "Groups:");
    // The shell that execs sleep adds PWD and SHLVL.
    assert_eq!(
        lines[5..],
        [
            "GREETING=hi there",
            "HOME=/nonexistent",
            "HOSTNAME=box",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
            "container=basalt",
        ]
    );

    // A user the zone does not have stops the boot, saying which.
    let r = z.vmadm_stdin(
        &["update", &uuid],
        r#"{"set_internal_metadata": {"docker:user": "postgres"}}"#,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = z.vmadm(&["stop", "-F", &uuid]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = z.vmadm(&["start", &uuid]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("unable to find user postgres"),
        "{}",
        r.stderr
    );
}

/// `getppid-loop N` makes exactly N getppid(2) calls and nothing else of
/// the kind: built static with cc (the minimal image has no C library)
/// into `dir`.
fn getppid_loop(dir: &Path) -> std::path::PathBuf {
    common::require(&["cc"]);
    let src = dir.join("getppid-loop.c");
    std::fs::write(
        &src,
        "#include <stdlib.h>\n#include <unistd.h>\n#include <sys/syscall.h>\n\
         int main(int argc, char **argv) {\n\
         \x20   long n = argc > 1 ? atol(argv[1]) : 0;\n\
         \x20   for (long i = 0; i < n; i++) syscall(SYS_getppid);\n\
         \x20   return 0;\n}\n",
    )
    .unwrap();
    let bin = dir.join("getppid-loop");
    let out = std::process::Command::new("cc")
        .args(["-O1", "-static", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc failed to build getppid-loop: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

/// A child killed and reaped when dropped, so a failing test leaves no
/// process behind.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn dtrace_sees_a_zone_by_its_zonename() {
    const IN_ZONE: u64 = 37;
    const ON_HOST: u64 = 23;
    let work = tempfile::Builder::new()
        .prefix("basalt-zone-dtrace-")
        .tempdir()
        .unwrap();
    let bin = getppid_loop(work.path());
    let z = Zones::new("zone-dtrace");
    let name = format!("dtz-{}", std::process::id());
    let uuid = z.create(&format!(r#", "zonename": "{name}""#));
    assert_eq!(z.get(&uuid)["zonename"], name.as_str());
    let in_zone = z.root.pool().join(&uuid).join("root/usr/bin/getppid-loop");
    std::fs::copy(&bin, &in_zone).unwrap();

    // The zone runs before dtrace starts: its first look at the zones
    // knows it before BEGIN fires.
    let program = format!(
        "BEGIN {{ printf(\"ready\\n\"); }} \
         syscall::getppid:entry /zonename == \"{name}\"/ {{ @zone[execname] = count(); }} \
         syscall::getppid:entry /zonename == \"global\"/ {{ @global[execname] = count(); }} \
         END {{ printa(\"zone %s %@d\\n\", @zone); printa(\"global %s %@d\\n\", @global); }}"
    );
    let mut dtrace = Reaped(
        z.root
            .command(env!("CARGO_BIN_EXE_dtrace"))
            .args(["-q", "-n", &program])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = dtrace.0.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = lines.recv_timeout(std::time::Duration::from_secs(60));
    assert_eq!(ready.as_deref(), Ok("ready"), "dtrace did not start");

    let r = z.zlogin(&uuid, &format!("getppid-loop {IN_ZONE}"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let st = std::process::Command::new(&bin)
        .arg(ON_HOST.to_string())
        .status()
        .unwrap();
    assert!(st.success());

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(dtrace.0.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut counts = std::collections::BTreeMap::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        let Ok(line) = lines.recv_timeout(left) else {
            break;
        };
        let mut words = line.split_whitespace();
        if let (Some(side), Some(exe), Some(n), None) =
            (words.next(), words.next(), words.next(), words.next())
        {
            counts.insert((side.to_owned(), exe.to_owned()), n.parse::<u64>().ok());
        }
    }
    // Its output ends when it exits; a dtrace that outlives the deadline
    // fails the test (and is killed by its guard).
    let st = (0..100)
        .find_map(|_| {
            let st = dtrace.0.try_wait().unwrap();
            if st.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            st
        })
        .expect("dtrace did not exit on SIGINT");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut dtrace.0.stderr.take().unwrap(), &mut stderr).unwrap();
    reader.join().unwrap();
    assert!(st.success(), "dtrace: {st}: {stderr}");

    let count = |side: &str| counts.get(&(side.to_owned(), "getppid-loop".to_owned()));
    assert_eq!(count("zone"), Some(&Some(IN_ZONE)), "{counts:?} {stderr}");
    assert_eq!(count("global"), Some(&Some(ON_HOST)), "{counts:?} {stderr}");
}
