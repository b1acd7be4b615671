//! Update semantics (reference 2.5), pure: plain keys, the `key=value`
//! command-line form, `set_`/`remove_` for the flat objects, `add_`/
//! `update_`/`remove_` for the keyed collections, SmartOS's unsetting rules
//! and memory adjustments. The result is the new configuration and a typed
//! list of [`Change`]s.

mod change;
mod cli;
mod collections;

pub use change::{Change, Effect, MAPS, diff};
pub use cli::parse_args;

use serde_json::{Map, Value, json};

use crate::brand::Brand;
use crate::checks::{DEFAULT_RECSIZE, check_properties, check_routes};
use crate::create::{drop_bad_properties, finish_scalars, objects, only_when_true};
use crate::facts::{Entropy, HostFacts};
use crate::ids::VmUuid;
use crate::schema::{self, Action, PropType};
use crate::validate::validate;
use crate::value::{as_bool, as_list, is_unset};
use crate::{memory, nic};

/// Why an update was refused; the message is vmadm's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// A `key=value` argument without `=`.
    #[error("Invalid argument: \"{0}\" (expected key=value)")]
    BadArgument(String),
    /// Integer properties hold strings that are not numbers.
    #[error("{}", crate::value::not_a_number_message(.0))]
    NotANumber(Vec<String>),
    /// Values are wrong or required keys are missing.
    #[error("{}", crate::create::invalid_message(bad_values, missing_properties))]
    Invalid {
        /// Keys with wrong values.
        bad_values: Vec<String>,
        /// Required keys that are missing (inside added disks and PCI
        /// devices).
        missing_properties: Vec<String>,
    },
    /// Semantic checks failed; one message per line.
    #[error("{}", .0.join("\n"))]
    Checks(Vec<String>),
}

/// An instance as it is now, to be updated.
pub struct Current<'a> {
    /// Its stored configuration.
    pub vm: &'a Map<String, Value>,
    /// Its brand.
    pub brand: Brand,
    /// Its uuid.
    pub uuid: &'a VmUuid,
    /// Its `state`.
    pub state: &'a str,
    /// Its `zone_state`.
    pub zone_state: &'a str,
}

/// The outcome of an update.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// The new configuration.
    pub vm: Map<String, Value>,
    /// What changed.
    pub changes: Vec<Change>,
    /// Keys ignored because they cannot be updated for the brand, for the
    /// log.
    pub dropped: Vec<String>,
    /// Other things skipped (unknown MACs in remove_nics), for the log.
    pub warnings: Vec<String>,
}

/// Applies an update payload to an instance.
pub fn update(
    current: &Current<'_>,
    payload: Map<String, Value>,
    facts: &HostFacts,
    now: &str,
    entropy: &mut dyn Entropy,
) -> Result<Updated, UpdateError> {
    let mut p = payload;
    let not_arrays = crate::validate::non_array_members(&p);
    if !not_arrays.is_empty() {
        return Err(UpdateError::Checks(not_arrays));
    }
    coerce_integers(&mut p)?;
    let mut errors = Vec::new();
    let block_size_change = objects(&p, "update_disks")
        .iter()
        .any(|d| d.contains_key("block_size"));
    if block_size_change {
        errors.push("cannot change .block_size for a disk after creation".into());
    }
    let report = validate(&p, current.brand, Action::Update, facts);
    let dropped = drop_bad_properties(&mut p, &report);
    if !report.bad_values.is_empty() || !report.missing_properties.is_empty() {
        return Err(UpdateError::Invalid {
            bad_values: report.bad_values,
            missing_properties: report.missing_properties,
        });
    }
    if current.brand.is_os() {
        ram_seeds_memory_cap(&mut p);
    }
    let old = current.vm;
    let mut vm = old.clone();
    apply_plain(&mut vm, &p);
    memory::derive_update(old, &mut vm, &p, current.brand);
    apply_maps(&mut vm, &p);
    let mut warnings = Vec::new();
    apply_collections(&mut vm, &p, current, entropy, &mut errors, &mut warnings);
    check(&vm, current, facts, &mut errors);
    if !errors.is_empty() {
        return Err(UpdateError::Checks(errors));
    }
    let changes = diff(old, &vm);
    if !changes.is_empty() {
        vm.insert("last_modified".into(), json!(now));
    }
    Ok(Updated {
        vm,
        changes,
        dropped,
        warnings,
    })
}

/// `add_`/`update_`/`remove_` of nics, disks, filesystems and PCI devices
/// (disks and PCI devices only while stopped, where SmartOS says so).
fn apply_collections(
    vm: &mut Map<String, Value>,
    p: &Map<String, Value>,
    current: &Current<'_>,
    entropy: &mut dyn Entropy,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let ctx = collections::Ctx {
        brand: current.brand,
        uuid: current.uuid,
        state: current.state,
        zone_state: current.zone_state,
    };
    collections::nics(vm, p, &ctx, entropy, errors, warnings);
    if current.brand.is_hvm() {
        collections::disks(vm, p, &ctx, entropy, errors);
    }
    collections::keyed(vm, p, "filesystems", "target", errors);
    let pci_touched = [
        "pci_devices",
        "add_pci_devices",
        "update_pci_devices",
        "remove_pci_devices",
    ]
    .iter()
    .any(|k| {
        p.get(*k)
            .is_some_and(|v| v.as_array().is_none_or(|a| !a.is_empty()))
    });
    if pci_touched && !ctx.stopped() {
        errors.push(format!(
            "updates to pci_devices are only allowed when state is \"stopped\", currently: {} ({})",
            current.state, current.zone_state
        ));
    } else {
        collections::keyed(vm, p, "pci_devices", "path", errors);
    }
}

fn check(
    vm: &Map<String, Value>,
    current: &Current<'_>,
    facts: &HostFacts,
    errors: &mut Vec<String>,
) {
    errors.extend(check_properties(vm, current.brand));
    let nics = objects(vm, "nics");
    let old_nics = objects(current.vm, "nics");
    if nics != old_nics {
        errors.extend(nic::check(&nics));
        let new_ones: Vec<_> = nics
            .iter()
            .filter(|n| !old_nics.contains(n))
            .cloned()
            .collect();
        errors.extend(nic::check_tags(&new_ones, facts));
        if nic::conflicts(current.uuid.as_str(), &new_ones, facts) {
            errors.push(
                "Conflict detected with another vm, please check the MAC, IP, and VRID".into(),
            );
        }
    }
    if let Some(routes) = vm.get("routes").and_then(Value::as_object)
        && (Some(routes) != current.vm.get("routes").and_then(Value::as_object) || nics != old_nics)
    {
        errors.extend(check_routes(routes, &nics));
    }
}

/// For OS brands `ram` is not kept: as on create, it stands for
/// `max_physical_memory` (unless that is given too).
fn ram_seeds_memory_cap(p: &mut Map<String, Value>) {
    if let Some(ram) = p.remove("ram")
        && !p.contains_key("max_physical_memory")
    {
        p.insert("max_physical_memory".into(), ram);
    }
}

/// Integers given as strings become numbers; blank strings become null
/// (unset); strings that are not numbers are refused.
fn coerce_integers(p: &mut Map<String, Value>) -> Result<(), UpdateError> {
    crate::value::coerce_integer_properties(p, true).map_err(UpdateError::NotANumber)
}

/// Plain top-level keys with SmartOS's unsetting rules: null or "" removes
/// an integer (but `quota` becomes 0, and a record size resets to the
/// default), `cpu_cap: 0` removes the cap, `tmpfs: 0` stays 0, a blank
/// string removes a string, false removes the keys shown only when true.
fn apply_plain(vm: &mut Map<String, Value>, p: &Map<String, Value>) {
    for (key, value) in p {
        let Some(prop) = schema::property(key) else {
            continue;
        };
        let unset = is_unset(value);
        match prop.ty {
            PropType::Integer { .. } => {
                let n = value.as_i64();
                match key.as_str() {
                    "quota" if unset => vm.insert(key.clone(), json!(0)),
                    "zfs_root_recsize" | "zfs_data_recsize" if unset || n == Some(0) => {
                        vm.insert(key.clone(), json!(DEFAULT_RECSIZE))
                    }
                    "cpu_cap" if n == Some(0) => vm.remove(key),
                    _ if unset => vm.remove(key),
                    _ => vm.insert(key.clone(), value.clone()),
                };
            }
            PropType::Boolean => match as_bool(value) {
                Some(false) if only_when_true(key) => {
                    vm.remove(key);
                }
                Some(b) => {
                    vm.insert(key.clone(), Value::Bool(b));
                }
                None => {}
            },
            _ if unset && !matches!(prop.ty, PropType::List(_)) => {
                vm.remove(key);
            }
            _ => {
                vm.insert(key.clone(), value.clone());
            }
        }
    }
    let mut lists = Map::new();
    for (key, value) in p {
        if schema::property(key).is_some_and(|prop| matches!(prop.ty, PropType::List(_))) {
            lists.insert(key.clone(), value.clone());
        }
    }
    finish_scalars(&mut lists);
    for key in p
        .keys()
        .filter(|k| schema::property(k).is_some_and(|pr| matches!(pr.ty, PropType::List(_))))
    {
        match lists.get(key) {
            Some(v) => vm.insert(key.clone(), v.clone()),
            None => vm.remove(key),
        };
    }
}

/// `set_*` and `remove_*` for customer_metadata, internal_metadata, tags
/// and routes: existing keys minus the removed ones, then the set ones on
/// top.
fn apply_maps(vm: &mut Map<String, Value>, p: &Map<String, Value>) {
    for map in MAPS {
        let removes = p.get(&format!("remove_{map}")).and_then(as_list);
        let sets = p.get(&format!("set_{map}")).and_then(Value::as_object);
        if removes.is_none() && sets.is_none() {
            continue;
        }
        let mut current = vm
            .get(map)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for key in removes.unwrap_or_default() {
            current.remove(&key);
        }
        for (k, v) in sets.into_iter().flatten() {
            current.insert(k.clone(), v.clone());
        }
        vm.insert(map.into(), Value::Object(current));
    }
}

#[cfg(test)]
mod tests;
