//! Properties of the model as a whole, on generated payloads:
//!
//! - nothing a user can send (any JSON, integers at the edges of i64/u64/
//!   f64, any `key=value` line) makes validation, create, update or the
//!   `key=value` parser panic, and what they report names only keys the
//!   user gave;
//! - what the model stores, and what `vmadm get` prints, is itself a valid
//!   create payload (once the keys the schema does not accept on create are
//!   taken out), and creating it again gives the same configuration (a
//!   fixed point after the one difference reference 2.6 step 8 makes);
//! - an update reports exactly what it changed; an empty one changes
//!   nothing; one of valid values leaves a valid instance;
//! - every instance the model creates can be listed and looked up by uuid.
//!
//! The engine-level listing properties (filters, specs, rendering and
//! sorting on arbitrary objects) are in `src/listing/proptests.rs`.

use basalt_model::Brand;
use basalt_model::create::{self, CreateError, Created};
use basalt_model::facts::{HostFacts, SeededEntropy};
use basalt_model::listing::{self, Field, FilterKind, Table};
use basalt_model::schema::{
    self, Action, DISK_PROPERTIES, FILESYSTEM_PROPERTIES, NIC_PROPERTIES, PCI_PROPERTIES,
    PROPERTIES, UPDATE_MEMBERS,
};
use basalt_model::update::{self, Change, Current, UpdateError, Updated};
use basalt_model::validate::{self, ValidationReport, validate, validate_create};
use basalt_model::vm::{self, Runtime, ZoneState};
use basalt_model::{VmObject, VmUuid};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const NOW: &str = "2026-11-27T08:00:00.000Z";
const LATER: &str = "2026-11-27T09:00:00.000Z";
const IMG: &str = "01b2c898-945f-11e1-a523-af1afbe22822";
const ACTIONS: [Action; 3] = [Action::Create, Action::Update, Action::Receive];

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Sources of lofs filesystems that exist on the node.
const SOURCES: [&str; 2] = ["/data", "/srv/www"];

fn facts() -> HostFacts {
    HostFacts {
        existing_sources: SOURCES.iter().map(|s| (*s).to_owned()).collect(),
        ..HostFacts::with_default_pool()
    }
}

fn create_with(payload: VmObject, seed: u64) -> Result<Created, CreateError> {
    create::create(payload, &facts(), NOW, &mut SeededEntropy(seed))
}

fn update_with(
    vm: &VmObject,
    state: &str,
    payload: VmObject,
    seed: u64,
) -> Result<Updated, UpdateError> {
    let brand: Brand = vm["brand"].as_str().unwrap().parse().unwrap();
    let uuid: VmUuid = vm["uuid"].as_str().unwrap().parse().unwrap();
    let zone_state = if state == "running" {
        "running"
    } else {
        "installed"
    };
    let current = Current {
        vm,
        brand,
        uuid: &uuid,
        state,
        zone_state,
    };
    update::update(&current, payload, &facts(), LATER, &mut SeededEntropy(seed))
}

fn runtime(zone_state: ZoneState) -> Runtime {
    Runtime {
        zone_state,
        failed: false,
        provisioning: false,
        receiving: false,
        zonepath: "/zones/instance".into(),
        pid: Some(4242),
        boot_timestamp: Some(NOW.into()),
        last_exit: Some((0, NOW.into())),
    }
}

/// What of a stored or printed instance a user may send back to create:
/// the top-level keys the schema accepts on create for the brand
/// (`Property::allowed(brand, Action::Create)`), which leaves out `v`, the
/// timestamps and everything computed (`state`, `zonepath`, `hvm`...).
///
/// One thing the table cannot say: a volume's `path` (with the
/// `zfs_filesystem` beside it) is derived by create from the pool, the uuid
/// and the disk's index, and vmadm refuses a `path` on a disk it is to
/// create ("you cannot specify a path for a disk unless you set
/// nocreate=true"), so those are taken out of such disks too.
fn as_create_payload(obj: &VmObject, brand: Brand) -> VmObject {
    let mut p: VmObject = obj
        .iter()
        .filter(|(k, _)| schema::property(k).is_some_and(|p| p.allowed(brand, Action::Create)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(Value::Array(disks)) = p.get_mut("disks") {
        for disk in disks.iter_mut().filter_map(Value::as_object_mut) {
            let volume = disk.get("media").and_then(Value::as_str) != Some("cdrom")
                && disk.get("nocreate") != Some(&Value::Bool(true));
            if volume {
                disk.remove("path");
                disk.remove("zfs_filesystem");
            }
        }
    }
    p
}

/// Whether a reported entry (`alias`, `nics.0.ip`, `nics.*.model`) is about
/// a key of `payload`.
fn about_given_key(entry: &str, payload: &VmObject) -> bool {
    payload.contains_key(entry)
        || payload.keys().any(|k| {
            entry
                .strip_prefix(k.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
        })
}

fn check_report(
    report: &ValidationReport,
    payload: &VmObject,
    brand: Brand,
) -> Result<(), TestCaseError> {
    for e in report.bad_values.iter().chain(&report.bad_properties) {
        prop_assert!(about_given_key(e, payload), "{e} is not in the payload");
    }
    for e in &report.missing_properties {
        prop_assert!(
            about_given_key(e, payload) || schema::required_on_create(brand).contains(&e.as_str()),
            "{e} is neither required nor in the payload"
        );
    }
    Ok(())
}

/// The top-level key a change is about.
fn changed_key(c: &Change) -> &str {
    match c {
        Change::Property { key, .. } => key,
        Change::Entry { map, .. } => map,
        Change::Element { collection, .. } => collection.key(),
    }
}

/// The changes an update reports account for every top-level key that
/// differs (but `last_modified`, which follows them), and name only keys
/// that do; `last_modified` moved exactly when something changed. A
/// collection that is absent and one that is empty are the same (create
/// stores `pci_devices: []` when given it, and leaves it out otherwise).
fn check_changes(old: &VmObject, u: &Updated) -> Result<(), TestCaseError> {
    let new = &u.vm;
    let get = |vm: &VmObject, k: &str| match vm.get(k) {
        None if schema::Collection::from_key(k).is_some() => Some(json!([])),
        v => v.cloned(),
    };
    let differs = |k: &str| get(old, k) != get(new, k);
    for k in old.keys().chain(new.keys()) {
        if k != "last_modified" && differs(k) {
            prop_assert!(
                u.changes.iter().any(|c| changed_key(c) == k),
                "{} changed but no change says so: {:?} -> {:?}",
                k,
                old.get(k),
                new.get(k)
            );
        }
    }
    for c in &u.changes {
        prop_assert!(differs(changed_key(c)), "{:?} reported, nothing differs", c);
    }
    let moved = differs("last_modified");
    prop_assert_eq!(moved, !u.changes.is_empty());
    if moved {
        prop_assert_eq!(new["last_modified"].as_str(), Some(LATER));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Arbitrary JSON, with keys drawn mostly from the real property names.

fn names() -> Vec<&'static str> {
    [
        PROPERTIES,
        UPDATE_MEMBERS,
        NIC_PROPERTIES,
        DISK_PROPERTIES,
        FILESYSTEM_PROPERTIES,
        PCI_PROPERTIES,
    ]
    .iter()
    .flat_map(|table| table.iter().map(|p| p.name))
    .collect()
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(names()).prop_map(str::to_owned),
        1 => "[a-z_]{0,12}",
        1 => ".{0,8}",
    ]
}

/// Strings, many of them numeric-looking or otherwise meaningful to some
/// property.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "", " ", "0", "1", "-1", "512", " 1024 ", "1.5", "1e3", "1e400", "-0", "0x1f",
            "0b101", "0o17", "0x", "Infinity", "-Infinity", "NaN", "9223372036854775807",
            "-9223372036854775808", "18446744073709551616", "9007199254740993", "true",
            "false", "null", "a,b", "1,2,3", ",", ",,", "dhcp", "addrconf", "192.0.2.7",
            "192.0.2.7/24", "2001:db8::7/64", "255.255.255.0", "02:08:20:01:02:03",
            "00:00:5e:00:01:07", "nic0", "net0", "admin", "admin/4", "virtio", "ide",
            "ahci", "passthru", "disk", "cdrom", "/dev/zvol/rdsk/zones/x-disk0",
            "/devices/pci@0,0/pci8086,2e@4", "0:4:0", "1:2:3", "0x0102", "4096/512",
            "joyent", "joyent-minimal", "lx", "kvm", "bhyve", "builder", "zones", IMG,
            "00000000-0000-0000-0000-000000000000", "lz4", "gzip-9", "docker",
            // What the generated instances hold: MACs, filesystem targets,
            // tag keys.
            "02:00:00:00:00:01", "02:00:00:00:00:02", "/mnt/0", "/mnt/1", "a", "role",
        ])
        .prop_map(str::to_owned),
        1 => ".{0,16}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-5i64..70_000).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // NaN and the infinities become null.
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            0.5,
            -0.5,
            1.5,
            -0.0,
            1e20,
            -1e20,
            1e300,
            9.007_199_254_740_992e15,
            9.223_372_036_854_776e18,
            -9.223_372_036_854_776e18,
        ])
        .prop_map(Value::from),
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number(),
        4 => text().prop_map(Value::String),
    ]
}

/// A value for a key: scalars more often than not, else any JSON.
fn member_value() -> impl Strategy<Value = Value> {
    prop_oneof![2 => scalar(), 1 => json_value()]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn brand_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::sample::select(Brand::ALL.to_vec()).prop_map(|b| json!(b.as_str())),
        1 => json_value(),
    ]
}

/// Keys of an update payload: the update-only members, the top-level
/// properties, and now and then anything.
fn update_key() -> impl Strategy<Value = String> {
    let members: Vec<&str> = UPDATE_MEMBERS.iter().map(|p| p.name).collect();
    let top: Vec<&str> = PROPERTIES.iter().map(|p| p.name).collect();
    prop_oneof![
        3 => prop::sample::select(members).prop_map(str::to_owned),
        3 => prop::sample::select(top).prop_map(str::to_owned),
        1 => key(),
    ]
}

/// A value of the type the schema gives `key` (a list, a flat object, an
/// array of objects with the collection's keys, a number...), or, now and
/// then, any value at all.
fn typed_value(key: &str) -> BoxedStrategy<Value> {
    use schema::PropType;
    let ty = schema::property(key)
        .or_else(|| schema::update_member(key))
        .map(|p| p.ty);
    let typed = match ty {
        Some(PropType::List(_)) => prop_oneof![
            prop::collection::vec(text(), 1..3).prop_map(|v| json!(v)),
            text().prop_map(Value::String),
        ]
        .boxed(),
        Some(PropType::FlatObject) => prop::collection::vec((text(), scalar()), 0..3)
            .prop_map(|kv| Value::Object(kv.into_iter().collect()))
            .boxed(),
        Some(PropType::ObjectArray) => {
            let collection = validate::collection_of(key).map(|(c, _)| c);
            let names: Vec<&'static str> =
                collection.map_or_else(names, |c| c.properties().iter().map(|p| p.name).collect());
            let element = prop::collection::vec(
                (
                    prop::sample::select(names).prop_map(str::to_owned),
                    scalar(),
                ),
                0..5,
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect()));
            prop::collection::vec(element, 0..3)
                .prop_map(Value::Array)
                .boxed()
        }
        Some(PropType::Integer { .. }) => number().boxed(),
        Some(PropType::Boolean) => any::<bool>().prop_map(Value::Bool).boxed(),
        _ => text().prop_map(Value::String).boxed(),
    };
    prop_oneof![3 => typed, 1 => member_value()].boxed()
}

/// An arbitrary update payload, a few keys long and mostly well typed so
/// that some get through.
fn update_payload() -> impl Strategy<Value = VmObject> {
    prop::collection::vec(
        update_key().prop_flat_map(|k| (Just(k.clone()), typed_value(&k))),
        0..5,
    )
    .prop_map(|kv| kv.into_iter().collect())
}

/// An arbitrary payload: usually with a real brand, so that validation gets
/// past the brand check.
fn payload() -> impl Strategy<Value = VmObject> {
    (
        prop::option::weighted(0.9, brand_value()),
        prop::collection::vec((key(), member_value()), 0..12),
    )
        .prop_map(|(brand, kv)| {
            let mut p: VmObject = kv.into_iter().collect();
            if let Some(b) = brand {
                p.insert("brand".into(), b);
            }
            p
        })
}

// ---------------------------------------------------------------------------
// Valid create payloads, from values vmadm accepts.

const V4_GATEWAYS: [&str; 2] = ["192.0.2.1", "198.51.100.1"];

/// A number as JSON, or (when `as_string`) as the string vmadm also takes.
fn num(n: i64, as_string: bool) -> Value {
    if as_string {
        json!(n.to_string())
    } else {
        json!(n)
    }
}

#[derive(Debug, Clone)]
struct NicSpec {
    form: u8,
    gateway: bool,
    vlan: Option<i64>,
    mac: bool,
    mtu: Option<i64>,
    spoofing: Option<bool>,
    as_strings: bool,
}

fn nic_spec() -> impl Strategy<Value = NicSpec> {
    (
        0u8..6,
        any::<bool>(),
        prop::option::of(0i64..4096),
        any::<bool>(),
        prop::option::weighted(0.2, 576i64..=9000),
        prop::option::weighted(0.2, any::<bool>()),
        any::<bool>(),
    )
        .prop_map(
            |(form, gateway, vlan, mac, mtu, spoofing, as_strings)| NicSpec {
                form,
                gateway,
                vlan,
                mac,
                mtu,
                spoofing,
                as_strings,
            },
        )
}

/// The `i`th NIC of a payload: addresses from the documentation ranges,
/// distinct per NIC, on nic tag `admin`.
fn nic(i: usize, spec: &NicSpec, model: bool) -> Value {
    let mut n = Map::new();
    n.insert("nic_tag".into(), json!("admin"));
    match spec.form {
        0 => {
            n.insert("ip".into(), json!(format!("192.0.2.{}", 10 + i)));
            n.insert("netmask".into(), json!("255.255.255.0"));
            if spec.gateway {
                n.insert("gateway".into(), json!(V4_GATEWAYS[0]));
            }
        }
        1 => {
            n.insert("ips".into(), json!([format!("198.51.100.{}/24", 10 + i)]));
            if spec.gateway {
                n.insert("gateways".into(), json!([V4_GATEWAYS[1]]));
            }
        }
        2 => {
            n.insert(
                "ips".into(),
                json!([
                    format!("192.0.2.{}/25", 100 + i),
                    format!("2001:db8::{:x}/64", i + 1)
                ]),
            );
        }
        3 => {
            n.insert("ip".into(), json!("dhcp"));
        }
        4 => {
            n.insert("ips".into(), json!(["dhcp", "addrconf"]));
        }
        _ => {
            n.insert(
                "ips".into(),
                json!([format!("2001:db8:{:x}::1/48", i + 1), "addrconf"]),
            );
        }
    }
    if let Some(v) = spec.vlan {
        n.insert("vlan_id".into(), num(v, spec.as_strings));
    }
    if let Some(m) = spec.mtu {
        n.insert("mtu".into(), num(m, spec.as_strings));
    }
    if let Some(b) = spec.spoofing {
        let b = if spec.as_strings {
            json!(b.to_string())
        } else {
            json!(b)
        };
        n.insert("allow_ip_spoofing".into(), b);
    }
    if spec.mac {
        n.insert("mac".into(), json!(format!("02:00:00:00:00:{:02x}", i + 1)));
    }
    if model {
        n.insert("model".into(), json!("virtio"));
    }
    Value::Object(n)
}

#[derive(Debug, Clone)]
struct Spec {
    brand: Brand,
    seed: u64,
    uuid: Option<[u8; 16]>,
    as_strings: bool,
    ram: Option<i64>,
    max_physical_memory: Option<i64>,
    alias: Option<String>,
    hostname: Option<String>,
    autoboot: Option<bool>,
    limits: [Option<i64>; 5],
    tags: Vec<(String, Value)>,
    customer_metadata: Vec<(String, String)>,
    resolvers: Option<(Vec<&'static str>, bool)>,
    nics: Vec<NicSpec>,
    primary: Option<usize>,
    route: bool,
    os: OsSpec,
    hvm: HvmSpec,
}

/// What only the OS brands get.
#[derive(Debug, Clone)]
struct OsSpec {
    delegate_dataset: bool,
    dns_domain: Option<&'static str>,
    zfs_root_compression: Option<&'static str>,
    docker: bool,
    /// One lofs filesystem per entry; the number picks how its options are
    /// written.
    filesystems: Vec<u8>,
}

/// What only the HVM brands get.
#[derive(Debug, Clone)]
struct HvmSpec {
    vcpus: Option<i64>,
    nic_driver: bool,
    /// One disk per entry: a size, or (first) an image disk.
    disks: Vec<Option<i64>>,
    cdrom: bool,
    vnc_password: Option<String>,
}

fn spec() -> impl Strategy<Value = Spec> {
    let identity = (
        prop::sample::select(Brand::ALL.to_vec()),
        any::<u64>(),
        prop::option::weighted(0.3, any::<[u8; 16]>()),
        any::<bool>(),
        prop::option::of(64i64..=65_536),
        prop::option::weighted(0.3, 64i64..=65_536),
        prop::option::of("[A-Za-z0-9_.-]{0,20}"),
        prop::option::weighted(0.3, "[a-z][a-z0-9-]{0,15}"),
        prop::option::of(any::<bool>()),
    );
    let limits = [
        prop::option::weighted(0.3, 0i64..=3200),
        prop::option::weighted(0.3, 1i64..=100_000),
        prop::option::weighted(0.3, 0i64..=2048),
        prop::option::weighted(0.3, 100i64..=100_000),
        prop::option::weighted(0.3, 0i64..=1000),
    ];
    let metadata = (
        prop::collection::vec(
            (
                "[a-z][a-z0-9_]{0,7}",
                prop_oneof![
                    ".{0,12}".prop_map(Value::from),
                    (-100i64..100_000).prop_map(Value::from),
                    any::<bool>().prop_map(Value::from),
                ],
            ),
            0..4,
        ),
        prop::collection::vec(("[a-z][a-z0-9:_-]{0,11}", ".{0,24}"), 0..4),
        prop::option::weighted(
            0.3,
            (
                prop::collection::vec(
                    prop::sample::select(vec!["192.0.2.53", "198.51.100.53", "2001:db8::53"]),
                    0..3,
                ),
                any::<bool>(),
            ),
        ),
    );
    let network = (
        prop::collection::vec(nic_spec(), 0..4),
        prop::option::weighted(0.3, 0usize..4),
        any::<bool>(),
    );
    let os = (
        any::<bool>(),
        prop::option::weighted(0.3, prop::sample::select(vec!["local", "example.com"])),
        prop::option::weighted(0.3, prop::sample::select(vec!["lz4", "off", "gzip-9"])),
        prop::bool::weighted(0.2),
        prop::collection::vec(0u8..4, 0..3),
    )
        .prop_map(
            |(delegate_dataset, dns_domain, zfs_root_compression, docker, filesystems)| OsSpec {
                delegate_dataset,
                dns_domain,
                zfs_root_compression,
                docker,
                filesystems,
            },
        );
    let hvm = (
        prop::option::weighted(0.5, 1i64..=16),
        any::<bool>(),
        prop::collection::vec(prop::option::weighted(0.7, 1024i64..=102_400), 0..3),
        prop::bool::weighted(0.2),
        prop::option::weighted(0.2, "[a-z]{0,8}"),
    )
        .prop_map(|(vcpus, nic_driver, disks, cdrom, vnc_password)| HvmSpec {
            vcpus,
            nic_driver,
            disks,
            cdrom,
            vnc_password,
        });
    (identity, limits, metadata, network, os, hvm).prop_map(
        |(identity, limits, metadata, network, os, hvm)| {
            let (brand, seed, uuid, as_strings, ram, mpm, alias, hostname, autoboot) = identity;
            Spec {
                brand,
                seed,
                uuid,
                as_strings,
                ram,
                max_physical_memory: mpm,
                alias,
                hostname,
                autoboot,
                limits,
                tags: metadata.0,
                customer_metadata: metadata.1,
                resolvers: metadata.2,
                nics: network.0,
                primary: network.1,
                route: network.2,
                os,
                hvm,
            }
        },
    )
}

const LIMIT_KEYS: [&str; 5] = [
    "cpu_cap",
    "cpu_shares",
    "quota",
    "max_lwps",
    "zfs_io_priority",
];

impl Spec {
    fn payload(&self) -> VmObject {
        let b = self.brand;
        let s = self.as_strings;
        let mut p = Map::new();
        p.insert("brand".into(), json!(b.as_str()));
        if let Some(bytes) = self.uuid {
            p.insert(
                "uuid".into(),
                json!(VmUuid::from_random_bytes(bytes).to_string()),
            );
        }
        if let Some(n) = self.ram {
            p.insert("ram".into(), num(n, s));
        }
        if let Some(n) = self.max_physical_memory {
            p.insert("max_physical_memory".into(), num(n, s));
        }
        if let Some(a) = &self.alias {
            p.insert("alias".into(), json!(a));
        }
        if let Some(h) = &self.hostname {
            p.insert("hostname".into(), json!(h));
        }
        if let Some(a) = self.autoboot {
            p.insert(
                "autoboot".into(),
                if s { json!(a.to_string()) } else { json!(a) },
            );
        }
        for (key, n) in LIMIT_KEYS.iter().zip(self.limits) {
            if let Some(n) = n {
                p.insert((*key).into(), num(n, s));
            }
        }
        if !self.tags.is_empty() {
            p.insert(
                "tags".into(),
                Value::Object(self.tags.iter().cloned().collect()),
            );
        }
        if !self.customer_metadata.is_empty() {
            let m: VmObject = self
                .customer_metadata
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            p.insert("customer_metadata".into(), Value::Object(m));
        }
        if let Some((rs, comma)) = &self.resolvers {
            let v = if *comma {
                json!(rs.join(","))
            } else {
                json!(rs)
            };
            p.insert("resolvers".into(), v);
        }
        let nic_model = b.is_hvm() && !self.hvm.nic_driver;
        let nics: Vec<Value> = self
            .nics
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut nic = nic(i, n, nic_model);
                if self.primary == Some(i) {
                    nic["primary"] = json!(true);
                }
                nic
            })
            .collect();
        let static_v4 = self.nics.iter().any(|n| n.form <= 2);
        if !nics.is_empty() {
            p.insert("nics".into(), json!(nics));
        }
        if self.route && static_v4 {
            p.insert("routes".into(), json!({"10.0.0.0/8": "192.0.2.1"}));
        }
        if b.is_os() {
            let os = &self.os;
            let fss: Vec<Value> = os
                .filesystems
                .iter()
                .enumerate()
                .map(|(i, form)| {
                    let source = SOURCES[i % SOURCES.len()];
                    let mut fs = json!({"type": "lofs", "source": source,
                                        "target": format!("/mnt/{i}")});
                    match form {
                        0 => {}
                        1 => fs["options"] = json!(["ro"]),
                        2 => fs["options"] = json!("ro,nodevice"),
                        _ => fs["options"] = json!([]),
                    }
                    fs
                })
                .collect();
            if !fss.is_empty() {
                p.insert("filesystems".into(), json!(fss));
            }
            p.insert("image_uuid".into(), json!(IMG));
            if b == Brand::Lx {
                p.insert("kernel_version".into(), json!("4.3.0"));
            }
            if os.delegate_dataset {
                p.insert("delegate_dataset".into(), json!(true));
            }
            if let Some(d) = os.dns_domain {
                p.insert("dns_domain".into(), json!(d));
            }
            if let Some(c) = os.zfs_root_compression {
                p.insert("zfs_root_compression".into(), json!(c));
            }
            if os.docker && matches!(b, Brand::Lx | Brand::JoyentMinimal) {
                p.insert("docker".into(), json!(true));
            }
        } else {
            let hvm = &self.hvm;
            if let Some(n) = hvm.vcpus {
                p.insert("vcpus".into(), num(n, s));
            }
            if hvm.nic_driver {
                p.insert("nic_driver".into(), json!("virtio"));
            }
            let mut ds: Vec<Value> = hvm
                .disks
                .iter()
                .enumerate()
                .map(|(i, size)| match size {
                    Some(size) => json!({"size": num(*size, s), "model": "virtio"}),
                    None if i == 0 => {
                        json!({"image_uuid": IMG, "image_size": 10240, "boot": true, "model": "virtio"})
                    }
                    None => json!({"size": 10240, "model": "virtio"}),
                })
                .collect();
            if hvm.cdrom {
                let model = if b == Brand::Bhyve { "ahci" } else { "ide" };
                ds.push(json!({"media": "cdrom", "path": "/iso/install.iso", "model": model}));
            }
            if !ds.is_empty() {
                p.insert("disks".into(), json!(ds));
            }
            if let Some(pw) = &hvm.vnc_password {
                p.insert("vnc_password".into(), json!(pw));
            }
        }
        p
    }
}

/// A valid create payload, its brand, and a seed for the entropy.
fn valid_payload() -> impl Strategy<Value = (VmObject, Brand, u64)> {
    spec().prop_map(|s| (s.payload(), s.brand, s.seed))
}

/// A stored instance made by create from a valid payload.
fn instance() -> impl Strategy<Value = (VmObject, Brand)> {
    valid_payload().prop_map(|(p, brand, seed)| {
        let c = create_with(p.clone(), seed)
            .unwrap_or_else(|e| panic!("a valid payload was refused: {e}\n{p:#?}"));
        (c.vm, brand)
    })
}

/// The integer-typed top-level properties.
fn integer_names() -> Vec<&'static str> {
    PROPERTIES
        .iter()
        .filter(|p| matches!(p.ty, schema::PropType::Integer { .. }))
        .map(|p| p.name)
        .collect()
}

/// Integers at and past the edges: of i64, of u64, of the integers an f64
/// holds exactly, of the bounds in the table; as numbers and as strings.
fn extreme_integer() -> impl Strategy<Value = Value> {
    let edges = prop::sample::select(vec![
        i64::MAX,
        i64::MAX - 1,
        i64::MIN,
        i64::MIN + 1,
        (1 << 53) + 1,
        1 << 53,
        (1 << 53) - 1,
        -(1 << 53),
        4095,
        4096,
        65_535,
        65_536,
        -1,
        0,
    ]);
    prop_oneof![
        edges.clone().prop_map(Value::from),
        edges.prop_map(|n| Value::from(n.to_string())),
        Just(Value::from(u64::MAX)),
        Just(Value::from("18446744073709551616")),
        Just(Value::from("1e19")),
        Just(Value::from("-1e19")),
        Just(Value::from(1e19)),
        Just(Value::from(-1e19)),
    ]
}

/// A valid payload with each integer property, now and then, set to an
/// extreme value.
fn extreme_payload() -> impl Strategy<Value = (VmObject, u64)> {
    let names = integer_names();
    let n = names.len();
    (
        valid_payload(),
        prop::collection::vec(prop::option::weighted(0.3, extreme_integer()), n),
    )
        .prop_map(move |((mut p, _, seed), extremes)| {
            for (k, v) in names.iter().zip(extremes) {
                if let Some(v) = v {
                    p.insert((*k).to_owned(), v);
                }
            }
            (p, seed)
        })
}

fn state() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["stopped", "running"])
}

/// `key=value` arguments: real keys or noise, values numeric-looking,
/// lists, noise; now and then no `=` at all.
fn cli_arg() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => (key(), text()).prop_map(|(k, v)| format!("{k}={v}")),
        1 => ".{0,24}",
    ]
}

// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// Validation of any JSON object, for every brand and action, returns
    /// a report (never panics), and the report only names keys of the
    /// payload, or required ones.
    #[test]
    fn validation_never_panics(p in payload()) {
        let r = validate_create(&p, &facts());
        match &r.bad_brand {
            Some(_) => prop_assert_eq!(
                (r.bad_values.len(), r.bad_properties.len(), r.missing_properties.len()),
                (0, 0, 0)
            ),
            None => {
                let brand = p
                    .get("brand")
                    .and_then(Value::as_str)
                    .map_or(Brand::Joyent, |b| b.parse().unwrap());
                check_report(&r, &p, brand)?;
            }
        }
        for brand in Brand::ALL {
            for action in ACTIONS {
                let r = validate(&p, brand, action, &facts());
                prop_assert!(r.bad_brand.is_none());
                check_report(&r, &p, brand)?;
            }
        }
    }

    /// Create on any JSON object returns (never panics); what it drops was
    /// in the payload; what it stores names a real brand and re-validates.
    #[test]
    fn create_never_panics(p in payload(), seed in any::<u64>()) {
        if let Ok(c) = create_with(p.clone(), seed) {
            for d in &c.dropped {
                prop_assert!(about_given_key(d, &p), "dropped {d}, not in the payload");
            }
            prop_assert_eq!(c.vm["brand"].as_str(), Some(c.brand.as_str()));
            let r = validate_create(&as_create_payload(&c.vm, c.brand), &facts());
            prop_assert!(r.bad_values.is_empty(), "{:?}\n{:#?}", r, c.vm);
            prop_assert!(r.missing_properties.is_empty(), "{:?}\n{:#?}", r, c.vm);
        }
    }

    /// Create and update of integer properties at the edges of i64, u64 and
    /// f64 return (never panic, never overflow); what create stores holds
    /// only integers validation accepts.
    #[test]
    fn extreme_integers_never_panic(
        (p, seed) in extreme_payload(),
        (vm, _) in instance(),
        state in state(),
    ) {
        if let Ok(c) = create_with(p.clone(), seed) {
            let r = validate_create(&as_create_payload(&c.vm, c.brand), &facts());
            prop_assert!(r.bad_values.is_empty(), "{:?}\n{:#?}", r, c.vm);
        }
        let mut changes = p;
        for k in ["brand", "uuid", "image_uuid", "kernel_version", "nics", "disks"] {
            changes.remove(k);
        }
        let _ = update_with(&vm, state, changes, seed);
    }

    /// Update of a valid instance with any JSON object returns (never
    /// panics); when it succeeds, the changes it reports are exactly what
    /// differs, and `last_modified` moved with them.
    #[test]
    fn update_never_panics(
        (vm, _) in instance(),
        p in update_payload(),
        state in state(),
        seed in any::<u64>(),
    ) {
        if let Ok(u) = update_with(&vm, state, p, seed) {
            check_changes(&vm, &u)?;
        }
    }

    /// An update made of valid values (the plain keys of another valid
    /// payload that the brand may update, its tags and metadata as
    /// `set_*`) succeeds; the changes it reports are exactly what differs;
    /// and the result is still a valid instance that creates again.
    #[test]
    fn valid_updates_keep_instances_valid(
        (vm, brand) in instance(),
        (other, _, seed) in valid_payload(),
        state in state(),
    ) {
        let mut p: VmObject = other
            .iter()
            .filter(|(k, _)| {
                schema::property(k).is_some_and(|p| {
                    p.allowed(brand, Action::Update)
                        && !matches!(p.ty, schema::PropType::ObjectArray)
                })
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for map in ["tags", "customer_metadata"] {
            if let Some(v) = other.get(map) {
                p.insert(format!("set_{map}"), v.clone());
            }
        }
        let u = update_with(&vm, state, p.clone(), seed)
            .map_err(|e| TestCaseError::fail(format!("refused: {e}\n{p:#?}")))?;
        prop_assert!(u.dropped.is_empty(), "dropped {:?}", u.dropped);
        check_changes(&vm, &u)?;
        let r = validate_create(&as_create_payload(&u.vm, brand), &facts());
        prop_assert!(r.bad_values.is_empty(), "{:?}\n{:#?}", r, u.vm);
        prop_assert!(r.missing_properties.is_empty(), "{:?}\n{:#?}", r, u.vm);
        create_with(as_create_payload(&u.vm, brand), seed)
            .map_err(|e| TestCaseError::fail(format!("re-create refused: {e}\n{:#?}", u.vm)))?;
    }

    /// A valid payload creates; the stored configuration, taken back to
    /// what create accepts, validates cleanly and creates the very same
    /// configuration again (normalisation is idempotent).
    #[test]
    fn stored_configs_revalidate_and_recreate_the_same(
        (p, brand, seed) in valid_payload(),
        reseed in any::<u64>(),
    ) {
        let c = create_with(p.clone(), seed)
            .map_err(|e| TestCaseError::fail(format!("refused: {e}\n{p:#?}")))?;
        prop_assert_eq!(c.brand, brand);
        prop_assert!(c.dropped.is_empty(), "dropped {:?}", c.dropped);
        let again = as_create_payload(&c.vm, brand);
        let r = validate_create(&again, &facts());
        prop_assert!(r.bad_brand.is_none());
        prop_assert!(r.bad_values.is_empty(), "{:?}\n{:#?}", r, again);
        prop_assert!(r.missing_properties.is_empty(), "{:?}\n{:#?}", r, again);
        prop_assert!(
            r.bad_properties.iter().all(|k| k.contains('.')),
            "top-level keys the table accepts were refused: {:?}", r.bad_properties
        );
        let c2 = create_with(again.clone(), reseed)
            .map_err(|e| TestCaseError::fail(format!("re-create refused: {e}\n{again:#?}")))?;
        // Reference 2.6 step 8: a zfs_root_* in the payload pins the
        // zfs_data_* defaults. Create stores the zfs_root_recsize default,
        // so sending it back pins them; that is the one difference.
        let mut expected = c.vm.clone();
        if brand.is_os() {
            expected.entry("zfs_data_compression").or_insert(json!("off"));
            expected.entry("zfs_data_recsize").or_insert(json!(131_072));
        }
        prop_assert_eq!(Value::Object(c2.vm.clone()), Value::Object(expected));
        // From there it is a fixed point.
        let c3 = create_with(as_create_payload(&c2.vm, brand), reseed)
            .map_err(|e| TestCaseError::fail(format!("third create refused: {e}")))?;
        prop_assert_eq!(Value::Object(c3.vm), Value::Object(c2.vm));
    }

    /// What `vmadm get` prints for a created instance, taken back to what
    /// create accepts, validates cleanly and creates an instance with the
    /// same NICs and disks.
    #[test]
    fn printed_objects_revalidate(
        (vm, brand) in instance(),
        zone_state in prop::sample::select(vec![
            ZoneState::Installed, ZoneState::Running, ZoneState::Configured,
        ]),
        reseed in any::<u64>(),
    ) {
        let printed = vm::get_object(&vm, &runtime(zone_state), &facts());
        let again = as_create_payload(&printed, brand);
        let r = validate_create(&again, &facts());
        prop_assert!(r.bad_brand.is_none());
        prop_assert!(r.bad_values.is_empty(), "{:?}\n{:#?}", r, again);
        prop_assert!(r.missing_properties.is_empty(), "{:?}\n{:#?}", r, again);
        let c = create_with(again.clone(), reseed)
            .map_err(|e| TestCaseError::fail(format!("re-create refused: {e}\n{again:#?}")))?;
        for key in ["uuid", "nics", "disks", "max_physical_memory", "tags"] {
            prop_assert_eq!(c.vm.get(key), vm.get(key), "{}", key);
        }
    }

    /// An empty update succeeds and changes nothing, not even
    /// `last_modified`.
    #[test]
    fn an_empty_update_changes_nothing(
        (vm, _) in instance(),
        state in state(),
        seed in any::<u64>(),
    ) {
        let u = update_with(&vm, state, Map::new(), seed)
            .map_err(|e| TestCaseError::fail(format!("empty update refused: {e}")))?;
        prop_assert!(u.changes.is_empty(), "{:?}", u.changes);
        prop_assert!(u.dropped.is_empty() && u.warnings.is_empty());
        prop_assert_eq!(Value::Object(u.vm), Value::Object(vm));
    }

    /// `parse_args` never panics; it refuses an argument without `=`, and
    /// otherwise gives one payload key per distinct argument key, which
    /// update then takes without panicking.
    #[test]
    fn parse_args_never_panics(
        args in prop::collection::vec(cli_arg(), 0..6),
        (vm, _) in instance(),
        seed in any::<u64>(),
    ) {
        match update::parse_args(&args) {
            Ok(p) => {
                let mut keys: Vec<&str> =
                    args.iter().map(|a| a.split_once('=').unwrap().0).collect();
                keys.sort_unstable();
                keys.dedup();
                let mut got: Vec<&str> = p.keys().map(String::as_str).collect();
                got.sort_unstable();
                prop_assert_eq!(got, keys);
                let _ = update_with(&vm, "stopped", p, seed);
            }
            Err(UpdateError::BadArgument(a)) => {
                prop_assert!(!a.contains('=') && args.contains(&a));
            }
            Err(UpdateError::NotANumber(keys)) => {
                prop_assert!(!keys.is_empty());
                for k in keys {
                    let prefix = format!("{k}=");
                    prop_assert!(args.iter().any(|a| a.starts_with(&prefix)));
                }
            }
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }

    /// Every created instance is listed with every listable column, and a
    /// lookup by its uuid finds it and only it.
    #[test]
    fn created_instances_list_and_look_up(
        instances in prop::collection::vec(instance(), 1..4),
        parsable in any::<bool>(),
    ) {
        let mut vms: Vec<VmObject> = instances
            .iter()
            .map(|(vm, _)| vm::get_object(vm, &runtime(ZoneState::Running), &facts()))
            .collect();
        vms.iter_mut().for_each(listing::add_computed_fields);
        let columns: Vec<Field> = PROPERTIES.iter().filter_map(|p| Field::parse(p.name)).collect();
        prop_assert!(columns.len() > 30);
        let out = Table::new(columns, parsable, Some(true)).render(&vms);
        prop_assert_eq!(out.lines().count(), vms.len() + 1);
        let uuids: Vec<&str> = vms.iter().map(|vm| vm["uuid"].as_str().unwrap()).collect();
        for uuid in &uuids {
            let filters = listing::parse_filters(&[format!("uuid={uuid}")], FilterKind::Lookup)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let found = vms.iter().filter(|vm| listing::matches_all(vm, &filters)).count();
            let expected = uuids.iter().filter(|u| *u == uuid).count();
            prop_assert_eq!(found, expected);
        }
    }
}
