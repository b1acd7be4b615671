//! The validation model (reference 2.8): every payload key is checked
//! against the per-brand table for the action, then its value against its
//! type, then the cross-field rules; all problems are collected at once into
//! the three classes vmadm reports.

use serde_json::{Map, Value, json};

use crate::brand::Brand;
use crate::facts::HostFacts;
use crate::schema::{self, Action, Collection, PropType, Property};
use crate::value::{as_bool, is_unset, type_ok};

/// The outcome of validating a payload, in vmadm's three classes (or a bad
/// brand, reported alone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationReport {
    /// The brand, when it is not one of the six.
    pub bad_brand: Option<String>,
    /// Keys whose values are wrong.
    pub bad_values: Vec<String>,
    /// Keys not allowed for this brand and action (dropped on create and
    /// update).
    pub bad_properties: Vec<String>,
    /// Required keys that are missing.
    pub missing_properties: Vec<String>,
    /// Where each bad property is, for removing it (the names above are
    /// for people and can be ambiguous: a top-level key may be spelled
    /// `nics.*.x`).
    pub bad_paths: Vec<BadPath>,
}

/// Where a bad property is in a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadPath {
    /// A top-level key.
    Top(String),
    /// A key of the elements of a collection: of all of them (`None`), or
    /// of the one at an index.
    Element {
        /// The collection's key as given (`nics`, `add_disks`...).
        collection: String,
        /// The element, or all.
        index: Option<usize>,
        /// The key inside it.
        key: String,
    },
}

impl ValidationReport {
    /// True when nothing at all is wrong.
    pub fn is_valid(&self) -> bool {
        self.bad_brand.is_none()
            && self.bad_values.is_empty()
            && self.bad_properties.is_empty()
            && self.missing_properties.is_empty()
    }

    /// The error object `vmadm validate` prints.
    pub fn to_json(&self) -> Value {
        match &self.bad_brand {
            Some(b) => json!({ "bad_brand": b }),
            None => json!({
                "bad_values": self.bad_values,
                "bad_properties": self.bad_properties,
                "missing_properties": self.missing_properties,
            }),
        }
    }

    fn bad_value(&mut self, key: String) {
        if !self.bad_values.contains(&key) {
            self.bad_values.push(key);
        }
    }

    fn bad_property(&mut self, name: String, path: BadPath) {
        if !self.bad_properties.contains(&name) {
            self.bad_properties.push(name);
        }
        if !self.bad_paths.contains(&path) {
            self.bad_paths.push(path);
        }
    }

    fn bad_top(&mut self, key: &str) {
        self.bad_property(key.to_owned(), BadPath::Top(key.to_owned()));
    }

    fn bad_element(&mut self, collection: &str, index: Option<usize>, key: &str) {
        let name = match index {
            Some(i) => format!("{collection}.{i}.{key}"),
            None => format!("{collection}.*.{key}"),
        };
        let path = BadPath::Element {
            collection: collection.to_owned(),
            index,
            key: key.to_owned(),
        };
        self.bad_property(name, path);
    }

    fn missing(&mut self, key: String) {
        if !self.missing_properties.contains(&key) {
            self.missing_properties.push(key);
        }
    }
}

/// Validates a create payload as `vmadm validate create` does: the raw
/// payload, before defaults. A payload without `brand` is checked as joyent
/// and reports `brand` missing.
pub fn validate_create(payload: &Map<String, Value>, facts: &HostFacts) -> ValidationReport {
    let brand = match payload.get("brand") {
        None | Some(Value::Null) => Brand::Joyent,
        Some(Value::String(s)) => match s.parse() {
            Ok(b) => b,
            Err(_) => return bad_brand(s),
        },
        Some(other) => return bad_brand(&other.to_string()),
    };
    validate(payload, brand, Action::Create, facts)
}

fn bad_brand(b: &str) -> ValidationReport {
    ValidationReport {
        bad_brand: Some(b.to_owned()),
        ..ValidationReport::default()
    }
}

/// Validates `payload` for `brand` and `action`.
pub fn validate(
    payload: &Map<String, Value>,
    brand: Brand,
    action: Action,
    facts: &HostFacts,
) -> ValidationReport {
    let mut report = ValidationReport::default();
    for (key, value) in payload {
        let Some(prop) = top_level(key, action) else {
            report.bad_top(key);
            continue;
        };
        if !prop.allowed(brand, action) {
            report.bad_top(key);
            continue;
        }
        if !type_ok(prop.ty, value, &facts.zpools) {
            report.bad_value(key.clone());
            continue;
        }
        if let Some((collection, sub_action)) = collection_of(key) {
            check_elements(&mut report, key, value, collection, sub_action, brand);
        }
    }
    check_disks(&mut report, payload);
    if action != Action::Update {
        for key in schema::required_on_create(brand) {
            if payload.get(*key).is_none_or(is_unset) {
                report.missing((*key).to_owned());
            }
        }
    }
    check_pci_devices(&mut report, payload);
    report
}

fn top_level(key: &str, action: Action) -> Option<&'static Property> {
    schema::property(key).or_else(|| {
        let member = schema::update_member(key)?;
        (action == Action::Update || key.starts_with("add_")).then_some(member)
    })
}

/// `<field> must be an array.` for every `add_`, `update_` or `remove_`
/// member of a collection that is not an array (vmadm checks these before
/// anything else of an update, and of a create's `add_` forms).
pub fn non_array_members(payload: &Map<String, Value>) -> Vec<String> {
    payload
        .iter()
        .filter(|(k, v)| {
            let collection = ["add_", "update_", "remove_"]
                .iter()
                .filter_map(|p| k.strip_prefix(p))
                .any(|rest| Collection::from_key(rest).is_some());
            collection && !v.is_array()
        })
        .map(|(k, _)| format!("{k} must be an array."))
        .collect()
}

/// The collection a key holds elements of, and whether they are added or
/// updated.
pub fn collection_of(key: &str) -> Option<(Collection, Action)> {
    if let Some(c) = Collection::from_key(key) {
        return Some((c, Action::Create));
    }
    if let Some(c) = key.strip_prefix("add_").and_then(Collection::from_key) {
        return Some((c, Action::Create));
    }
    key.strip_prefix("update_")
        .and_then(Collection::from_key)
        .map(|c| (c, Action::Update))
}

fn check_elements(
    report: &mut ValidationReport,
    key: &str,
    value: &Value,
    collection: Collection,
    action: Action,
    brand: Brand,
) {
    let Some(items) = value.as_array() else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            continue;
        };
        for (k, v) in obj {
            let prop = schema::sub_property(collection, k);
            match prop {
                Some(p) if p.allowed(brand, action) => {
                    if !type_ok(p.ty, v, &[]) && p.ty != PropType::Zpool {
                        report.bad_value(format!("{key}.{i}.{k}"));
                    }
                }
                _ => report.bad_element(key, None, k),
            }
        }
    }
}

fn check_disks(report: &mut ValidationReport, payload: &Map<String, Value>) {
    let flexible = payload
        .get("flexible_disk_size")
        .is_some_and(|v| !is_unset(v));
    for key in ["disks", "add_disks"] {
        let Some(items) = payload.get(key).and_then(Value::as_array) else {
            continue;
        };
        for (i, disk) in items.iter().enumerate() {
            let Some(d) = disk.as_object() else { continue };
            let media = d.get("media").and_then(Value::as_str).unwrap_or("disk");
            if media != "disk" {
                continue;
            }
            let has = |k: &str| d.get(k).is_some_and(|v| !is_unset(v));
            let name = |k: &str| format!("{key}.{i}.{k}");
            if has("image_uuid") {
                if !has("image_size") {
                    report.missing(name("image_size"));
                }
                if has("size") && !flexible {
                    report.bad_element(key, Some(i), "size");
                }
                if has("block_size") {
                    report.bad_element(key, Some(i), "block_size");
                }
            } else {
                if !has("size") && !d.get("nocreate").and_then(as_bool).unwrap_or(false) {
                    report.missing(name("size"));
                }
                for k in ["image_name", "image_size"] {
                    if has(k) {
                        report.bad_element(key, Some(i), k);
                    }
                }
            }
        }
    }
}

fn check_pci_devices(report: &mut ValidationReport, payload: &Map<String, Value>) {
    for key in ["pci_devices", "add_pci_devices"] {
        let Some(items) = payload.get(key).and_then(Value::as_array) else {
            continue;
        };
        for (i, dev) in items.iter().enumerate() {
            let Some(d) = dev.as_object() else { continue };
            let name = |k: &str| format!("{key}.{i}.{k}");
            match d.get("path").and_then(Value::as_str) {
                None => report.missing(name("path")),
                Some(p) if !p.starts_with("/devices") => report.bad_value(name("path")),
                Some(_) => {}
            }
            match d.get("pci_slot").and_then(Value::as_str) {
                None => report.missing(name("pci_slot")),
                Some(s) if crate::pci::PciSlot::parse(s).is_none() => {
                    report.bad_value(name("pci_slot"))
                }
                Some(_) => {}
            }
            if d.get("model")
                .is_some_and(|m| m.as_str() != Some("passthru"))
            {
                report.bad_value(name("model"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(payload: Value) -> ValidationReport {
        let Value::Object(m) = payload else { panic!() };
        validate_create(&m, &HostFacts::with_default_pool())
    }

    const IMG: &str = "01b2c898-945f-11e1-a523-af1afbe22822";

    #[test]
    fn a_minimal_payload_is_valid() {
        let r = check(json!({"brand": "joyent", "image_uuid": IMG}));
        assert!(r.is_valid(), "{r:?}");
    }

    #[test]
    fn an_unknown_brand_is_reported_alone() {
        let r = check(json!({"brand": "solaris", "foo": 1}));
        assert_eq!(r.to_json(), json!({"bad_brand": "solaris"}));
    }

    #[test]
    fn all_three_classes_are_reported_together() {
        let r = check(json!({
            "brand": "lx", "name": "web", "cpu_type": "host",
            "max_lwps": "many", "resolvers": ["8.8.8.8", "nope"],
        }));
        assert_eq!(r.bad_properties, ["name", "cpu_type"]);
        assert_eq!(r.bad_values, ["max_lwps", "resolvers"]);
        assert_eq!(r.missing_properties, ["image_uuid", "kernel_version"]);
        let text = serde_json::to_string(&r.to_json()).unwrap();
        assert_eq!(
            text,
            r#"{"bad_values":["max_lwps","resolvers"],"bad_properties":["name","cpu_type"],"missing_properties":["image_uuid","kernel_version"]}"#
        );
    }

    #[test]
    fn validate_without_brand_checks_joyent_and_wants_brand() {
        let r = check(json!({"image_uuid": IMG}));
        assert_eq!(r.missing_properties, ["brand"]);
    }

    #[test]
    fn read_only_and_update_only_keys_are_bad_properties_on_create() {
        let r = check(
            json!({"brand": "joyent", "image_uuid": IMG, "state": "running",
            "set_tags": {}, "zonepath": "/x"}),
        );
        assert_eq!(r.bad_properties, ["state", "set_tags", "zonepath"]);
    }

    #[test]
    fn nic_sub_keys_are_checked_per_brand() {
        let r = check(json!({"brand": "joyent", "image_uuid": IMG, "nics": [
            {"nic_tag": "admin", "allow_unfiltered_promisc": true, "vlan_id": 5000, "mac": "zz"}
        ]}));
        assert_eq!(r.bad_properties, ["nics.*.allow_unfiltered_promisc"]);
        assert_eq!(r.bad_values, ["nics.0.vlan_id", "nics.0.mac"]);
    }

    #[test]
    fn a_non_object_element_makes_the_whole_key_bad() {
        let r = check(json!({"brand": "joyent", "image_uuid": IMG, "nics": [1]}));
        assert_eq!(r.bad_values, ["nics"]);
    }

    #[test]
    fn disk_cross_field_rules() {
        let r = check(json!({"brand": "kvm", "disks": [
            {"image_uuid": IMG, "size": 10240, "block_size": 4096},
            {"image_name": "x"},
            {"media": "cdrom", "path": "/x.iso"},
        ]}));
        assert_eq!(r.missing_properties, ["disks.0.image_size", "disks.1.size"]);
        assert_eq!(
            r.bad_properties,
            ["disks.0.size", "disks.0.block_size", "disks.1.image_name"]
        );
        let r = check(json!({"brand": "bhyve", "flexible_disk_size": 20480,
            "disks": [{"image_uuid": IMG, "image_size": 10240, "size": 20480}]}));
        assert!(r.is_valid(), "{r:?}");
    }

    #[test]
    fn pci_device_rules() {
        let r = check(json!({"brand": "bhyve", "pci_devices": [
            {"path": "/dev/x", "pci_slot": "0:40:0", "model": "virtio"}, {}
        ]}));
        assert_eq!(
            r.bad_values,
            [
                "pci_devices.0.path",
                "pci_devices.0.pci_slot",
                "pci_devices.0.model"
            ]
        );
        assert_eq!(
            r.missing_properties,
            ["pci_devices.1.path", "pci_devices.1.pci_slot"]
        );
    }

    #[test]
    fn collection_members_must_be_arrays() {
        let Value::Object(m) = json!({"add_nics": {}, "remove_disks": "a,b", "update_filesystems": [],
            "remove_tags": "x"})
        else {
            panic!()
        };
        assert_eq!(
            non_array_members(&m),
            [
                "add_nics must be an array.",
                "remove_disks must be an array."
            ]
        );
    }

    #[test]
    fn update_checks_the_update_column() {
        let Value::Object(m) = json!({"alias": "x", "uuid": IMG, "brand": "kvm",
            "set_tags": {"a": 1}, "update_nics": [{"mac": "2:8:20:1:2:3", "interface": "net9"}],
            "kernel_version": "4.4"})
        else {
            panic!()
        };
        let r = validate(
            &m,
            Brand::Joyent,
            Action::Update,
            &HostFacts::with_default_pool(),
        );
        assert_eq!(r.bad_properties, ["uuid", "brand", "kernel_version"]);
        assert!(r.bad_values.is_empty() && r.missing_properties.is_empty());
    }
}
