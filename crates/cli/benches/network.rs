//! Zone-to-zone TCP throughput next to a bare veth pair in the same run,
//! and the time to set up and tear down one instance's networking.
//!
//! Throughput: a node in a relocated root with its own btrfs pool, run in
//! a network namespace of the bench's own (`bb-net-<pid>`), makes two
//! joyent-minimal zones of the minimal image on the default `admin`
//! etherstub (addresses from 192.0.2.0/24, every anti-spoofing protection
//! on, as by default). iperf3, the host's, runs in the zones' network
//! namespaces: the server in zone B, the client in zone A, 5 s per run
//! after 1 s left out for slow start, the receiver's rate read from its
//! JSON report. The peer is two fresh network namespaces joined by one
//! veth pair, no bridge and no filter, measured by the same iperf3 runs,
//! interleaved with the zones' so that load on the machine touches both
//! alike. Medians of 5 runs and the ratio zone/bare (target ≥ 0.9), twice:
//! with client and server both on CPU 0, where the rate is what one CPU
//! can push through the path, so its cost per byte shows; and wherever
//! the scheduler puts them, as a user would see it (on a small machine
//! that varies with placement more than with the path). Last, the node's
//! nft table is deleted and the zones are measured again on CPU 0 (the
//! bridge and two veth pairs without any filter, next to bare runs of the
//! same rounds) to show what the filter costs.
//!
//! Setup: `basalt_net`'s plan for an instance applied through the
//! library, on a thread in a network namespace of its own as the host
//! and a fresh namespace as the zone, then torn down; medians of 20 runs
//! each, for one NIC and for four NICs with a bandwidth cap on one. The
//! switch already exists (an untimed first run made it), as it does once
//! one instance is on the tag. Set-up includes running nft (and tc for
//! the cap); teardown runs nft twice (a listing, then the removal).
//!
//! Never fails on a timing. Run as root: `cargo bench -p basalt-cli
//! --bench network` (the package's binaries are built with the bench
//! profile, and the bench runs exactly those). Needs iperf3, nft, tc,
//! ip and nsenter, and the pool's tools (scripts/install installs them).

mod common;

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use basalt_model::ids::Mac;
use basalt_model::ip::parse_nic_cidr;
use basalt_net::{InstanceNet, Nic, Tag, apply, plan};
use serde_json::{Value, json};

#[path = "../../net/tests/support/netns.rs"]
mod netns;
use netns::{in_new_netns, new_netns};

use common::{on_path, s, sh, target_dir};

/// iperf3 runs per case.
const RUNS: usize = 5;
/// Seconds measured per iperf3 run (after one left out).
const SECONDS: &str = "5";
/// Set-up and teardown runs per instance shape.
const SETUP_RUNS: usize = 20;
const PORT: &str = "5201";

const VMADM: &str = env!("CARGO_BIN_EXE_vmadm");
const IMGADM: &str = env!("CARGO_BIN_EXE_imgadm");
const ZONEADMD: &str = env!("CARGO_BIN_EXE_zoneadmd");

// ---- the host

/// Stops with a clear message unless this runs as root with every tool
/// the bench uses.
fn require_host() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the network benchmark needs root (it makes network namespaces, a btrfs pool and zones)"
    );
    let tools = [
        "iperf3",
        "nft",
        "tc",
        "ip",
        "nsenter",
        "btrfs",
        "mkfs.btrfs",
        "mount",
        "umount",
        "bash",
        "tar",
        "gzip",
        "sha1sum",
        "flock",
    ];
    let missing: Vec<&str> = tools.into_iter().filter(|t| !on_path(t)).collect();
    assert!(
        missing.is_empty(),
        "the network benchmark needs {} on the PATH (scripts/install installs them; \
         iperf3: apt-get install iperf3)",
        missing.join(", ")
    );
}

/// The minimal image's manifest, file and uuid, built once by
/// `images/cached`.
fn minimal_image() -> (PathBuf, PathBuf, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../images/cached");
    let out = sh(&[s(&script), s(&target_dir().join("images")), "minimal"]);
    let mut lines = out.lines();
    let (Some(manifest), Some(file)) = (lines.next(), lines.next()) else {
        panic!("images/cached printed {out:?}, not a manifest and a file");
    };
    let value: Value = serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
    let uuid = value["uuid"].as_str().expect("the manifest has a uuid");
    (manifest.into(), file.into(), uuid.to_owned())
}

// ---- named network namespaces

/// A network namespace of `ip netns`, its loopback up; deleted when
/// dropped, panics included.
struct Netns {
    name: String,
}

impl Netns {
    fn new(name: String) -> Netns {
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        sh(&["ip", "netns", "add", &name]);
        let netns = Netns { name };
        sh(&["ip", "-n", &netns.name, "link", "set", "lo", "up"]);
        netns
    }

    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let deleted = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status()
            .is_ok_and(|s| s.success());
        if !deleted {
            eprintln!("left behind: network namespace {}", self.name);
        }
    }
}

/// `argv` run in the network namespace at `net` (a named one, or a
/// process's `/proc/<pid>/ns/net`).
fn in_net(net: &Path, argv: &[&str]) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net={}", net.display()))
        .arg("--")
        .args(argv)
        .stdin(Stdio::null());
    c
}

// ---- the node, in a relocated root and a network namespace of its own

/// A root with its own 1 GiB pool and the minimal image installed, whose
/// every command runs in `netns`. Drop deletes its zones and unmounts the
/// pool; the namespace goes after that (fields drop after `drop`).
struct Node {
    dir: tempfile::TempDir,
    netns: Netns,
    image: String,
}

impl Node {
    fn new(manifest: &Path, file: &Path, image: String) -> Node {
        let netns = Netns::new(format!("bb-net-{}", std::process::id()));
        let dir = tempfile::Builder::new()
            .prefix("basalt-bench-network-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("usbkey")).unwrap();
        std::fs::write(dir.path().join("usbkey/config"), "pool_file_size=1G\n").unwrap();
        let node = Node { dir, netns, image };
        node.run(IMGADM, &["install", "-m", s(manifest), "-f", s(file)], "");
        node
    }

    fn pool(&self) -> PathBuf {
        self.dir.path().join("zones")
    }

    /// Runs `bin` in the node's namespace with `input` on its stdin;
    /// panics when it fails. Returns its stdout and stderr.
    fn run(&self, bin: &str, args: &[&str], input: &str) -> (String, String) {
        use std::io::Write;
        let mut child = in_net(&self.netns.path(), &[bin])
            .args(args)
            .env("BASALT_ROOT", self.dir.path())
            .env("BASALT_ZONEADMD", ZONEADMD)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{bin} {args:?}: {stderr}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
    }

    /// A running zone with one NIC on `admin` at `ip`/24; its uuid.
    fn create(&self, alias: &str, ip: &str) -> String {
        let payload = json!({
            "brand": "joyent-minimal",
            "image_uuid": self.image,
            "alias": alias,
            "max_physical_memory": 128,
            "nics": [{"nic_tag": "admin", "ips": [format!("{ip}/24")]}],
        });
        let (_, stderr) = self.run(VMADM, &["create"], &payload.to_string());
        stderr
            .trim()
            .strip_prefix("Successfully created VM ")
            .unwrap_or_else(|| panic!("vmadm create said {stderr:?}"))
            .to_owned()
    }

    /// The network namespace of a running zone: its init's.
    fn zone_net(&self, uuid: &str) -> PathBuf {
        let (out, _) = self.run(VMADM, &["get", uuid], "");
        let vm: Value = serde_json::from_str(&out).unwrap();
        let pid = vm["pid"].as_u64().expect("a running zone has a pid");
        PathBuf::from(format!("/proc/{pid}/ns/net"))
    }

    /// The anti-spoofing table's rules for the zones' ports.
    fn chains(&self) -> usize {
        let out = in_net(
            &self.netns.path(),
            &["nft", "-j", "list", "chains", "bridge"],
        )
        .output()
        .unwrap();
        basalt_net::filter::parse_ports(&String::from_utf8_lossy(&out.stdout))
            .expect("nft lists chains as JSON")
            .len()
    }

    /// Deletes the anti-spoofing table, every NIC's rules with it.
    fn drop_filter(&self) {
        let out = in_net(
            &self.netns.path(),
            &["nft", "delete", "table", "bridge", "basalt"],
        )
        .output()
        .unwrap();
        assert!(
            out.status.success(),
            "nft delete table bridge basalt: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Whether bridged frames go through the iptables hooks in the
    /// node's namespace (`br_netfilter`), which the bridge path pays for.
    fn bridge_nf(&self) -> String {
        let file = "/proc/sys/net/bridge/bridge-nf-call-iptables";
        let out = in_net(&self.netns.path(), &["cat", file]).output().unwrap();
        match String::from_utf8_lossy(&out.stdout).trim() {
            "" => "no br_netfilter".to_owned(),
            v => format!("bridge-nf-call-iptables = {v}"),
        }
    }

    fn zones(&self) -> Vec<String> {
        let out = in_net(&self.netns.path(), &[VMADM, "list", "-H", "-o", "uuid"])
            .env("BASALT_ROOT", self.dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Deletes every zone and unmounts the pool; says what is left.
    fn clean_up(&mut self) -> Vec<String> {
        let mut left = Vec::new();
        for uuid in self.zones() {
            let ok = in_net(&self.netns.path(), &[VMADM, "delete", &uuid])
                .env("BASALT_ROOT", self.dir.path())
                .env("BASALT_ZONEADMD", ZONEADMD)
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                left.push(format!("zone {uuid}"));
            }
        }
        left.extend(common::unmount(&self.pool()));
        left
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for what in self.clean_up() {
            eprintln!("left behind: {what}");
        }
    }
}

// ---- the peer: one veth pair between two namespaces

/// Two namespaces, `veth0` in each, the ends of one pair, at 192.0.2.1
/// and 192.0.2.2.
struct Veth {
    a: Netns,
    b: Netns,
}

impl Veth {
    fn new() -> Veth {
        let pid = std::process::id();
        let a = Netns::new(format!("bb-net-{pid}-a"));
        let b = Netns::new(format!("bb-net-{pid}-b"));
        sh(&[
            "ip", "-n", &a.name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0",
            "netns", &b.name,
        ]);
        for (ns, ip) in [(&a, "192.0.2.1/24"), (&b, "192.0.2.2/24")] {
            sh(&["ip", "-n", &ns.name, "addr", "add", ip, "dev", "veth0"]);
            sh(&["ip", "-n", &ns.name, "link", "set", "veth0", "up"]);
        }
        Veth { a, b }
    }
}

// ---- iperf3

/// A child killed and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What one iperf3 client run came to, from its JSON report (iperf3
/// 3.12 exits 0 with `-J` even when it could not connect, so the report
/// decides).
enum Outcome {
    /// The receiver's rate in bit/s.
    Received(f64),
    /// No server listened yet.
    NotListening,
    /// Anything else, with iperf3's words.
    Failed(String),
}

fn outcome(stdout: &[u8]) -> Outcome {
    let Ok(report) = serde_json::from_slice::<Value>(stdout) else {
        return Outcome::Failed(String::from_utf8_lossy(stdout).into_owned());
    };
    if let Some(error) = report["error"].as_str() {
        return if error.contains("unable to connect") {
            Outcome::NotListening
        } else {
            Outcome::Failed(error.to_owned())
        };
    }
    match report["end"]["sum_received"]["bits_per_second"].as_f64() {
        Some(bps) => Outcome::Received(bps),
        None => Outcome::Failed("no end.sum_received.bits_per_second".to_owned()),
    }
}

/// Where iperf3's client and server run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Both on CPU 0 (`-A 0` on each side): all the work of the path is
    /// on one CPU, so its cost per byte shows, whatever the scheduler
    /// would have done.
    OneCpu,
    /// Wherever the scheduler puts them.
    Free,
}

impl Placement {
    fn args(self) -> &'static [&'static str] {
        match self {
            Placement::OneCpu => &["-A", "0"],
            Placement::Free => &[],
        }
    }
}

/// One iperf3 run: the server in `server_net` at `server_ip`, the client
/// in `client_net`; the receiver's rate in Gbit/s.
fn iperf(client_net: &Path, server_net: &Path, server_ip: &str, at: Placement) -> f64 {
    let server = in_net(server_net, &["iperf3", "-s", "-1", "-p", PORT])
        .args(at.args())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("iperf3 runs");
    let mut server = Reaped(server);
    let client = [
        "iperf3", "-c", server_ip, "-p", PORT, "-t", SECONDS, "-O", "1", "-J",
    ];
    // The server needs a moment to listen.
    for _ in 0..50 {
        let out = in_net(client_net, &client)
            .args(at.args())
            .output()
            .unwrap();
        match outcome(&out.stdout) {
            Outcome::Received(bps) => {
                // A one-off server ends after its test; it is killed if not.
                for _ in 0..20 {
                    if server.0.try_wait().is_ok_and(|s| s.is_some()) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                return bps / 1e9;
            }
            Outcome::NotListening => std::thread::sleep(Duration::from_millis(100)),
            Outcome::Failed(why) => panic!("iperf3 to {server_ip}: {}: {why}", out.status),
        }
    }
    panic!("iperf3 to {server_ip}: no server listened after 50 tries, 100 ms apart");
}

/// Throughput of both paths, `RUNS` rounds, each measuring both once
/// (which goes first alternates).
fn throughput(zones: (&Path, &Path, &str), veth: &Veth, at: Placement) -> Pair {
    let (a, b) = (veth.a.path(), veth.b.path());
    let mut pair = Pair {
        zone: Vec::new(),
        bare: Vec::new(),
    };
    for n in 0..RUNS {
        let zone = || iperf(zones.0, zones.1, zones.2, at);
        let peer = || iperf(&a, &b, "192.0.2.2", at);
        if n % 2 == 0 {
            pair.zone.push(zone());
            pair.bare.push(peer());
        } else {
            pair.bare.push(peer());
            pair.zone.push(zone());
        }
        eprintln!(
            "  {at:?} round {}: zone {:.2}, bare {:.2} Gbit/s",
            n + 1,
            pair.zone[n],
            pair.bare[n]
        );
    }
    pair
}

/// The rates of the zones' path and the bare pair's, from the same
/// rounds, in Gbit/s.
struct Pair {
    zone: Vec<f64>,
    bare: Vec<f64>,
}

impl Pair {
    /// Prints both medians and the ratio; returns the zones' median.
    fn report(&self, zone: &str, target: Option<f64>) -> f64 {
        let bare = rate("bare veth pair", &self.bare);
        let ours = rate(zone, &self.zone);
        let r = ours / bare;
        match target {
            Some(t) => println!(
                "    {:<44} {r:>6.2}          (target >= {t:.1}: {})",
                "zone / bare",
                if r >= t { "within" } else { "under" }
            ),
            None => println!("    {:<44} {r:>6.2}", "zone / bare"),
        }
        ours
    }
}

// ---- one instance's networking through the library

fn nic(n: u8, ip: &str) -> Nic {
    let mac = Mac([2, 8, 0x20, 0xbe, 0x7c, n]);
    let mut nic = Nic::new(&format!("net{n}"), mac, Tag::etherstub("admin"));
    nic.ips = vec![parse_nic_cidr(ip).unwrap()];
    nic.primary = n == 0;
    nic
}

/// One NIC with a default route; with `four`, three more on other
/// networks, the second capped at 100 Mbit/s.
fn instance(four: bool) -> InstanceNet {
    let mut primary = nic(0, "192.0.2.10/24");
    primary.gateways = vec!["192.0.2.1".parse().unwrap()];
    let mut nics = vec![primary];
    if four {
        let mut capped = nic(1, "198.51.100.10/24");
        capped.maxbw = Some(100);
        nics.extend([capped, nic(2, "203.0.113.10/24"), nic(3, "2001:db8::10/64")]);
    }
    InstanceNet {
        index: 7,
        nics,
        routes: vec![],
    }
}

/// One set-up of `net` into a fresh zone namespace and its teardown,
/// timed apart.
fn setup_once(net: &InstanceNet) -> (Duration, Duration) {
    let zone = new_netns();
    let started = Instant::now();
    apply::apply(&plan::plan(None, net), Some(zone.as_fd())).expect("the plan applies");
    let setup = started.elapsed();
    let started = Instant::now();
    apply::teardown(net.index).expect("the instance tears down");
    (setup, started.elapsed())
}

/// `SETUP_RUNS` set-ups and teardowns of `net` in a host namespace of
/// their own, after an untimed one that makes the switch.
fn setup_times(net: &InstanceNet) -> (Vec<Duration>, Vec<Duration>) {
    in_new_netns(|| {
        sh(&["ip", "link", "set", "lo", "up"]);
        setup_once(net);
        (0..SETUP_RUNS).map(|_| setup_once(net)).unzip()
    })
}

// ---- the report

/// The host's load average: other work on the machine shows in the
/// spread of the runs.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn rate(what: &str, v: &[f64]) -> f64 {
    let m = median(v);
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    println!("    {what:<44} {m:>6.2} Gbit/s   ({lo:.2} – {hi:.2})");
    m
}

fn ms(times: &[Duration]) -> String {
    let v: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    format!("{:>6.1} ms ({lo:.1} – {hi:.1})", median(&v))
}

fn first_line(argv: &[&str]) -> String {
    sh(argv).lines().next().unwrap_or("?").to_owned()
}

/// The two zones' throughput against the bare pair's: on one CPU and
/// placed freely with the filter, then on one CPU without it.
fn measure_throughput(node: &Node, veth: &Veth) {
    let a = node.create("bench-a", "192.0.2.10");
    let b = node.create("bench-b", "192.0.2.11");
    let (net_a, net_b) = (node.zone_net(&a), node.zone_net(&b));
    let chains = node.chains();
    assert_eq!(chains, 2, "each zone's port has its filter chain");
    let zones = (net_a.as_path(), net_b.as_path(), "192.0.2.11");
    let pinned = throughput(zones, veth, Placement::OneCpu);
    let free = throughput(zones, veth, Placement::Free);
    node.drop_filter();
    let open = throughput(zones, veth, Placement::OneCpu);

    println!("load average after:  {}", load_average());
    println!("node's namespace: {}", node.bridge_nf());
    println!("TCP, zone A -> zone B, median of {RUNS} runs of {SECONDS} s (min – max):");
    println!("  client and server on CPU 0 (iperf3 -A 0: the path's cost per byte):");
    let filtered = pinned.report("zone to zone (bridge, anti-spoofing on)", Some(0.9));
    println!("  client and server where the scheduler puts them:");
    free.report("zone to zone (bridge, anti-spoofing on)", Some(0.9));
    println!("  on CPU 0, the node's nft table deleted (no filter at all):");
    let unfiltered = open.report("zone to zone (bridge only)", None);
    println!(
        "    {:<44} {:>6.2}",
        "zone with filter / without",
        filtered / unfiltered
    );
}

/// The set-up and teardown times of an instance's networking.
fn measure_setup() {
    println!(
        "one instance's networking through basalt_net (plan + apply, teardown), \
         median of {SETUP_RUNS} runs (min – max):"
    );
    println!("  (the switch exists; set-up runs nft once, and tc 4 times per capped NIC;");
    println!("   teardown runs nft twice: a listing and the removal)");
    for (what, four) in [("1 NIC", false), ("4 NICs, maxbw on one", true)] {
        let (setup, teardown) = setup_times(&instance(four));
        println!("  {what:<22} set-up {}", ms(&setup));
        println!("  {:<22} teardown {}", "", ms(&teardown));
    }
}

fn main() {
    require_host();
    let (manifest, file, image) = minimal_image();
    let build = if cfg!(debug_assertions) {
        "a debug build (run it with cargo bench for a release one)"
    } else {
        "release"
    };
    println!("binaries ({build}): {VMADM}, {ZONEADMD}");
    println!("kernel {}", first_line(&["uname", "-r"]));
    println!("{}", first_line(&["iperf3", "--version"]));
    println!("load average before: {}", load_average());

    let mut node = Node::new(&manifest, &file, image);
    let veth = Veth::new();
    measure_throughput(&node, &veth);
    drop(veth);
    let left = node.clean_up();

    measure_setup();
    println!("load average at the end: {}", load_average());
    if left.is_empty() {
        println!("cleaned up: zones deleted, pool unmounted, namespaces deleted");
    } else {
        println!("left behind: {}", left.join("; "));
    }
}
