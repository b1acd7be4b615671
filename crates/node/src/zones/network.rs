//! A zone's networks: its configuration's `nics` and `routes` read into the
//! network layer's terms, plumbed when the zone boots, changed live by an
//! update, and removed when it stops.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::BorrowedFd;

use basalt_model::ids::Mac;
use basalt_model::ip::{Cidr, parse_nic_cidr};
use basalt_net::{InstanceNet, Nic, Protection, Route, RouteVia, Tag};
use basalt_zone::spec::{ID_RANGE_SIZE, ID_RANGE_START};
use serde_json::{Map, Value};

use crate::instances::NodeError;

/// The number that names a zone's host links: its id range's position,
/// unique among the node's instances.
pub fn instance_index(vm: &Map<String, Value>) -> Option<u32> {
    let base = super::id_map(vm)?.base;
    Some(base.checked_sub(ID_RANGE_START)? / ID_RANGE_SIZE)
}

fn flag(nic: &Map<String, Value>, key: &str) -> bool {
    nic.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn strings<'a>(nic: &'a Map<String, Value>, key: &str) -> impl Iterator<Item = &'a str> {
    nic.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// An address, or an address with its prefix, as `allowed_ips` holds them.
fn allowance(s: &str) -> Option<Cidr> {
    match s.split_once('/') {
        Some((a, p)) => Some(Cidr {
            addr: a.parse().ok()?,
            prefix: p.parse().ok()?,
        }),
        None => {
            let addr: IpAddr = s.parse().ok()?;
            let prefix = if addr.is_ipv4() { 32 } else { 128 };
            Some(Cidr { addr, prefix })
        }
    }
}

/// One stored NIC in the network layer's terms; `tag` resolves its nic
/// tag.
fn nic_of(
    nic: &Map<String, Value>,
    tag: &dyn Fn(&str) -> Result<Tag, String>,
) -> Result<Nic, String> {
    let interface = nic
        .get("interface")
        .and_then(Value::as_str)
        .ok_or("a NIC has no interface")?;
    let mac = nic
        .get("mac")
        .and_then(Value::as_str)
        .and_then(Mac::parse)
        .ok_or_else(|| format!("NIC {interface} has no valid mac"))?;
    let tag_name = nic
        .get("nic_tag")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("NIC {interface} has no nic_tag"))?;
    let ips: Vec<&str> = strings(nic, "ips").collect();
    let dhcp_server = flag(nic, "allow_dhcp_spoofing") || flag(nic, "dhcp_server");
    let mut allowed_ips: Vec<Cidr> = strings(nic, "allowed_ips").filter_map(allowance).collect();
    if let Some(vrrp) = nic
        .get("vrrp_primary_ip")
        .and_then(Value::as_str)
        .and_then(allowance)
    {
        allowed_ips.push(vrrp);
    }
    let int = |key: &str| nic.get(key).and_then(Value::as_u64);
    Ok(Nic {
        interface: interface.to_owned(),
        mac,
        tag: tag(tag_name)?,
        vlan_id: int("vlan_id")
            .and_then(|v| u16::try_from(v).ok())
            .unwrap_or(0),
        mtu: int("mtu").and_then(|v| u32::try_from(v).ok()),
        ips: ips.iter().filter_map(|s| parse_nic_cidr(s)).collect(),
        dhcp: ips.contains(&"dhcp"),
        addrconf: ips.contains(&"addrconf"),
        gateways: strings(nic, "gateways")
            .filter_map(|g| g.parse::<Ipv4Addr>().ok())
            .collect(),
        primary: flag(nic, "primary"),
        protection: Protection {
            mac: !flag(nic, "allow_mac_spoofing"),
            ip: !(flag(nic, "allow_ip_spoofing") || dhcp_server),
            dhcp: !dhcp_server,
            restricted: !flag(nic, "allow_restricted_traffic"),
        },
        allowed_ips,
        blocked_outgoing_ports: nic
            .get("blocked_outgoing_ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| match p {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            })
            .filter_map(|p| u16::try_from(p).ok())
            .collect(),
        maxbw: int("maxbw").and_then(|v| u32::try_from(v).ok()),
    })
}

/// The instance's `routes` (`{"<destination>": "<gateway>" | "nics[N]"}`).
fn routes_of(vm: &Map<String, Value>, nics: &[Nic]) -> Result<Vec<Route>, String> {
    let Some(routes) = vm.get("routes").and_then(Value::as_object) else {
        return Ok(vec![]);
    };
    let mut out = Vec::new();
    for (dest, via) in routes {
        let destination = allowance(dest)
            .ok_or_else(|| format!("route destination {dest:?} is not an address"))?;
        let via = via
            .as_str()
            .ok_or_else(|| format!("route to {dest} has no gateway"))?;
        let via = match via.strip_prefix("nics[").and_then(|s| s.strip_suffix(']')) {
            Some(n) => {
                let nic = n
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| nics.get(i))
                    .ok_or_else(|| format!("route to {dest}: there is no {via}"))?;
                RouteVia::Interface(nic.interface.clone())
            }
            None => RouteVia::Gateway(
                via.parse()
                    .map_err(|_| format!("route to {dest}: {via:?} is not an address"))?,
            ),
        };
        out.push(Route { destination, via });
    }
    Ok(out)
}

/// A zone's networking from its configuration. `tag` resolves nic tags
/// (see [`crate::nictags::resolve`]).
pub fn instance_net(
    vm: &Map<String, Value>,
    tag: &dyn Fn(&str) -> Result<Tag, String>,
) -> Result<InstanceNet, String> {
    let index = instance_index(vm).ok_or("the instance has no id range")?;
    let nics = vm
        .get("nics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|n| nic_of(n, tag))
        .collect::<Result<Vec<_>, _>>()?;
    let routes = routes_of(vm, &nics)?;
    Ok(InstanceNet {
        index,
        nics,
        routes,
    })
}

impl crate::instances::Node {
    /// A zone's networking from its configuration, its nic tags resolved
    /// against the node's configuration and the host's links.
    pub fn zone_net(&self, vm: &Map<String, Value>) -> Result<InstanceNet, NodeError> {
        let links = if has_nics(vm) {
            basalt_net::netlink::Netlink::open()
                .and_then(|mut nl| nl.links())
                .map_err(|e| NodeError::Lifecycle(e.to_string()))?
        } else {
            vec![]
        };
        let config = self.config();
        instance_net(vm, &|name| {
            crate::nictags::resolve(config, &links, name).map_err(|e| e.to_string())
        })
        .map_err(NodeError::Lifecycle)
    }
}

/// Plumbs the networks of `net` into a zone being booted (behind
/// `pidfd`), from nothing: links an earlier boot may have left go first.
/// On failure what was made is removed.
pub fn plumb(net: &InstanceNet, pidfd: BorrowedFd<'_>) -> Result<(), String> {
    let result = basalt_net::apply::remove_links(net.index)
        .map_err(|e| e.to_string())
        .and_then(|()| converge(net, pidfd));
    if result.is_err() {
        unplumb(net.index);
    }
    result
}

/// Brings a zone's networks to `net` whatever it has now: what exists is
/// kept, what is missing made. Nothing is removed on failure: the zone may
/// be running on what it has.
pub fn converge(net: &InstanceNet, pidfd: BorrowedFd<'_>) -> Result<(), String> {
    if net.nics.is_empty() {
        return Ok(());
    }
    let netns = basalt_net::netlink::netns_of_pidfd(pidfd).map_err(|e| e.to_string())?;
    let plan = basalt_net::plan::plan(None, net);
    basalt_net::apply::apply(&plan, Some(std::os::fd::AsFd::as_fd(&netns)))
        .map_err(|e| format!("cannot plumb the zone's networks: {e}"))
}

/// Changes a running zone's networks from `old` to `new`.
pub fn replumb(old: &InstanceNet, new: &InstanceNet, pidfd: BorrowedFd<'_>) -> Result<(), String> {
    let plan = basalt_net::plan::plan(Some(old), new);
    if plan == basalt_net::plan::Plan::default() {
        return Ok(());
    }
    let netns = basalt_net::netlink::netns_of_pidfd(pidfd).map_err(|e| e.to_string())?;
    basalt_net::apply::apply(&plan, Some(std::os::fd::AsFd::as_fd(&netns)))
        .map_err(|e| format!("cannot change the zone's networks: {e}"))
}

/// Whether a configuration has NICs.
pub fn has_nics(vm: &Map<String, Value>) -> bool {
    vm.get("nics")
        .and_then(Value::as_array)
        .is_some_and(|n| !n.is_empty())
}

/// Removes what a zone had on the host's networks, given the
/// configurations it may have had them by (the one it booted with, the
/// one stored now: NICs may have been added live). Nothing to do for a
/// zone that had no NICs in either.
pub fn unplumb_vm(configs: &[&Map<String, Value>]) {
    if configs.iter().any(|vm| has_nics(vm))
        && let Some(index) = configs.iter().find_map(|vm| instance_index(vm))
    {
        unplumb(index);
    }
}

/// Removes what a zone had on the host's networks; failures are logged,
/// as the zone is going away regardless.
pub fn unplumb(index: u32) {
    if let Err(e) = basalt_net::apply::teardown(index) {
        tracing::error!(error = %e, "cannot remove the zone's network links");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stub(name: &str) -> Result<Tag, String> {
        match name {
            "admin" | "stub1" => Ok(Tag::etherstub(name)),
            _ => Err(format!("Invalid nic tag \"{name}\"")),
        }
    }

    #[test]
    fn a_configuration_becomes_the_network_layers_terms() {
        let vm = json!({
            "zone_id_base": ID_RANGE_START + 3 * ID_RANGE_SIZE,
            "nics": [
                {"interface": "net0", "mac": "02:08:20:00:00:01", "nic_tag": "admin",
                 "ips": ["192.0.2.10/24", "2001:db8::10/64", "addrconf"],
                 "gateways": ["192.0.2.1"], "primary": true,
                 "allowed_ips": ["198.51.100.0/24", "203.0.113.9"], "maxbw": 10},
                {"interface": "net1", "mac": "02:08:20:00:00:02", "nic_tag": "stub1",
                 "vlan_id": 5, "mtu": 9000, "ips": ["dhcp"], "allow_dhcp_spoofing": true,
                 "allow_restricted_traffic": true, "blocked_outgoing_ports": [25, "587"]}
            ],
            "routes": {"203.0.113.0/24": "192.0.2.254", "198.51.100.7": "nics[1]"}
        });
        let net = instance_net(vm.as_object().unwrap(), &stub).unwrap();
        assert_eq!(net.index, 3);
        let (a, b) = (&net.nics[0], &net.nics[1]);
        assert_eq!(a.ips.len(), 2);
        assert!(a.addrconf && !a.dhcp && a.primary);
        assert_eq!(a.protection, Protection::ALL);
        assert_eq!(a.allowed_ips[1].prefix, 32);
        assert_eq!(a.maxbw, Some(10));
        assert_eq!((b.vlan_id, b.mtu, b.dhcp), (5, Some(9000), true));
        assert_eq!(
            b.protection,
            Protection {
                mac: true,
                ip: false,
                dhcp: false,
                restricted: false
            }
        );
        assert_eq!(b.blocked_outgoing_ports, [25, 587]);
        assert_eq!(net.routes.len(), 2);
        assert_eq!(net.routes[1].via, RouteVia::Interface("net1".into()));
        assert_eq!(net.routes[1].destination.prefix, 32);
    }

    #[test]
    fn unknown_tags_and_bad_routes_are_refused() {
        let vm = json!({"zone_id_base": ID_RANGE_START, "nics": [
            {"interface": "net0", "mac": "02:08:20:00:00:01", "nic_tag": "nope"}]});
        let err = instance_net(vm.as_object().unwrap(), &stub).unwrap_err();
        assert_eq!(err, "Invalid nic tag \"nope\"");
        let vm = json!({"zone_id_base": ID_RANGE_START, "nics": [],
            "routes": {"203.0.113.0/24": "nics[3]"}});
        assert!(instance_net(vm.as_object().unwrap(), &stub).is_err());
    }
}
