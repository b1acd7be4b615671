//! Typed identifiers and units.

use std::fmt;
use std::str::FromStr;

/// A lowercase RFC-4122 UUID naming an instance.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VmUuid(String);

/// A string that is not a lowercase UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid UUID {0:?}")]
pub struct InvalidUuid(pub String);

/// Whether `s` is a UUID in vmadm's sense: lowercase hex in 8-4-4-4-12 form.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

impl VmUuid {
    /// The zero UUID, SmartOS's default owner and billing id.
    pub const ZERO: &'static str = "00000000-0000-0000-0000-000000000000";

    /// A random (version 4) UUID from 16 bytes of entropy.
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        let u = uuid::Builder::from_random_bytes(bytes).into_uuid();
        VmUuid(u.hyphenated().to_string())
    }

    /// The UUID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for VmUuid {
    type Err = InvalidUuid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if is_uuid(s) {
            Ok(VmUuid(s.to_owned()))
        } else {
            Err(InvalidUuid(s.to_owned()))
        }
    }
}

impl fmt::Display for VmUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Mebibytes: the unit of every vmadm memory property and of disk sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Mib(pub u64);

/// Gibibytes: the unit of `quota`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gib(pub u64);

/// A MAC address, kept in vmadm's canonical text form (lowercase,
/// zero-padded, colon-separated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// Parses a MAC of hex digits and colons, accepting unpadded octets
    /// (`2:8:20:1:2:3`).
    pub fn parse(s: &str) -> Option<Mac> {
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let part = parts.next()?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            *byte = u8::from_str_radix(part, 16).ok()?;
        }
        parts.next().is_none().then_some(Mac(out))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_shape() {
        assert!(is_uuid("54f1cc77-68f1-42ab-acac-5c4f64f5d6e0"));
        assert!(!is_uuid("54F1CC77-68f1-42ab-acac-5c4f64f5d6e0"));
        assert!(!is_uuid("54f1cc77-68f1-42ab-acac-5c4f64f5d6e"));
        assert!(!is_uuid("54f1cc77x68f1-42ab-acac-5c4f64f5d6e0"));
        let u = VmUuid::from_random_bytes([7; 16]);
        assert!(is_uuid(u.as_str()));
        assert_eq!(&u.as_str()[14..15], "4");
    }

    #[test]
    fn mac_parses_and_pads() {
        assert_eq!(
            Mac::parse("2:8:20:1:2:3").unwrap().to_string(),
            "02:08:20:01:02:03"
        );
        assert_eq!(
            Mac::parse("B2:1E:BA:A5:6E:70").unwrap().to_string(),
            "b2:1e:ba:a5:6e:70"
        );
        for bad in [
            "",
            "1:2:3:4:5",
            "1:2:3:4:5:6:7",
            "123:1:1:1:1:1",
            "g1:1:1:1:1:1",
            "1::1:1:1:1",
        ] {
            assert!(Mac::parse(bad).is_none(), "{bad}");
        }
    }
}
