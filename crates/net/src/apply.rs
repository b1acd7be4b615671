//! Carrying out a [`Plan`]: bridges and ports on the host, filters and
//! caps on the host ports, addresses and routes in the zone.
//!
//! Every step is safe to repeat: what exists is kept, what is gone is not
//! an error to remove. A host port is attached to its bridge only after
//! its filter chain is in place, so no frame of the zone's crosses the
//! switch unfiltered.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

use crate::filter::{self, FilterError};
use crate::names;
use crate::netlink::{Link, Netlink, NetlinkError, already};
use crate::plan::{Bridge, Plan, Shaping};
use crate::shape::{self, ShapeError};

/// A step of a plan that failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A link, address or route.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// The anti-spoofing rules.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A bandwidth cap.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// A link the plan relies on does not exist.
    #[error("no link {0}")]
    Missing(String),
    /// The plan adds zone links but no zone namespace was given.
    #[error("the plan needs the zone's network namespace")]
    NoZone,
    /// A setting of a host link could not be written.
    #[error("failed to write {path}: {source}")]
    Sysctl {
        /// The file under /proc/sys.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A nic tag's switch is named like a host link that is no bridge.
    #[error("{0} is a link of the host's, not a bridge: rename the nic tag")]
    NotABridge(String),
}

fn need(nl: &mut Netlink, name: &str) -> Result<Link, ApplyError> {
    nl.link(name)?
        .ok_or_else(|| ApplyError::Missing(name.to_owned()))
}

/// Applies `plan` with the host in the calling thread's network namespace
/// and the zone in `zone_netns`.
pub fn apply(plan: &Plan, zone_netns: Option<BorrowedFd<'_>>) -> Result<(), ApplyError> {
    let mut host = Netlink::open()?;
    for bridge in &plan.bridges {
        ensure_bridge(&mut host, bridge)?;
    }
    for port in &plan.remove_ports {
        delete_named(&mut host, port)?;
        delete_named(&mut host, &format!("{port}i"))?;
    }
    let mut zone = match zone_netns {
        Some(netns) => Some(Netlink::open_in(netns)?),
        None => None,
    };
    for port in &plan.add_ports {
        let (zone, netns) = zone.as_mut().zip(zone_netns).ok_or(ApplyError::NoZone)?;
        // A pair whose host side exists is kept (a veth's ends live and die
        // together, so its zone side exists too), so that applying a boot's
        // plan to a running zone converges instead of cutting it off. The
        // decision rests on the host's side only: nothing the zone can
        // change. A port left by an earlier boot is gone with that boot's
        // namespace or removed by the supervisor's teardown before this.
        let kept = host
            .link(&port.host)?
            .is_some_and(|l| l.kind.as_deref() == Some("veth"));
        if !kept {
            delete_named(&mut host, &port.host)?;
            delete_named(zone, &port.interface)?;
            host.add_veth(&port.host, &port.interface, port.mac, port.mtu, netns)?;
            switch_only(&port.host)?;
        }
    }
    let added: Vec<(String, &crate::Nic)> =
        plan.filters.iter().map(|(p, n)| (p.clone(), n)).collect();
    filter::apply_changes(&added, &plan.remove_filters)?;
    for s in &plan.shaping {
        shape_port(&mut host, s)?;
    }
    for port in &plan.add_ports {
        let link = need(&mut host, &port.host)?;
        let bridge = need(&mut host, &port.bridge)?;
        host.set_master(link.index, bridge.index)?;
        host.set_up(link.index)?;
    }
    let zone_work = !plan.add_ports.is_empty()
        || !plan.add_addresses.is_empty()
        || !plan.remove_addresses.is_empty()
        || !plan.add_routes.is_empty()
        || !plan.remove_routes.is_empty();
    if zone_work {
        apply_in_zone(plan, zone.as_mut().ok_or(ApplyError::NoZone)?)?;
    }
    Ok(())
}

fn apply_in_zone(plan: &Plan, zone: &mut Netlink) -> Result<(), ApplyError> {
    let lo = need(zone, "lo")?;
    zone.set_up(lo.index)?;
    for port in &plan.add_ports {
        let link = need(zone, &port.interface)?;
        zone.set_up(link.index)?;
    }
    // Old addresses go before the new ones come: removing a subnet's
    // first address removes the others of that subnet with it. The routes
    // that leave with an address are in the plan's routes to add.
    for (interface, cidr) in &plan.remove_addresses {
        if let Some(link) = zone.link(interface)? {
            zone.delete_address(link.index, *cidr)?;
        }
    }
    for (interface, cidr) in &plan.add_addresses {
        let link = need(zone, interface)?;
        already(zone.add_address(link.index, *cidr), Errno::EEXIST)?;
    }
    for route in &plan.remove_routes {
        let index = match &route.interface {
            Some(i) => zone.link(i)?.map(|l| l.index),
            None => None,
        };
        zone.delete_route(route.cidr(), route.gateway, index)?;
    }
    for route in &plan.add_routes {
        let index = match &route.interface {
            Some(i) => Some(need(zone, i)?.index),
            None => None,
        };
        already(
            zone.add_route(route.cidr(), route.gateway, index),
            Errno::EEXIST,
        )?;
    }
    Ok(())
}

/// Makes a bridge and its uplink if they are missing, and brings both up.
fn ensure_bridge(host: &mut Netlink, bridge: &Bridge) -> Result<(), ApplyError> {
    let br = match host.link(&bridge.name)? {
        Some(l) if l.kind.as_deref() == Some("bridge") => l,
        Some(_) => {
            return Err(ApplyError::NotABridge(bridge.name.clone()));
        }
        None => {
            // Another instance's boot made it meanwhile.
            already(host.add_bridge(&bridge.name, bridge.mtu), Errno::EEXIST)?;
            switch_only(&bridge.name)?;
            need(host, &bridge.name)?
        }
    };
    if let Some(uplink) = &bridge.uplink {
        let physical = need(host, &uplink.link)?;
        let port = match &uplink.vlan {
            None => physical,
            Some((vlan_id, name)) => match host.link(name)? {
                Some(l) => l,
                None => {
                    // Another instance's boot made it meanwhile.
                    already(host.add_vlan(name, physical.index, *vlan_id), Errno::EEXIST)?;
                    host.set_up(physical.index)?;
                    need(host, name)?
                }
            },
        };
        if port.master != Some(br.index) {
            host.set_master(port.index, br.index)?;
        }
        if !port.up {
            host.set_up(port.index)?;
        }
    }
    if !br.up {
        host.set_up(br.index)?;
    }
    Ok(())
}

/// Keeps a host link of the zones' switches off the host's own network:
/// no IPv6 on it (no link-local address a zone could reach the host on).
/// IPv4 it never gets; frames a zone sends to the host are dropped by
/// the filter's `input` chain. A kernel without IPv6 has nothing to turn
/// off.
fn switch_only(name: &str) -> Result<(), ApplyError> {
    let path = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
    match std::fs::write(&path, "1") {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        r => r.map_err(|source| ApplyError::Sysctl { path, source }),
    }
}

fn delete_named(host: &mut Netlink, name: &str) -> Result<(), ApplyError> {
    if let Some(l) = host.link(name)? {
        host.delete_link(l.index)?;
    }
    Ok(())
}

fn shape_port(host: &mut Netlink, s: &Shaping) -> Result<(), ApplyError> {
    match s.maxbw {
        Some(mbit) => {
            if host.link(&s.shaper)?.is_none() {
                host.add_ifb(&s.shaper)?;
            }
            let shaper = need(host, &s.shaper)?;
            host.set_up(shaper.index)?;
            for args in shape::cap(&s.port, &s.shaper, mbit) {
                shape::run(&args)?;
            }
        }
        None => {
            for args in shape::uncap(&s.port) {
                // Not capped (or already lifted) is what was wanted.
                let _ = shape::run(&args);
            }
            delete_named(host, &s.shaper)?;
        }
    }
    Ok(())
}

/// Removes everything an instance has on the host: its ports (their zone
/// sides go with them), shaping devices and filter chains. The bridges
/// stay: they are the nic tags' switches, shared by every instance on them.
pub fn teardown(index: u32) -> Result<(), ApplyError> {
    // Everything is tried; the first failure is reported.
    let links = remove_links(index);
    let filters = filter::remove_prefix(&names::instance_prefix(index));
    links.and(filters.map(drop).map_err(ApplyError::from))
}

/// Deletes every host link of an instance (ports, their zone sides, and
/// shaping devices): before a boot, whatever an earlier boot may have
/// left is gone, so nothing of it is mistaken for the new boot's.
pub fn remove_links(index: u32) -> Result<(), ApplyError> {
    let prefix = names::instance_prefix(index);
    let mut host = Netlink::open()?;
    let mut first = None;
    for link in host.links()? {
        if link.name.starts_with(&prefix)
            && let Err(e) = host.delete_link(link.index)
        {
            first.get_or_insert(ApplyError::from(e));
        }
    }
    first.map_or(Ok(()), Err)
}
