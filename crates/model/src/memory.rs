//! Memory defaults and derivations (reference 2.7, and 2.5 for updates).
//!
//! On create, `max_physical_memory` is seeded from `ram` (plus the HVM
//! overhead for kvm and bhyve) and the other limits follow it. On update,
//! changing `max_physical_memory` (or `ram` of an HVM instance) moves the
//! others while keeping their previous distances, then the same clamps
//! apply. Lowering is never an error: the clamps adjust.

use serde_json::{Map, Value};

use crate::brand::Brand;
use crate::value::int_value;

/// The floor of `max_swap`, MiB.
pub const MIN_SWAP: i64 = 256;
/// The default of `ram`, MiB.
pub const DEFAULT_RAM: i64 = 256;
/// The least an HVM instance's memory cap exceeds its `ram`, MiB.
pub const HVM_MIN_OVERHEAD: i64 = 256;

fn get(vm: &Map<String, Value>, key: &str) -> Option<i64> {
    vm.get(key).and_then(Value::as_i64)
}

fn set(vm: &mut Map<String, Value>, key: &str, n: i64) {
    vm.insert(key.to_owned(), int_value(n));
}

/// The default `max_physical_memory` for `brand` given its `ram`.
/// Saturates: create derives memory before validation, so `ram` may be any
/// integer the payload held; validation then refuses it.
pub fn default_max_physical_memory(brand: Brand, ram: i64) -> i64 {
    match brand {
        Brand::Kvm => ram.saturating_add(1024),
        Brand::Bhyve => ram.saturating_add(1280),
        _ => ram,
    }
}

/// Applies the create-time memory defaults to a payload whose integers are
/// already numbers. For OS brands `ram` only seeds the memory cap and is
/// removed.
pub fn derive_create(vm: &mut Map<String, Value>, brand: Brand) {
    // A memory value that is not an integer stays as given, for validation
    // to report; nothing is derived from it or over it.
    let keys = [
        "ram",
        "max_physical_memory",
        "max_locked_memory",
        "max_swap",
        "max_shm_memory",
        "tmpfs",
    ];
    if keys
        .iter()
        .any(|k| vm.get(*k).is_some_and(|v| v.as_i64().is_none()))
    {
        return;
    }
    let ram = get(vm, "ram").unwrap_or(DEFAULT_RAM);
    if brand.is_hvm() {
        set(vm, "ram", ram);
    } else {
        vm.remove("ram");
    }
    let mpm =
        get(vm, "max_physical_memory").unwrap_or_else(|| default_max_physical_memory(brand, ram));
    set(vm, "max_physical_memory", mpm);
    for key in ["max_locked_memory", "max_swap", "max_shm_memory"] {
        if get(vm, key).is_none() {
            set(vm, key, mpm);
        }
    }
    if brand.is_os() && get(vm, "tmpfs").is_none() {
        set(vm, "tmpfs", mpm);
    }
    clamp(vm, brand);
}

/// Re-derives the memory limits after an update. `old` is the instance
/// before, `vm` the instance with the update's plain keys applied, `given`
/// the keys the update named.
pub fn derive_update(
    old: &Map<String, Value>,
    vm: &mut Map<String, Value>,
    given: &Map<String, Value>,
    brand: Brand,
) {
    let named = |k: &str| given.contains_key(k);
    let (Some(o_mpm), Some(o_ram)) = (get(old, "max_physical_memory"), get(old, "ram").or(Some(0)))
    else {
        clamp(vm, brand);
        return;
    };
    if brand.is_hvm()
        && named("ram")
        && !named("max_physical_memory")
        && let Some(ram) = get(vm, "ram")
    {
        set(vm, "max_physical_memory", o_mpm + (ram - o_ram));
    }
    let mpm = get(vm, "max_physical_memory").unwrap_or(o_mpm);
    if mpm != o_mpm {
        follow_memory_cap(old, vm, given, o_mpm, mpm);
    }
    clamp(vm, brand);
}

fn follow_memory_cap(
    old: &Map<String, Value>,
    vm: &mut Map<String, Value>,
    given: &Map<String, Value>,
    o_mpm: i64,
    mpm: i64,
) {
    if !given.contains_key("max_locked_memory")
        && let Some(o) = get(old, "max_locked_memory")
    {
        set(vm, "max_locked_memory", (mpm - (o_mpm - o)).max(0));
    }
    if !given.contains_key("max_swap")
        && let Some(o) = get(old, "max_swap")
    {
        let artificial_floor = o == MIN_SWAP && o_mpm < MIN_SWAP;
        let swap = if artificial_floor {
            mpm
        } else {
            mpm + (o - o_mpm)
        };
        set(vm, "max_swap", swap);
    }
    if !given.contains_key("tmpfs")
        && let (Some(o), true) = (get(old, "tmpfs"), o_mpm > 0)
    {
        let scaled = (o as f64 * mpm as f64 / o_mpm as f64).round() as i64;
        set(vm, "tmpfs", scaled);
    }
}

/// The clamps that end every derivation: HVM caps at least `ram + 256`,
/// `max_locked_memory` at most the cap, `max_swap` at least the cap and at
/// least 256, `tmpfs` at most the cap.
fn clamp(vm: &mut Map<String, Value>, brand: Brand) {
    let Some(mut mpm) = get(vm, "max_physical_memory") else {
        return;
    };
    let hvm_floor = get(vm, "ram")
        .unwrap_or(DEFAULT_RAM)
        .saturating_add(HVM_MIN_OVERHEAD);
    if brand.is_hvm() {
        mpm = mpm.max(hvm_floor);
        set(vm, "max_physical_memory", mpm);
    }
    if let Some(mlm) = get(vm, "max_locked_memory") {
        let mut mlm = mlm.min(mpm);
        if brand.is_hvm() {
            mlm = mlm.max(hvm_floor);
        }
        set(vm, "max_locked_memory", mlm);
    }
    if let Some(swap) = get(vm, "max_swap") {
        set(vm, "max_swap", swap.max(mpm).max(MIN_SWAP));
    }
    if let Some(tmpfs) = get(vm, "tmpfs") {
        set(vm, "tmpfs", tmpfs.min(mpm));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn created(brand: Brand, payload: Value) -> Value {
        let mut vm = obj(payload);
        derive_create(&mut vm, brand);
        Value::Object(vm)
    }

    #[test]
    fn os_defaults_are_256_everywhere() {
        assert_eq!(
            created(Brand::JoyentMinimal, json!({})),
            json!({"max_physical_memory": 256, "max_locked_memory": 256,
                   "max_swap": 256, "max_shm_memory": 256, "tmpfs": 256})
        );
    }

    #[test]
    fn os_ram_seeds_the_cap_and_is_dropped() {
        let vm = created(Brand::Joyent, json!({"ram": 1024}));
        assert_eq!(vm["max_physical_memory"], 1024);
        assert_eq!(vm["tmpfs"], 1024);
        assert!(vm.get("ram").is_none());
    }

    #[test]
    fn hvm_overheads() {
        let kvm = created(Brand::Kvm, json!({}));
        assert_eq!(kvm["ram"], 256);
        assert_eq!(kvm["max_physical_memory"], 1280);
        assert_eq!(kvm["max_locked_memory"], 1280);
        assert_eq!(kvm["max_swap"], 1280);
        assert!(kvm.get("tmpfs").is_none());
        let bhyve = created(Brand::Bhyve, json!({"ram": 1024}));
        assert_eq!(bhyve["max_physical_memory"], 2304);
        let low = created(
            Brand::Kvm,
            json!({"ram": 1024, "max_physical_memory": 1100}),
        );
        assert_eq!(low["max_physical_memory"], 1280);
        assert_eq!(low["max_locked_memory"], 1280);
    }

    #[test]
    fn values_that_are_not_integers_are_left_for_validation() {
        let vm = created(Brand::Kvm, json!({"max_physical_memory": true, "ram": 512}));
        assert_eq!(vm, json!({"max_physical_memory": true, "ram": 512}));
        let vm = created(Brand::Joyent, json!({"max_swap": [1]}));
        assert_eq!(vm, json!({"max_swap": [1]}));
    }

    #[test]
    fn clamps_on_create() {
        let vm = created(
            Brand::Joyent,
            json!({"max_physical_memory": 512, "max_locked_memory": 1024,
                   "max_swap": 128, "tmpfs": 4096}),
        );
        assert_eq!(vm["max_locked_memory"], 512);
        assert_eq!(vm["max_swap"], 512);
        assert_eq!(vm["tmpfs"], 512);
        let small = created(Brand::Joyent, json!({"max_physical_memory": 128}));
        assert_eq!(small["max_swap"], 256);
    }

    #[test]
    fn huge_hvm_ram_saturates_and_is_refused() {
        // Create derives memory before it validates, so ram may be any
        // integer; the overheads must not overflow.
        for brand in [Brand::Kvm, Brand::Bhyve] {
            let vm = created(brand, json!({"ram": i64::MAX}));
            assert_eq!(vm["max_physical_memory"], i64::MAX);
            assert_eq!(vm["max_locked_memory"], i64::MAX);
            let payload = json!({"brand": brand.as_str(), "ram": "18446744073709551616"});
            let err = crate::create::create(
                obj(payload),
                &crate::facts::HostFacts::with_default_pool(),
                "2026-11-27T08:00:00.000Z",
                &mut crate::facts::SeededEntropy(1),
            )
            .unwrap_err();
            assert!(
                matches!(&err, crate::create::CreateError::Invalid { bad_values, .. }
                    if bad_values.contains(&"ram".to_owned())),
                "{err:?}"
            );
        }
    }

    fn updated(brand: Brand, old: Value, change: Value) -> Value {
        let old = obj(old);
        let given = obj(change);
        let mut vm = old.clone();
        for (k, v) in &given {
            vm.insert(k.clone(), v.clone());
        }
        derive_update(&old, &mut vm, &given, brand);
        Value::Object(vm)
    }

    #[test]
    fn update_keeps_distances_and_ratio() {
        let old = json!({"max_physical_memory": 1024, "max_locked_memory": 768,
                         "max_swap": 2048, "tmpfs": 512});
        let vm = updated(Brand::Joyent, old, json!({"max_physical_memory": 2048}));
        assert_eq!(vm["max_locked_memory"], 1792);
        assert_eq!(vm["max_swap"], 3072);
        assert_eq!(vm["tmpfs"], 1024);
    }

    #[test]
    fn update_from_the_artificial_swap_floor_follows_the_cap() {
        let old = json!({"max_physical_memory": 128, "max_locked_memory": 128,
                         "max_swap": 256, "tmpfs": 128});
        let vm = updated(Brand::Joyent, old, json!({"max_physical_memory": 1024}));
        assert_eq!(vm["max_swap"], 1024);
    }

    #[test]
    fn lowering_is_adjusted_not_refused() {
        let old = json!({"max_physical_memory": 1024, "max_locked_memory": 1024,
                         "max_swap": 1024, "tmpfs": 1024});
        let vm = updated(Brand::Joyent, old.clone(), json!({"max_swap": 512}));
        assert_eq!(vm["max_swap"], 1024);
        let vm = updated(Brand::Joyent, old, json!({"max_locked_memory": 4096}));
        assert_eq!(vm["max_locked_memory"], 1024);
    }

    #[test]
    fn hvm_ram_change_moves_the_cap() {
        let old = json!({"ram": 1024, "max_physical_memory": 2048,
                         "max_locked_memory": 2048, "max_swap": 2048});
        let vm = updated(Brand::Kvm, old.clone(), json!({"ram": 2048}));
        assert_eq!(vm["max_physical_memory"], 3072);
        assert_eq!(vm["max_locked_memory"], 3072);
        assert_eq!(vm["max_swap"], 3072);
        let vm = updated(Brand::Kvm, old, json!({"max_physical_memory": 512}));
        assert_eq!(vm["max_physical_memory"], 1280);
    }
}
