use super::*;
use crate::facts::SeededEntropy;

const IMG: &str = "01b2c898-945f-11e1-a523-af1afbe22822";
const NOW: &str = "2026-11-27T08:00:00.000Z";

fn run(payload: Value) -> Result<Created, CreateError> {
    run_with(payload, &HostFacts::with_default_pool())
}

fn run_with(payload: Value, facts: &HostFacts) -> Result<Created, CreateError> {
    create(
        payload.as_object().cloned().unwrap(),
        facts,
        NOW,
        &mut SeededEntropy(42),
    )
}

fn keys(vm: &Map<String, Value>) -> Vec<&str> {
    let mut k: Vec<_> = vm.keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[test]
fn a_fresh_joyent_minimal_instance_has_the_reference_keys() {
    let c = run(json!({"brand": "joyent-minimal", "image_uuid": IMG, "do_not_inventory": true}))
        .unwrap();
    let vm = &c.vm;
    assert_eq!(
        keys(vm),
        [
            "autoboot",
            "billing_id",
            "brand",
            "cpu_shares",
            "create_timestamp",
            "customer_metadata",
            "dns_domain",
            "do_not_inventory",
            "image_uuid",
            "internal_metadata",
            "last_modified",
            "limit_priv",
            "max_locked_memory",
            "max_lwps",
            "max_msg_ids",
            "max_physical_memory",
            "max_sem_ids",
            "max_shm_ids",
            "max_shm_memory",
            "max_swap",
            "nics",
            "owner_uuid",
            "quota",
            "resolvers",
            "routes",
            "tags",
            "tmpfs",
            "uuid",
            "v",
            "zfs_io_priority",
            "zfs_root_recsize",
            "zonename",
            "zpool",
        ]
    );
    let expect = json!({
        "autoboot": true, "billing_id": VmUuid::ZERO, "owner_uuid": VmUuid::ZERO,
        "brand": "joyent-minimal", "cpu_shares": 100, "customer_metadata": {},
        "dns_domain": "local", "do_not_inventory": true, "internal_metadata": {},
        "limit_priv": "default", "max_locked_memory": 256, "max_lwps": 2000,
        "max_msg_ids": 4096, "max_physical_memory": 256, "max_sem_ids": 4096,
        "max_shm_ids": 4096, "max_shm_memory": 256, "max_swap": 256, "nics": [],
        "quota": 10, "resolvers": [], "routes": {}, "tags": {}, "tmpfs": 256, "v": 1,
        "zfs_io_priority": 100, "zfs_root_recsize": 131072, "zpool": "zones",
        "create_timestamp": NOW,
    });
    for (k, v) in expect.as_object().unwrap() {
        assert_eq!(&vm[k], v, "{k}");
    }
    assert!(crate::ids::is_uuid(vm["uuid"].as_str().unwrap()));
    assert_eq!(vm["zonename"], vm["uuid"]);
}

#[test]
fn a_fresh_kvm_instance() {
    let c = run(json!({"brand": "kvm"})).unwrap();
    let vm = &c.vm;
    assert_eq!(vm["disks"], json!([]));
    assert_eq!(vm["ram"], 256);
    assert_eq!(vm["vcpus"], 1);
    assert_eq!(vm["max_physical_memory"], 1280);
    assert_eq!(vm["limit_priv"], HVM_LIMIT_PRIV);
    for absent in ["dns_domain", "image_uuid", "tmpfs"] {
        assert!(!vm.contains_key(absent), "{absent}");
    }
}

#[test]
fn brand_defaults_to_joyent_and_bhyve_quota_is_one() {
    assert_eq!(
        run(json!({"image_uuid": IMG})).unwrap().vm["brand"],
        "joyent"
    );
    let b = run(json!({"brand": "bhyve"})).unwrap().vm;
    assert_eq!(b["quota"], 1);
    assert_eq!(b["com1"], "/dev/zconsole");
    assert_eq!(b["com2"], "socket,/tmp/vm.ttyb");
    assert_eq!(b["bootrom"], "bios");
}

#[test]
fn unknown_and_not_allowed_keys_are_dropped_not_fatal() {
    let c = run(
        json!({"brand": "joyent", "image_uuid": IMG, "name": "web", "cpu_type": "host",
        "nics": [{"nic_tag": "admin", "ip": "dhcp", "allow_unfiltered_promisc": true}]}),
    )
    .unwrap();
    assert_eq!(
        c.dropped,
        ["name", "cpu_type", "nics.*.allow_unfiltered_promisc"]
    );
    assert!(!c.vm.contains_key("name"));
    assert!(
        !c.vm["nics"][0]
            .as_object()
            .unwrap()
            .contains_key("allow_unfiltered_promisc")
    );
}

#[test]
fn bad_values_and_missing_properties_abort_together() {
    let e = run(json!({"brand": "lx", "resolvers": ["nope"]})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid value(s) for: resolvers\nMissing required properties: image_uuid,kernel_version"
    );
    let e = run(json!({"brand": "joyent"})).unwrap_err();
    assert_eq!(e.to_string(), "Missing required properties: image_uuid");
}

#[test]
fn non_numeric_integers_stop_before_validation() {
    let e = run(json!({"image_uuid": IMG, "max_lwps": "lots", "bogus": 1})).unwrap_err();
    assert_eq!(e.to_string(), "Invalid value for max_lwps: null:number");
    let c =
        run(json!({"image_uuid": IMG, "max_lwps": "3000", "cpu_cap": "", "quota": "20"})).unwrap();
    assert_eq!(c.vm["max_lwps"], 3000);
    assert_eq!(c.vm["quota"], 20);
    assert!(!c.vm.contains_key("cpu_cap"));
}

#[test]
fn brand_errors() {
    assert_eq!(
        run(json!({"brand": "solaris"})).unwrap_err().to_string(),
        "Invalid brand while validating payload: \"solaris\""
    );
}

#[test]
fn uuid_given_taken_or_invalid() {
    let u = "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0";
    let c = run(json!({"uuid": u, "image_uuid": IMG})).unwrap();
    assert_eq!(c.vm["zonename"], u);
    let mut facts = HostFacts::with_default_pool();
    facts.instances.push(c.vm);
    assert_eq!(
        run_with(json!({"uuid": u, "image_uuid": IMG}), &facts)
            .unwrap_err()
            .to_string(),
        format!("VM with UUID {u} already exists")
    );
    assert_eq!(
        run(json!({"uuid": "NOT", "image_uuid": IMG}))
            .unwrap_err()
            .to_string(),
        "Invalid value(s) for: uuid"
    );
}

#[test]
fn deprecated_names_are_translated() {
    let c = run(json!({"dataset_uuid": IMG, "zfs_storage_pool_name": "zones"})).unwrap();
    assert_eq!(c.vm["image_uuid"], IMG);
    assert!(!c.vm.contains_key("dataset_uuid"));
    assert_eq!(c.vm["zpool"], "zones");
}

#[test]
fn clamps_and_unsets_on_create() {
    let c = run(
        json!({"image_uuid": IMG, "cpu_shares": 100000, "cpu_cap": 0, "alias": "",
        "zfs_root_recsize": 0, "do_not_inventory": "false", "autoboot": "false",
        "limit_priv": ["default", "-proc_fork"], "fs_allowed": "ufs,pcfs"}),
    )
    .unwrap();
    let vm = &c.vm;
    assert_eq!(vm["cpu_shares"], 65535);
    assert!(!vm.contains_key("cpu_cap"));
    assert!(!vm.contains_key("alias"));
    assert!(!vm.contains_key("do_not_inventory"));
    assert_eq!(vm["autoboot"], false);
    assert_eq!(vm["zfs_root_recsize"], 131072);
    assert_eq!(vm["limit_priv"], "default,-proc_fork");
    assert_eq!(vm["fs_allowed"], "ufs,pcfs");
    assert_eq!(
        vm["zfs_data_recsize"], 131072,
        "root given pins data defaults"
    );
    assert_eq!(vm["zfs_data_compression"], "off");
}

#[test]
fn docker_instances() {
    let c = run(
        json!({"brand": "lx", "image_uuid": IMG, "kernel_version": "4.4", "docker": true,
        "internal_metadata_namespaces": "foo"}),
    )
    .unwrap();
    let vm = &c.vm;
    assert_eq!(vm["internal_metadata_namespaces"], json!(["foo", "docker"]));
    assert_eq!(vm["restart_init"], false);
    assert_eq!(vm["init_name"], "/native/usr/vm/sbin/dockerinit");
    let id = vm["internal_metadata"]["docker:id"].as_str().unwrap();
    assert_eq!(id.len(), 64);
    assert!(id.starts_with(&vm["uuid"].as_str().unwrap().replace('-', "")));
}

#[test]
fn nics_are_rewritten_and_checked() {
    let c = run(json!({"image_uuid": IMG, "nics": [
        {"nic_tag": "admin", "ip": "192.0.2.10", "netmask": "255.255.255.0", "gateway": "192.0.2.1"},
        {"nic_tag": "admin", "ip": "dhcp", "primary": true}]})).unwrap();
    let nics = c.vm["nics"].as_array().unwrap();
    assert_eq!(nics[0]["ips"], json!(["192.0.2.10/24"]));
    assert!(nics[0].get("primary").is_none());
    assert_eq!(nics[1]["primary"], true);
    let e = run(json!({"image_uuid": IMG, "nics": [
        {"nic_tag": "external", "ip": "192.0.2.10"},
        {"nic_tag": "admin", "gateways": ["2001:db8::1"]}]}))
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Missing .netmask option for NIC: {\"nic_tag\":\"external\",\"ip\":\"192.0.2.10\"}\n\
         Static gateways must be IPv4 addresses: 2001:db8::1\n\
         Invalid nic tag \"external\""
    );
    let e = run(json!({"image_uuid": IMG, "nics": [{"nic_tag": "external", "ips": ["dhcp"]}]}))
        .unwrap_err();
    assert_eq!(e.to_string(), "Invalid nic tag \"external\"");
    assert_eq!(
        run(json!({"image_uuid": IMG, "nics": [], "add_nics": []}))
            .unwrap_err()
            .to_string(),
        "Cannot specify both \"nics\" and \"add_nics\""
    );
}

#[test]
fn conflicts_with_other_instances_stop_the_create() {
    let first = run(json!({"image_uuid": IMG, "nics": [
        {"nic_tag": "admin", "ips": ["192.0.2.10/24"], "mac": "02:00:00:00:00:01"}]}))
    .unwrap();
    let mut facts = HostFacts::with_default_pool();
    facts.instances.push(first.vm);
    let e = run_with(
        json!({"image_uuid": IMG, "uuid": "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0",
        "nics": [{"nic_tag": "admin", "ips": ["192.0.2.10/24"]}]}),
        &facts,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "Conflict detected with another vm, please check the MAC, IP, and VRID"
    );
}

#[test]
fn routes_are_checked_against_the_nics() {
    let e = run(json!({"image_uuid": IMG, "routes": {"10.0.0.0/8": "nics[3]"}})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Route gateway: \"nics[3]\" refers to non-existent or DHCP nic"
    );
}

#[test]
fn hvm_disks_are_built() {
    let c = run(json!({"brand": "kvm", "disk_driver": "virtio",
        "disks": [{"image_uuid": IMG, "image_size": 10240, "boot": true}]}))
    .unwrap();
    assert_eq!(c.vm["disks"][0]["size"], 10240);
    let e = run(json!({"brand": "kvm", "disks": [{"size": 10}]})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "missing .model option for disk: {\"size\":10}"
    );
}

#[test]
fn filesystem_sources_must_exist_and_bhyve_needs_a_capable_node() {
    let payload = json!({"image_uuid": IMG, "filesystems": [
        {"type": "lofs", "source": "/data", "target": "/data", "options": "ro,nodevices"}]});
    assert_eq!(
        run(payload.clone()).unwrap_err().to_string(),
        "missing requested filesystem: /data"
    );
    let mut facts = HostFacts::with_default_pool();
    facts.existing_sources.push("/data".into());
    let c = run_with(payload, &facts).unwrap();
    assert_eq!(
        c.vm["filesystems"][0]["options"],
        json!(["ro", "nodevices"])
    );
    facts.bhyve_capable = false;
    assert_eq!(
        run_with(json!({"brand": "bhyve"}), &facts)
            .unwrap_err()
            .to_string(),
        "Bhyve not supported"
    );
}

#[test]
fn dotted_unknown_keys_are_dropped_whole() {
    let c = run(
        json!({"image_uuid": IMG, "foo.bar.baz": 1, "nics.*.evil": 2,
        "nics": [{"nic_tag": "admin", "ip": "dhcp", "evil": 3}]}),
    )
    .unwrap();
    assert!(!c.vm.contains_key("foo.bar.baz"));
    assert!(!c.vm.contains_key("nics.*.evil"));
    assert!(!c.vm["nics"][0].as_object().unwrap().contains_key("evil"));
}

#[test]
fn memory_values_of_the_wrong_type_are_bad_values() {
    for payload in [
        json!({"image_uuid": IMG, "max_physical_memory": true}),
        json!({"image_uuid": IMG, "max_swap": [1]}),
        json!({"brand": "kvm", "ram": true}),
        json!({"brand": "kvm", "max_physical_memory": 1.5}),
        json!({"image_uuid": IMG, "cpu_cap": "Infinity"}),
        json!({"image_uuid": IMG, "cpu_cap": "1e400"}),
    ] {
        let e = run(payload.clone()).unwrap_err().to_string();
        assert!(e.starts_with("Invalid value(s) for: "), "{payload}: {e}");
    }
    let e = run(json!({"image_uuid": IMG, "cpu_cap": "x", "max_lwps": "y"})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid value for cpu_cap: null:number\nInvalid value for max_lwps: null:number"
    );
}
