//! Plans applied for real, in network namespaces of the test's own: a
//! thread that unshares its network namespace is the "host" (the nft and
//! tc it starts inherit it), a second namespace is the "zone". Both go
//! away with the test.

use std::os::fd::AsFd;

use basalt_model::ids::Mac;
use basalt_model::ip::parse_nic_cidr;
use basalt_net::netlink::Netlink;
use basalt_net::plan::plan;
use basalt_net::{InstanceNet, Nic, Route, RouteVia, Tag, apply};

#[path = "support/netns.rs"]
mod netns;
use netns::{in_new_netns, new_netns};

fn nic(interface: &str, last: u8, ips: &[&str]) -> Nic {
    let mut nic = Nic::new(
        interface,
        Mac([2, 8, 0x20, 0, 0, last]),
        Tag::etherstub("admin"),
    );
    nic.ips = ips.iter().map(|s| parse_nic_cidr(s).unwrap()).collect();
    nic
}

fn names(nl: &mut Netlink) -> Vec<String> {
    let mut n: Vec<String> = nl.links().unwrap().into_iter().map(|l| l.name).collect();
    n.sort();
    n
}

fn output(argv: &[&str]) -> String {
    let out = std::process::Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_boot_plan_builds_the_switch_ports_addresses_routes_filters_and_caps() {
    let zone = new_netns();
    in_new_netns(|| {
        let mut primary = nic("net0", 1, &["192.0.2.10/24", "2001:db8::10/64"]);
        primary.primary = true;
        primary.gateways = vec!["192.0.2.1".parse().unwrap()];
        let mut second = nic("net1", 2, &["198.51.100.10/24"]);
        second.vlan_id = 7;
        second.mtu = Some(9000);
        second.maxbw = Some(50);
        let net = InstanceNet {
            index: 3,
            nics: vec![primary, second],
            routes: vec![Route {
                destination: parse_nic_cidr("203.0.113.0/24").unwrap(),
                via: RouteVia::Gateway("198.51.100.1".parse().unwrap()),
            }],
        };
        apply::apply(&plan(None, &net), Some(zone.as_fd())).unwrap();

        let mut host = Netlink::open().unwrap();
        assert_eq!(
            names(&mut host),
            ["admin", "admin.7", "lo", "z3_net0", "z3_net1", "z3_net1i"]
        );
        let bridge = host.link("admin").unwrap().unwrap();
        let port = host.link("z3_net0").unwrap().unwrap();
        assert_eq!(bridge.kind.as_deref(), Some("bridge"));
        assert_eq!(port.master, Some(bridge.index));
        assert!(port.up && bridge.up);
        assert_eq!(host.link("z3_net1").unwrap().unwrap().mtu, 9000);
        assert!(output(&["nft", "list", "chain", "bridge", "basalt", "z3_net0"]).contains("drop"));
        assert!(output(&["tc", "qdisc", "show", "dev", "z3_net1i"]).contains("rate 50Mbit"));

        let mut inside = Netlink::open_in(zone.as_fd()).unwrap();
        assert_eq!(names(&mut inside), ["lo", "net0", "net1"]);
        let net0 = inside.link("net0").unwrap().unwrap();
        assert_eq!(net0.mac, Some(Mac([2, 8, 0x20, 0, 0, 1])));
        assert!(net0.up);
        let addrs: Vec<String> = inside
            .addresses()
            .unwrap()
            .into_iter()
            .filter(|a| a.index == net0.index)
            .map(|a| format!("{}/{}", a.cidr.addr, a.cidr.prefix))
            .collect();
        assert!(addrs.contains(&"192.0.2.10/24".to_string()), "{addrs:?}");
        assert!(addrs.contains(&"2001:db8::10/64".to_string()), "{addrs:?}");

        // Applying the same plan again changes nothing and fails nothing.
        let before = names(&mut host);
        apply::apply(&plan(None, &net), Some(zone.as_fd())).unwrap();
        assert_eq!(names(&mut host), before);
        assert_eq!(host.link("z3_net0").unwrap().unwrap().index, port.index);

        // A live change: net1 leaves, net0 gets another address.
        let mut changed = net.clone();
        changed.nics.truncate(1);
        changed.nics[0]
            .ips
            .push(parse_nic_cidr("192.0.2.11/24").unwrap());
        changed.routes.clear();
        apply::apply(&plan(Some(&net), &changed), Some(zone.as_fd())).unwrap();
        assert_eq!(names(&mut inside), ["lo", "net0"]);
        assert_eq!(names(&mut host), ["admin", "admin.7", "lo", "z3_net0"]);

        apply::teardown(3).unwrap();
        assert_eq!(names(&mut host), ["admin", "admin.7", "lo"]);
        assert_eq!(names(&mut inside), ["lo"]);
        assert!(!output(&["nft", "list", "chains", "bridge"]).contains("z3_"));
    });
}
