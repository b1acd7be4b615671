use super::*;
use crate::spec::{Protection, Tag};
use basalt_model::ip::parse_nic_cidr;
use serde_json::Value;

fn cidrs(list: &[&str]) -> Vec<Cidr> {
    let parse = |s: &&str| parse_nic_cidr(s).unwrap_or_else(|| panic!("{s}"));
    list.iter().map(parse).collect()
}

/// A NIC with every protection, one IPv4 and one IPv6 address.
fn nic() -> Nic {
    let mac = Mac::parse("02:08:20:0a:0b:0c").unwrap();
    let mut nic = Nic::new("net0", mac, Tag::etherstub("admin"));
    nic.ips = cidrs(&["192.0.2.10/24", "2001:db8::10/64"]);
    nic.primary = true;
    nic
}

/// The rules in nft's own notation, near enough to read.
/// Each line is `<chain>: <rule>`, the port's own chain (`main`, its jump
/// to the protocol chains left out) first.
fn render(nic: &Nic) -> Vec<String> {
    let chains = nic_chains(nic);
    let named = [
        ("main", &chains.main),
        ("ip", &chains.ip),
        ("ip6", &chains.ip6),
        ("arp", &chains.arp),
    ];
    let mut lines = Vec::new();
    for (name, rules) in named {
        let rules = serde_json::to_value(rules).unwrap();
        for r in rules.as_array().unwrap() {
            let stmts = r.as_array().unwrap().iter().map(statement);
            lines.push(format!("{name}: {}", stmts.collect::<Vec<_>>().join(" ")));
        }
    }
    lines
}

fn statement(v: &Value) -> String {
    let (kind, body) = v.as_object().unwrap().iter().next().unwrap();
    match kind.as_str() {
        "match" => {
            let (left, op) = (&body["left"], body["op"].as_str().unwrap());
            let op = if op == "==" && left.get("&").is_none() {
                ""
            } else {
                op
            };
            [expr(left), op.into(), expr(&body["right"])]
                .into_iter()
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        }
        "vmap" => format!("{} vmap {}", expr(&body["key"]), expr(&body["data"])),
        verdict => verdict.to_owned(),
    }
}

fn expr(v: &Value) -> String {
    let join = |items: &Value, sep| {
        let items = items.as_array().unwrap().iter().map(expr);
        items.collect::<Vec<_>>().join(sep)
    };
    let Some((kind, b)) = v.as_object().and_then(|o| o.iter().next()) else {
        return v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    };
    match kind.as_str() {
        "payload" if b.get("base").is_some() => {
            format!("@{},{},{}", expr(&b["base"]), b["offset"], b["len"])
        }
        "payload" => format!("{} {}", expr(&b["protocol"]), expr(&b["field"])),
        "meta" => format!("meta {}", expr(&b["key"])),
        "set" => format!("{{ {} }}", join(b, ", ")),
        "concat" => join(b, " . "),
        "prefix" => format!("{}/{}", expr(&b["addr"]), b["len"]),
        "&" => join(b, " & "),
        other => panic!("no notation for {other}"),
    }
}

const FULL: [&str; 10] = [
    "main: ether saddr != 02:08:20:0a:0b:0c drop",
    "main: ether type != { ip, ip6, arp } drop",
    "ip: udp sport 67 drop",
    "ip: ip saddr != { 192.0.2.10 } drop",
    "ip6: udp sport 547 drop",
    "ip6: meta l4proto ipv6-icmp @th,0,8 { 134, 137 } drop",
    "ip6: ip6 saddr != { ::, 2001:db8::10, fe80::8:20ff:fe0a:b0c } drop",
    "arp: arp htype . arp ptype . arp hlen . arp plen != { 1 . ip . 6 . 4 } drop",
    "arp: arp saddr ether != 02:08:20:0a:0b:0c drop",
    "arp: arp saddr ip != { 0.0.0.0, 192.0.2.10 } drop",
];

fn full_without(gone: &[&str]) -> Vec<String> {
    let kept = FULL.iter().filter(|r| !gone.contains(r));
    kept.map(|r| (*r).to_owned()).collect()
}

#[test]
fn every_protection_gives_the_full_chain() {
    assert_eq!(render(&nic()), FULL);
}

#[test]
fn each_allow_removes_only_its_own_rules() {
    let with = |change: fn(&mut Protection)| {
        let mut nic = nic();
        change(&mut nic.protection);
        render(&nic)
    };
    let (mac, dhcp4, ip4, dhcp6, router, ip6) =
        (FULL[0], FULL[2], FULL[3], FULL[4], FULL[5], FULL[6]);
    let (arp_mac, arp_ip) = (FULL[8], FULL[9]);
    assert_eq!(with(|p| p.mac = false), full_without(&[mac, arp_mac]));
    assert_eq!(with(|p| p.dhcp = false), full_without(&[dhcp4, dhcp6]));
    assert_eq!(
        with(|p| p.ip = false),
        full_without(&[ip4, router, ip6, arp_ip])
    );
    let mut unrestricted = FULL.map(str::to_owned).to_vec();
    unrestricted[1] = "main: ether type { 8021q, 8021ad } drop".into();
    unrestricted.insert(2, "main: meta protocol { 8021q, 8021ad } drop".into());
    assert_eq!(with(|p| p.restricted = false), unrestricted);
}

#[test]
fn without_protections_only_blocked_ports_are_dropped() {
    let mut nic = nic();
    nic.protection = Protection {
        mac: false,
        ip: false,
        dhcp: false,
        restricted: false,
    };
    assert!(render(&nic).is_empty());
    nic.blocked_outgoing_ports = vec![587, 25, 25];
    let ports = "meta l4proto { tcp, udp } th dport { 25, 587 } drop";
    // Still-tagged frames are dropped: their ports could not be checked.
    assert_eq!(
        render(&nic),
        [
            "main: ether type { 8021q, 8021ad } drop".to_owned(),
            "main: meta protocol { 8021q, 8021ad } drop".to_owned(),
            format!("ip: {ports}"),
            format!("ip6: {ports}")
        ]
    );
}

#[test]
fn static_addresses_count_alone_and_allowed_ips_as_given() {
    let mut nic = nic();
    nic.allowed_ips = cidrs(&["198.51.100.7/24", "192.0.2.0/25", "2001:db8:1::/48"]);
    let rules = render(&nic);
    // 192.0.2.10 lies in 192.0.2.0/25: nft refuses overlapping intervals.
    assert!(rules.contains(&"ip: ip saddr != { 192.0.2.0/25, 198.51.100.0/24 } drop".into()));
    let arp = "arp: arp saddr ip != { 0.0.0.0, 192.0.2.0/25, 198.51.100.0/24 } drop";
    assert!(rules.contains(&arp.into()), "{rules:#?}");
    let ip6 = "ip6: ip6 saddr != { ::, 2001:db8::10, 2001:db8:1::/48, fe80::8:20ff:fe0a:b0c } drop";
    assert!(rules.contains(&ip6.into()), "{rules:#?}");
}

#[test]
fn without_ipv4_addresses_all_ipv4_is_dropped() {
    let mut nic = nic();
    nic.ips = cidrs(&["2001:db8::10/64"]);
    let rules = render(&nic);
    assert!(rules.contains(&"ip: meta protocol ip drop".into()));
    assert!(rules.contains(&"arp: arp saddr ip != { 0.0.0.0 } drop".into()));
}

#[test]
fn a_dhcp_nic_keeps_only_the_unspecified_source_for_dhcp_requests() {
    let mut nic = nic();
    nic.dhcp = true;
    let client = "ip: ip saddr 0.0.0.0 udp sport 68 udp dport 67 return";
    let rest = "ip: ip saddr 0.0.0.0 drop";
    let mut expected = full_without(&[FULL[3], FULL[9]]);
    expected.splice(3..3, [client.to_owned(), rest.to_owned()]);
    assert_eq!(render(&nic), expected);
}

#[test]
fn addrconf_lets_through_addresses_with_the_mac_interface_id() {
    let mut nic = nic();
    nic.addrconf = true;
    let slaac = "ip6: ip6 saddr & ::ffff:ffff:ffff:ffff == ::8:20ff:fe0a:b0c return";
    let mut expected = full_without(&[]);
    expected.insert(6, slaac.to_owned());
    assert_eq!(render(&nic), expected);
}

#[test]
fn interface_ids_are_modified_eui64() {
    let mac = Mac::parse("00:11:22:33:44:55").unwrap();
    assert_eq!(interface_id(mac), 0x0211_22ff_fe33_4455);
    assert_eq!(
        link_local(mac),
        "fe80::211:22ff:fe33:4455".parse::<Ipv6Addr>().unwrap()
    );
}

/// Each command as `verb kind name`.
fn outline(batch: &Batch) -> Vec<String> {
    let doc: Value = serde_json::from_str(&batch.to_json()).unwrap();
    let command = |c: &Value| {
        let (verb, object) = c.as_object().unwrap().iter().next().unwrap();
        let (kind, body) = object.as_object().unwrap().iter().next().unwrap();
        let name = body.get("name").or(body.get("chain")).unwrap();
        format!("{verb} {kind} {}", name.as_str().unwrap())
    };
    doc["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .map(command)
        .collect()
}

#[test]
fn a_batch_declares_the_table_then_removes_then_adds() {
    let mut open = nic();
    open.protection.mac = false;
    let adds = [("z17_net0".to_owned(), &open)];
    let lines = outline(&batch(&adds, &["z9_net0".into()]));
    let expected = vec![
        "add table basalt",
        "add map ports",
        "add map local",
        "add chain prerouting",
        "flush chain prerouting",
        "add rule prerouting",
        "add chain not_for_host",
        "flush chain not_for_host",
        "add rule not_for_host",
        "add chain input",
        "flush chain input",
        "add rule input",
    ];
    let chains = |port: &str| ["", "_ip", "_ip6", "_arp"].map(|s| format!("{port}{s}"));
    let declare = |port: &str| {
        chains(port)
            .into_iter()
            .flat_map(|c| [format!("add chain {c}"), format!("flush chain {c}")])
            .collect::<Vec<_>>()
    };
    let mut expected: Vec<String> = expected.into_iter().map(str::to_owned).collect();
    expected.extend(declare("z9_net0"));
    expected.extend(
        [
            "add element ports",
            "add element local",
            "delete element ports",
            "delete element local",
        ]
        .map(str::to_owned),
    );
    expected.extend(chains("z9_net0").map(|c| format!("delete chain {c}")));
    expected.extend(declare("z17_net0"));
    // Without mac-nospoof: two IPv4 rules, three IPv6, two ARP, and the
    // port's own restricted rule and protocol jump.
    for (chain, n) in [
        ("z17_net0_ip", 2),
        ("z17_net0_ip6", 3),
        ("z17_net0_arp", 2),
        ("z17_net0", 2),
    ] {
        expected.extend(std::iter::repeat_n(format!("add rule {chain}"), n));
    }
    expected.extend(["add element ports", "add element local"].map(str::to_owned));
    assert_eq!(lines, expected);
}

#[test]
fn the_batch_json_names_the_verdict_map_and_the_jumps() {
    let nic = nic();
    let doc: Value =
        serde_json::from_str(&batch(&[("z17_net0".into(), &nic)], &[]).to_json()).unwrap();
    let commands = doc["nftables"].as_array().unwrap();
    let map = &commands[1]["add"]["map"];
    assert_eq!(
        (&map["type"], &map["map"]),
        (&"ifname".into(), &"verdict".into())
    );
    let base = &commands[3]["add"]["chain"];
    assert_eq!(
        (&base["hook"], &base["prio"], &base["policy"]),
        (&"prerouting".into(), &Value::from(-200), &"accept".into())
    );
    let lookup = &commands[5]["add"]["rule"]["expr"][0];
    assert_eq!(statement(lookup), "meta iifname vmap @ports");
    let input = &commands[9]["add"]["chain"];
    assert_eq!(input["hook"], "input");
    let local = &commands[11]["add"]["rule"]["expr"][0];
    assert_eq!(statement(local), "meta iifname vmap @local");
    let n = commands.len();
    let element = &commands[n - 2]["add"]["element"]["elem"][0];
    let jump = serde_json::json!(["z17_net0", {"jump": {"target": "z17_net0"}}]);
    assert_eq!(element, &jump);
    let element = &commands[n - 1]["add"]["element"]["elem"][0];
    let jump = serde_json::json!(["z17_net0", {"jump": {"target": "not_for_host"}}]);
    assert_eq!(element, &jump);
}

#[test]
fn ports_are_the_chains_of_the_table_but_the_base_chain() {
    let listing = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
      {"chain": {"family": "bridge", "table": "basalt", "name": "prerouting", "hook": "prerouting"}},
      {"chain": {"family": "bridge", "table": "basalt", "name": "z17_net0", "handle": 33}},
      {"chain": {"family": "bridge", "table": "other", "name": "z18_net0", "handle": 2}},
      {"chain": {"family": "bridge", "table": "basalt", "name": "z18_net1", "handle": 34}}]}"#;
    assert_eq!(parse_ports(listing).unwrap(), ["z17_net0", "z18_net1"]);
    let empty = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}]}"#;
    assert!(parse_ports(empty).unwrap().is_empty());
    assert!(parse_ports("Error: nope").is_err());
}

#[test]
fn nft_failures_name_the_command_and_what_nft_said() {
    let script = "cat >/dev/null; echo 'Error: Could not process rule' >&2; exit 1";
    let nft = Nft::with_argv(["sh", "-c", script, "nft"]);
    let err = nft.apply(&batch(&[], &[])).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, FilterError::Nft { .. }), "{err:?}");
    assert!(message.starts_with("failed to apply the anti-spoofing rules: `sh -c"));
    assert!(
        message.ends_with("nft -j -f -` failed (exit status: 1): Error: Could not process rule")
    );
    let missing = Nft::with_argv(["/nonexistent/nft"])
        .current_ports()
        .unwrap_err();
    assert!(matches!(missing, FilterError::Spawn { .. }), "{missing:?}");
}
