//! The names of the host's links that basalt makes. Linux allows 15
//! bytes; every name here fits, and none can be another's.

/// The longest link name Linux accepts (`IFNAMSIZ` - 1).
pub const MAX_LINK_NAME: usize = 15;

/// The bridge of a (nic tag, VLAN): the tag's own name for untagged
/// traffic, `<tag>.<vlan>` for a VLAN (tag names cannot hold a dot, so
/// no tag's bridge is another VLAN's). A name that would not fit becomes
/// `bs` and a hash of the pair.
pub fn bridge(tag: &str, vlan_id: u16) -> String {
    let name = if vlan_id == 0 {
        tag.to_owned()
    } else {
        format!("{tag}.{vlan_id}")
    };
    if name.len() <= MAX_LINK_NAME {
        name
    } else {
        format!("bs{:08x}", fnv1a(format!("{tag}/{vlan_id}").as_bytes()))
    }
}

/// The 802.1Q sub-link of a physical link for a VLAN, made only where
/// the kernel has 802.1Q: `v<vlan>` and a hash of the link (the usual
/// `eth0.5` could be longer than Linux allows).
pub fn vlan_link(link: &str, vlan_id: u16) -> String {
    let name = format!("{link}.{vlan_id}");
    if name.len() <= MAX_LINK_NAME {
        name
    } else {
        format!("v{vlan_id}_{:08x}", fnv1a(link.as_bytes()))
    }
}

/// The prefix of every host-side link of one instance.
pub fn instance_prefix(index: u32) -> String {
    format!("z{index}_")
}

/// The host side of a NIC's veth pair: `z<index>_<interface>`.
pub fn host_port(index: u32, interface: &str) -> String {
    format!("{}{interface}", instance_prefix(index))
}

/// The intermediate device that shapes what a NIC sends (the host side's
/// ingress is redirected through it): the port's name and `i`.
pub fn shaper(index: u32, interface: &str) -> String {
    format!("{}i", host_port(index, interface))
}

/// 32-bit FNV-1a: a stable hash for names, not a secret.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridges_are_named_after_their_tags() {
        assert_eq!(bridge("admin", 0), "admin");
        assert_eq!(bridge("admin", 42), "admin.42");
        assert_eq!(bridge("external", 4095), "external.4095");
    }

    #[test]
    fn long_names_are_hashed_and_fit() {
        let a = bridge("a_very_long_tag_name", 0);
        let b = bridge("a_very_long_tag_name", 1);
        assert!(a.starts_with("bs") && a.len() <= MAX_LINK_NAME);
        assert_ne!(a, b);
        assert_eq!(a, bridge("a_very_long_tag_name", 0));
        assert!(vlan_link("enp0s31f6abcdef", 4095).len() <= MAX_LINK_NAME);
        assert_eq!(vlan_link("eth0", 5), "eth0.5");
    }

    #[test]
    fn instance_links_fit_at_the_largest_index() {
        // Id ranges of 65536 from 2^20 up leave fewer than 65520 indexes.
        let port = host_port(65519, "net31");
        assert_eq!(port, "z65519_net31");
        assert!(shaper(65519, "eth31").len() <= MAX_LINK_NAME);
        assert!(port.starts_with(&instance_prefix(65519)));
    }
}
