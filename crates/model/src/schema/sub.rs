//! The sub-object tables: nics (2.13), disks (2.14), filesystems (2.15) and
//! pci_devices (2.16). `create` is "accepted when adding", `update` is
//! "accepted in update_*".

use super::build::{BOOL, LIST, STR, U0, UUID, d, int, p, u};
use super::{ListCheck, PropType, Property, StrCheck, Unit};
use crate::brand::BrandSet as B;

/// Keys of a NIC object.
pub static NIC_PROPERTIES: &[Property] = &[
    d(p("allow_dhcp_spoofing", BOOL, B::ANY, B::ANY), "false"),
    d(p("allow_ip_spoofing", BOOL, B::ANY, B::ANY), "false"),
    d(p("allow_mac_spoofing", BOOL, B::ANY, B::ANY), "false"),
    d(p("allow_restricted_traffic", BOOL, B::ANY, B::ANY), "false"),
    d(p("allow_unfiltered_promisc", BOOL, B::HVM, B::HVM), "false"),
    p(
        "allowed_dhcp_cids",
        PropType::List(ListCheck::DhcpCid),
        B::ANY_BUT_BHYVE,
        B::ANY_BUT_BHYVE,
    ),
    p("allowed_ips", LIST, B::ANY, B::ANY),
    p("blocked_outgoing_ports", LIST, B::ANY, B::ANY),
    d(p("dhcp_server", BOOL, B::ANY, B::ANY), "false"),
    p("gateway", STR, B::ANY, B::ANY),
    p("gateways", LIST, B::ANY, B::ANY),
    d(
        p("interface", STR, B::ANY, B::ANY),
        "next free netN (lx: ethN)",
    ),
    p("ip", STR, B::ANY, B::ANY),
    p("ips", LIST, B::ANY, B::ANY),
    d(
        p("mac", PropType::Str(StrCheck::Mac), B::ANY, B::ANY),
        "random",
    ),
    // basalt's own: the NIC's bandwidth cap in both directions.
    u(p("maxbw", int(1, 100_000), B::ANY, B::ANY), Unit::Mbits),
    d(p("model", STR, B::HVM, B::HVM), "nic_driver"),
    p("mtu", int(576, 9000), B::ANY, B::ANY),
    p("netmask", STR, B::ANY, B::ANY),
    p("network_uuid", UUID, B::ANY, B::ANY),
    p("nic_tag", STR, B::ANY, B::ANY),
    d(p("primary", BOOL, B::ANY, B::ANY), "first NIC"),
    d(p("vlan_id", int(0, 4095), B::ANY, B::ANY), "0"),
    p("vrrp_primary_ip", STR, B::ANY, B::ANY),
    p("vrrp_vrid", int(0, 255), B::ANY, B::ANY),
];

/// Keys of a disk object (HVM brands).
pub static DISK_PROPERTIES: &[Property] = &[
    u(d(p("block_size", U0, B::HVM, B::NONE), "8192"), Unit::Bytes),
    d(p("boot", BOOL, B::HVM, B::HVM), "false"),
    d(p("compression", STR, B::HVM, B::HVM), "off"),
    p("dangerous_allow_shrink", BOOL, B::NONE, B::BHYVE),
    p(
        "guest_block_size",
        PropType::Str(StrCheck::GuestBlockSize),
        B::BHYVE,
        B::BHYVE,
    ),
    p("image_name", STR, B::KVM, B::KVM),
    u(p("image_size", U0, B::HVM, B::NONE), Unit::Mib),
    p("image_uuid", UUID, B::HVM, B::NONE),
    d(p("media", STR, B::HVM, B::HVM), "disk"),
    d(p("model", STR, B::HVM, B::HVM), "disk_driver"),
    d(p("nocreate", BOOL, B::HVM, B::NONE), "false"),
    p("notrim", BOOL, B::BHYVE, B::BHYVE),
    p("path", STR, B::HVM, B::HVM),
    p("pci_slot", STR, B::BHYVE, B::BHYVE),
    u(p("refreservation", U0, B::HVM, B::HVM), Unit::Mib),
    u(p("size", U0, B::HVM, B::BHYVE), Unit::Mib),
    p("uuid", UUID, B::BHYVE, B::BHYVE),
    p("zpool", STR, B::HVM, B::NONE),
];

/// Keys of a filesystem object (OS brands).
pub static FILESYSTEM_PROPERTIES: &[Property] = &[
    p("options", LIST, B::OS, B::OS),
    p("raw", STR, B::OS, B::OS),
    p("source", STR, B::OS, B::OS),
    p("target", STR, B::OS, B::OS),
    p("type", STR, B::OS, B::OS),
];

/// Keys of a PCI passthrough object (bhyve).
pub static PCI_PROPERTIES: &[Property] = &[
    p("model", STR, B::BHYVE, B::BHYVE),
    p("path", STR, B::BHYVE, B::BHYVE),
    p("pci_slot", STR, B::BHYVE, B::BHYVE),
];
