//! Address helpers for NICs and routes: netmasks, `addr/prefix` forms,
//! private ranges.

use std::net::{IpAddr, Ipv4Addr};

/// The prefix length of a contiguous dotted IPv4 netmask.
pub fn netmask_prefix(mask: &str) -> Option<u8> {
    let m: Ipv4Addr = mask.parse().ok()?;
    let bits = u32::from(m);
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// The dotted netmask for an IPv4 prefix length.
pub fn prefix_netmask(prefix: u8) -> String {
    let bits = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    Ipv4Addr::from(bits).to_string()
}

/// An address with its prefix, as in `nics.*.ips`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The address.
    pub addr: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

/// Parses `addr/prefix` with the ranges `ips` allows: IPv4 /8–/32, IPv6
/// /0–/128.
pub fn parse_nic_cidr(s: &str) -> Option<Cidr> {
    let (a, p) = s.split_once('/')?;
    let addr: IpAddr = a.parse().ok()?;
    let prefix: u8 = p
        .parse()
        .ok()
        .filter(|_| p.bytes().all(|c| c.is_ascii_digit()))?;
    let ok = match addr {
        IpAddr::V4(_) => (8..=32).contains(&prefix),
        IpAddr::V6(_) => prefix <= 128,
    };
    ok.then_some(Cidr { addr, prefix })
}

/// Whether `s` is an address, or an address with a prefix (IPv4 /1–/32,
/// IPv6 /1–/128), as `allowed_ips` accepts.
pub fn is_allowed_ip(s: &str) -> bool {
    match s.split_once('/') {
        None => s.parse::<IpAddr>().is_ok(),
        Some((a, p)) => {
            let Ok(addr) = a.parse::<IpAddr>() else {
                return false;
            };
            let Ok(prefix) = p.parse::<u8>() else {
                return false;
            };
            match addr {
                IpAddr::V4(_) => (1..=32).contains(&prefix),
                IpAddr::V6(_) => (1..=128).contains(&prefix),
            }
        }
    }
}

/// Whether an IPv4 address is in 10/8, 172.16/12 or 192.168/16.
pub fn is_private_v4(addr: Ipv4Addr) -> bool {
    addr.is_private()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmasks() {
        assert_eq!(netmask_prefix("255.255.255.0"), Some(24));
        assert_eq!(netmask_prefix("255.255.0.0"), Some(16));
        assert_eq!(netmask_prefix("255.255.255.255"), Some(32));
        assert_eq!(netmask_prefix("0.0.0.0"), Some(0));
        assert_eq!(netmask_prefix("255.0.255.0"), None);
        assert_eq!(netmask_prefix("255.255.255"), None);
        assert_eq!(prefix_netmask(24), "255.255.255.0");
        assert_eq!(prefix_netmask(0), "0.0.0.0");
        assert_eq!(prefix_netmask(32), "255.255.255.255");
    }

    #[test]
    fn cidrs() {
        assert!(parse_nic_cidr("192.0.2.5/24").is_some());
        assert!(parse_nic_cidr("2001:db8::5/64").is_some());
        assert!(parse_nic_cidr("192.0.2.5/7").is_none());
        assert!(parse_nic_cidr("192.0.2.5/33").is_none());
        assert!(parse_nic_cidr("192.0.2.5").is_none());
        assert!(parse_nic_cidr("192.0.2.5/+4").is_none());
        assert!(is_allowed_ip("192.0.2.9"));
        assert!(is_allowed_ip("198.51.100.0/24"));
        assert!(!is_allowed_ip("198.51.100.0/0"));
        assert!(!is_allowed_ip("nope"));
    }
}
