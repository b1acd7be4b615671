//! Networks the Crossbow way on Linux.
//!
//! - A nic tag is a bridge: an etherstub's has no physical port; a
//!   physical tag's bridge has the link (or, for a VLAN, its 802.1Q
//!   sub-link) as its port. Each (tag, VLAN) pair is its own bridge, so
//!   VLANs are isolated even where the kernel has no 802.1Q.
//! - A VNIC is a veth pair: the host side a port of its bridge, the zone
//!   side in the zone's network namespace under the NIC's interface name,
//!   MAC and MTU.
//! - Anti-spoofing is nftables' bridge family on the host side, where the
//!   zone cannot reach it; bandwidth caps are tc on the host side.
//!
//! What one instance needs is computed as data ([`plan`]), then applied
//! ([`apply`]) through netlink, nft's JSON interface and tc.

pub mod apply;
pub mod filter;
pub mod names;
pub mod netlink;
pub mod plan;
pub mod shape;
pub mod spec;

pub use spec::{InstanceNet, Nic, Protection, Route, RouteVia, Tag, Uplink};
