//! Host tests of the anti-spoofing rules on a real bridge: a namespace of
//! the test's own holds a bridge with two veth ports, each port's peer in a
//! "zone" namespace of its own. Frames crafted by `frames.py` are sent from
//! one zone (through a port filtered as a NIC) and watched for on the
//! other. Need root, `ip`, `nft` and python3; fail (never skip) without
//! them.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::Ipv6Addr;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use basalt_model::ids::Mac;
use basalt_model::ip::parse_nic_cidr;
use basalt_net::filter::{self, Nft, link_local};
use basalt_net::{Nic, Protection, Tag};
use serde_json::{Value, json};

#[path = "support/frames.rs"]
mod frames;
use frames::Helper;

/// The filtered NIC's (zone A's) MAC and addresses.
const MAC: &str = "02:08:20:0a:0b:0c";
const IP: &str = "192.0.2.10";
const IP6: &str = "2001:db8::10";
/// Zone B's MAC, and a MAC nobody has.
const MAC_B: &str = "02:08:20:0b:0b:0b";
const OTHER_MAC: &str = "02:08:20:66:66:66";
/// The host ports of zones A and B.
const PORT_A: &str = "z17_net0";
const PORT_B: &str = "z18_net0";
/// The marker of the frame that closes every exchange; it passes every
/// configuration here.
const END: &str = "end";

/// Network namespaces of one test, a bridge's and two zones', with a frame
/// sender in zone A and a frame receiver in zone B. On drop the helpers are
/// killed and the namespaces deleted (their links go with them).
struct Lab {
    bridge: String,
    zone_a: String,
    zone_b: String,
    sender: Option<Helper>,
    receiver: Option<Helper>,
    /// Exchanges so far: each one's markers are prefixed with its number,
    /// so that a straggler of one is never counted in the next.
    round: u32,
}

impl Lab {
    fn new() -> Lab {
        static COUNT: AtomicU32 = AtomicU32::new(0);
        assert!(
            nix::unistd::geteuid().is_root(),
            "the filter host tests need root (CI runs as root)"
        );
        let base = format!(
            "bt-filter-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let mut lab = Lab {
            bridge: format!("{base}-br"),
            zone_a: format!("{base}-a"),
            zone_b: format!("{base}-b"),
            sender: None,
            receiver: None,
            round: 0,
        };
        for ns in [&lab.bridge, &lab.zone_a, &lab.zone_b] {
            run(&["ip", "netns", "add", ns]);
        }
        let br = lab.bridge.as_str();
        run(&["ip", "-n", br, "link", "add", "br0", "type", "bridge"]);
        for (port, zone, mac) in [(PORT_A, &lab.zone_a, MAC), (PORT_B, &lab.zone_b, MAC_B)] {
            run(&[
                "ip", "-n", br, "link", "add", port, "type", "veth", "peer", "name", "net0",
            ]);
            run(&["ip", "-n", br, "link", "set", "net0", "netns", zone]);
            run(&[
                "ip", "-n", zone, "link", "set", "net0", "address", mac, "up",
            ]);
            run(&["ip", "-n", br, "link", "set", port, "master", "br0", "up"]);
        }
        run(&["ip", "-n", br, "link", "set", "br0", "up"]);
        lab.wait_forwarding();
        let exec = |ns: &str| ["ip", "netns", "exec", ns].map(str::to_owned).to_vec();
        lab.sender = Some(Helper::start(&exec(&lab.zone_a), "send", "net0"));
        lab.receiver = Some(Helper::start(&exec(&lab.zone_b), "recv", "net0"));
        lab
    }

    /// Waits (up to 5 s) until both ports forward: a port's carrier
    /// reaches the bridge a moment after the link is up.
    fn wait_forwarding(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = run(&["bridge", "-n", &self.bridge, "link", "show"]);
            let text = String::from_utf8_lossy(&out.stdout);
            if text.matches("state forwarding").count() == 2 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "bridge ports never forwarded:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// nft in the bridge's namespace.
    fn nft(&self) -> Nft {
        Nft::with_argv(["ip", "netns", "exec", &self.bridge, "nft"])
    }

    /// Applies `nic`'s chain to zone A's port (replacing what it had).
    fn filter_a(&self, nic: &Nic) {
        let batch = filter::batch(&[(PORT_A.to_owned(), nic)], &[]);
        self.nft().apply(&batch).unwrap();
    }

    /// Sends `frames` (and a closing frame) from zone A; the markers zone
    /// B saw, the closing frame's left out after checking it came.
    fn exchange(&mut self, frames: &[Value]) -> BTreeSet<String> {
        self.round += 1;
        let prefix = format!("r{}.", self.round);
        let end = format!("{prefix}{END}");
        let mut all: Vec<Value> = frames.to_vec();
        all.push(ipv4(END, MAC, IP, "udp", 4000, 9));
        for frame in &mut all {
            frame["marker"] = format!("{prefix}{}", frame["marker"].as_str().unwrap()).into();
        }
        let sender = self.sender.as_mut().unwrap();
        assert_eq!(sender.ask(&serde_json::to_string(&all).unwrap()), "sent");
        let answer = self.receiver.as_mut().unwrap().ask(&format!("{end} 3"));
        let seen: Vec<String> = serde_json::from_str(&answer).unwrap();
        let mut ours: BTreeSet<String> = seen
            .iter()
            .filter_map(|m| m.strip_prefix(&prefix).map(str::to_owned))
            .collect();
        assert!(
            ours.remove(END),
            "the closing frame never arrived: {seen:?}"
        );
        ours
    }

    /// The whole ruleset of the bridge's namespace.
    fn ruleset(&self) -> String {
        let out = run(&[
            "ip",
            "netns",
            "exec",
            &self.bridge,
            "nft",
            "list",
            "ruleset",
        ]);
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.sender.take();
        self.receiver.take();
        for ns in [&self.bridge, &self.zone_a, &self.zone_b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn run(argv: &[&str]) -> Output {
    run_with_input(argv, &[])
}

fn run_with_input(argv: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("failed to run `{}`: {e}", argv.join(" ")));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "`{}` failed: {stderr}",
        argv.join(" ")
    );
    out
}

/// Zone A's NIC: every protection, one address of each family, port 25
/// blocked.
fn nic() -> Nic {
    let mut nic = Nic::new("net0", Mac::parse(MAC).unwrap(), Tag::etherstub("test"));
    nic.ips = ["192.0.2.10/24", "2001:db8::10/64"]
        .map(|c| parse_nic_cidr(c).unwrap())
        .to_vec();
    nic.primary = true;
    nic.blocked_outgoing_ports = vec![25];
    nic
}

/// Zone A's NIC with nothing enforced.
fn unprotected() -> Nic {
    let off = Protection {
        mac: false,
        ip: false,
        dhcp: false,
        restricted: false,
    };
    Nic {
        protection: off,
        ..no_ports()
    }
}

/// Zone A's NIC with `change` made.
fn changed(change: impl FnOnce(&mut Nic)) -> Nic {
    let mut nic = nic();
    change(&mut nic);
    nic
}

fn no_ports() -> Nic {
    Nic {
        blocked_outgoing_ports: Vec::new(),
        ..nic()
    }
}

fn ipv4(marker: &str, src: &str, saddr: &str, proto: &str, sport: u16, dport: u16) -> Value {
    json!({"marker": marker, "kind": "ipv4", "src": src, "saddr": saddr,
           "daddr": "192.0.2.255", "proto": proto, "sport": sport, "dport": dport})
}

fn ipv6(marker: &str, saddr: &str, sport: u16, dport: u16) -> Value {
    json!({"marker": marker, "kind": "ipv6", "src": MAC, "saddr": saddr,
           "daddr": "ff02::1", "sport": sport, "dport": dport})
}

fn arp(marker: &str, sha: &str, spa: &str) -> Value {
    json!({"marker": marker, "kind": "arp", "src": MAC, "sha": sha, "spa": spa,
           "tpa": "192.0.2.20"})
}

/// A frame, and when the NIC's rules drop it.
struct Probe {
    frame: Value,
    dropped: fn(&Nic) -> bool,
}

fn probe(frame: Value, dropped: fn(&Nic) -> bool) -> Probe {
    Probe { frame, dropped }
}

/// One frame of each kind the protections tell apart, each breaking at
/// most one rule (the VLAN-tagged ARP and the IPv6-typed ARP aside).
fn probes() -> Vec<Probe> {
    let ll = link_local(Mac::parse(MAC).unwrap()).to_string();
    let never = |_: &Nic| false;
    let mut vlan_arp = arp("vlan-arp", MAC, "192.0.2.99");
    vlan_arp["vlan"] = 5.into();
    let mut arp_format = arp("arp-format", MAC, IP);
    arp_format["ptype"] = 0x86dd.into();
    vec![
        probe(ipv4("ok-v4", MAC, IP, "udp", 4000, 53), never),
        probe(ipv6("ok-v6", IP6, 4000, 53), never),
        probe(ipv6("ok-ll", &ll, 4000, 53), never),
        probe(arp("ok-arp", MAC, IP), never),
        probe(arp("ok-probe", MAC, "0.0.0.0"), never),
        probe(ipv4("bad-mac", OTHER_MAC, IP, "udp", 4000, 53), |n| {
            n.protection.mac
        }),
        probe(arp("bad-arp-mac", OTHER_MAC, IP), |n| n.protection.mac),
        probe(ipv4("bad-v4", MAC, "192.0.2.99", "udp", 4000, 53), |n| {
            n.protection.ip
        }),
        probe(ipv4("zero-v4", MAC, "0.0.0.0", "udp", 4000, 53), |n| {
            n.protection.ip
        }),
        probe(arp("bad-arp-ip", MAC, "192.0.2.99"), |n| n.protection.ip),
        probe(ipv6("bad-v6", "2001:db8::99", 4000, 53), |n| {
            n.protection.ip
        }),
        probe(ipv4("dhcp-server", MAC, IP, "udp", 67, 68), |n| {
            n.protection.dhcp
        }),
        probe(ipv6("dhcp6-server", &ll, 547, 546), |n| n.protection.dhcp),
        probe(
            json!({"marker": "non-ip", "kind": "raw", "src": MAC, "ethertype": 0x88b5}),
            |n| n.protection.restricted,
        ),
        probe(ipv4("blocked-tcp", MAC, IP, "tcp", 4000, 25), |n| {
            n.blocked_outgoing_ports.contains(&25)
        }),
        probe(ipv4("blocked-udp", MAC, IP, "udp", 4000, 25), |n| {
            n.blocked_outgoing_ports.contains(&25)
        }),
        probe(vlan_arp, |n| {
            let p = n.protection;
            p.restricted || p.mac || p.ip
        }),
        probe(arp_format, |n| n.protection.mac || n.protection.ip),
    ]
}

fn frames(probes: &[Probe]) -> Vec<Value> {
    probes.iter().map(|p| p.frame.clone()).collect()
}

/// The markers of the probes that `nic`'s rules let through.
fn expected(probes: &[Probe], nic: &Nic) -> BTreeSet<String> {
    let passing = probes.iter().filter(|p| !(p.dropped)(nic));
    passing
        .map(|p| p.frame["marker"].as_str().unwrap().to_owned())
        .collect()
}

fn markers(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|m| (*m).to_owned()).collect()
}

#[test]
fn every_protection_drops_its_spoofed_frames_and_passes_the_nics_own() {
    let mut lab = Lab::new();
    let probes = probes();
    let everything = expected(&probes, &unprotected());
    assert_eq!(
        lab.exchange(&frames(&probes)),
        everything,
        "unfiltered, all arrive"
    );
    lab.filter_a(&nic());
    let own = markers(&["ok-arp", "ok-ll", "ok-probe", "ok-v4", "ok-v6"]);
    assert_eq!(expected(&probes, &nic()), own);
    assert_eq!(lab.exchange(&frames(&probes)), own);
}

#[test]
fn a_live_update_turning_one_protection_off_passes_exactly_its_frames() {
    let mut lab = Lab::new();
    let probes = probes();
    let rounds = [
        ("all on", nic()),
        ("mac off", changed(|n| n.protection.mac = false)),
        ("ip off", changed(|n| n.protection.ip = false)),
        ("dhcp off", changed(|n| n.protection.dhcp = false)),
        (
            "restricted off",
            changed(|n| n.protection.restricted = false),
        ),
        ("no blocked ports", no_ports()),
        ("all off", unprotected()),
        ("all on again", nic()),
    ];
    for (round, nic) in rounds {
        lab.filter_a(&nic);
        let seen = lab.exchange(&frames(&probes));
        assert_eq!(seen, expected(&probes, &nic), "{round}");
    }
}

#[test]
fn dhcp_addrconf_and_allowed_ips_widen_the_sources_as_configured() {
    let mut lab = Lab::new();
    let iid = filter::interface_id(Mac::parse(MAC).unwrap());
    let slaac = Ipv6Addr::from((0x2001_0db8u128 << 96) | u128::from(iid)).to_string();
    let frames = [
        ipv4("discover", MAC, "0.0.0.0", "udp", 68, 67),
        ipv4("zero-other", MAC, "0.0.0.0", "udp", 4000, 53),
        ipv4("leased", MAC, "192.0.2.77", "udp", 4000, 53),
        arp("arp-leased", MAC, "192.0.2.77"),
        ipv4("allowed", MAC, "198.51.100.9", "udp", 4000, 53),
        ipv6("slaac", &slaac, 4000, 53),
        ipv6("privacy", "2001:db8::1234:5678:9abc:def0", 4000, 53),
    ];
    let mut auto = nic();
    auto.ips.retain(|c| c.addr.is_ipv6());
    (auto.dhcp, auto.addrconf) = (true, true);
    lab.filter_a(&auto);
    let seen = lab.exchange(&frames);
    let widened = markers(&["allowed", "arp-leased", "discover", "leased", "slaac"]);
    assert_eq!(seen, widened, "dhcp and addrconf");

    let mut allowed = nic();
    allowed.allowed_ips = vec![parse_nic_cidr("198.51.100.0/24").unwrap()];
    lab.filter_a(&allowed);
    assert_eq!(lab.exchange(&frames), markers(&["allowed"]), "allowed_ips");
}

#[test]
fn removing_ports_deletes_their_chains_even_when_already_gone() {
    let mut lab = Lab::new();
    let nft = lab.nft();
    assert!(nft.current_ports().unwrap().is_empty(), "no table yet");
    let a = nic();
    let b = Nic {
        mac: Mac::parse(MAC_B).unwrap(),
        ..no_ports()
    };
    let both = filter::batch(&[(PORT_A.into(), &a), (PORT_B.into(), &b)], &[]);
    nft.apply(&both).unwrap();
    let first = lab.ruleset();
    nft.apply(&both).unwrap();
    assert_eq!(
        lab.ruleset(),
        first,
        "applying a batch twice changes nothing"
    );
    assert_eq!(nft.current_ports().unwrap(), [PORT_A, PORT_B]);

    let spoof = [ipv4("bad-mac", OTHER_MAC, IP, "udp", 4000, 53)];
    assert!(lab.exchange(&spoof).is_empty());
    assert_eq!(nft.remove_prefix("z17_").unwrap(), [PORT_A]);
    assert_eq!(nft.current_ports().unwrap(), [PORT_B]);
    assert_eq!(
        lab.exchange(&spoof),
        markers(&["bad-mac"]),
        "port A unfiltered"
    );

    let gone = filter::batch(&[], &[PORT_A.into(), "z99_net0".into()]);
    nft.apply(&gone).unwrap();
    assert_eq!(nft.current_ports().unwrap(), [PORT_B]);
    assert!(nft.remove_prefix("z17_").unwrap().is_empty());
    assert!(!lab.ruleset().contains(PORT_A), "{}", lab.ruleset());
}
