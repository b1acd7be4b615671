//! The semantic checks of reference 2.9 on top-level properties and routes,
//! with vmadm's exact messages. Each returns every problem it finds.

use std::net::Ipv4Addr;

use serde_json::{Map, Value};

use crate::brand::Brand;
use crate::ids::Mac;
use crate::nic::static_ips;

/// The compression settings ZFS offers, as vmadm lists them.
pub const COMPRESSIONS: &[&str] = &[
    "on", "off", "gzip", "gzip-1", "gzip-2", "gzip-3", "gzip-4", "gzip-5", "gzip-6", "gzip-7",
    "gzip-8", "gzip-9", "lz4", "lzjb", "zle",
];

/// The VGA types QEMU offers kvm instances.
pub const VGA_TYPES: &[&str] = &["cirrus", "std", "vmware", "qxl", "xenfb"];

/// The default record size of zone datasets, bytes.
pub const DEFAULT_RECSIZE: i64 = 131072;

/// Whether `n` is a block size ZFS accepts: 512–131072 and a power of two.
pub fn valid_block_size(n: i64) -> bool {
    (512..=131072).contains(&n) && (n as u64).is_power_of_two()
}

fn int(vm: &Map<String, Value>, key: &str) -> Option<i64> {
    vm.get(key).and_then(Value::as_i64)
}

/// The checks on top-level properties of a normalised instance.
pub fn check_properties(vm: &Map<String, Value>, brand: Brand) -> Vec<String> {
    let mut errors = Vec::new();
    for key in ["zfs_root_recsize", "zfs_data_recsize"] {
        if let Some(n) = int(vm, key).filter(|n| !valid_block_size(*n)) {
            errors.push(format!(
                "invalid {key} ({n}), must be 512-131072 and a power of 2. (0 to disable)"
            ));
        }
    }
    for key in ["zfs_root_compression", "zfs_data_compression"] {
        if let Some(v) = vm
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !COMPRESSIONS.contains(v))
        {
            errors.push(format!(
                "invalid compression type for {v}, must be one of: {}",
                COMPRESSIONS.join(", ")
            ));
        }
    }
    if brand == Brand::Kvm
        && let Some(v) = vm
            .get("vga")
            .and_then(Value::as_str)
            .filter(|v| !VGA_TYPES.contains(v))
    {
        errors.push(format!(
            "Invalid VGA type: \"{v}\", supported types are: {}",
            VGA_TYPES.join(",")
        ));
    }
    if vm
        .get("vnc_password")
        .and_then(Value::as_str)
        .is_some_and(|p| p.chars().count() > 8)
    {
        errors.push("VNC password is too long, maximum length is 8 characters.".into());
    }
    if let (Some(mpm), Some(mlm)) = (int(vm, "max_physical_memory"), int(vm, "max_locked_memory"))
        && mlm > mpm
    {
        errors.push("max_locked_memory must be <= max_physical_memory".into());
    }
    if let (Some(mpm), Some(swap)) = (int(vm, "max_physical_memory"), int(vm, "max_swap"))
        && swap < mpm
    {
        errors.push("max_swap must be >= max_physical_memory".into());
    }
    errors
}

/// The checks on `routes` (destination → gateway) against the instance's
/// NICs.
pub fn check_routes(routes: &Map<String, Value>, nics: &[Map<String, Value>]) -> Vec<String> {
    let mut errors = Vec::new();
    for (dst, gw) in routes {
        if !valid_destination(dst) {
            errors.push(format!(
                "Invalid route destination: \"{dst}\" (must be IP address or CIDR)"
            ));
        }
        let gw = match gw {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match route_gateway(&gw) {
            None => errors.push(format!(
                "Invalid route gateway: \"{gw}\" (must be IP address, MAC address, or nic)"
            )),
            Some(RouteGateway::Ip) => {}
            Some(via) => {
                let nic = match via {
                    RouteGateway::Nic(i) => nics.get(i),
                    RouteGateway::Mac(m) => nics.iter().find(|n| {
                        n.get("mac").and_then(Value::as_str).and_then(Mac::parse) == Some(m)
                    }),
                    RouteGateway::Ip => None,
                };
                if nic.is_none_or(|n| static_ips(n).is_empty()) {
                    errors.push(format!(
                        "Route gateway: \"{gw}\" refers to non-existent or DHCP nic"
                    ));
                }
            }
        }
    }
    errors
}

fn valid_destination(dst: &str) -> bool {
    match dst.split_once('/') {
        None => dst.parse::<Ipv4Addr>().is_ok(),
        Some((a, p)) => {
            a.parse::<Ipv4Addr>().is_ok()
                && p.bytes().all(|c| c.is_ascii_digit())
                && p.parse::<u8>().is_ok_and(|p| (8..=32).contains(&p))
        }
    }
}

enum RouteGateway {
    Ip,
    Nic(usize),
    Mac(Mac),
}

fn route_gateway(gw: &str) -> Option<RouteGateway> {
    if gw.parse::<Ipv4Addr>().is_ok() {
        return Some(RouteGateway::Ip);
    }
    if let Some(i) = gw.strip_prefix("nics[").and_then(|s| s.strip_suffix(']')) {
        return i.parse().ok().map(RouteGateway::Nic);
    }
    let mac = gw.strip_prefix("macs[").and_then(|s| s.strip_suffix(']'))?;
    Mac::parse(mac).map(RouteGateway::Mac)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn property_messages() {
        let vm = obj(json!({"zfs_root_recsize": 1000, "zfs_data_recsize": 4096,
            "zfs_root_compression": "snappy", "vga": "vesa", "vnc_password": "123456789",
            "max_physical_memory": 256, "max_locked_memory": 512, "max_swap": 128}));
        assert_eq!(
            check_properties(&vm, Brand::Kvm),
            [
                "invalid zfs_root_recsize (1000), must be 512-131072 and a power of 2. (0 to disable)",
                "invalid compression type for snappy, must be one of: on, off, gzip, gzip-1, gzip-2, gzip-3, gzip-4, gzip-5, gzip-6, gzip-7, gzip-8, gzip-9, lz4, lzjb, zle",
                "Invalid VGA type: \"vesa\", supported types are: cirrus,std,vmware,qxl,xenfb",
                "VNC password is too long, maximum length is 8 characters.",
                "max_locked_memory must be <= max_physical_memory",
                "max_swap must be >= max_physical_memory",
            ]
        );
        assert!(
            check_properties(&obj(json!({"zfs_root_recsize": 131072})), Brand::Joyent).is_empty()
        );
    }

    #[test]
    fn route_messages() {
        let nics = vec![
            obj(json!({"mac": "02:00:00:00:00:01", "ips": ["192.0.2.5/24"]})),
            obj(json!({"mac": "02:00:00:00:00:02", "ips": ["dhcp"]})),
        ];
        let ok = obj(
            json!({"10.2.0.0/16": "192.0.2.1", "198.51.100.7": "nics[0]",
            "203.0.113.0/24": "macs[2:0:0:0:0:1]"}),
        );
        assert!(check_routes(&ok, &nics).is_empty());
        let bad = obj(json!({"10.0.0.0/4": "192.0.2.1", "x": "nics[1]",
            "10.1.0.0/16": "nics[5]", "10.3.0.0/16": "gw"}));
        assert_eq!(
            check_routes(&bad, &nics),
            [
                "Invalid route destination: \"10.0.0.0/4\" (must be IP address or CIDR)",
                "Invalid route destination: \"x\" (must be IP address or CIDR)",
                "Route gateway: \"nics[1]\" refers to non-existent or DHCP nic",
                "Route gateway: \"nics[5]\" refers to non-existent or DHCP nic",
                "Invalid route gateway: \"gw\" (must be IP address, MAC address, or nic)",
            ]
        );
    }
}
