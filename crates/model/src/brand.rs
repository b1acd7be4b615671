//! Brands and sets of brands, as vmadm's property table uses them.

use std::fmt;
use std::str::FromStr;

/// An instance's brand: what kind of instance it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Brand {
    /// A native zone set up by the in-zone first-boot service.
    Joyent,
    /// A native zone with minimal services (also docker-style containers).
    JoyentMinimal,
    /// A native zone that may build VM images.
    Builder,
    /// A zone running a Linux distribution's own init.
    Lx,
    /// A hardware VM (QEMU) in a jail zone.
    Kvm,
    /// A hardware VM in a jail zone, bhyve's properties.
    Bhyve,
}

impl Brand {
    /// Every brand, in the reference's order.
    pub const ALL: [Brand; 6] = [
        Brand::Joyent,
        Brand::JoyentMinimal,
        Brand::Builder,
        Brand::Lx,
        Brand::Kvm,
        Brand::Bhyve,
    ];

    /// The name used in payloads and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Brand::Joyent => "joyent",
            Brand::JoyentMinimal => "joyent-minimal",
            Brand::Builder => "builder",
            Brand::Lx => "lx",
            Brand::Kvm => "kvm",
            Brand::Bhyve => "bhyve",
        }
    }

    /// True for the hardware-VM brands (kvm, bhyve).
    pub fn is_hvm(self) -> bool {
        matches!(self, Brand::Kvm | Brand::Bhyve)
    }

    /// True for the OS (container) brands.
    pub fn is_os(self) -> bool {
        !self.is_hvm()
    }

    /// Guest interface name prefix: `eth` for lx, `net` otherwise.
    pub fn interface_prefix(self) -> &'static str {
        if self == Brand::Lx { "eth" } else { "net" }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Brand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A brand name that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown brand {0:?}")]
pub struct UnknownBrand(pub String);

impl FromStr for Brand {
    type Err = UnknownBrand;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Brand::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| UnknownBrand(s.to_owned()))
    }
}

/// A set of brands: which brands accept a property for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BrandSet(u8);

impl BrandSet {
    /// No brand.
    pub const NONE: BrandSet = BrandSet(0);
    /// joyent, joyent-minimal, builder.
    pub const JOYENT_STAR: BrandSet = BrandSet(0b000111);
    /// joyent, joyent-minimal, builder, lx.
    pub const OS: BrandSet = BrandSet(0b001111);
    /// kvm, bhyve.
    pub const HVM: BrandSet = BrandSet(0b110000);
    /// All six brands.
    pub const ANY: BrandSet = BrandSet(0b111111);
    /// Every brand but bhyve.
    pub const ANY_BUT_BHYVE: BrandSet = BrandSet(0b011111);
    /// lx only.
    pub const LX: BrandSet = BrandSet(0b001000);
    /// kvm only.
    pub const KVM: BrandSet = BrandSet(0b010000);
    /// bhyve only.
    pub const BHYVE: BrandSet = BrandSet(0b100000);
    /// joyent-minimal and lx (the docker-capable brands).
    pub const DOCKER: BrandSet = BrandSet(0b001010);

    /// Whether `brand` is in the set.
    pub fn contains(self, brand: Brand) -> bool {
        self.0 & brand.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Brand::ALL {
            assert_eq!(b.as_str().parse::<Brand>().unwrap(), b);
        }
        assert!("zone".parse::<Brand>().is_err());
    }

    #[test]
    fn sets_hold_what_the_reference_says() {
        assert!(BrandSet::OS.contains(Brand::Lx));
        assert!(!BrandSet::OS.contains(Brand::Kvm));
        assert!(BrandSet::HVM.contains(Brand::Bhyve));
        assert!(BrandSet::JOYENT_STAR.contains(Brand::Builder));
        assert!(!BrandSet::JOYENT_STAR.contains(Brand::Lx));
        assert!(!BrandSet::ANY_BUT_BHYVE.contains(Brand::Bhyve));
        assert!(BrandSet::ANY_BUT_BHYVE.contains(Brand::Kvm));
        assert!(BrandSet::DOCKER.contains(Brand::JoyentMinimal));
        assert!(BrandSet::DOCKER.contains(Brand::Lx));
        assert!(!BrandSet::DOCKER.contains(Brand::Joyent));
        for b in Brand::ALL {
            assert!(BrandSet::ANY.contains(b));
            assert!(!BrandSet::NONE.contains(b));
        }
    }
}
