//! What the node hands the network layer: one instance's NICs, already
//! resolved against the node's nic tags. Everything else in this crate is
//! computed from these values.

use std::net::{IpAddr, Ipv4Addr};

use basalt_model::ids::Mac;
use basalt_model::ip::Cidr;

/// The switch a nic tag names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uplink {
    /// A host-only virtual switch (`nictagadm add -l`): a bridge with no
    /// physical port.
    Etherstub,
    /// A physical link of the host, named by its MAC in the node's
    /// configuration and resolved to the link's current name.
    Physical {
        /// The link's name on the host (`eth0`).
        link: String,
    },
}

/// A nic tag as the node knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The tag's name (`admin`, `external`, an etherstub's name).
    pub name: String,
    /// What it is bound to.
    pub uplink: Uplink,
    /// The tag's MTU (`<tag>_mtu`), when configured.
    pub mtu: Option<u32>,
}

/// Which of SmartOS's link protections are enforced on a NIC. Each is on
/// unless the matching `allow_*` property is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    /// `mac-nospoof`: frames from any source MAC but the NIC's dropped
    /// (ARP sender hardware addresses included).
    pub mac: bool,
    /// `ip-nospoof`: IPv4 and IPv6 packets, and ARP, whose source address
    /// is outside the NIC's addresses and `allowed_ips` dropped.
    pub ip: bool,
    /// `dhcp-nospoof`: DHCP (and DHCPv6) server replies from the NIC
    /// dropped.
    pub dhcp: bool,
    /// `restricted`: ethertypes other than IPv4, IPv6 and ARP dropped.
    pub restricted: bool,
}

impl Protection {
    /// Every protection on: a NIC with no `allow_*` set.
    pub const ALL: Protection = Protection {
        mac: true,
        ip: true,
        dhcp: true,
        restricted: true,
    };
}

/// One instance NIC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// The guest's interface name (`net0`, lx `eth0`).
    pub interface: String,
    /// The NIC's MAC.
    pub mac: Mac,
    /// The nic tag it is on.
    pub tag: Tag,
    /// 0 for untagged, else the VLAN (1–4095).
    pub vlan_id: u16,
    /// The NIC's MTU, when set; else the tag's, else 1500.
    pub mtu: Option<u32>,
    /// Static addresses with their prefixes (`ips` without `dhcp` and
    /// `addrconf`).
    pub ips: Vec<Cidr>,
    /// `ips` holds `dhcp`: the guest runs its own DHCP client.
    pub dhcp: bool,
    /// `ips` holds `addrconf`: the guest takes SLAAC addresses.
    pub addrconf: bool,
    /// IPv4 gateways; the primary NIC's first is the default route.
    pub gateways: Vec<Ipv4Addr>,
    /// The primary NIC.
    pub primary: bool,
    /// What is enforced on the host side.
    pub protection: Protection,
    /// Further source addresses or prefixes the NIC may send from
    /// (`allowed_ips`, plus `vrrp_primary_ip`).
    pub allowed_ips: Vec<Cidr>,
    /// TCP and UDP destination ports the NIC may not send to.
    pub blocked_outgoing_ports: Vec<u16>,
    /// The bandwidth cap in Mbit/s (`maxbw`), both directions.
    pub maxbw: Option<u32>,
}

impl Tag {
    /// An etherstub called `name`, at the default MTU.
    pub fn etherstub(name: &str) -> Tag {
        Tag {
            name: name.to_owned(),
            uplink: Uplink::Etherstub,
            mtu: None,
        }
    }
}

impl Nic {
    /// A NIC on `tag` as vmadm adds one with only these given: untagged, no
    /// addresses, every protection on, no cap.
    pub fn new(interface: &str, mac: Mac, tag: Tag) -> Nic {
        Nic {
            interface: interface.to_owned(),
            mac,
            tag,
            vlan_id: 0,
            mtu: None,
            ips: Vec::new(),
            dhcp: false,
            addrconf: false,
            gateways: Vec::new(),
            primary: false,
            protection: Protection::ALL,
            allowed_ips: Vec::new(),
            blocked_outgoing_ports: Vec::new(),
            maxbw: None,
        }
    }

    /// The MTU the NIC's links get.
    pub fn effective_mtu(&self) -> u32 {
        self.mtu.or(self.tag.mtu).unwrap_or(DEFAULT_MTU)
    }
}

/// The MTU of a link nobody configured.
pub const DEFAULT_MTU: u32 = 1500;

/// Where a static route goes (the values of the instance's `routes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteVia {
    /// Through a gateway.
    Gateway(IpAddr),
    /// Straight out of one of the instance's interfaces (`nics[N]`).
    Interface(String),
}

/// One entry of the instance's `routes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination network (a host route is a /32 or /128).
    pub destination: Cidr,
    /// Where it goes.
    pub via: RouteVia,
}

/// One instance's networking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceNet {
    /// A number unique to the instance on this host, which names its
    /// host-side links (`z<index>_<interface>`).
    pub index: u32,
    /// The NICs, in the instance's order.
    pub nics: Vec<Nic>,
    /// Static routes beyond the primary NIC's default route.
    pub routes: Vec<Route>,
}
