//! The create pipeline (reference 2.6): from a user's payload to the stored
//! configuration of a new instance, with SmartOS's defaults, rewriting,
//! validation and checks. Keys not allowed for the brand are dropped and
//! returned so the caller can log them; wrong values, missing keys and
//! failed checks abort with vmadm's messages, all of them at once.

use serde_json::{Map, Value, json};

use crate::brand::Brand;
use crate::checks::{DEFAULT_RECSIZE, check_properties, check_routes};
use crate::facts::{Entropy, HostFacts};
use crate::ids::{VmUuid, is_uuid};
use crate::schema::{self, Action, Collection, ListForm, PropType};
use crate::validate::{BadPath, ValidationReport, validate};
use crate::value::{as_bool, as_list, is_unset};
use crate::{disk, memory, nic};

/// `limit_priv` of HVM instances.
pub const HVM_LIMIT_PRIV: &str =
    "default,-file_link_any,-net_access,-proc_fork,-proc_info,-proc_session";

/// Why a create was refused; the message is vmadm's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// Integer properties hold strings that are not numbers.
    #[error("{}", crate::value::not_a_number_message(.0))]
    NotANumber(Vec<String>),
    /// The brand is not one of the six.
    #[error("Invalid brand while validating payload: \"{0}\"")]
    BadBrand(String),
    /// The payload's uuid is taken.
    #[error("VM with UUID {0} already exists")]
    Exists(String),
    /// Values are wrong or required keys are missing.
    #[error("{}", invalid_message(bad_values, missing_properties))]
    Invalid {
        /// Keys with wrong values.
        bad_values: Vec<String>,
        /// Required keys that are missing.
        missing_properties: Vec<String>,
    },
    /// Both a collection and its `add_` form were given.
    #[error("Cannot specify both \"{0}\" and \"add_{0}\"")]
    Both(&'static str),
    /// Semantic checks failed; one message per line.
    #[error("{}", .0.join("\n"))]
    Checks(Vec<String>),
}

/// vmadm's message for bad values and missing properties, one line each.
pub fn invalid_message(bad_values: &[String], missing: &[String]) -> String {
    let mut lines = Vec::new();
    if !bad_values.is_empty() {
        lines.push(format!("Invalid value(s) for: {}", bad_values.join(",")));
    }
    if !missing.is_empty() {
        lines.push(format!(
            "Missing required properties: {}",
            missing.join(",")
        ));
    }
    lines.join("\n")
}

/// A new instance's configuration, and what was dropped on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The configuration to store.
    pub vm: Map<String, Value>,
    /// The instance's brand.
    pub brand: Brand,
    /// Keys dropped because the brand or action does not allow them
    /// (`nics.*.<k>` for sub-keys), for the log.
    pub dropped: Vec<String>,
}

/// Runs the create pipeline on `payload`. `now` is the ISO-8601 time of
/// creation.
pub fn create(
    payload: Map<String, Value>,
    facts: &HostFacts,
    now: &str,
    entropy: &mut dyn Entropy,
) -> Result<Created, CreateError> {
    let mut p = payload;
    let root_given = ["zfs_root_compression", "zfs_root_recsize"]
        .iter()
        .any(|k| p.get(*k).is_some_and(|v| !is_unset(v)));
    let not_arrays = crate::validate::non_array_members(&p);
    if !not_arrays.is_empty() {
        return Err(CreateError::Checks(not_arrays));
    }
    let uuid = settle_uuid(&mut p, facts, entropy)?;
    coerce_integers(&mut p)?;
    let brand = settle_brand(&mut p)?;
    apply_defaults(&mut p, brand);
    memory::derive_create(&mut p, brand);
    translate_deprecated(&mut p);
    // Only the docker-capable brands: on another, `docker` is a property
    // the brand does not take and is dropped, with nothing added for it.
    if p.get("docker").and_then(as_bool) == Some(true)
        && crate::brand::BrandSet::DOCKER.contains(brand)
    {
        apply_docker(&mut p, brand, &uuid);
    }
    let report = validate(&p, brand, Action::Create, facts);
    let dropped = drop_bad_properties(&mut p, &report);
    if !report.bad_values.is_empty() || !report.missing_properties.is_empty() {
        return Err(CreateError::Invalid {
            bad_values: report.bad_values,
            missing_properties: report.missing_properties,
        });
    }
    p.entry("zonename")
        .or_insert_with(|| Value::String(uuid.to_string()));
    let mut errors = Vec::new();
    build_collections(&mut p, brand, &uuid, entropy, &mut errors)?;
    finish_scalars(&mut p);
    if brand.is_os() && root_given {
        p.entry("zfs_data_compression")
            .or_insert_with(|| json!("off"));
        p.entry("zfs_data_recsize")
            .or_insert_with(|| json!(DEFAULT_RECSIZE));
    }
    errors.extend(semantic_checks(&p, brand, &uuid, facts));
    if !errors.is_empty() {
        return Err(CreateError::Checks(errors));
    }
    p.insert("v".into(), json!(1));
    p.insert("create_timestamp".into(), json!(now));
    p.insert("last_modified".into(), json!(now));
    Ok(Created {
        vm: p,
        brand,
        dropped,
    })
}

/// The checks of reference 2.9 and the host's, on a normalised instance:
/// properties, NICs, nic tags, routes, filesystem sources, bhyve support,
/// conflicts with other instances. Every problem is returned.
fn semantic_checks(
    p: &Map<String, Value>,
    brand: Brand,
    uuid: &VmUuid,
    facts: &HostFacts,
) -> Vec<String> {
    let mut errors = check_properties(p, brand);
    let nics = objects(p, "nics");
    errors.extend(nic::check(&nics));
    errors.extend(nic::check_tags(&nics, facts));
    if let Some(routes) = p.get("routes").and_then(Value::as_object) {
        errors.extend(check_routes(routes, &nics));
    }
    for fs in objects(p, "filesystems") {
        if let Some(source) = fs.get("source").and_then(Value::as_str)
            && !facts.existing_sources.iter().any(|s| s == source)
        {
            errors.push(format!("missing requested filesystem: {source}"));
        }
    }
    if brand == Brand::Bhyve && !facts.bhyve_capable {
        errors.push("Bhyve not supported".into());
    }
    if nic::conflicts(uuid.as_str(), &nics, facts) {
        errors.push("Conflict detected with another vm, please check the MAC, IP, and VRID".into());
    }
    errors
}

fn settle_uuid(
    p: &mut Map<String, Value>,
    facts: &HostFacts,
    entropy: &mut dyn Entropy,
) -> Result<VmUuid, CreateError> {
    match p.get("uuid") {
        Some(Value::String(s)) if is_uuid(s) => {
            let taken = facts
                .instances
                .iter()
                .any(|vm| vm.get("uuid").and_then(Value::as_str) == Some(s));
            if taken {
                return Err(CreateError::Exists(s.clone()));
            }
            s.parse().map_err(|_| CreateError::Exists(s.clone()))
        }
        // Not a UUID: validation reports it as a bad value and the create
        // stops there, so this placeholder is never stored.
        Some(v) if !is_unset(v) => Ok(VmUuid::from_random_bytes([0; 16])),
        _ => {
            let mut bytes = [0u8; 16];
            entropy.fill(&mut bytes);
            let uuid = VmUuid::from_random_bytes(bytes);
            p.insert("uuid".into(), Value::String(uuid.to_string()));
            Ok(uuid)
        }
    }
}

/// Turns integer properties given as strings into numbers (JavaScript's
/// `Number()`); blank and null values are removed (unset).
pub fn coerce_integers(p: &mut Map<String, Value>) -> Result<(), CreateError> {
    crate::value::coerce_integer_properties(p, false).map_err(CreateError::NotANumber)
}

fn settle_brand(p: &mut Map<String, Value>) -> Result<Brand, CreateError> {
    match p.get("brand") {
        None | Some(Value::Null) => {
            p.insert("brand".into(), json!("joyent"));
            Ok(Brand::Joyent)
        }
        Some(Value::String(s)) => s.parse().map_err(|_| CreateError::BadBrand(s.clone())),
        Some(other) => Err(CreateError::BadBrand(other.to_string())),
    }
}

fn apply_defaults(p: &mut Map<String, Value>, brand: Brand) {
    let zero = VmUuid::ZERO;
    let mut defaults: Vec<(&str, Value)> = vec![
        ("autoboot", json!(true)),
        ("billing_id", json!(zero)),
        ("owner_uuid", json!(zero)),
        ("zpool", json!("zones")),
        ("cpu_shares", json!(100)),
        ("zfs_io_priority", json!(100)),
        ("max_lwps", json!(2000)),
        ("max_msg_ids", json!(4096)),
        ("max_sem_ids", json!(4096)),
        ("max_shm_ids", json!(4096)),
        ("zfs_root_recsize", json!(DEFAULT_RECSIZE)),
        ("resolvers", json!([])),
        ("customer_metadata", json!({})),
        ("internal_metadata", json!({})),
        ("tags", json!({})),
        ("routes", json!({})),
        ("quota", json!(if brand == Brand::Bhyve { 1 } else { 10 })),
        (
            "limit_priv",
            json!(if brand.is_hvm() {
                HVM_LIMIT_PRIV
            } else {
                "default"
            }),
        ),
    ];
    if brand.is_os() {
        defaults.push(("dns_domain", json!("local")));
    }
    if brand.is_hvm() {
        defaults.push(("vcpus", json!(1)));
    }
    if brand == Brand::Bhyve {
        defaults.push(("bootrom", json!("bios")));
        if !p.contains_key("com1") && !p.contains_key("com2") {
            defaults.push(("com1", json!("/dev/zconsole")));
            defaults.push(("com2", json!("socket,/tmp/vm.ttyb")));
        }
    }
    for (key, value) in defaults {
        if p.get(key).is_none_or(|v| v.is_null() || v == "") {
            p.insert(key.into(), value);
        }
    }
    if p.get("cpu_shares")
        .and_then(Value::as_i64)
        .is_some_and(|s| s > 65535)
    {
        p.insert("cpu_shares".into(), json!(65535));
    }
}

fn translate_deprecated(p: &mut Map<String, Value>) {
    for old in ["dataset_uuid", "zone_dataset_uuid"] {
        if let Some(v) = p.remove(old)
            && !p.contains_key("image_uuid")
        {
            p.insert("image_uuid".into(), v);
        }
    }
    if let Some(v) = p.remove("zfs_storage_pool_name") {
        p.insert("zpool".into(), v);
    }
}

fn apply_docker(p: &mut Map<String, Value>, brand: Brand, uuid: &VmUuid) {
    let mut namespaces = p
        .get("internal_metadata_namespaces")
        .and_then(as_list)
        .unwrap_or_default();
    if !namespaces.iter().any(|n| n == "docker") {
        namespaces.push("docker".into());
    }
    p.insert("internal_metadata_namespaces".into(), json!(namespaces));
    p.insert("restart_init".into(), json!(false));
    let init = if brand == Brand::Lx {
        "/native/usr/vm/sbin/dockerinit"
    } else {
        "/usr/vm/sbin/dockerinit"
    };
    p.insert("init_name".into(), json!(init));
    let hex = uuid.as_str().replace('-', "");
    if let Some(Value::Object(im)) = p.get_mut("internal_metadata") {
        im.entry("docker:id")
            .or_insert_with(|| json!(format!("{hex}{hex}")));
    }
}

/// Removes the keys validation found not allowed and returns their names.
pub fn drop_bad_properties(p: &mut Map<String, Value>, report: &ValidationReport) -> Vec<String> {
    for bad in &report.bad_paths {
        match bad {
            BadPath::Top(key) => {
                p.remove(key);
            }
            BadPath::Element {
                collection,
                index,
                key,
            } => {
                let Some(Value::Array(items)) = p.get_mut(collection) else {
                    continue;
                };
                for (i, item) in items.iter_mut().enumerate() {
                    if let (true, Some(obj)) = (index.is_none_or(|n| n == i), item.as_object_mut())
                    {
                        obj.remove(key);
                    }
                }
            }
        }
    }
    report.bad_properties.clone()
}

/// The objects of array `key`.
pub fn objects(p: &Map<String, Value>, key: &str) -> Vec<Map<String, Value>> {
    p.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).cloned().collect())
        .unwrap_or_default()
}

fn build_collections(
    p: &mut Map<String, Value>,
    brand: Brand,
    uuid: &VmUuid,
    entropy: &mut dyn Entropy,
    errors: &mut Vec<String>,
) -> Result<(), CreateError> {
    for c in Collection::ALL {
        let add = format!("add_{}", c.key());
        if p.contains_key(c.key()) && p.contains_key(&add) {
            return Err(CreateError::Both(c.key()));
        }
        if let Some(v) = p.remove(&add) {
            p.insert(c.key().into(), v);
        }
    }
    let given = objects(p, "nics");
    let driver = p
        .get("nic_driver")
        .and_then(Value::as_str)
        .map(str::to_owned);
    match nic::normalise_added(&given, brand, &[], driver.as_deref(), entropy) {
        Ok(mut nics) => {
            if let Err(e) = nic::settle_primary(&mut nics) {
                errors.push(e);
            }
            p.insert("nics".into(), json!(nics));
        }
        Err(mut e) => errors.append(&mut e),
    }
    if brand.is_hvm() {
        let given = objects(p, "disks");
        let zpool = p
            .get("zpool")
            .and_then(Value::as_str)
            .unwrap_or("zones")
            .to_owned();
        let driver = p
            .get("disk_driver")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let ctx = disk::DiskContext {
            uuid,
            brand,
            zpool: &zpool,
            disk_driver: driver.as_deref(),
            existing: &[],
        };
        match disk::normalise_added(&given, &ctx, entropy) {
            Ok(disks) => {
                p.insert("disks".into(), json!(disks));
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if let Some(Value::Array(fss)) = p.get_mut("filesystems") {
        for fs in fss.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(opts) = fs.get("options").and_then(as_list) {
                fs.insert("options".into(), json!(opts));
            }
        }
    }
    Ok(())
}

/// Settles scalar values as vmadm stores them: booleans as booleans (the
/// keys shown only when true removed when false), lists in their output
/// form, blank strings removed, record sizes of 0 reset, a `cpu_cap` of 0
/// removed.
pub fn finish_scalars(p: &mut Map<String, Value>) {
    let keys: Vec<String> = p.keys().cloned().collect();
    for key in keys {
        let Some(prop) = schema::property(&key) else {
            continue;
        };
        let value = p[&key].clone();
        match prop.ty {
            PropType::Boolean => match as_bool(&value) {
                Some(false) if only_when_true(&key) => {
                    p.remove(&key);
                }
                Some(b) => {
                    p.insert(key, Value::Bool(b));
                }
                None => {}
            },
            PropType::List(_) => {
                let items = as_list(&value).unwrap_or_default();
                let v = match prop.list_form() {
                    ListForm::CommaString if items.is_empty() => None,
                    ListForm::CommaString => Some(json!(items.join(","))),
                    ListForm::Array => Some(json!(items)),
                };
                match v {
                    Some(v) => p.insert(key, v),
                    None => p.remove(&key),
                };
            }
            PropType::Str(_) | PropType::Uuid | PropType::Zpool if is_unset(&value) => {
                p.remove(&key);
            }
            _ => {}
        }
    }
    for key in ["zfs_root_recsize", "zfs_data_recsize"] {
        if p.get(key).and_then(Value::as_i64) == Some(0) {
            p.insert(key.into(), json!(DEFAULT_RECSIZE));
        }
    }
    if p.get("cpu_cap").and_then(Value::as_i64) == Some(0) {
        p.remove("cpu_cap");
    }
}

/// Keys `vmadm get` shows only when true.
pub fn only_when_true(key: &str) -> bool {
    matches!(
        key,
        "do_not_inventory" | "indestructible_zoneroot" | "indestructible_delegated"
    )
}

#[cfg(test)]
mod tests;
