//! NICs: the rewriting vmadm applies when a NIC is added (reference 2.6
//! step 9 and 2.13), the checks of 2.9, and the shape `vmadm get` prints.
//!
//! A stored NIC carries the modern keys only (`ips`, `gateways`); the legacy
//! representative keys (`ip`, `netmask`, `gateway`) are computed on output.

use std::collections::BTreeSet;
use std::net::IpAddr;

use serde_json::{Map, Value, json};

use crate::brand::Brand;
use crate::facts::{Entropy, HostFacts};
use crate::ids::Mac;
use crate::ip::{is_allowed_ip, netmask_prefix, parse_nic_cidr, prefix_netmask};
use crate::value::{as_bool, as_integer, as_list, compact, int_value, is_unset};

const LIST_KEYS: [&str; 5] = [
    "allowed_ips",
    "allowed_dhcp_cids",
    "blocked_outgoing_ports",
    "gateways",
    "ips",
];
const BOOL_KEYS: [&str; 6] = [
    "allow_dhcp_spoofing",
    "allow_ip_spoofing",
    "allow_mac_spoofing",
    "allow_restricted_traffic",
    "allow_unfiltered_promisc",
    "dhcp_server",
];
const INT_KEYS: [&str; 4] = ["maxbw", "mtu", "vlan_id", "vrrp_vrid"];

/// A random locally administered unicast MAC, as vmadm generates them.
pub fn random_mac(entropy: &mut dyn Entropy) -> Mac {
    let mut b = [0u8; 6];
    entropy.fill(&mut b);
    b[0] = ((b[0] % 15 + 1) << 4) | 0x02;
    Mac(b)
}

/// The MAC of a VRRP NIC: `00:00:5e:00:01:<vrid>`.
pub fn vrrp_mac(vrid: u8) -> Mac {
    Mac([0, 0, 0x5e, 0, 1, vrid])
}

/// Normalises NICs being added to an instance of `brand` that already has
/// `existing` NICs. Returns every problem found, not only the first.
pub fn normalise_added(
    added: &[Map<String, Value>],
    brand: Brand,
    existing: &[Map<String, Value>],
    nic_driver: Option<&str>,
    entropy: &mut dyn Entropy,
) -> Result<Vec<Map<String, Value>>, Vec<String>> {
    let mut errors = Vec::new();
    let mut used: BTreeSet<String> = existing
        .iter()
        .filter_map(|n| {
            n.get("interface")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let first_model = existing
        .iter()
        .chain(added)
        .find_map(|n| {
            n.get("model")
                .and_then(Value::as_str)
                .filter(|m| !m.is_empty())
        })
        .map(str::to_owned);
    let fallback_model = nic_driver.map(str::to_owned).or(first_model);
    let mut out = Vec::new();
    for given in added {
        match normalise_one(given, brand, fallback_model.as_deref(), entropy) {
            Ok(mut nic) => {
                let name = lowest_free(&used, brand.interface_prefix());
                used.insert(name.clone());
                nic.insert("interface".into(), Value::String(name));
                out.push(nic);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn lowest_free(used: &BTreeSet<String>, prefix: &str) -> String {
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .find(|n| !used.contains(n))
        .unwrap_or_default()
}

fn normalise_one(
    given: &Map<String, Value>,
    brand: Brand,
    fallback_model: Option<&str>,
    entropy: &mut dyn Entropy,
) -> Result<Map<String, Value>, Vec<String>> {
    let json = compact(given);
    let mut errors = Vec::new();
    let mut nic = given.clone();
    nic.remove("index");
    nic.remove("interface");
    normalise_scalars(&mut nic);
    if let Err(e) = ip_to_ips(&mut nic, &json) {
        errors.push(e);
    }
    if let Some(gw) = nic.remove("gateway")
        && !nic.contains_key("gateways")
        && !is_unset(&gw)
    {
        nic.insert("gateways".into(), json!([gw]));
    }
    nic.entry("ips").or_insert_with(|| json!([]));
    if let Err(e) = assign_mac(&mut nic, entropy) {
        errors.push(e);
    }
    let tag_ok = nic.get("nic_tag").and_then(Value::as_str).is_some_and(|t| {
        !t.is_empty()
            && t.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'/')
    });
    if !tag_ok {
        errors.push(format!(
            "invalid or missing .nic_tag option for NIC: {json}"
        ));
    }
    if brand.is_hvm()
        && nic
            .get("model")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        match fallback_model {
            Some(m) => {
                nic.insert("model".into(), Value::String(m.to_owned()));
            }
            None => errors.push(format!("missing .model option for NIC: {json}")),
        }
    }
    if errors.is_empty() {
        Ok(nic)
    } else {
        Err(errors)
    }
}

/// Coerces a NIC's booleans, integers and lists, drops unset values, keeps
/// `primary` only when true and `vlan_id` only when non-zero.
pub fn normalise_scalars(nic: &mut Map<String, Value>) {
    nic.retain(|_, v| !is_unset(v));
    for key in BOOL_KEYS {
        if let Some(b) = nic.get(key).and_then(as_bool) {
            nic.insert(key.into(), Value::Bool(b));
        }
    }
    match nic.get("primary").and_then(as_bool) {
        Some(true) => {
            nic.insert("primary".into(), Value::Bool(true));
        }
        _ => {
            nic.remove("primary");
        }
    }
    for key in INT_KEYS {
        if let Some(n) = nic.get(key).and_then(as_integer) {
            nic.insert(key.into(), int_value(n));
        }
    }
    if nic.get("vlan_id").and_then(Value::as_i64) == Some(0) {
        nic.remove("vlan_id");
    }
    for key in LIST_KEYS {
        if let Some(items) = nic.get(key).and_then(as_list) {
            nic.insert(key.into(), json!(items));
        }
    }
    if let Some(mac) = nic.get("mac").and_then(Value::as_str).and_then(Mac::parse) {
        nic.insert("mac".into(), Value::String(mac.to_string()));
    }
}

/// Turns the legacy `ip` + `netmask` into `ips` (`dhcp`/`addrconf` kept as
/// words). Both legacy keys are consumed.
fn ip_to_ips(nic: &mut Map<String, Value>, json: &str) -> Result<(), String> {
    let ip = nic.remove("ip");
    let netmask = nic.remove("netmask");
    if nic.contains_key("ips") {
        return Ok(());
    }
    let Some(ip) = ip.as_ref().and_then(Value::as_str) else {
        return Ok(());
    };
    if ip == "dhcp" || ip == "addrconf" {
        nic.insert("ips".into(), json!([ip]));
        return Ok(());
    }
    let Some(mask) = netmask.as_ref().and_then(Value::as_str) else {
        return Err(format!("Missing .netmask option for NIC: {json}"));
    };
    let prefix = netmask_prefix(mask)
        .ok_or_else(|| format!("Specified netmask value is invalid: {mask}"))?;
    nic.insert("ips".into(), json!([format!("{ip}/{prefix}")]));
    Ok(())
}

fn assign_mac(nic: &mut Map<String, Value>, entropy: &mut dyn Entropy) -> Result<(), String> {
    let vrid = nic.get("vrrp_vrid").and_then(Value::as_i64);
    match (vrid, nic.contains_key("mac")) {
        (Some(_), true) => Err("Cannot set both mac and vrrp_vrid".into()),
        (Some(v), false) => {
            let mac = vrrp_mac(u8::try_from(v).unwrap_or(0));
            nic.insert("mac".into(), Value::String(mac.to_string()));
            Ok(())
        }
        (None, true) => Ok(()),
        (None, false) => {
            nic.insert("mac".into(), Value::String(random_mac(entropy).to_string()));
            Ok(())
        }
    }
}

/// Makes the first NIC primary when none is; more than one is an error.
pub fn settle_primary(nics: &mut [Map<String, Value>]) -> Result<(), String> {
    let count = nics.iter().filter(|n| is_primary(n)).count();
    if count > 1 {
        return Err("payload specifies more than 1 primary NIC".into());
    }
    if count == 0
        && let Some(first) = nics.first_mut()
    {
        first.insert("primary".into(), Value::Bool(true));
    }
    Ok(())
}

/// Whether a NIC is the primary one.
pub fn is_primary(nic: &Map<String, Value>) -> bool {
    nic.get("primary") == Some(&Value::Bool(true))
}

/// The address part of each static entry of `ips`.
pub fn static_ips(nic: &Map<String, Value>) -> Vec<IpAddr> {
    list(nic, "ips")
        .iter()
        .filter_map(|s| s.split('/').next()?.parse().ok())
        .collect()
}

fn list(nic: &Map<String, Value>, key: &str) -> Vec<String> {
    nic.get(key).and_then(as_list).unwrap_or_default()
}

fn is_vrrp(nic: &Map<String, Value>) -> bool {
    nic.contains_key("vrrp_vrid")
}

/// The checks of reference 2.9 on an instance's complete NIC list. Every
/// problem is returned.
pub fn check(nics: &[Map<String, Value>]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut macs = BTreeSet::new();
    let mut vrids = BTreeSet::new();
    let mut ips = BTreeSet::new();
    for nic in nics {
        if let Some(mac) = nic.get("mac").and_then(Value::as_str)
            && !macs.insert(mac.to_owned())
        {
            errors.push(format!("Cannot add multiple NICs with the same MAC: {mac}"));
        }
        if let Some(v) = nic.get("vrrp_vrid").and_then(Value::as_i64)
            && !vrids.insert(v)
        {
            errors.push(format!("Cannot add multiple NICs with the same VRID: {v}"));
        }
        for ip in static_ips(nic) {
            if !ips.insert(ip) {
                errors.push(format!("Cannot add multiple NICs with the same IP: {ip}"));
            }
        }
        check_one(nic, nics, &mut errors);
    }
    if !nics.is_empty() && nics.iter().all(is_vrrp) {
        errors.push("VM cannot contain only VRRP nics".into());
    }
    errors
}

fn check_one(nic: &Map<String, Value>, all: &[Map<String, Value>], errors: &mut Vec<String>) {
    for gw in list(nic, "gateways") {
        if gw.parse::<std::net::Ipv4Addr>().is_err() {
            errors.push(format!("Static gateways must be IPv4 addresses: {gw}"));
        }
    }
    let ips = list(nic, "ips");
    if ips.len() > 20 {
        errors.push(format!(
            "nic.*.ips contains {} addresses, but is limited to 20",
            ips.len()
        ));
    }
    let ips_ok = ips
        .iter()
        .all(|ip| ip == "dhcp" || ip == "addrconf" || parse_nic_cidr(ip).is_some());
    if !ips_ok {
        errors.push(format!("Invalid IP for NIC: {}", compact(nic)));
    }
    let allowed = list(nic, "allowed_ips");
    if !allowed.iter().all(|a| is_allowed_ip(a)) {
        errors.push(format!("invalid allowed_ips: {}", allowed.join(",")));
    }
    if allowed.len() > 13 {
        errors.push("Maximum of 13 allowed_ips per nic".into());
    }
    let vrrp_primary = nic.get("vrrp_primary_ip").and_then(Value::as_str);
    let total = static_ips(nic).len() + allowed.len() + usize::from(vrrp_primary.is_some());
    if total > 32 {
        errors.push("More than 32 IPs cannot be associated with a NIC".into());
    }
    check_cids(nic, errors);
    check_vrrp(nic, vrrp_primary, all, errors);
}

fn check_cids(nic: &Map<String, Value>, errors: &mut Vec<String>) {
    let cids = list(nic, "allowed_dhcp_cids");
    if cids.len() > 20 {
        errors.push(format!(
            "nics.*.allowed_dhcp_cids contains {} Client Identifiers, but is limited to 20",
            cids.len()
        ));
    }
    if cids.join(",").len() >= 1024 {
        errors.push("nics.*.allowed_dhcp_cids contains too many long Client Identifiers".into());
    }
}

fn check_vrrp(
    nic: &Map<String, Value>,
    primary_ip: Option<&str>,
    all: &[Map<String, Value>],
    errors: &mut Vec<String>,
) {
    if is_vrrp(nic) && primary_ip.is_none() {
        errors.push("vrrp_vrid set but not vrrp_primary_ip".into());
    }
    let Some(p) = primary_ip.and_then(|p| p.parse::<IpAddr>().ok()) else {
        return;
    };
    if all
        .iter()
        .filter(|n| is_vrrp(n))
        .any(|n| static_ips(n).contains(&p))
    {
        errors.push("Cannot set vrrp_primary_ip to the IP of a VRRP nic".into());
    } else if !all.iter().any(|n| static_ips(n).contains(&p)) {
        errors.push("vrrp_primary_ip must belong to the same VM".into());
    }
}

/// `Invalid nic tag "<tag>"` for every NIC whose tag the node lacks (an
/// overlay tag `<rule>/<vnet>` is checked by its rule).
pub fn check_tags(nics: &[Map<String, Value>], facts: &HostFacts) -> Vec<String> {
    let mut errors = Vec::new();
    for nic in nics {
        let Some(tag) = nic.get("nic_tag").and_then(Value::as_str) else {
            continue;
        };
        let base = tag.split('/').next().unwrap_or(tag);
        let msg = format!("Invalid nic tag \"{tag}\"");
        if !facts.nic_tags.iter().any(|t| t == base) && !errors.contains(&msg) {
            errors.push(msg);
        }
    }
    errors
}

/// Whether `nics` of instance `uuid` clash with another instance of the
/// node: the same MAC anywhere, or the same IP or VRRP id on the same nic
/// tag and VLAN. Failed instances that are not running are ignored.
pub fn conflicts(uuid: &str, nics: &[Map<String, Value>], facts: &HostFacts) -> bool {
    let key = |n: &Map<String, Value>| {
        (
            n.get("nic_tag")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            n.get("vlan_id").and_then(Value::as_i64).unwrap_or(0),
        )
    };
    let others = facts.instances.iter().filter(|vm| {
        vm.get("uuid").and_then(Value::as_str) != Some(uuid)
            && !(vm.get("state").and_then(Value::as_str) == Some("failed")
                && vm.get("zone_state").and_then(Value::as_str) != Some("running"))
    });
    let theirs: Vec<&Map<String, Value>> = others
        .flat_map(|vm| {
            vm.get("nics")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(Value::as_object)
        .collect();
    nics.iter().any(|mine| {
        theirs.iter().any(|other| {
            let same_mac = mine.get("mac").is_some() && mine.get("mac") == other.get("mac");
            let same_net = key(mine) == key(other);
            let same_ip = static_ips(mine)
                .iter()
                .any(|ip| static_ips(other).contains(ip));
            let same_vrid =
                mine.get("vrrp_vrid").is_some() && mine.get("vrrp_vrid") == other.get("vrrp_vrid");
            same_mac || (same_net && (same_ip || same_vrid))
        })
    })
}

/// The NIC as `vmadm get` prints it: the stored keys plus the legacy
/// representative `ip`, `netmask` and `gateway`, in vmadm's key order.
pub fn output(nic: &Map<String, Value>) -> Map<String, Value> {
    let mut out = nic.clone();
    let ips = list(nic, "ips");
    let first_v4 = ips.iter().find_map(|s| {
        let c = parse_nic_cidr(s)?;
        c.addr.is_ipv4().then_some(c)
    });
    if let Some(c) = first_v4 {
        out.insert("ip".into(), Value::String(c.addr.to_string()));
        out.insert("netmask".into(), Value::String(prefix_netmask(c.prefix)));
    } else if ips.iter().any(|s| s == "dhcp") {
        out.insert("ip".into(), Value::String("dhcp".into()));
    }
    if let Some(gw) = list(nic, "gateways")
        .into_iter()
        .find(|g| g.parse::<std::net::Ipv4Addr>().is_ok())
    {
        out.insert("gateway".into(), Value::String(gw));
    }
    crate::order::ordered(out, crate::order::NIC_ORDER)
}

#[cfg(test)]
mod tests;
