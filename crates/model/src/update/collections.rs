//! Update of the keyed collections: nics by mac, disks by path,
//! filesystems by target, pci_devices by path (reference 2.5).

use serde_json::{Map, Value, json};

use crate::brand::Brand;
use crate::facts::Entropy;
use crate::ids::{Mac, VmUuid};
use crate::ip::{netmask_prefix, parse_nic_cidr};
use crate::nic;
use crate::value::{as_bool, as_list, compact};
use crate::{create::objects, disk};

/// What a collection update needs besides the payload.
pub struct Ctx<'a> {
    /// The instance's brand.
    pub brand: Brand,
    /// The instance's uuid.
    pub uuid: &'a VmUuid,
    /// `state` and `zone_state` now, for the "only while stopped" rules.
    pub state: &'a str,
    /// The raw zone state.
    pub zone_state: &'a str,
}

impl Ctx<'_> {
    /// Whether the instance counts as stopped for changes that need it.
    pub fn stopped(&self) -> bool {
        self.state == "stopped" || (self.state == "provisioning" && self.zone_state == "installed")
    }
}

/// Applies remove_nics, update_nics and add_nics; returns problems and
/// warnings.
pub fn nics(
    vm: &mut Map<String, Value>,
    payload: &Map<String, Value>,
    ctx: &Ctx<'_>,
    entropy: &mut dyn Entropy,
    errors: &mut Vec<String>,
    warnings: &mut Vec<String>,
) {
    let mut list = objects(vm, "nics");
    for mac in payload
        .get("remove_nics")
        .and_then(as_list)
        .unwrap_or_default()
    {
        let norm = Mac::parse(&mac)
            .map(|m| m.to_string())
            .unwrap_or(mac.clone());
        let before = list.len();
        list.retain(|n| n.get("mac").and_then(Value::as_str) != Some(norm.as_str()));
        if list.len() == before {
            warnings.push(format!("remove_nics: no NIC with mac {mac}, skipped"));
        }
    }
    for upd in payload
        .get("update_nics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(upd) = upd.as_object() else { continue };
        if let Err(e) = update_nic(&mut list, upd) {
            errors.push(e);
        }
    }
    let added = objects(payload, "add_nics");
    if !added.is_empty() {
        let driver = vm
            .get("nic_driver")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match nic::normalise_added(&added, ctx.brand, &list, driver.as_deref(), entropy) {
            Ok(new) => {
                match new.iter().filter(|n| nic::is_primary(n)).count() {
                    0 => {}
                    1 => clear_primary(&mut list),
                    _ => errors.push("payload specifies more than 1 primary NIC".into()),
                }
                list.extend(new);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    settle_primary_after_update(&mut list);
    vm.insert("nics".into(), json!(list));
}

fn clear_primary(list: &mut [Map<String, Value>]) {
    for n in list {
        n.remove("primary");
    }
}

fn update_nic(list: &mut [Map<String, Value>], upd: &Map<String, Value>) -> Result<(), String> {
    let mac = upd
        .get("mac")
        .and_then(Value::as_str)
        .ok_or("NIC object needs a .mac property to update")?;
    let mac = Mac::parse(mac)
        .map(|m| m.to_string())
        .unwrap_or(mac.to_owned());
    let idx = list
        .iter()
        .position(|n| n.get("mac").and_then(Value::as_str) == Some(mac.as_str()))
        .ok_or("There is no existing NIC with that mac address")?;
    let json = compact(upd);
    if let Some(p) = upd.get("primary")
        && as_bool(p) != Some(true)
    {
        return Err(format!(
            "invalid value for NIC's primary flag: {p} (must be true)"
        ));
    }
    if upd
        .get("model")
        .is_some_and(|m| m.as_str().is_none_or(str::is_empty))
    {
        return Err(format!("invalid .model option for NIC: {json}"));
    }
    if let Some(tag) = upd.get("nic_tag")
        && !tag.as_str().is_some_and(|t| {
            !t.is_empty() && t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        })
    {
        return Err(format!("invalid .nic_tag option for NIC: {json}"));
    }
    let mut merged = list[idx].clone();
    let mut changes = upd.clone();
    changes.remove("mac");
    changes.remove("interface");
    let ip = changes.remove("ip");
    let netmask = changes.remove("netmask");
    if let Some(gw) = changes.remove("gateway")
        && !changes.contains_key("gateways")
    {
        changes.insert("gateways".into(), json!([gw]));
    }
    for (k, v) in changes {
        merged.insert(k, v);
    }
    if !upd.contains_key("ips") && (ip.is_some() || netmask.is_some()) {
        update_ip(&mut merged, &list[idx], ip, netmask)?;
    }
    if merged.get("primary").and_then(as_bool) == Some(true) {
        clear_primary(list);
    }
    nic::normalise_scalars(&mut merged);
    list[idx] = merged;
    Ok(())
}

fn update_ip(
    merged: &mut Map<String, Value>,
    current: &Map<String, Value>,
    ip: Option<Value>,
    netmask: Option<Value>,
) -> Result<(), String> {
    let ips = current.get("ips").and_then(as_list).unwrap_or_default();
    let v4: Vec<_> = ips
        .iter()
        .filter_map(|s| parse_nic_cidr(s).filter(|c| c.addr.is_ipv4()))
        .collect();
    let ip = ip.as_ref().and_then(Value::as_str).map(str::to_owned);
    if let Some(word) = ip.as_deref().filter(|w| *w == "dhcp" || *w == "addrconf") {
        merged.insert("ips".into(), json!([word]));
        return Ok(());
    }
    let prefix = match netmask.as_ref() {
        Some(m) => {
            let m = m.as_str().unwrap_or("");
            netmask_prefix(m).ok_or_else(|| format!("Specified netmask value is invalid: {m}"))?
        }
        None if v4.is_empty() => {
            return Err(
                "Updating IP address of NIC, but there is currently no specified netmask".into(),
            );
        }
        None => v4[0].prefix,
    };
    if v4.len() > 1 || (v4.is_empty() && ip.is_none()) {
        return Err("Need a single existing IPv4 address to update .ip or .netmask".into());
    }
    let addr = ip.unwrap_or_else(|| v4[0].addr.to_string());
    merged.insert("ips".into(), json!([format!("{addr}/{prefix}")]));
    Ok(())
}

/// After NICs changed: when no NIC is primary (the primary was removed, or
/// NICs were added to an instance that had none), the first NIC whose
/// first IP is public becomes primary, else the first with a private one,
/// else the first.
fn settle_primary_after_update(list: &mut [Map<String, Value>]) {
    if list.is_empty() || list.iter().any(nic::is_primary) {
        return;
    }
    let first_v4 = |n: &Map<String, Value>| {
        nic::static_ips(n).into_iter().find_map(|ip| match ip {
            std::net::IpAddr::V4(a) => Some(a),
            _ => None,
        })
    };
    let pick = list
        .iter()
        .position(|n| first_v4(n).is_some_and(|a| !a.is_private()))
        .or_else(|| list.iter().position(|n| first_v4(n).is_some()))
        .unwrap_or(0);
    list[pick].insert("primary".into(), Value::Bool(true));
}

/// Applies remove_disks, update_disks and add_disks.
pub fn disks(
    vm: &mut Map<String, Value>,
    payload: &Map<String, Value>,
    ctx: &Ctx<'_>,
    entropy: &mut dyn Entropy,
    errors: &mut Vec<String>,
) {
    let adds = objects(payload, "add_disks");
    let removes = payload
        .get("remove_disks")
        .and_then(as_list)
        .unwrap_or_default();
    let updates = objects(payload, "update_disks");
    if adds.is_empty() && removes.is_empty() && updates.is_empty() {
        return;
    }
    let currently = format!("currently: {} ({})", ctx.state, ctx.zone_state);
    if (!adds.is_empty() || !removes.is_empty()) && !ctx.stopped() {
        errors.push(format!(
            "updates to disks are only allowed when state is \"stopped\", {currently}"
        ));
        return;
    }
    let mut list = objects(vm, "disks");
    list.retain(|d| {
        !removes
            .iter()
            .any(|p| d.get("path").and_then(Value::as_str) == Some(p))
    });
    for upd in &updates {
        if let Err(e) = update_disk(&mut list, upd, ctx, &currently) {
            errors.push(e);
        }
    }
    if !adds.is_empty() {
        let zpool = vm
            .get("zpool")
            .and_then(Value::as_str)
            .unwrap_or("zones")
            .to_owned();
        let driver = vm
            .get("disk_driver")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let dctx = disk::DiskContext {
            uuid: ctx.uuid,
            brand: ctx.brand,
            zpool: &zpool,
            disk_driver: driver.as_deref(),
            existing: &list,
        };
        match disk::normalise_added(&adds, &dctx, entropy) {
            Ok(new) => list.extend(new),
            Err(mut e) => errors.append(&mut e),
        }
    }
    vm.insert("disks".into(), json!(list));
}

fn update_disk(
    list: &mut [Map<String, Value>],
    upd: &Map<String, Value>,
    ctx: &Ctx<'_>,
    currently: &str,
) -> Result<(), String> {
    let path = upd.get("path").and_then(Value::as_str).unwrap_or("");
    let disk = list
        .iter_mut()
        .find(|d| d.get("path").and_then(Value::as_str) == Some(path))
        .ok_or_else(|| format!("There is no existing disk with path {path}"))?;
    if upd.contains_key("block_size") {
        return Err("cannot change .block_size for a disk after creation".into());
    }
    let live = ["path", "compression", "refreservation"];
    if !ctx.stopped() && upd.keys().any(|k| !live.contains(&k.as_str())) {
        return Err(format!(
            "at least one specified update to disks is only allowed when state is \"stopped\", {currently}"
        ));
    }
    let shrink_ok = upd.get("dangerous_allow_shrink").and_then(as_bool) == Some(true);
    if let (Some(new), Some(old)) = (
        upd.get("size").and_then(Value::as_i64),
        disk.get("size").and_then(Value::as_i64),
    ) && new < old
        && !shrink_ok
    {
        return Err(
            "cannot resize disk: new size must be greater than or equal to current size".into(),
        );
    }
    for (k, v) in upd {
        if k != "dangerous_allow_shrink" {
            disk.insert(k.clone(), v.clone());
        }
    }
    Ok(())
}

/// Applies remove_, update_ and add_ for filesystems (by target) or
/// pci_devices (by path).
pub fn keyed(
    vm: &mut Map<String, Value>,
    payload: &Map<String, Value>,
    key: &str,
    id: &str,
    errors: &mut Vec<String>,
) {
    let removes = payload
        .get(&format!("remove_{key}"))
        .and_then(as_list)
        .unwrap_or_default();
    let updates = objects(payload, &format!("update_{key}"));
    let adds = objects(payload, &format!("add_{key}"));
    if removes.is_empty() && updates.is_empty() && adds.is_empty() {
        return;
    }
    let mut list = objects(vm, key);
    list.retain(|e| {
        !removes
            .iter()
            .any(|r| e.get(id).and_then(Value::as_str) == Some(r))
    });
    for upd in updates {
        let target = upd.get(id).and_then(Value::as_str).unwrap_or("");
        match list
            .iter_mut()
            .find(|e| e.get(id).and_then(Value::as_str) == Some(target))
        {
            Some(e) => e.extend(upd.clone()),
            None => errors.push(format!(
                "There is no existing {key} entry with {id} {target}"
            )),
        }
    }
    for add in adds {
        let target = add.get(id).and_then(Value::as_str).unwrap_or("");
        if list
            .iter()
            .any(|e| e.get(id).and_then(Value::as_str) == Some(target))
        {
            errors.push(format!(
                "Cannot add multiple {key} entries with the same {id}: {target}"
            ));
        } else {
            list.push(add);
        }
    }
    // Removing what is not there leaves an instance without the key as it
    // was, rather than giving it an empty list that no change reports.
    if list.is_empty() && !vm.contains_key(key) {
        return;
    }
    vm.insert(key.into(), json!(list));
}
