use serde_json::json;

use super::*;
use crate::listing::add_computed_fields;

fn vm(value: Value) -> Map<String, Value> {
    let mut map = match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    add_computed_fields(&mut map);
    map
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn parse(list: &[&str]) -> Vec<Filter> {
    parse_filters(&args(list), FilterKind::List).expect("valid filters")
}

fn error(list: &[&str], kind: FilterKind) -> String {
    parse_filters(&args(list), kind)
        .expect_err("invalid filters")
        .to_string()
}

fn hits(filters: &[&str], vm: &Map<String, Value>) -> bool {
    matches_all(vm, &parse(filters))
}

fn web() -> Map<String, Value> {
    vm(json!({
        "uuid": "1e6ea123-dca0-44e6-8c0c-34c7f543fe82",
        "brand": "joyent",
        "alias": "Web01",
        "state": "running",
        "autoboot": true,
        "max_physical_memory": 128,
        "cpu_cap": 0.5,
        "nics": [
            {"interface": "net0", "mac": "02:08:20:01:02:03", "ip": "10.0.0.1", "nic_tag": "admin"},
            {"interface": "net1", "mac": "02:08:20:aa:bb:0c", "ip": "10.0.0.2", "vlan_id": 12}
        ],
        "disks": [{"size": 10240, "boot": false}],
        "tags": {"role": "db", "a.b": "dotted"},
        "customer_metadata": {"user-script": "#!/bin/sh\necho hi"}
    }))
}

#[test]
fn every_listable_field_is_a_filter_key() {
    for key in [
        "uuid",
        "type",
        "ram",
        "alias",
        "zonepath",
        "docker",
        "exit_status",
        "hvm",
    ] {
        assert!(
            parse_filters(&args(&[key]), FilterKind::List).is_ok(),
            "{key}"
        );
    }
}

#[test]
fn structured_keys_that_may_be_filtered_on() {
    for key in [
        "disks.*.size",
        "disks.0.image_uuid",
        "disks.3.boot",
        "disks.*.zpool",
        "nics.*.ip",
        "nics.0.mac",
        "nics.12.vlan_id",
        "nics.*.dhcp_server",
        "tags.role",
        "tags.",
        "customer_metadata.a.b",
        "internal_metadata.x",
    ] {
        assert!(
            parse_filters(&args(&[key]), FilterKind::List).is_ok(),
            "{key}"
        );
    }
}

#[test]
fn other_keys_are_refused_with_the_exact_message() {
    for key in [
        "bogus",
        "",
        "UUID",
        "nics",
        "nics.0",
        "nics.*.ips",
        "nics.*.gateways",
        "nics.x.ip",
        "nics..ip",
        "xnics.0.ip",
        "disks.*.path",
        "pci_devices.0.path",
        "filesystems.*.source",
        "routes.10.0.0.0/8",
        "tags",
        "zfs_filesystem",
    ] {
        let arg = format!("{key}=1");
        assert_eq!(
            error(&[&arg], FilterKind::List),
            format!("Invalid filter key: \"{key}\""),
        );
        assert_eq!(
            error(&[&arg], FilterKind::Lookup),
            format!("Invalid lookup key: \"{key}\""),
        );
    }
}

#[test]
fn first_bad_key_in_argument_order_is_reported() {
    assert_eq!(
        error(&["alias=x", "one=1", "two=2"], FilterKind::List),
        "Invalid filter key: \"one\""
    );
}

#[test]
fn splits_on_the_first_equals_sign() {
    let filters = parse(&["customer_metadata.k=a=b"]);
    assert_eq!(filters[0].key(), "customer_metadata.k");
    let has = vm(json!({"customer_metadata": {"k": "a=b"}}));
    assert!(matches_all(&has, &filters));
}

#[test]
fn bare_word_is_an_empty_value() {
    assert_eq!(parse(&["alias"])[0].key(), "alias");
    assert!(hits(&["alias"], &vm(json!({"alias": ""}))));
    assert!(!hits(&["alias"], &web()));
}

#[test]
fn exact_matches_compare_the_js_string() {
    let vm = web();
    assert!(hits(&["ram=128"], &vm));
    assert!(!hits(&["ram=128.0"], &vm));
    assert!(hits(&["autoboot=true"], &vm));
    assert!(hits(&["cpu_cap=0.5"], &vm));
    assert!(hits(&["alias=Web01"], &vm));
    assert!(!hits(&["alias=web01"], &vm));
    assert!(hits(&["disks.0.boot=false"], &vm));
    assert!(hits(&["disks.*.size=10240"], &vm));
    assert!(hits(&["nics.1.vlan_id=12"], &vm));
    assert!(hits(&["tags.a.b=dotted"], &vm));
    assert!(hits(
        &["customer_metadata.user-script=#!/bin/sh\necho hi"],
        &vm
    ));
}

#[test]
fn regex_is_case_insensitive_and_unanchored() {
    let vm = web();
    assert!(hits(&["alias=~^web"], &vm));
    assert!(hits(&["alias=~EB0"], &vm));
    assert!(!hits(&["alias=~^eb"], &vm));
    assert!(hits(&["state=~RUN"], &vm));
    assert!(hits(&["ram=~^12"], &vm));
    assert!(hits(&["alias=~"], &vm));
    assert!(hits(&["nics.*.nic_tag=~^ADM"], &vm));
}

#[test]
fn invalid_regex_is_a_clear_error() {
    assert_eq!(
        error(&["alias=~("], FilterKind::List),
        "Invalid regular expression: /(/: unclosed group"
    );
    assert!(
        error(&["alias=~a(?=b)"], FilterKind::Lookup)
            .starts_with("Invalid regular expression: /a(?=b)/: ")
    );
}

#[test]
fn bad_keys_are_reported_before_bad_patterns() {
    assert_eq!(
        error(&["alias=~(", "bogus=1"], FilterKind::List),
        "Invalid filter key: \"bogus\""
    );
}

#[test]
fn star_index_matches_any_element() {
    let vm = web();
    assert!(hits(&["nics.*.ip=10.0.0.2"], &vm));
    assert!(hits(&["nics.*.ip=10.0.0.1"], &vm));
    assert!(!hits(&["nics.*.ip=10.0.0.3"], &vm));
    assert!(hits(&["nics.1.ip=10.0.0.2"], &vm));
    assert!(!hits(&["nics.0.ip=10.0.0.2"], &vm));
    assert!(!hits(&["nics.5.ip=10.0.0.2"], &vm));
    assert!(hits(&["nics.*.interface=~1$"], &vm));
}

#[test]
fn mac_filters_are_normalised() {
    let vm = web();
    assert!(hits(&["nics.*.mac=2:8:20:1:2:3"], &vm));
    assert!(hits(&["nics.0.mac=02:08:20:01:02:03"], &vm));
    assert!(hits(&["nics.1.mac=2:8:20:AA:BB:C"], &vm));
    assert!(!hits(&["nics.0.mac=2:8:20:1:2:4"], &vm));
    // Regexes are not rewritten.
    assert!(!hits(&["nics.*.mac=~^2:8:20"], &vm));
    assert!(hits(&["nics.*.mac=~^02:08:20:AA"], &vm));
    assert_eq!(normalize_mac("2:8:20:1:2:3"), "02:08:20:01:02:03");
    assert_eq!(normalize_mac("AB:cd:0:00:1:F"), "ab:cd:00:00:01:0f");
    assert_eq!(normalize_mac("not-a-mac"), "not-a-mac");
    assert_eq!(normalize_mac("123:4"), "123:4");
    assert_eq!(normalize_mac(""), "");
}

#[test]
fn missing_values_match_nothing() {
    let bare =
        vm(json!({"uuid": "u", "brand": "joyent", "alias": null, "nics": [{"ip": "10.0.0.1"}]}));
    assert!(!hits(&["alias="], &bare));
    assert!(!hits(&["owner_uuid="], &bare));
    assert!(!hits(&["owner_uuid=undefined"], &bare));
    assert!(!hits(&["owner_uuid=~"], &bare));
    assert!(!hits(&["owner_uuid=~.*"], &bare));
    assert!(!hits(&["tags.role="], &bare));
    assert!(!hits(&["nics.*.vlan_id="], &bare));
    assert!(!hits(&["nics.3.ip="], &bare));
    assert!(!hits(&["disks.*.size="], &bare));
    assert!(!hits(&["alias="], &web()));
    let empty = vm(json!({"uuid": "u", "brand": "joyent", "alias": ""}));
    assert!(hits(&["alias="], &empty));
}

#[test]
fn type_is_truncated_so_bhyve_needs_four_letters() {
    let bhyve = vm(json!({"brand": "bhyve", "ram": 1024}));
    assert!(!hits(&["type=BHYVE"], &bhyve));
    assert!(hits(&["type=BHYV"], &bhyve));
    let kvm = vm(json!({"brand": "kvm", "state": "running"}));
    assert!(hits(&["type=KVM", "state=running"], &kvm));
}

#[test]
fn all_filters_must_match() {
    let vm = web();
    assert!(hits(&["alias=Web01", "ram=128", "nics.*.ip=10.0.0.2"], &vm));
    assert!(!hits(&["alias=Web01", "ram=256"], &vm));
    assert!(hits(&[], &vm));
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    let filters = parse(&["alias=nope", "ram=128", "alias=Web01"]);
    let keys: Vec<_> = filters.iter().map(Filter::key).collect();
    assert_eq!(keys, ["alias", "ram"]);
    assert!(matches_all(&web(), &filters));
    // A bad pattern that a later value replaced is never compiled.
    assert!(parse_filters(&args(&["alias=~(", "alias=x"]), FilterKind::List).is_ok());
}
