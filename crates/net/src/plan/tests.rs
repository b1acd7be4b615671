use super::*;
use crate::spec::{Route, Tag};

fn cidr(s: &str) -> Cidr {
    basalt_model::ip::parse_nic_cidr(s).unwrap()
}

fn nic(interface: &str, mac_last: u8, ips: &[&str]) -> Nic {
    let mac = Mac([2, 8, 0x20, 0, 0, mac_last]);
    let mut nic = Nic::new(interface, mac, Tag::etherstub("admin"));
    nic.ips = ips.iter().map(|s| cidr(s)).collect();
    nic
}

fn instance(nics: Vec<Nic>) -> InstanceNet {
    InstanceNet {
        index: 7,
        nics,
        routes: vec![],
    }
}

#[test]
fn a_boot_makes_every_port_filter_address_and_route() {
    let mut primary = nic("net0", 1, &["192.0.2.10/24", "2001:db8::10/64"]);
    primary.primary = true;
    primary.gateways = vec!["192.0.2.1".parse().unwrap()];
    let mut second = nic("net1", 2, &["198.51.100.5/24"]);
    second.vlan_id = 42;
    second.maxbw = Some(10);
    let mut net = instance(vec![primary, second]);
    net.routes = vec![
        Route {
            destination: cidr("203.0.113.0/24"),
            via: RouteVia::Gateway("198.51.100.1".parse().unwrap()),
        },
        Route {
            destination: cidr("203.0.113.128/32"),
            via: RouteVia::Interface("net1".into()),
        },
    ];
    let p = plan(None, &net);
    let bridges: Vec<_> = p.bridges.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(bridges, ["admin", "admin.42"]);
    assert!(
        p.bridges
            .iter()
            .all(|b| b.uplink.is_none() && b.mtu == 1500)
    );
    let ports: Vec<_> = p
        .add_ports
        .iter()
        .map(|p| (p.host.as_str(), p.interface.as_str(), p.bridge.as_str()))
        .collect();
    assert_eq!(
        ports,
        [
            ("z7_net0", "net0", "admin"),
            ("z7_net1", "net1", "admin.42")
        ]
    );
    assert_eq!(p.filters.len(), 2);
    assert!(p.remove_ports.is_empty() && p.remove_filters.is_empty());
    assert_eq!(
        p.shaping,
        [Shaping {
            port: "z7_net1".into(),
            shaper: "z7_net1i".into(),
            maxbw: Some(10)
        }]
    );
    assert_eq!(p.add_addresses.len(), 3);
    let routes: Vec<_> = p
        .add_routes
        .iter()
        .map(|r| {
            (
                format!("{}/{}", r.destination.0, r.destination.1),
                r.gateway.map(|g| g.to_string()),
                r.interface.clone(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("0.0.0.0/0".to_string(), Some("192.0.2.1".to_string()), None),
            (
                "203.0.113.0/24".to_string(),
                Some("198.51.100.1".to_string()),
                None
            ),
            (
                "203.0.113.128/32".to_string(),
                None,
                Some("net1".to_string())
            ),
        ]
    );
}

#[test]
fn only_the_primary_nics_gateway_is_the_default_route() {
    let mut a = nic("net0", 1, &["192.0.2.10/24"]);
    a.gateways = vec!["192.0.2.1".parse().unwrap()];
    let mut b = nic("net1", 2, &["198.51.100.5/24"]);
    b.primary = true;
    b.gateways = vec!["198.51.100.1".parse().unwrap()];
    let routes = zone_routes(&instance(vec![a, b]));
    assert_eq!(routes.len(), 1);
    let r = routes.first().unwrap();
    assert_eq!(r.gateway, Some("198.51.100.1".parse().unwrap()));
}

#[test]
fn an_unchanged_instance_needs_nothing() {
    let net = instance(vec![nic("net0", 1, &["192.0.2.10/24"])]);
    assert_eq!(plan(Some(&net), &net), Plan::default());
}

#[test]
fn adding_and_removing_nics_touches_only_them() {
    let old = instance(vec![
        nic("net0", 1, &["192.0.2.10/24"]),
        nic("net1", 2, &[]),
    ]);
    let new = instance(vec![
        nic("net0", 1, &["192.0.2.10/24"]),
        nic("net2", 3, &["192.0.2.12/24"]),
    ]);
    let p = plan(Some(&old), &new);
    assert_eq!(p.remove_ports, ["z7_net1"]);
    assert_eq!(p.remove_filters, ["z7_net1"]);
    assert_eq!(p.add_ports.len(), 1);
    assert_eq!(p.add_ports[0].host, "z7_net2");
    assert_eq!(p.filters.len(), 1);
    assert_eq!(
        p.add_addresses,
        [("net2".to_string(), cidr("192.0.2.12/24"))]
    );
    assert!(p.remove_addresses.is_empty());
}

#[test]
fn changed_protections_and_addresses_apply_in_place() {
    let old = instance(vec![nic("net0", 1, &["192.0.2.10/24"])]);
    let mut changed = nic("net0", 1, &["192.0.2.11/24"]);
    changed.protection.ip = false;
    changed.maxbw = Some(100);
    let new = instance(vec![changed]);
    let p = plan(Some(&old), &new);
    assert!(p.add_ports.is_empty() && p.remove_ports.is_empty());
    assert_eq!(p.filters.len(), 1);
    assert_eq!(
        p.remove_addresses,
        [("net0".to_string(), cidr("192.0.2.10/24"))]
    );
    assert_eq!(
        p.add_addresses,
        [("net0".to_string(), cidr("192.0.2.11/24"))]
    );
    assert_eq!(p.shaping[0].maxbw, Some(100));
    // Lifting the cap is a step too.
    let lifted = plan(Some(&new), &old);
    assert_eq!(lifted.shaping[0].maxbw, None);
}

#[test]
fn a_new_vlan_remakes_the_port_and_its_routes() {
    let mut a = nic("net0", 1, &["192.0.2.10/24"]);
    a.primary = true;
    a.gateways = vec!["192.0.2.1".parse().unwrap()];
    let old = instance(vec![a.clone()]);
    a.vlan_id = 5;
    let new = instance(vec![a]);
    let p = plan(Some(&old), &new);
    assert_eq!(p.remove_ports, ["z7_net0"]);
    assert!(
        p.remove_filters.is_empty(),
        "the chain is rewritten instead"
    );
    assert_eq!(p.add_ports[0].bridge, "admin.5");
    assert_eq!(p.add_addresses.len(), 1, "the new link needs its address");
    assert_eq!(p.add_routes.len(), 1, "and its default route");
}

#[test]
fn physical_tags_bring_their_link_or_vlan_sub_link() {
    let mut a = nic("net0", 1, &[]);
    a.tag = Tag {
        name: "external".into(),
        uplink: Uplink::Physical {
            link: "eth1".into(),
        },
        mtu: Some(9000),
    };
    let b = bridge_of(&a);
    assert_eq!(b.name, "external");
    assert_eq!(b.mtu, 9000);
    assert_eq!(
        b.uplink,
        Some(UplinkPort {
            link: "eth1".into(),
            vlan: None
        })
    );
    assert_eq!(a.effective_mtu(), 9000);
    a.vlan_id = 12;
    assert_eq!(
        bridge_of(&a).uplink.unwrap().vlan,
        Some((12, "eth1.12".to_string()))
    );
}

#[test]
fn addresses_and_interface_ids() {
    assert!(contains(
        cidr("192.0.2.0/24"),
        "192.0.2.77".parse().unwrap()
    ));
    assert!(!contains(
        cidr("192.0.2.0/24"),
        "198.51.100.1".parse().unwrap()
    ));
    assert!(contains(
        cidr("2001:db8::/64"),
        "2001:db8::1".parse().unwrap()
    ));
    assert!(!contains(
        cidr("2001:db8::/64"),
        "192.0.2.1".parse().unwrap()
    ));
}

#[test]
fn a_new_address_on_the_primary_nic_keeps_its_default_route() {
    let mut a = nic("net0", 1, &["192.0.2.10/24"]);
    a.primary = true;
    a.gateways = vec!["192.0.2.1".parse().unwrap()];
    let old = instance(vec![a.clone()]);
    a.ips = vec![cidr("192.0.2.11/24")];
    let p = plan(Some(&old), &instance(vec![a]));
    assert_eq!(p.remove_addresses.len(), 1);
    assert_eq!(
        p.add_routes.len(),
        1,
        "the default route is added again after the old address goes"
    );
    assert!(p.remove_routes.is_empty());
}
