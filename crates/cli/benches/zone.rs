//! How fast a minimal zone comes up, next to runc in the same run.
//!
//! On the minimal image (Debian's static busybox, busybox init), in a
//! relocated root with its own btrfs pool, medians of 15 runs of:
//! - `vmadm create` of a joyent-minimal payload with autoboot, until the
//!   command returns (the zone's init has been exec'd); each zone is
//!   deleted afterwards, untimed;
//! - `vmadm start` of a stopped zone (the stop in between untimed);
//! - the peer, `runc run --detach` of the same root file system (the
//!   image's tar unpacked into a bundle on the same pool; `/sbin/init`,
//!   no terminal, a writable root, runc's default namespaces plus a user
//!   namespace when runc accepts one here), until it returns; and the same
//!   with a btrfs snapshot of that root first, as the peer of a create,
//!   which clones the image.
//!
//! Then the ratios (targets: start/runc ≤ 1.0, create/(runc + snapshot) ≤
//! 1.5) and the resident memory of an idle zone's supervisor (target ≤ 2
//! MiB), with where that memory goes. Never fails on a timing.
//!
//! Run as root: `cargo bench -p basalt-cli --bench zone`. Cargo builds the
//! package's binaries with the bench profile (release), and the bench runs
//! exactly those (`CARGO_BIN_EXE_*`); `BASALT_ZONEADMD` names another
//! supervisor build to measure. Needs runc (`apt-get install runc`).

mod common;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use common::{on_path, s, sh, target_dir};

const RUNS: usize = 15;
const MINIMAL: &str = "9cde6fa6-f2a5-4d83-b933-d2fa71789f38";
/// runc containers of this bench are named `<prefix><pid>-<n>`, so that a
/// leftover points at it.
const RUNC_PREFIX: &str = "basalt-bench-zone-";
/// The host ids runc's user namespace maps the container's 0.. onto; far
/// above the ranges basalt gives its zones.
const RUNC_HOST_ID: u32 = 3_000_000_000;
const RUNC_IDS: u32 = 65_536;
const MIB: f64 = 1024.0 * 1024.0;

const VMADM: &str = env!("CARGO_BIN_EXE_vmadm");
const IMGADM: &str = env!("CARGO_BIN_EXE_imgadm");
/// The supervisor the zones run under: this package's release build, or
/// the one `BASALT_ZONEADMD` names — such as the statically linked build
/// that scripts/install installs
/// (`target/x86_64-unknown-linux-gnu/release/zoneadmd`).
fn zoneadmd() -> String {
    std::env::var("BASALT_ZONEADMD").unwrap_or_else(|_| env!("CARGO_BIN_EXE_zoneadmd").to_owned())
}

// ---- the host

/// Stops with a clear message unless this runs as root with runc and the
/// pool's tools.
fn require_host() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the zone benchmark needs root (it makes a btrfs pool and runs zones)"
    );
    assert!(
        on_path("runc"),
        "the zone benchmark compares against runc, which is not installed: \
         apt-get install runc (scripts/install installs it)"
    );
    let missing: Vec<&str> = ["btrfs", "mkfs.btrfs", "mount", "umount", "tar", "chown"]
        .into_iter()
        .filter(|t| !on_path(t))
        .collect();
    assert!(
        missing.is_empty(),
        "the zone benchmark needs {} on the PATH (scripts/install installs them)",
        missing.join(", ")
    );
}

/// The minimal image's manifest and file, built once by `images/cached`.
fn minimal_image() -> (PathBuf, PathBuf) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../images/cached");
    let out = sh(&[s(&script), s(&target_dir().join("images")), "minimal"]);
    let mut lines = out.lines();
    let (Some(manifest), Some(file)) = (lines.next(), lines.next()) else {
        panic!("images/cached printed {out:?}, not a manifest and a file");
    };
    (manifest.into(), file.into())
}

// ---- basalt, in a relocated root

/// A root with its own 1 GiB pool and the minimal image installed. Drop
/// deletes its zones and runc containers and unmounts the pool.
struct Bench {
    dir: tempfile::TempDir,
    runc: Option<Runc>,
    /// Why runc refused a user namespace, if it did.
    refused: Option<String>,
}

impl Bench {
    fn new(manifest: &Path, file: &Path) -> Bench {
        let dir = tempfile::Builder::new()
            .prefix("basalt-bench-zone-")
            .tempdir()
            .unwrap();
        fs::create_dir_all(dir.path().join("usbkey")).unwrap();
        fs::write(dir.path().join("usbkey/config"), "pool_file_size=1G\n").unwrap();
        let mut bench = Bench {
            dir,
            runc: None,
            refused: None,
        };
        bench.run(IMGADM, &["install", "-m", s(manifest), "-f", s(file)]);
        let (runc, refused) = Runc::new(&bench.pool(), file);
        bench.runc = Some(runc);
        bench.refused = refused;
        bench
    }

    fn runc(&self) -> &Runc {
        self.runc
            .as_ref()
            .expect("runc's bundles are made with the bench")
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn pool(&self) -> PathBuf {
        self.path().join("zones")
    }

    fn command(&self, bin: &str) -> Command {
        let mut cmd = Command::new(bin);
        cmd.env("BASALT_ROOT", self.path())
            .env("BASALT_ZONEADMD", zoneadmd())
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `bin` to completion; panics when it fails. Returns its stderr.
    fn run(&self, bin: &str, args: &[&str]) -> String {
        let out = self.command(bin).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{bin} {args:?}: {stderr}");
        stderr
    }

    /// The wall time of `vmadm <args>`.
    fn timed_vmadm(&self, args: &[&str]) -> Duration {
        let started = Instant::now();
        self.run(VMADM, args);
        started.elapsed()
    }

    /// `vmadm create` of a minimal zone with autoboot: its wall time and
    /// the new zone's uuid.
    fn create(&self, n: usize) -> (Duration, String) {
        let payload = json!({
            "brand": "joyent-minimal",
            "image_uuid": MINIMAL,
            "alias": format!("bench-{n}"),
            "autoboot": true,
            "max_physical_memory": 128,
        })
        .to_string();
        let started = Instant::now();
        let mut child = self
            .command(VMADM)
            .arg("create")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(payload.as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let elapsed = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "vmadm create: {stderr}");
        let uuid = stderr
            .trim()
            .strip_prefix("Successfully created VM ")
            .unwrap_or_else(|| panic!("vmadm create said {stderr:?}"));
        (elapsed, uuid.to_owned())
    }

    fn zones(&self) -> Vec<String> {
        let out = self
            .command(VMADM)
            .args(["list", "-H", "-o", "uuid"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The pid of a running zone's supervisor, from its runtime record.
    fn supervisor_pid(&self, uuid: &str) -> u32 {
        let path = self.path().join(format!("var/basalt/run/{uuid}.json"));
        let record: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        record["supervisor"]["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: no supervisor.pid", path.display())) as u32
    }

    /// Deletes every zone and runc container of this bench, removes the
    /// bundles and unmounts the pool; says what is left.
    fn clean_up(&mut self) -> Vec<String> {
        let mut left = Vec::new();
        for uuid in self.zones() {
            let ok = self
                .command(VMADM)
                .args(["delete", &uuid])
                .output()
                .is_ok_and(|o| o.status.success());
            if !ok {
                left.push(format!("zone {uuid}"));
            }
        }
        if let Some(runc) = self.runc.take() {
            left.extend(runc.remove());
        }
        left.extend(common::unmount(&self.pool()));
        left
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        for what in self.clean_up() {
            eprintln!("left behind: {what}");
        }
    }
}

// ---- the peer: runc

/// runc's bundles on the bench's pool: `<pool>/runc/base` (the image
/// unpacked into a subvolume `rootfs`) and one `copy-<n>` per run with a
/// snapshot of it.
struct Runc {
    dir: PathBuf,
    userns: bool,
    /// Containers made so far (their names end in this count).
    made: Cell<usize>,
}

impl Runc {
    /// Unpacks the image into the base bundle and settles whether runc
    /// takes a user namespace here (one try; without one if it refuses).
    fn new(pool: &Path, file: &Path) -> (Runc, Option<String>) {
        let dir = pool.join("runc");
        let base = dir.join("base");
        fs::create_dir_all(&base).unwrap();
        let rootfs = base.join("rootfs");
        sh(&["btrfs", "subvolume", "create", s(&rootfs)]);
        sh(&["tar", "-xzf", s(file), "-C", s(&rootfs)]);
        // Every file of the minimal image is root's: with a user namespace
        // the container's root is RUNC_HOST_ID on the host.
        let owner = format!("{RUNC_HOST_ID}:{RUNC_HOST_ID}");
        sh(&["chown", "-hR", &owner, s(&rootfs)]);
        let mut runc = Runc {
            dir,
            userns: true,
            made: Cell::new(0),
        };
        runc.write_config(&base);
        match runc.run(&base, false) {
            Ok(_) => (runc, None),
            Err(why) => {
                runc.userns = false;
                sh(&["chown", "-hR", "0:0", s(&rootfs)]);
                runc.write_config(&base);
                (runc, Some(why))
            }
        }
    }

    /// `runc spec`, then the bench's changes: busybox init, no terminal, a
    /// hostname, a writable root, and the user namespace when used.
    fn write_config(&self, bundle: &Path) {
        let path = bundle.join("config.json");
        let _ = fs::remove_file(&path);
        sh(&["runc", "spec", "--bundle", s(bundle)]);
        let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        config["process"]["args"] = json!(["/sbin/init"]);
        config["process"]["terminal"] = json!(false);
        config["hostname"] = json!("runc-bench");
        config["root"]["readonly"] = json!(false);
        if self.userns {
            let linux = &mut config["linux"];
            linux["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            let map = json!([{"containerID": 0, "hostID": RUNC_HOST_ID, "size": RUNC_IDS}]);
            linux["uidMappings"] = map.clone();
            linux["gidMappings"] = map;
        }
        fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    }

    fn next_id(&self) -> String {
        let n = self.made.get();
        self.made.set(n + 1);
        format!("{RUNC_PREFIX}{}-{n}", std::process::id())
    }

    /// `runc run -d` of `bundle` (after a snapshot of the base's root into
    /// it with `copy`), timed until it returns; the container is deleted
    /// afterwards, untimed. The container keeps runc's stdio, so its
    /// stderr goes to a file, never a pipe that would stay open.
    fn run(&self, bundle: &Path, copy: bool) -> Result<Duration, String> {
        let id = self.next_id();
        let errors = self.dir.join(format!("{id}.err"));
        let stderr = File::create(&errors).unwrap();
        let started = Instant::now();
        if copy {
            let base = self.dir.join("base/rootfs");
            sh(&[
                "btrfs",
                "subvolume",
                "snapshot",
                s(&base),
                s(&bundle.join("rootfs")),
            ]);
        }
        let status = Command::new("runc")
            .args(["run", "-d", "--bundle", s(bundle), &id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .status()
            .unwrap();
        let elapsed = started.elapsed();
        let _ = Command::new("runc")
            .args(["delete", "-f", &id])
            .stderr(Stdio::null())
            .status();
        let why = fs::read_to_string(&errors).unwrap_or_default();
        let _ = fs::remove_file(&errors);
        if status.success() {
            Ok(elapsed)
        } else {
            Err(format!("runc run: {status}: {}", why.trim()))
        }
    }

    fn plain(&self) -> Duration {
        self.run(&self.dir.join("base"), false)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A run in a fresh bundle whose root is a snapshot of the base's, made
    /// inside the timing; the bundle goes afterwards.
    fn with_snapshot(&self, n: usize) -> Duration {
        let bundle = self.dir.join(format!("copy-{n}"));
        fs::create_dir_all(&bundle).unwrap();
        fs::copy(
            self.dir.join("base/config.json"),
            bundle.join("config.json"),
        )
        .unwrap();
        let t = self.run(&bundle, true).unwrap_or_else(|e| panic!("{e}"));
        sh(&["btrfs", "subvolume", "delete", s(&bundle.join("rootfs"))]);
        fs::remove_dir_all(&bundle).unwrap();
        t
    }

    /// This bench's containers that runc still lists.
    fn listed() -> Vec<String> {
        let out = Command::new("runc").args(["list", "-q"]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
            .lines()
            .filter(|id| id.starts_with(RUNC_PREFIX))
            .map(str::to_owned)
            .collect()
    }

    /// Deletes the containers and the bundles; says what is left.
    fn remove(self) -> Vec<String> {
        for id in Runc::listed() {
            let _ = Command::new("runc").args(["delete", "-f", &id]).status();
        }
        let mut left: Vec<String> = Runc::listed()
            .into_iter()
            .map(|id| format!("runc container {id}"))
            .collect();
        for entry in fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let rootfs = entry.path().join("rootfs");
            if rootfs.exists() {
                let _ = Command::new("btrfs")
                    .args(["subvolume", "delete", s(&rootfs)])
                    .stdout(Stdio::null())
                    .status();
            }
        }
        if fs::remove_dir_all(&self.dir).is_err() {
            left.push(format!("bundles in {}", self.dir.display()));
        }
        left
    }
}

// ---- the supervisor's memory

/// `key:   123 kB` lines of a /proc file, in KiB.
fn kib_fields(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            let kb = v.trim().strip_suffix(" kB")?.trim().parse().ok()?;
            Some((k.to_owned(), kb))
        })
        .collect()
}

/// Resident KiB per mapping of `/proc/<pid>/smaps`, largest first (the
/// anonymous ones under `[anon]`).
fn rss_by_mapping(smaps: &str) -> Vec<(String, u64)> {
    let mut sums: BTreeMap<String, u64> = BTreeMap::new();
    let mut current = String::new();
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            current = line
                .split_whitespace()
                .nth(5)
                .map(|n| n.rsplit('/').next().unwrap_or(n).to_owned())
                .unwrap_or_else(|| "[anon]".to_owned());
        } else if let Some(kb) = line.strip_prefix("Rss:") {
            let kb: u64 = kb
                .trim()
                .trim_end_matches(" kB")
                .trim()
                .parse()
                .unwrap_or(0);
            *sums.entry(current.clone()).or_default() += kb;
        }
    }
    let mut v: Vec<_> = sums.into_iter().filter(|(_, kb)| *kb > 0).collect();
    v.sort_by_key(|(_, kb)| std::cmp::Reverse(*kb));
    v
}

/// The idle supervisor's resident memory against its target, and where it
/// goes.
fn report_supervisor(pid: u32) {
    let status_text = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let status = kib_fields(&status_text);
    let rollup = kib_fields(&fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap());
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mib = status["VmRSS"] as f64 / 1024.0;
    println!(
        "idle supervisor (zoneadmd, pid {pid}) VmRSS: {mib:.2} MiB   (target <= 2 MiB: {})",
        if mib <= 2.0 { "within" } else { "over" }
    );
    let f = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let threads = status_text
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .map_or("?", str::trim);
    println!(
        "  RssAnon {} KiB, RssFile {} KiB, RssShmem {} KiB; VmSize {} KiB, threads {threads}",
        f(&status, "RssAnon"),
        f(&status, "RssFile"),
        f(&status, "RssShmem"),
        f(&status, "VmSize"),
    );
    println!(
        "  Pss {} KiB; Shared_Clean {} KiB, Private_Clean {} KiB, Private_Dirty {} KiB",
        f(&rollup, "Pss"),
        f(&rollup, "Shared_Clean"),
        f(&rollup, "Private_Clean"),
        f(&rollup, "Private_Dirty"),
    );
    let top: Vec<String> = rss_by_mapping(&smaps)
        .into_iter()
        .take(6)
        .map(|(name, kb)| format!("{name} {kb}"))
        .collect();
    println!("  resident KiB by mapping: {}", top.join(", "));
    let size = fs::metadata(zoneadmd()).map(|m| m.len()).unwrap_or(0);
    println!("  zoneadmd binary: {:.2} MiB on disk", size as f64 / MIB);
}

// ---- the runs

/// The host's load average: other work on the machine shows in the
/// spread of the runs.
fn load_average() -> String {
    let text = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(t: Duration) -> f64 {
    t.as_secs_f64() * 1e3
}

fn report(what: &str, times: &[Duration]) -> Duration {
    let m = median(times.to_vec());
    let (lo, hi) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    println!(
        "  {what:<38} {:>7.1} ms   ({:.1} – {:.1})",
        ms(m),
        ms(*lo),
        ms(*hi)
    );
    m
}

fn ratio(what: &str, ours: Duration, peer: Duration, target: f64) {
    let r = ours.as_secs_f64() / peer.as_secs_f64();
    println!(
        "  {what:<38} {r:>7.2}      (target <= {target:.1}: {})",
        if r <= target { "within" } else { "over" }
    );
}

/// One of each, untimed: the page cache holds the binaries and the image.
fn warm_up(bench: &Bench, started: &str) {
    let runc = bench.runc();
    let (_, uuid) = bench.create(0);
    bench.run(VMADM, &["delete", &uuid]);
    bench.run(VMADM, &["stop", started]);
    bench.run(VMADM, &["start", started]);
    runc.plain();
    runc.with_snapshot(0);
}

struct Times {
    create: Vec<Duration>,
    start: Vec<Duration>,
    runc: Vec<Duration>,
    runc_snapshot: Vec<Duration>,
}

/// RUNS rounds, each measuring every case once, so drift on the host
/// touches all of them alike.
fn measure(bench: &Bench, started: &str) -> Times {
    let runc = bench.runc();
    let mut t = Times {
        create: Vec::new(),
        start: Vec::new(),
        runc: Vec::new(),
        runc_snapshot: Vec::new(),
    };
    for n in 1..=RUNS {
        let (elapsed, uuid) = bench.create(n);
        t.create.push(elapsed);
        bench.run(VMADM, &["delete", &uuid]);
        bench.run(VMADM, &["stop", started]);
        t.start.push(bench.timed_vmadm(&["start", started]));
        t.runc.push(runc.plain());
        t.runc_snapshot.push(runc.with_snapshot(n));
    }
    t
}

fn main() {
    require_host();
    let (manifest, file) = minimal_image();
    let mut bench = Bench::new(&manifest, &file);

    let build = if cfg!(debug_assertions) {
        "a debug build (run it with cargo bench for a release one)"
    } else {
        "release"
    };
    println!("binaries ({build}): {VMADM}, {}", zoneadmd());
    println!("image: basalt-minimal {MINIMAL} (busybox init)");
    println!("load average before: {}", load_average());
    println!(
        "runc: {}",
        sh(&["runc", "--version"]).lines().next().unwrap_or("?")
    );
    match &bench.refused {
        None => println!(
            "runc: default namespaces + a user namespace (0 -> host {RUNC_HOST_ID}, {RUNC_IDS} ids), root on the same btrfs pool"
        ),
        Some(why) => println!(
            "runc: default namespaces WITHOUT a user namespace (runc refused one here: {why}); root on the same btrfs pool"
        ),
    }

    let (_, started) = bench.create(0);
    warm_up(&bench, &started);
    let t = measure(&bench, &started);

    println!("load average after:  {}", load_average());
    println!("median of {RUNS} runs (min – max):");
    let create = report("vmadm create to running", &t.create);
    let start = report("vmadm start to running", &t.start);
    let plain = report("runc run -d", &t.runc);
    let snap = report("btrfs snapshot + runc run -d", &t.runc_snapshot);
    println!("ratios:");
    ratio("start / runc run", start, plain, 1.0);
    ratio("create / (snapshot + runc run)", create, snap, 1.5);

    std::thread::sleep(Duration::from_secs(1));
    report_supervisor(bench.supervisor_pid(&started));

    let left = bench.clean_up();
    if left.is_empty() {
        println!(
            "cleaned up: zones deleted, no runc container left, bundles removed, pool unmounted"
        );
    } else {
        println!("left behind: {}", left.join("; "));
    }
}
