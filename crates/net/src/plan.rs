//! What one instance's networking needs, as data: computed from the
//! configuration it had (none at boot) and the one it has now, so that a
//! boot and a live update are the same computation and a change touches
//! only what changed.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};

use basalt_model::ids::Mac;
use basalt_model::ip::Cidr;

use crate::names;
use crate::spec::{InstanceNet, Nic, RouteVia, Uplink};

/// A bridge that must exist: one per (nic tag, VLAN).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bridge {
    /// Its name ([`names::bridge`]).
    pub name: String,
    /// Its MTU when it is made.
    pub mtu: u32,
    /// The host link that is its port to the outside world, if the tag
    /// is bound to one.
    pub uplink: Option<UplinkPort>,
}

/// A bridge's port to the outside: a physical link, or its 802.1Q
/// sub-link for a VLAN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UplinkPort {
    /// The physical link.
    pub link: String,
    /// The VLAN, and the name of the sub-link carrying it.
    pub vlan: Option<(u16, String)>,
}

/// A veth pair to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// The host side's name ([`names::host_port`]).
    pub host: String,
    /// The zone side's name: the NIC's interface.
    pub interface: String,
    /// The zone side's MAC.
    pub mac: Mac,
    /// Both sides' MTU.
    pub mtu: u32,
    /// The bridge the host side joins.
    pub bridge: String,
}

/// A bandwidth cap to set or lift on a host port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shaping {
    /// The host port.
    pub port: String,
    /// The device that shapes what the zone sends.
    pub shaper: String,
    /// The cap in Mbit/s; `None` lifts it.
    pub maxbw: Option<u32>,
}

/// A route in the zone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ZoneRoute {
    /// The destination.
    pub destination: (IpAddr, u8),
    /// The gateway, or none for a route straight out of `interface`.
    pub gateway: Option<IpAddr>,
    /// The interface, for a route without a gateway.
    pub interface: Option<String>,
}

impl ZoneRoute {
    /// The destination as a [`Cidr`].
    pub fn cidr(&self) -> Cidr {
        Cidr {
            addr: self.destination.0,
            prefix: self.destination.1,
        }
    }
}

/// Everything to do for one instance, in the order [`crate::apply`]
/// does it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Bridges the instance's NICs need (made if missing).
    pub bridges: Vec<Bridge>,
    /// Host ports to delete (with their zone side): NICs removed, or
    /// re-made because their switch or MTU changed.
    pub remove_ports: Vec<String>,
    /// Host ports whose filters and shaping go with them.
    pub add_ports: Vec<Port>,
    /// NICs whose filter chains are (re)written, by host port.
    pub filters: Vec<(String, Nic)>,
    /// Filter chains to remove, by host port.
    pub remove_filters: Vec<String>,
    /// Caps to set or lift.
    pub shaping: Vec<Shaping>,
    /// Zone addresses to remove, by interface.
    pub remove_addresses: Vec<(String, Cidr)>,
    /// Zone addresses to add, by interface.
    pub add_addresses: Vec<(String, Cidr)>,
    /// Zone routes to remove.
    pub remove_routes: Vec<ZoneRoute>,
    /// Zone routes to add.
    pub add_routes: Vec<ZoneRoute>,
}

/// The bridge a NIC's host port joins.
pub fn bridge_of(nic: &Nic) -> Bridge {
    let uplink = match &nic.tag.uplink {
        Uplink::Etherstub => None,
        Uplink::Physical { link } => Some(UplinkPort {
            link: link.clone(),
            vlan: (nic.vlan_id != 0).then(|| (nic.vlan_id, names::vlan_link(link, nic.vlan_id))),
        }),
    };
    Bridge {
        name: names::bridge(&nic.tag.name, nic.vlan_id),
        mtu: nic.tag.mtu.unwrap_or(crate::spec::DEFAULT_MTU),
        uplink,
    }
}

fn port_of(index: u32, nic: &Nic) -> Port {
    Port {
        host: names::host_port(index, &nic.interface),
        interface: nic.interface.clone(),
        mac: nic.mac,
        mtu: nic.effective_mtu(),
        bridge: bridge_of(nic).name,
    }
}

/// Whether a NIC's link must be re-made for a change: its switch, VLAN,
/// MTU, MAC or interface differ.
fn link_changed(old: &Nic, new: &Nic) -> bool {
    old.interface != new.interface
        || old.tag != new.tag
        || old.vlan_id != new.vlan_id
        || old.effective_mtu() != new.effective_mtu()
}

/// The routes the zone gets: the primary NIC's first gateway as the
/// default route, then the instance's `routes`.
pub fn zone_routes(net: &InstanceNet) -> BTreeSet<ZoneRoute> {
    let mut routes = BTreeSet::new();
    if let Some(gw) = net
        .nics
        .iter()
        .find(|n| n.primary)
        .and_then(|n| n.gateways.first())
    {
        routes.insert(ZoneRoute {
            destination: (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            gateway: Some(IpAddr::V4(*gw)),
            interface: None,
        });
    }
    for r in &net.routes {
        let (gateway, interface) = match &r.via {
            RouteVia::Gateway(gw) => (Some(*gw), None),
            RouteVia::Interface(i) => (None, Some(i.clone())),
        };
        routes.insert(ZoneRoute {
            destination: (r.destination.addr, r.destination.prefix),
            gateway,
            interface,
        });
    }
    routes
}

/// The static addresses of a NIC, as the zone gets them.
fn addresses(nic: &Nic) -> BTreeSet<(String, (IpAddr, u8))> {
    nic.ips
        .iter()
        .map(|c| (nic.interface.clone(), (c.addr, c.prefix)))
        .collect()
}

fn cidr((addr, prefix): (IpAddr, u8)) -> Cidr {
    Cidr { addr, prefix }
}

/// The plan that takes an instance from `old` (`None`: nothing, as at
/// boot) to `new`. NICs are matched by MAC, as `update_nics` and
/// `remove_nics` match them.
pub fn plan(old: Option<&InstanceNet>, new: &InstanceNet) -> Plan {
    let empty = InstanceNet {
        index: new.index,
        nics: vec![],
        routes: vec![],
    };
    let old = old.unwrap_or(&empty);
    let mut plan = Plan::default();
    let mut bridges = BTreeSet::new();

    let mut kept_addresses = BTreeSet::new();
    for o in &old.nics {
        let port = names::host_port(old.index, &o.interface);
        match new.nics.iter().find(|n| n.mac == o.mac) {
            Some(n) if !link_changed(o, n) => kept_addresses.extend(addresses(o)),
            Some(_) => plan.remove_ports.push(port),
            None => {
                plan.remove_ports.push(port.clone());
                plan.remove_filters.push(port);
            }
        }
    }
    for n in &new.nics {
        let port = port_of(new.index, n);
        let previous = old.nics.iter().find(|o| o.mac == n.mac);
        let fresh = previous.is_none_or(|o| link_changed(o, n));
        if fresh {
            bridges.insert(bridge_of(n));
            plan.add_ports.push(port.clone());
        }
        if fresh || previous != Some(n) {
            plan.filters.push((port.host.clone(), n.clone()));
        }
        let old_cap = previous.filter(|_| !fresh).and_then(|o| o.maxbw);
        if n.maxbw != old_cap {
            plan.shaping.push(Shaping {
                port: port.host.clone(),
                shaper: names::shaper(new.index, &n.interface),
                maxbw: n.maxbw,
            });
        }
    }
    plan.bridges = bridges.into_iter().collect();

    let wanted: BTreeSet<_> = new.nics.iter().flat_map(addresses).collect();
    plan.remove_addresses = kept_addresses
        .difference(&wanted)
        .map(|(i, a)| (i.clone(), cidr(*a)))
        .collect();
    plan.add_addresses = wanted
        .difference(&kept_addresses)
        .map(|(i, a)| (i.clone(), cidr(*a)))
        .collect();

    // A route's interface may have been re-made, or lost an address its
    // routes relied on (the kernel drops them with it): the routes of
    // those interfaces are added again.
    let remade: BTreeSet<&str> = plan
        .add_ports
        .iter()
        .map(|p| p.interface.as_str())
        .chain(plan.remove_addresses.iter().map(|(i, _)| i.as_str()))
        .collect();
    let (old_routes, new_routes) = (zone_routes(old), zone_routes(new));
    plan.remove_routes = old_routes.difference(&new_routes).cloned().collect();
    plan.add_routes = new_routes
        .iter()
        .filter(|r| !old_routes.contains(r) || route_rides_on(r, new, &remade))
        .cloned()
        .collect();
    plan
}

/// Whether a route leaves through one of `remade`'s interfaces: out of it
/// directly, or through a gateway on one of its subnets.
fn route_rides_on(route: &ZoneRoute, net: &InstanceNet, remade: &BTreeSet<&str>) -> bool {
    if let Some(i) = &route.interface {
        return remade.contains(i.as_str());
    }
    let Some(gw) = route.gateway else {
        return false;
    };
    net.nics
        .iter()
        .filter(|n| remade.contains(n.interface.as_str()))
        .any(|n| n.ips.iter().any(|c| contains(*c, gw)))
}

/// Whether `addr` is inside the network of `net`.
pub fn contains(net: Cidr, addr: IpAddr) -> bool {
    match (net.addr, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(net.prefix))
                .unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(net.prefix))
                .unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
