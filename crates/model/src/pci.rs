//! PCI slot grammar for bhyve disks and passthrough devices (reference
//! 2.16): `bus:dev:fn`, `dev:fn` or `dev`, decimal, missing parts 0.

use std::fmt;

/// A parsed PCI slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciSlot {
    /// Bus, 0–255.
    pub bus: u8,
    /// Device, 0–31.
    pub dev: u8,
    /// Function, 0–7.
    pub func: u8,
}

impl PciSlot {
    /// Parses a slot; `None` when out of range or a reserved bus-0 device
    /// (0, 6, 30, 31).
    pub fn parse(s: &str) -> Option<PciSlot> {
        let parts: Vec<u32> = s
            .split(':')
            .map(|p| {
                (!p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))
                    .then(|| p.parse().ok())
                    .flatten()
            })
            .collect::<Option<_>>()?;
        let (bus, dev, func) = match parts[..] {
            [dev] => (0, dev, 0),
            [dev, func] => (0, dev, func),
            [bus, dev, func] => (bus, dev, func),
            _ => return None,
        };
        if bus > 255 || dev > 31 || func > 7 || (bus == 0 && matches!(dev, 0 | 6 | 30 | 31)) {
            return None;
        }
        Some(PciSlot {
            bus: bus as u8,
            dev: dev as u8,
            func: func as u8,
        })
    }
}

impl fmt::Display for PciSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.bus, self.dev, self.func)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        assert_eq!(PciSlot::parse("4").unwrap().to_string(), "0:4:0");
        assert_eq!(PciSlot::parse("4:2").unwrap().to_string(), "0:4:2");
        assert_eq!(PciSlot::parse("1:0:0").unwrap().to_string(), "1:0:0");
        for bad in [
            "", "0", "6", "30:0", "0:31:0", "256:1:0", "1:32:0", "1:1:8", "a", "1:2:3:4", "-1",
        ] {
            assert!(PciSlot::parse(bad).is_none(), "{bad}");
        }
    }
}
