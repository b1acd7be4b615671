//! Fields vmadm adds to VM objects for `list` and `lookup` only, and the
//! `lookup -j -o` projection.

use serde_json::{Map, Value};

/// Brands whose VMs are hardware-virtualised and carry their own `ram`.
const HVM_BRANDS: [&str; 2] = ["bhyve", "kvm"];

/// The `type` shown for a brand: the brand's type truncated to four
/// characters (`BHYVE` becomes `BHYV`). `joyent`, `joyent-minimal`,
/// `builder` and any brand basalt does not know are `OS`.
pub fn brand_type(brand: Option<&str>) -> &'static str {
    match brand {
        Some("lx") => "LX",
        Some("kvm") => "KVM",
        Some("bhyve") => "BHYV",
        _ => "OS",
    }
}

/// Adds the computed fields of reference 2.3 to a VM object in place:
/// `type` (see [`brand_type`]) and, for non-HVM brands, `ram` =
/// `max_physical_memory` (removed when that is absent, as node's
/// `m.ram = undefined` drops it). A key that already exists keeps its
/// position; a new one is appended, as in a JS object.
pub fn add_computed_fields(vm: &mut Map<String, Value>) {
    let brand = vm.get("brand").and_then(Value::as_str);
    let hvm = brand.is_some_and(|b| HVM_BRANDS.contains(&b));
    let kind = brand_type(brand);
    vm.insert("type".to_owned(), Value::String(kind.to_owned()));
    if hvm {
        return;
    }
    match vm.get("max_physical_memory").cloned() {
        Some(memory) => {
            vm.insert("ram".to_owned(), memory);
        }
        None => {
            vm.shift_remove("ram");
        }
    }
}

/// The object `vmadm lookup -j -o <fields>` prints for a VM: only the
/// top-level keys named in `fields`, in the VM's own key order. `None`
/// when none of them is present; vmadm leaves such VMs out of the array.
/// Dotted names (`nics.0.ip`) name no top-level key and so select nothing.
pub fn project(vm: &Map<String, Value>, fields: &[&str]) -> Option<Map<String, Value>> {
    let picked: Map<String, Value> = vm
        .iter()
        .filter(|(key, _)| fields.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    (!picked.is_empty()).then_some(picked)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn computed(value: Value) -> Value {
        let mut map = match value {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        add_computed_fields(&mut map);
        Value::Object(map)
    }

    #[test]
    fn types_by_brand() {
        for (brand, kind) in [
            (Some("joyent"), "OS"),
            (Some("joyent-minimal"), "OS"),
            (Some("builder"), "OS"),
            (Some("sngl"), "OS"),
            (Some("lx"), "LX"),
            (Some("kvm"), "KVM"),
            (Some("bhyve"), "BHYV"),
            (Some("BHYVE"), "OS"),
            (None, "OS"),
        ] {
            assert_eq!(brand_type(brand), kind, "{brand:?}");
        }
        assert_eq!(computed(json!({"brand": 7}))["type"], "OS");
    }

    #[test]
    fn os_vms_get_ram_from_max_physical_memory() {
        let vm = computed(json!({"brand": "joyent", "max_physical_memory": 256}));
        assert_eq!(
            vm,
            json!({"brand": "joyent", "max_physical_memory": 256, "type": "OS", "ram": 256})
        );
        let lx = computed(json!({"brand": "lx", "ram": 9, "max_physical_memory": 512}));
        assert_eq!(lx["ram"], 512);
    }

    #[test]
    fn os_vms_without_max_physical_memory_lose_ram() {
        let vm = computed(json!({"brand": "joyent", "ram": 9}));
        assert_eq!(vm, json!({"brand": "joyent", "type": "OS"}));
    }

    #[test]
    fn hvm_vms_keep_their_ram() {
        let vm = computed(json!({"brand": "bhyve", "ram": 1024, "max_physical_memory": 1280}));
        assert_eq!(vm["ram"], 1024);
        assert_eq!(vm["type"], "BHYV");
        let kvm = computed(json!({"brand": "kvm", "max_physical_memory": 1280}));
        assert_eq!(kvm.get("ram"), None);
    }

    #[test]
    fn existing_keys_keep_their_place() {
        let vm = computed(json!({"type": "x", "brand": "kvm", "ram": 1}));
        let keys: Vec<_> = vm
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["type", "brand", "ram"]);
        assert_eq!(vm["type"], "KVM");
    }

    #[test]
    fn projection_keeps_vm_order_and_drops_empty_objects() {
        let vm = match computed(
            json!({"uuid": "u", "brand": "joyent", "alias": "a", "max_physical_memory": 64}),
        ) {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        let picked = project(&vm, &["ram", "uuid", "bogus"]).map(Value::Object);
        assert_eq!(picked, Some(json!({"uuid": "u", "ram": 64})));
        assert_eq!(project(&vm, &["bogus", "nics.0.ip"]), None);
    }
}
