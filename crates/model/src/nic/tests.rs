use super::*;
use crate::facts::SeededEntropy;

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

fn add(brand: Brand, nics: Value) -> Result<Vec<Map<String, Value>>, Vec<String>> {
    let nics: Vec<_> = nics
        .as_array()
        .unwrap()
        .iter()
        .map(|n| obj(n.clone()))
        .collect();
    normalise_added(&nics, brand, &[], None, &mut SeededEntropy(7))
}

#[test]
fn ip_and_netmask_become_ips_and_gateway_becomes_gateways() {
    let nics = add(
        Brand::Joyent,
        json!([{"nic_tag": "admin", "ip": "192.0.2.10", "netmask": "255.255.255.0",
                "gateway": "192.0.2.1", "interface": "net7", "index": 3}]),
    )
    .unwrap();
    let n = &nics[0];
    assert_eq!(n["ips"], json!(["192.0.2.10/24"]));
    assert_eq!(n["gateways"], json!(["192.0.2.1"]));
    assert_eq!(n["interface"], "net0");
    for gone in ["ip", "netmask", "gateway", "index"] {
        assert!(!n.contains_key(gone), "{gone}");
    }
}

#[test]
fn dhcp_is_kept_as_a_word_and_every_nic_has_ips() {
    let nics = add(
        Brand::Joyent,
        json!([{"nic_tag": "admin", "ip": "dhcp"}, {"nic_tag": "admin"}]),
    )
    .unwrap();
    assert_eq!(nics[0]["ips"], json!(["dhcp"]));
    assert_eq!(nics[1]["ips"], json!([]));
}

#[test]
fn netmask_errors() {
    let e = add(
        Brand::Joyent,
        json!([{"nic_tag": "admin", "ip": "192.0.2.10"}]),
    )
    .unwrap_err();
    assert_eq!(
        e,
        [r#"Missing .netmask option for NIC: {"nic_tag":"admin","ip":"192.0.2.10"}"#]
    );
    let e = add(
        Brand::Joyent,
        json!([{"nic_tag": "admin", "ip": "192.0.2.10", "netmask": "255.0.255.0"}]),
    )
    .unwrap_err();
    assert_eq!(e, ["Specified netmask value is invalid: 255.0.255.0"]);
}

#[test]
fn interfaces_are_lowest_free_and_lx_uses_eth() {
    let existing = vec![
        obj(json!({"interface": "net0"})),
        obj(json!({"interface": "net2"})),
    ];
    let added = vec![obj(json!({"nic_tag": "a"})), obj(json!({"nic_tag": "a"}))];
    let out = normalise_added(
        &added,
        Brand::Joyent,
        &existing,
        None,
        &mut SeededEntropy(1),
    )
    .unwrap();
    assert_eq!(out[0]["interface"], "net1");
    assert_eq!(out[1]["interface"], "net3");
    let lx = add(Brand::Lx, json!([{"nic_tag": "a"}])).unwrap();
    assert_eq!(lx[0]["interface"], "eth0");
}

#[test]
fn macs_are_generated_locally_administered_or_from_the_vrid() {
    let nics = add(
        Brand::Joyent,
        json!([{"nic_tag": "a"}, {"nic_tag": "a", "mac": "2:8:20:1:2:3"},
        {"nic_tag": "a", "vrrp_vrid": 18, "vrrp_primary_ip": "192.0.2.1"}]),
    )
    .unwrap();
    let mac = Mac::parse(nics[0]["mac"].as_str().unwrap()).unwrap();
    assert_eq!(mac.0[0] & 0x03, 0x02, "locally administered unicast");
    assert_eq!(nics[1]["mac"], "02:08:20:01:02:03");
    assert_eq!(nics[2]["mac"], "00:00:5e:00:01:12");
    let e = add(
        Brand::Joyent,
        json!([{"nic_tag": "a", "vrrp_vrid": 1, "mac": "2:8:20:1:2:3"}]),
    )
    .unwrap_err();
    assert_eq!(e, ["Cannot set both mac and vrrp_vrid"]);
}

#[test]
fn primary_is_true_or_absent_and_exactly_one() {
    let mut nics = add(
        Brand::Joyent,
        json!([{"nic_tag": "a", "primary": false}, {"nic_tag": "a", "primary": "1"}]),
    )
    .unwrap();
    assert!(!nics[0].contains_key("primary"));
    assert_eq!(nics[1]["primary"], true);
    settle_primary(&mut nics).unwrap();
    assert!(!nics[0].contains_key("primary"));
    let mut none = add(Brand::Joyent, json!([{"nic_tag": "a"}, {"nic_tag": "a"}])).unwrap();
    settle_primary(&mut none).unwrap();
    assert_eq!(none[0]["primary"], true);
    let mut two = add(
        Brand::Joyent,
        json!([{"nic_tag": "a", "primary": true},
        {"nic_tag": "a", "primary": true}]),
    )
    .unwrap();
    assert_eq!(
        settle_primary(&mut two).unwrap_err(),
        "payload specifies more than 1 primary NIC"
    );
}

#[test]
fn nic_tag_and_hvm_model_are_required() {
    let e = add(Brand::Kvm, json!([{"ips": ["dhcp"]}])).unwrap_err();
    assert_eq!(
        e,
        [
            r#"invalid or missing .nic_tag option for NIC: {"ips":["dhcp"]}"#,
            r#"missing .model option for NIC: {"ips":["dhcp"]}"#
        ]
    );
    let nics = add(
        Brand::Kvm,
        json!([{"nic_tag": "a", "model": "virtio"}, {"nic_tag": "a"}]),
    )
    .unwrap();
    assert_eq!(
        nics[1]["model"], "virtio",
        "falls back to the first NIC's model"
    );
    let added = vec![obj(json!({"nic_tag": "a"}))];
    let n = normalise_added(
        &added,
        Brand::Kvm,
        &[],
        Some("e1000"),
        &mut SeededEntropy(1),
    )
    .unwrap();
    assert_eq!(n[0]["model"], "e1000");
    assert!(add(Brand::Joyent, json!([{"nic_tag": "bad tag!"}])).is_err());
    assert!(add(Brand::Joyent, json!([{"nic_tag": "overlay/4"}])).is_ok());
}

#[test]
fn scalars_are_coerced() {
    let n = &add(
        Brand::Joyent,
        json!([{"nic_tag": "a", "vlan_id": "0", "mtu": "1500", "maxbw": "10",
        "allow_ip_spoofing": "true", "allowed_ips": "192.0.2.9,192.0.2.10"}]),
    )
    .unwrap()[0];
    assert!(!n.contains_key("vlan_id"), "vlan 0 is not printed");
    assert_eq!(n["mtu"], 1500);
    assert_eq!(n["maxbw"], 10);
    assert_eq!(n["allow_ip_spoofing"], true);
    assert_eq!(n["allowed_ips"], json!(["192.0.2.9", "192.0.2.10"]));
}

fn checked(nics: Value) -> Vec<String> {
    let nics: Vec<_> = nics
        .as_array()
        .unwrap()
        .iter()
        .map(|n| obj(n.clone()))
        .collect();
    check(&nics)
}

#[test]
fn checks_of_2_9() {
    assert!(checked(json!([{"mac": "02:00:00:00:00:01", "ips": ["192.0.2.1/24"]}])).is_empty());
    assert_eq!(
        checked(
            json!([{"mac": "02:00:00:00:00:01", "ips": ["192.0.2.1/24"]},
                       {"mac": "02:00:00:00:00:01", "ips": ["192.0.2.1/24"]}])
        ),
        [
            "Cannot add multiple NICs with the same MAC: 02:00:00:00:00:01",
            "Cannot add multiple NICs with the same IP: 192.0.2.1"
        ]
    );
    assert_eq!(
        checked(json!([{"gateways": ["2001:db8::1"], "ips": ["10.0.0.1"]}])),
        [
            "Static gateways must be IPv4 addresses: 2001:db8::1",
            r#"Invalid IP for NIC: {"gateways":["2001:db8::1"],"ips":["10.0.0.1"]}"#
        ]
    );
    let many: Vec<String> = (1..=21).map(|i| format!("192.0.2.{i}/24")).collect();
    assert_eq!(
        checked(json!([{"ips": many}])),
        ["nic.*.ips contains 21 addresses, but is limited to 20"]
    );
    let allowed: Vec<String> = (1..=14).map(|i| format!("198.51.100.{i}")).collect();
    assert_eq!(
        checked(json!([{"allowed_ips": allowed}])),
        ["Maximum of 13 allowed_ips per nic"]
    );
    assert_eq!(
        checked(json!([{"allowed_ips": ["x", "192.0.2.1"]}])),
        ["invalid allowed_ips: x,192.0.2.1"]
    );
    let cids: Vec<String> = (0..21).map(|i| format!("0x{i:02x}")).collect();
    assert_eq!(
        checked(json!([{"allowed_dhcp_cids": cids}])),
        ["nics.*.allowed_dhcp_cids contains 21 Client Identifiers, but is limited to 20"]
    );
    let long: Vec<String> = (0..3).map(|_| format!("0x{}", "ab".repeat(200))).collect();
    assert_eq!(
        checked(json!([{"allowed_dhcp_cids": long}])),
        ["nics.*.allowed_dhcp_cids contains too many long Client Identifiers"]
    );
}

#[test]
fn vrrp_checks() {
    assert_eq!(
        checked(json!([{"vrrp_vrid": 1}])),
        [
            "vrrp_vrid set but not vrrp_primary_ip",
            "VM cannot contain only VRRP nics"
        ]
    );
    assert_eq!(
        checked(json!([{"ips": ["192.0.2.1/24"]},
            {"vrrp_vrid": 1, "vrrp_primary_ip": "192.0.2.9"},
            {"vrrp_vrid": 1, "vrrp_primary_ip": "192.0.2.1", "mac": "m2"}])),
        [
            "vrrp_primary_ip must belong to the same VM",
            "Cannot add multiple NICs with the same VRID: 1"
        ]
    );
    assert_eq!(
        checked(json!([{"ips": ["192.0.2.1/24"]},
            {"vrrp_vrid": 1, "vrrp_primary_ip": "192.0.2.5", "ips": ["192.0.2.5/24"]}])),
        ["Cannot set vrrp_primary_ip to the IP of a VRRP nic"]
    );
    let ips: Vec<String> = (1..=20).map(|i| format!("192.0.2.{i}/24")).collect();
    let allowed: Vec<String> = (1..=13).map(|i| format!("198.51.100.{i}")).collect();
    assert_eq!(
        checked(json!([{"ips": ips, "allowed_ips": allowed}])),
        ["More than 32 IPs cannot be associated with a NIC"]
    );
}

#[test]
fn tags_must_exist_once_per_missing_tag() {
    let facts = HostFacts {
        nic_tags: vec!["admin".into()],
        ..HostFacts::default()
    };
    let nics = vec![
        obj(json!({"nic_tag": "external"})),
        obj(json!({"nic_tag": "external"})),
        obj(json!({"nic_tag": "admin"})),
        obj(json!({"nic_tag": "admin/77"})),
    ];
    assert_eq!(check_tags(&nics, &facts), ["Invalid nic tag \"external\""]);
}

#[test]
fn conflicts_with_other_instances() {
    let other = obj(json!({"uuid": "other", "state": "running", "nics": [
        {"mac": "02:00:00:00:00:01", "nic_tag": "admin", "ips": ["192.0.2.1/24"]}]}));
    let failed = obj(
        json!({"uuid": "failed", "state": "failed", "zone_state": "installed", "nics": [
        {"mac": "02:00:00:00:00:09", "nic_tag": "admin", "ips": ["192.0.2.9/24"]}]}),
    );
    let facts = HostFacts {
        instances: vec![other, failed],
        ..HostFacts::default()
    };
    let mine = |v: Value| vec![obj(v)];
    assert!(conflicts(
        "me",
        &mine(json!({"mac": "02:00:00:00:00:01"})),
        &facts
    ));
    assert!(conflicts(
        "me",
        &mine(json!({"mac": "x", "nic_tag": "admin", "ips": ["192.0.2.1/24"]})),
        &facts
    ));
    assert!(!conflicts(
        "me",
        &mine(json!({"mac": "x", "nic_tag": "admin", "vlan_id": 5, "ips": ["192.0.2.1/24"]})),
        &facts
    ));
    assert!(!conflicts(
        "me",
        &mine(json!({"mac": "x", "nic_tag": "admin", "ips": ["192.0.2.9/24"]})),
        &facts
    ));
    assert!(!conflicts(
        "other",
        &mine(json!({"mac": "02:00:00:00:00:01"})),
        &facts
    ));
}

#[test]
fn output_adds_representative_keys_in_vmadm_order() {
    let n = obj(
        json!({"primary": true, "ips": ["2001:db8::5/64", "192.0.2.10/24"],
        "gateways": ["192.0.2.1"], "nic_tag": "admin", "mac": "02:00:00:00:00:01", "interface": "net0"}),
    );
    let out = output(&n);
    assert_eq!(out["ip"], "192.0.2.10");
    assert_eq!(out["netmask"], "255.255.255.0");
    assert_eq!(out["gateway"], "192.0.2.1");
    let keys: Vec<_> = out.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "interface",
            "mac",
            "nic_tag",
            "gateway",
            "gateways",
            "netmask",
            "ip",
            "ips",
            "primary"
        ]
    );
    let dhcp = output(&obj(json!({"ips": ["dhcp"]})));
    assert_eq!(dhcp["ip"], "dhcp");
    assert!(!dhcp.contains_key("netmask"));
}
