//! The key order of the objects vmadm prints. SmartOS assembles `vmadm get`
//! in a fixed order; basalt prints the same order, and any key that order
//! does not name follows, alphabetically.

use serde_json::{Map, Value};

/// Top-level keys, in the order `vmadm get` prints them.
pub const VM_ORDER: &[&str] = &[
    "zonename",
    "autoboot",
    "brand",
    "limit_priv",
    "v",
    "create_timestamp",
    "image_uuid",
    "cpu_shares",
    "max_lwps",
    "max_msg_ids",
    "max_sem_ids",
    "max_shm_ids",
    "max_shm_memory",
    "zfs_io_priority",
    "max_physical_memory",
    "max_locked_memory",
    "max_swap",
    "cpu_cap",
    "vcpus",
    "ram",
    "billing_id",
    "owner_uuid",
    "tmpfs",
    "hostname",
    "dns_domain",
    "resolvers",
    "alias",
    "nics",
    "disks",
    "filesystems",
    "uuid",
    "zone_state",
    "zonepath",
    "hvm",
    "zoneid",
    "zonedid",
    "last_modified",
    "firewall_enabled",
    "server_uuid",
    "datacenter_name",
    "headnode_id",
    "platform_buildstamp",
    "state",
    "boot_timestamp",
    "pid",
    "init_restarts",
    "exit_status",
    "exit_timestamp",
    "customer_metadata",
    "internal_metadata",
    "routes",
    "tags",
    "quota",
    "zfs_root_recsize",
    "zfs_filesystem",
    "zpool",
    "snapshots",
];

/// NIC keys, in the order `vmadm get` prints them.
pub const NIC_ORDER: &[&str] = &[
    "interface",
    "mac",
    "vlan_id",
    "nic_tag",
    "gateway",
    "gateways",
    "netmask",
    "ip",
    "ips",
    "model",
    "primary",
];

/// Disk keys, in the order `vmadm get` prints them.
pub const DISK_ORDER: &[&str] = &[
    "path",
    "boot",
    "model",
    "media",
    "image_uuid",
    "image_name",
    "image_size",
    "zfs_filesystem",
    "zpool",
    "size",
    "compression",
    "refreservation",
    "block_size",
];

/// `map` with the keys `order` names first, in that order, then the rest
/// alphabetically.
pub fn ordered(mut map: Map<String, Value>, order: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for key in order {
        if let Some(v) = map.remove(*key) {
            out.insert((*key).to_owned(), v);
        }
    }
    let mut rest: Vec<_> = map.into_iter().collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_keys_first_then_alphabetical() {
        let m = json!({"zz": 1, "uuid": "u", "aa": 2, "zonename": "z"});
        let out = ordered(m.as_object().unwrap().clone(), VM_ORDER);
        let keys: Vec<_> = out.keys().map(String::as_str).collect();
        assert_eq!(keys, ["zonename", "uuid", "aa", "zz"]);
    }
}
