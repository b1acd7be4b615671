//! The result of an update as a typed list of changes, so that the layers
//! that run instances can decide which to apply live and which wait for a
//! reboot.

use serde_json::{Map, Value};

use crate::brand::Brand;
use crate::schema::Collection;

/// The flat objects an update edits key by key.
pub const MAPS: [&str; 4] = ["customer_metadata", "internal_metadata", "tags", "routes"];

/// One change an update made to an instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A top-level property was set, changed or removed.
    Property {
        /// The property.
        key: String,
        /// Its value before (absent if unset).
        old: Option<Value>,
        /// Its value after (absent if unset).
        new: Option<Value>,
    },
    /// A key of customer_metadata, internal_metadata, tags or routes.
    Entry {
        /// Which object.
        map: &'static str,
        /// The key in it.
        key: String,
        /// The value before.
        old: Option<Value>,
        /// The value after.
        new: Option<Value>,
    },
    /// An element of nics, disks, filesystems or pci_devices was added,
    /// changed or removed.
    Element {
        /// Which collection.
        collection: Collection,
        /// Its identity (mac, path or target).
        id: String,
        /// The element before (absent if added).
        old: Option<Map<String, Value>>,
        /// The element after (absent if removed).
        new: Option<Map<String, Value>>,
    },
}

/// When a change takes effect on a running instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Only the record changes (alias, owner, autoboot...).
    Record,
    /// Must be applied to the running instance now (resource limits,
    /// anti-spoofing, metadata, quota).
    Live,
    /// Applies at the next boot.
    Reboot,
}

const LIVE_PROPERTIES: &[&str] = &[
    "cpu_cap",
    "cpu_shares",
    "max_lwps",
    "max_locked_memory",
    "max_swap",
    "zfs_io_priority",
    "quota",
    "tmpfs",
    "flexible_disk_size",
    "firewall_enabled",
    "indestructible_zoneroot",
    "indestructible_delegated",
];

const RECORD_PROPERTIES: &[&str] = &[
    "alias",
    "archive_on_delete",
    "autoboot",
    "billing_id",
    "owner_uuid",
    "do_not_inventory",
    "package_name",
    "package_version",
    "hostname",
    "dns_domain",
    "last_modified",
];

/// NIC keys a running zone takes at once: protections, caps and its
/// addresses and gateways (the zone's own configuration is changed from
/// the host). A VM's NICs change at its next boot.
const LIVE_NIC_KEYS: &[&str] = &[
    "allow_dhcp_spoofing",
    "allow_ip_spoofing",
    "allow_mac_spoofing",
    "allow_restricted_traffic",
    "allow_unfiltered_promisc",
    "allowed_ips",
    "allowed_dhcp_cids",
    "blocked_outgoing_ports",
    "dhcp_server",
    "gateways",
    "ips",
    "maxbw",
    "primary",
];

impl Change {
    /// A dotted name for logs and events (`tags.role`, `nics.<mac>`).
    pub fn path(&self) -> String {
        match self {
            Change::Property { key, .. } => key.clone(),
            Change::Entry { map, key, .. } => format!("{map}.{key}"),
            Change::Element { collection, id, .. } => format!("{}.{id}", collection.key()),
        }
    }

    /// When this change takes effect on a running instance of `brand`.
    pub fn effect(&self, brand: Brand) -> Effect {
        match self {
            Change::Property { key, .. } => property_effect(key, brand),
            Change::Entry { map, .. } => match *map {
                "routes" if brand.is_os() => Effect::Live,
                "routes" => Effect::Reboot,
                _ => Effect::Live,
            },
            Change::Element {
                collection: Collection::Nics,
                old: Some(old),
                new: Some(new),
                ..
            } if brand.is_os() => {
                let changed = |k: &String| old.get(k) != new.get(k);
                let keys = old.keys().chain(new.keys());
                if keys
                    .filter(|k| changed(k))
                    .all(|k| LIVE_NIC_KEYS.contains(&k.as_str()))
                {
                    Effect::Live
                } else {
                    Effect::Reboot
                }
            }
            Change::Element {
                collection: Collection::Disks,
                old: Some(old),
                new: Some(new),
                ..
            } => {
                let keys = old.keys().chain(new.keys());
                let live = ["compression", "refreservation"];
                if keys
                    .filter(|k| old.get(*k) != new.get(*k))
                    .all(|k| live.contains(&k.as_str()))
                {
                    Effect::Live
                } else {
                    Effect::Reboot
                }
            }
            // A zone's NICs are plugged and unplugged live.
            Change::Element {
                collection: Collection::Nics,
                ..
            } if brand.is_os() => Effect::Live,
            Change::Element { .. } => Effect::Reboot,
        }
    }
}

fn property_effect(key: &str, brand: Brand) -> Effect {
    if key == "max_physical_memory" {
        return if brand.is_os() {
            Effect::Live
        } else {
            Effect::Reboot
        };
    }
    if key == "resolvers" {
        return Effect::Record;
    }
    if LIVE_PROPERTIES.contains(&key) {
        Effect::Live
    } else if RECORD_PROPERTIES.contains(&key) {
        Effect::Record
    } else {
        Effect::Reboot
    }
}

/// The changes between two versions of an instance.
pub fn diff(old: &Map<String, Value>, new: &Map<String, Value>) -> Vec<Change> {
    let mut changes = Vec::new();
    let keys = union(old.keys(), new.keys());
    for key in keys {
        if MAPS.contains(&key.as_str()) || Collection::from_key(&key).is_some() {
            continue;
        }
        if old.get(&key) != new.get(&key) {
            changes.push(Change::Property {
                old: old.get(&key).cloned(),
                new: new.get(&key).cloned(),
                key,
            });
        }
    }
    for map in MAPS {
        let empty = Map::new();
        let o = old.get(map).and_then(Value::as_object).unwrap_or(&empty);
        let n = new.get(map).and_then(Value::as_object).unwrap_or(&empty);
        for key in union(o.keys(), n.keys()) {
            if o.get(&key) != n.get(&key) {
                changes.push(Change::Entry {
                    map,
                    old: o.get(&key).cloned(),
                    new: n.get(&key).cloned(),
                    key,
                });
            }
        }
    }
    for c in Collection::ALL {
        diff_collection(c, old, new, &mut changes);
    }
    changes
}

fn union<'a>(
    a: impl Iterator<Item = &'a String>,
    b: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    let mut keys: Vec<String> = a.cloned().collect();
    for k in b {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    keys
}

fn elements(vm: &Map<String, Value>, c: Collection) -> Vec<(String, Map<String, Value>)> {
    vm.get(c.key())
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|e| {
            let id = e
                .get(c.id_key())
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            (id, e.clone())
        })
        .collect()
}

fn diff_collection(
    c: Collection,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    changes: &mut Vec<Change>,
) {
    let o = elements(old, c);
    let n = elements(new, c);
    let find = |list: &[(String, Map<String, Value>)], id: &str| {
        list.iter().find(|(i, _)| i == id).map(|(_, e)| e.clone())
    };
    for (id, e) in &o {
        match find(&n, id) {
            None => changes.push(Change::Element {
                collection: c,
                id: id.clone(),
                old: Some(e.clone()),
                new: None,
            }),
            Some(ne) if &ne != e => changes.push(Change::Element {
                collection: c,
                id: id.clone(),
                old: Some(e.clone()),
                new: Some(ne),
            }),
            Some(_) => {}
        }
    }
    for (id, e) in &n {
        if find(&o, id).is_none() {
            changes.push(Change::Element {
                collection: c,
                id: id.clone(),
                old: None,
                new: Some(e.clone()),
            });
        }
    }
}
