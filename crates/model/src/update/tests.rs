use super::*;
use crate::facts::SeededEntropy;
use crate::schema::Collection;

const IMG: &str = "01b2c898-945f-11e1-a523-af1afbe22822";
const NOW: &str = "2026-11-27T09:00:00.000Z";

fn created(payload: Value) -> Map<String, Value> {
    crate::create::create(
        payload.as_object().cloned().unwrap(),
        &HostFacts::with_default_pool(),
        "2026-11-27T08:00:00.000Z",
        &mut SeededEntropy(1),
    )
    .unwrap()
    .vm
}

fn upd(vm: &Map<String, Value>, state: &str, payload: Value) -> Result<Updated, UpdateError> {
    let brand: Brand = vm["brand"].as_str().unwrap().parse().unwrap();
    let uuid: VmUuid = vm["uuid"].as_str().unwrap().parse().unwrap();
    let current = Current {
        vm,
        brand,
        uuid: &uuid,
        state,
        zone_state: "installed",
    };
    update(
        &current,
        payload.as_object().cloned().unwrap(),
        &HostFacts::with_default_pool(),
        NOW,
        &mut SeededEntropy(9),
    )
}

fn joyent() -> Map<String, Value> {
    created(json!({"image_uuid": IMG, "alias": "web", "nics": [
        {"nic_tag": "admin", "ip": "192.0.2.10", "netmask": "255.255.255.0", "mac": "02:00:00:00:00:01"},
        {"nic_tag": "admin", "ip": "10.0.0.5", "netmask": "255.0.0.0", "mac": "02:00:00:00:00:02"}]}))
}

#[test]
fn plain_keys_and_unsetting() {
    let vm = joyent();
    let u = upd(
        &vm,
        "stopped",
        json!({"alias": "", "cpu_cap": 200, "quota": null,
        "do_not_inventory": true, "hostname": "h1"}),
    )
    .unwrap();
    assert!(!u.vm.contains_key("alias"));
    assert_eq!(u.vm["cpu_cap"], 200);
    assert_eq!(u.vm["quota"], 0);
    assert_eq!(u.vm["do_not_inventory"], true);
    assert_eq!(u.vm["last_modified"], NOW);
    let u2 = upd(
        &u.vm,
        "stopped",
        json!({"cpu_cap": 0, "do_not_inventory": false, "tmpfs": 0,
        "fs_allowed": "", "resolvers": []}),
    )
    .unwrap();
    assert!(!u2.vm.contains_key("cpu_cap"));
    assert!(!u2.vm.contains_key("do_not_inventory"));
    assert_eq!(u2.vm["tmpfs"], 0);
    assert!(!u2.vm.contains_key("fs_allowed"));
    assert_eq!(u2.vm["resolvers"], json!([]));
}

#[test]
fn not_updatable_keys_are_dropped_and_the_update_succeeds() {
    let vm = joyent();
    let u = upd(
        &vm,
        "running",
        json!({"uuid": IMG, "brand": "lx", "zonename": "x",
        "nics": [], "tags": {"a": 1}, "cpu_type": "host", "alias": "new"}),
    )
    .unwrap();
    assert_eq!(
        u.dropped,
        ["uuid", "brand", "zonename", "nics", "tags", "cpu_type"]
    );
    assert_eq!(u.vm["uuid"], vm["uuid"]);
    assert_eq!(u.vm["alias"], "new");
}

#[test]
fn bad_values_are_refused() {
    let e = upd(
        &joyent(),
        "stopped",
        json!({"max_lwps": -5, "resolvers": ["x"]}),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "Invalid value(s) for: max_lwps,resolvers");
    let e = upd(&joyent(), "stopped", json!({"max_lwps": "x"})).unwrap_err();
    assert_eq!(e.to_string(), "Invalid value for max_lwps: null:number");
}

#[test]
fn metadata_remove_then_set() {
    let vm = joyent();
    let u = upd(
        &vm,
        "stopped",
        json!({"set_customer_metadata": {"a": "1", "b": "2"}}),
    )
    .unwrap();
    let u = upd(
        &u.vm,
        "stopped",
        json!({"remove_customer_metadata": ["a", "b", "zz"],
        "set_customer_metadata": {"b": "3"}, "set_tags": {"role": "db"}}),
    )
    .unwrap();
    assert_eq!(u.vm["customer_metadata"], json!({"b": "3"}));
    assert_eq!(u.vm["tags"], json!({"role": "db"}));
    let paths: Vec<_> = u.changes.iter().map(Change::path).collect();
    assert_eq!(
        paths,
        ["customer_metadata.a", "customer_metadata.b", "tags.role"]
    );
}

#[test]
fn memory_is_adjusted_on_update() {
    let vm = created(
        json!({"image_uuid": IMG, "max_physical_memory": 1024, "max_swap": 2048,
        "tmpfs": 512}),
    );
    let u = upd(&vm, "running", json!({"max_physical_memory": 2048})).unwrap();
    assert_eq!(u.vm["max_swap"], 3072);
    assert_eq!(u.vm["tmpfs"], 1024);
    assert_eq!(u.vm["max_locked_memory"], 2048);
    let mut live: Vec<_> = u
        .changes
        .iter()
        .filter(|c| c.effect(Brand::Joyent) == Effect::Live)
        .map(Change::path)
        .collect();
    live.sort();
    assert_eq!(
        live,
        [
            "max_locked_memory",
            "max_physical_memory",
            "max_swap",
            "tmpfs"
        ]
    );
}

#[test]
fn nics_add_update_remove() {
    let vm = joyent();
    let u = upd(
        &vm,
        "stopped",
        json!({
        "add_nics": [{"nic_tag": "admin", "ips": ["198.51.100.5/24"], "primary": true}],
        "update_nics": [{"mac": "2:0:0:0:0:2", "ip": "10.0.0.6", "allow_ip_spoofing": true}],
        "remove_nics": ["02:00:00:00:00:01", "02:00:00:00:00:99"]}),
    )
    .unwrap();
    let nics = u.vm["nics"].as_array().unwrap();
    assert_eq!(nics.len(), 2);
    assert_eq!(nics[0]["ips"], json!(["10.0.0.6/8"]));
    assert_eq!(nics[0]["allow_ip_spoofing"], true);
    assert!(nics[0].get("primary").is_none());
    assert_eq!(
        nics[1]["interface"], "net0",
        "lowest free name after the removal"
    );
    assert_eq!(nics[1]["primary"], true);
    assert_eq!(
        u.warnings,
        ["remove_nics: no NIC with mac 02:00:00:00:00:99, skipped"]
    );
    let kinds: Vec<_> = u
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Element {
                collection: Collection::Nics,
                old,
                new,
                ..
            } => Some((old.is_some(), new.is_some())),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, [(true, false), (true, true), (false, true)]);
}

#[test]
fn removing_the_primary_picks_a_public_one_first() {
    let vm = created(json!({"image_uuid": IMG, "nics": [
        {"nic_tag": "admin", "ips": ["192.0.2.1/24"], "mac": "02:00:00:00:00:01"},
        {"nic_tag": "admin", "ips": ["10.0.0.1/8"], "mac": "02:00:00:00:00:02"},
        {"nic_tag": "admin", "ips": ["198.51.100.1/24"], "mac": "02:00:00:00:00:03"}]}));
    let u = upd(
        &vm,
        "stopped",
        json!({"remove_nics": ["02:00:00:00:00:01"]}),
    )
    .unwrap();
    let nics = u.vm["nics"].as_array().unwrap();
    assert!(nics[0].get("primary").is_none());
    assert_eq!(nics[1]["primary"], true);
}

#[test]
fn update_nics_messages() {
    let vm = joyent();
    let cases = [
        (
            json!({"update_nics": [{"ip": "192.0.2.3"}]}),
            "NIC object needs a .mac property to update",
        ),
        (
            json!({"update_nics": [{"mac": "02:00:00:00:00:77"}]}),
            "There is no existing NIC with that mac address",
        ),
        (
            json!({"update_nics": [{"mac": "02:00:00:00:00:01", "primary": false}]}),
            "invalid value for NIC's primary flag: false (must be true)",
        ),
        (
            json!({"update_nics": [{"mac": "02:00:00:00:00:01", "nic_tag": "a/b"}]}),
            "invalid .nic_tag option for NIC: {\"mac\":\"02:00:00:00:00:01\",\"nic_tag\":\"a/b\"}",
        ),
    ];
    for (payload, msg) in cases {
        assert_eq!(upd(&vm, "stopped", payload).unwrap_err().to_string(), msg);
    }
    let dhcp = created(
        json!({"image_uuid": IMG, "nics": [{"nic_tag": "admin", "ip": "dhcp", "mac": "02:00:00:00:00:01"}]}),
    );
    assert_eq!(
        upd(
            &dhcp,
            "stopped",
            json!({"update_nics": [{"mac": "02:00:00:00:00:01", "ip": "192.0.2.7"}]})
        )
        .unwrap_err()
        .to_string(),
        "Updating IP address of NIC, but there is currently no specified netmask"
    );
}

#[test]
fn routes_are_rechecked_after_removing_nics() {
    let vm = created(
        json!({"image_uuid": IMG, "routes": {"10.9.0.0/16": "nics[1]"}, "nics": [
        {"nic_tag": "admin", "ips": ["192.0.2.1/24"], "mac": "02:00:00:00:00:01"},
        {"nic_tag": "admin", "ips": ["192.0.2.2/24"], "mac": "02:00:00:00:00:02"}]}),
    );
    let e = upd(
        &vm,
        "stopped",
        json!({"remove_nics": ["02:00:00:00:00:02"]}),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Route gateway: \"nics[1]\" refers to non-existent or DHCP nic"
    );
}

#[test]
fn disks_need_a_stopped_instance() {
    let vm = created(json!({"brand": "kvm", "disks": [{"size": 1024, "model": "virtio"}]}));
    let e = upd(
        &vm,
        "running",
        json!({"add_disks": [{"size": 10, "model": "virtio"}]}),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "updates to disks are only allowed when state is \"stopped\", currently: running (installed)"
    );
    let path = vm["disks"][0]["path"].as_str().unwrap().to_owned();
    let u = upd(
        &vm,
        "running",
        json!({"update_disks": [{"path": path, "compression": "lz4"}]}),
    )
    .unwrap();
    assert_eq!(u.vm["disks"][0]["compression"], "lz4");
    assert_eq!(
        u.changes
            .iter()
            .find(|c| matches!(c, Change::Element { .. }))
            .unwrap()
            .effect(Brand::Kvm),
        Effect::Live
    );
    let e = upd(
        &vm,
        "running",
        json!({"update_disks": [{"path": path, "boot": true}]}),
    )
    .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("at least one specified update to disks is only allowed")
    );
    let e = upd(
        &vm,
        "stopped",
        json!({"update_disks": [{"path": path, "block_size": 512}]}),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot change .block_size for a disk after creation"
    );
    let u = upd(
        &vm,
        "stopped",
        json!({"add_disks": [{"size": 10, "model": "virtio"}], "remove_disks": [path]}),
    )
    .unwrap();
    let disks = u.vm["disks"].as_array().unwrap();
    assert_eq!(disks.len(), 1);
    assert!(
        disks[0]["zfs_filesystem"]
            .as_str()
            .unwrap()
            .ends_with("-disk0")
    );
}

#[test]
fn filesystems_by_target() {
    let mut facts = HostFacts::with_default_pool();
    facts.existing_sources.push("/data".into());
    let vm = crate::create::create(
        json!({"image_uuid": IMG, "filesystems": [{"type": "lofs", "source": "/data", "target": "/data"}]})
            .as_object().cloned().unwrap(),
        &facts, NOW, &mut SeededEntropy(1),
    ).unwrap().vm;
    let u = upd(
        &vm,
        "stopped",
        json!({"update_filesystems": [{"target": "/data", "options": ["ro"]}],
        "add_filesystems": [{"type": "lofs", "source": "/b", "target": "/b"}]}),
    )
    .unwrap();
    assert_eq!(u.vm["filesystems"][0]["options"], json!(["ro"]));
    let u = upd(&u.vm, "stopped", json!({"remove_filesystems": ["/data"]})).unwrap();
    assert_eq!(u.vm["filesystems"].as_array().unwrap().len(), 1);
}

#[test]
fn removing_an_absent_filesystem_changes_nothing() {
    let vm = joyent();
    assert!(!vm.contains_key("filesystems"));
    let u = upd(&vm, "stopped", json!({"remove_filesystems": ["/nowhere"]})).unwrap();
    assert!(u.changes.is_empty());
    assert_eq!(u.vm, vm);
}

#[test]
fn an_empty_update_changes_nothing() {
    let vm = joyent();
    let u = upd(&vm, "stopped", json!({})).unwrap();
    assert!(u.changes.is_empty());
    assert_eq!(u.vm, vm);
}

#[test]
fn collection_members_must_be_arrays() {
    let e = upd(
        &joyent(),
        "stopped",
        json!({"add_nics": {"nic_tag": "admin"}}),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "add_nics must be an array.");
}

#[test]
fn pci_devices_change_only_while_stopped() {
    let vm = created(json!({"brand": "bhyve"}));
    let dev = json!([{"path": "/devices/pci@0,0/x", "pci_slot": "0:7:0"}]);
    let e = upd(&vm, "running", json!({"pci_devices": dev})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "updates to pci_devices are only allowed when state is \"stopped\", currently: running (installed)"
    );
    let e = upd(&vm, "running", json!({"add_pci_devices": dev})).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("updates to pci_devices are only allowed")
    );
    assert!(upd(&vm, "stopped", json!({"add_pci_devices": dev})).is_ok());
}

#[test]
fn added_nics_settle_the_primary() {
    let bare = created(json!({"image_uuid": IMG}));
    let u = upd(
        &bare,
        "stopped",
        json!({"add_nics": [{"nic_tag": "admin", "ip": "dhcp"}]}),
    )
    .unwrap();
    assert_eq!(
        u.vm["nics"][0]["primary"], true,
        "the only NIC becomes primary"
    );
    let e = upd(
        &bare,
        "stopped",
        json!({"add_nics": [
        {"nic_tag": "admin", "ip": "dhcp", "primary": true},
        {"nic_tag": "admin", "ip": "dhcp", "primary": true}]}),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "payload specifies more than 1 primary NIC");
}

#[test]
fn ram_on_an_os_instance_is_its_memory_cap() {
    let vm = joyent();
    let u = upd(&vm, "stopped", json!({"ram": 1024})).unwrap();
    assert!(!u.vm.contains_key("ram"));
    assert_eq!(u.vm["max_physical_memory"], 1024);
}

#[test]
fn added_disks_follow_the_cross_field_rules_and_infinity_is_refused() {
    let vm = created(json!({"brand": "kvm"}));
    let e = upd(&vm, "stopped", json!({"add_disks": [{"model": "virtio"}]})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Missing required properties: add_disks.0.size"
    );
    let e = upd(&vm, "stopped", json!({"max_lwps": "Infinity"})).unwrap_err();
    assert_eq!(e.to_string(), "Invalid value(s) for: max_lwps");
}
