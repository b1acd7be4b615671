use std::path::Path;

use serde_json::json;

use super::*;

const ETH0: Mac = Mac([0x02, 0, 0, 0xaa, 0xbb, 0x01]);
const ETH1: Mac = Mac([0x02, 0, 0, 0xaa, 0xbb, 0x02]);

fn link(index: u32, name: &str, mac: Option<Mac>, kind: Option<&str>) -> Link {
    Link {
        index,
        name: name.to_owned(),
        mac,
        kind: kind.map(str::to_owned),
        master: None,
        mtu: 1500,
        up: true,
    }
}

/// A host with two devices, the bridge of tag `external` holding eth0
/// (with eth0's MAC, as a bridge takes its port's), a VLAN sub-link of
/// eth0, and loopback.
fn host() -> Vec<Link> {
    let mut eth0 = link(2, "eth0", Some(ETH0), None);
    eth0.master = Some(4);
    vec![
        link(1, "lo", Some(Mac([0; 6])), None),
        eth0,
        link(3, "eth1", Some(ETH1), None),
        link(4, "external", Some(ETH0), Some("bridge")),
        link(5, "eth0.5", Some(ETH0), Some("vlan")),
    ]
}

fn config(text: &str) -> NodeConfig {
    NodeConfig::parse(text, Path::new("/usbkey/config")).unwrap()
}

#[test]
fn names_follow_smartos_rule() {
    assert!(valid_name("external"));
    assert!(valid_name("stub_0"));
    assert!(valid_name(&"a".repeat(MAX_NAME)));
    assert!(!valid_name("z1_x"), "named like an instance's host link");
    assert!(valid_name("zone_a") && valid_name("z_1"));
    assert!(!valid_name(&"a".repeat(MAX_NAME + 1)));
    for bad in ["", "ext.5", "ext-1", "a/1", "tag name"] {
        assert!(!valid_name(bad), "{bad}");
    }
}

#[test]
fn mtus_are_digits_in_range() {
    assert_eq!(parse_mtu("9000").unwrap(), 9000);
    assert_eq!(parse_mtu("1500").unwrap(), 1500);
    assert_eq!(
        parse_mtu("abc").unwrap_err().to_string(),
        "invalid mtu: abc"
    );
    assert_eq!(parse_mtu("-1").unwrap_err().to_string(), "invalid mtu: -1");
    for out in ["1499", "9001", "99999999999999"] {
        assert_eq!(
            parse_mtu(out).unwrap_err().to_string(),
            "mtu must be between 1500-9000"
        );
    }
}

#[test]
fn a_mac_finds_its_device_not_the_bridge_or_vlan() {
    let links = host();
    assert_eq!(link_for_mac(&links, ETH0).unwrap().name, "eth0");
    assert_eq!(link_for_mac(&links, ETH1).unwrap().name, "eth1");
    assert!(link_for_mac(&links, Mac([0; 6])).is_none());
    let dummy = [link(7, "dummy0", Some(ETH1), Some("dummy"))];
    assert_eq!(link_for_mac(&dummy, ETH1).unwrap().name, "dummy0");
    let mut port = link(8, "eth2", Some(ETH1), None);
    port.master = Some(9);
    let bonded = [port, link(9, "bond0", Some(ETH1), Some("bond"))];
    assert_eq!(link_for_mac(&bonded, ETH1).unwrap().name, "bond0");
}

#[test]
fn add_checks_in_order() {
    let links = host();
    let c = config("external_nic=02:00:00:aa:bb:01\netherstub=stub0\n");
    let add = |name: &str, new| plan_add(&c, &links, name, new).map_err(|e| e.to_string());
    let phys = |mac| NewTag::Physical { mac, mtu: None };
    assert_eq!(
        add("stub0", NewTag::Etherstub).unwrap_err(),
        "nic tag 'stub0' already exists"
    );
    assert_eq!(
        add("external", phys("zz")).unwrap_err(),
        "nic tag 'external' already exists"
    );
    assert_eq!(
        add("storage", phys("2:0:0:aa:bb")).unwrap_err(),
        "MAC address '2:0:0:aa:bb' is invalid"
    );
    assert_eq!(
        add("storage", phys("2:0:0:aa:bb:9")).unwrap_err(),
        "No physical nic found with MAC address '02:00:00:aa:bb:09'"
    );
    assert_eq!(
        add("storage", phys("2:0:0:AA:BB:1")).unwrap_err(),
        "MAC address '02:00:00:aa:bb:01' is already used by nic tag 'external'"
    );
    assert_eq!(
        add("bad-name", phys("2:0:0:aa:bb:2")).unwrap_err(),
        "nic tag name is invalid"
    );
    assert_eq!(
        add("eth1", NewTag::Etherstub).unwrap_err(),
        "nic tag name 'eth1' is the name of an existing link"
    );
    assert_eq!(
        plan_add(
            &c,
            &links,
            "storage",
            NewTag::Physical {
                mac: "2:0:0:aa:bb:2",
                mtu: Some(9000)
            }
        )
        .unwrap(),
        [
            TagChange::SetNic {
                tag: "storage".into(),
                mac: ETH1
            },
            TagChange::SetMtu {
                tag: "storage".into(),
                mtu: 9000
            }
        ]
    );
    assert_eq!(
        plan_add(&c, &links, "stub1", NewTag::Etherstub).unwrap(),
        [TagChange::AddEtherstub("stub1".into())]
    );
}

#[test]
fn a_leftover_bridge_of_the_same_name_is_no_conflict() {
    let links = host();
    let c = config("");
    assert_eq!(
        plan_add(&c, &links, "external", NewTag::Etherstub).unwrap(),
        [TagChange::AddEtherstub("external".into())]
    );
}

#[test]
fn the_default_admin_tag_exists_until_tags_are_written() {
    let c = config("pool_file_size=1G\n");
    assert!(exists(&c, "admin"));
    let err = plan_add(&c, &[], "admin", NewTag::Etherstub).unwrap_err();
    assert_eq!(err.to_string(), "nic tag 'admin' already exists");
    assert!(!exists(&config("etherstub=\n"), "admin"));
}

#[test]
fn update_checks_in_order() {
    let links = host();
    let c = config("external_nic=02:00:00:aa:bb:01\netherstub=stub0\n");
    let update = |name: &str, mac: Option<&str>, mtu| {
        plan_update(&c, &links, name, mac, mtu).map_err(|e| e.to_string())
    };
    assert_eq!(
        update("external", None, None).unwrap_err(),
        "nothing to update"
    );
    assert_eq!(
        update("nope", Some("2:0:0:aa:bb:2"), None).unwrap_err(),
        "nic tag 'nope' does not exist"
    );
    assert_eq!(
        update("stub0", None, Some(9000)).unwrap_err(),
        "cannot update a local tag"
    );
    assert_eq!(
        update("external", Some("x"), None).unwrap_err(),
        "MAC address 'x' is invalid"
    );
    assert_eq!(
        plan_update(
            &c,
            &links,
            "external",
            Some("02:00:00:aa:bb:01"),
            Some(9000)
        )
        .unwrap(),
        [
            TagChange::SetNic {
                tag: "external".into(),
                mac: ETH0
            },
            TagChange::SetMtu {
                tag: "external".into(),
                mtu: 9000
            }
        ],
        "a tag keeps its own MAC"
    );
}

#[test]
fn delete_refuses_a_tag_in_use_unless_forced() {
    let c = config("external_nic=02:00:00:aa:bb:01\n");
    let users = ["11111111-1111-4111-8111-111111111111".to_owned()];
    assert_eq!(
        plan_delete(&c, "external", &users, false)
            .unwrap_err()
            .to_string(),
        "nic tag 'external' is in use"
    );
    assert_eq!(
        plan_delete(&c, "external", &users, true).unwrap(),
        [TagChange::Remove("external".into())]
    );
    assert_eq!(
        plan_delete(&c, "stub0", &[], false)
            .unwrap_err()
            .to_string(),
        "nic tag 'stub0' does not exist"
    );
}

#[test]
fn listing_shows_the_links_in_use() {
    let c = config(
        "external_nic=02:00:00:aa:bb:01\ngone_nic=02:00:00:aa:bb:09\nbonded_nic=aggr0\netherstub=stub0\n",
    );
    let rows = listing(&c.tags().unwrap(), &host());
    let shown: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.link.as_deref()))
        .collect();
    assert_eq!(
        shown,
        [
            ("bonded", Some("aggr0")),
            ("external", Some("eth0")),
            ("gone", None),
            ("stub0", None)
        ]
    );
}

#[test]
fn resolve_maps_tags_to_uplinks() {
    let links = host();
    let c = config(
        "external_nic=2:0:0:aa:bb:1\nexternal_mtu=9000\ngone_nic=02:00:00:aa:bb:09\nbonded_nic=bond0\n",
    );
    assert_eq!(
        resolve(&c, &links, "external").unwrap(),
        Tag {
            name: "external".into(),
            uplink: Uplink::Physical {
                link: "eth0".into()
            },
            mtu: Some(9000),
        }
    );
    assert_eq!(
        resolve(&c, &links, "gone").unwrap_err().to_string(),
        "nic tag 'gone' is bound to MAC address 02:00:00:aa:bb:09, which no link of this host \
         has (bind it to a link with nictagadm update)"
    );
    assert_eq!(
        resolve(&c, &links, "bonded").unwrap_err().to_string(),
        "nic tag 'bonded' is bound to link 'bond0', which this host does not have"
    );
    assert_eq!(
        resolve(&c, &links, "admin").unwrap_err().to_string(),
        "nic tag 'admin' does not exist"
    );
    assert_eq!(
        resolve(&config(""), &links, "admin").unwrap(),
        Tag {
            name: "admin".into(),
            uplink: Uplink::Etherstub,
            mtu: None,
        }
    );
}

#[test]
fn only_a_tags_portless_bridges_are_idle() {
    let mut links = vec![
        link(10, "stub0", None, Some("bridge")),
        link(11, "stub0.5", None, Some("bridge")),
        link(
            12,
            &names::bridge("a_long_etherstub_name", 7),
            None,
            Some("bridge"),
        ),
        link(13, "stub01", None, Some("bridge")),
        link(14, "z3_net0", None, Some("veth")),
    ];
    links[4].master = Some(11);
    let idle: Vec<&str> = idle_bridges(&links, "stub0")
        .iter()
        .map(|l| l.name.as_str())
        .collect();
    assert_eq!(idle, ["stub0"]);
    let long: Vec<u32> = idle_bridges(&links, "a_long_etherstub_name")
        .iter()
        .map(|l| l.index)
        .collect();
    assert_eq!(long, [12]);
}

#[test]
fn vms_lists_the_instances_on_a_tag() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::new(dir.path());
    let store = Store::new(paths.clone());
    let put = |uuid: &str, ram: u64, tag: &str| {
        let id = uuid.parse().unwrap();
        let vm = json!({"uuid": uuid, "brand": "joyent", "max_physical_memory": ram,
            "nics": [{"interface": "net0", "nic_tag": tag}]});
        let lock = store.lock(&id).unwrap();
        store.write(&id, vm.as_object().unwrap(), &lock).unwrap();
    };
    put("33333333-3333-4333-8333-333333333333", 128, "external");
    put("11111111-1111-4111-8111-111111111111", 256, "external");
    put("22222222-2222-4222-8222-222222222222", 128, "admin");
    assert_eq!(
        vms(&paths, "external").unwrap(),
        [
            "33333333-3333-4333-8333-333333333333",
            "11111111-1111-4111-8111-111111111111"
        ]
    );
    assert!(vms(&paths, "stub0").unwrap().is_empty());
}
