//! The typed values inside a manifest: ids, enumerations, digests, files.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use basalt_model::ids::is_uuid;

macro_rules! uuid_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The UUID as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = basalt_model::ids::InvalidUuid;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if is_uuid(s) {
                    Ok($name(s.to_owned()))
                } else {
                    Err(basalt_model::ids::InvalidUuid(s.to_owned()))
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = basalt_model::ids::InvalidUuid;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(u: $name) -> String {
                u.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

uuid_type!(
    /// An image's UUID (lowercase, 8-4-4-4-12), as in `uuid` and `origin`.
    ImageUuid
);
impl ImageUuid {
    /// A placeholder while a manifest is being checked.
    pub(crate) fn nil() -> ImageUuid {
        ImageUuid(basalt_model::VmUuid::ZERO.to_owned())
    }
}

uuid_type!(
    /// An account's UUID, as in `owner` and `acl`.
    AccountUuid
);

macro_rules! name_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in the order imgadm lists them in its messages.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as the manifest spells it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value the manifest spells `s`, if any.
            pub fn parse(s: &str) -> Option<$name> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// Every value, joined by `, ` as imgadm's messages list them.
            pub fn list() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                names.join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

name_enum!(
    /// What an image holds (`type`).
    ImageType {
        /// A SmartOS-style zone root file system.
        ZoneDataset = "zone-dataset",
        /// A disk image for a hardware VM.
        Zvol = "zvol",
        /// A Linux root file system for an lx zone.
        LxDataset = "lx-dataset",
        /// One layer of a docker image.
        Docker = "docker",
        /// Anything else.
        Other = "other",
    }
);

name_enum!(
    /// The operating system inside an image (`os`).
    ImageOs {
        /// SmartOS.
        Smartos = "smartos",
        /// Linux.
        Linux = "linux",
        /// Windows.
        Windows = "windows",
        /// A BSD.
        Bsd = "bsd",
        /// illumos.
        Illumos = "illumos",
        /// Anything else.
        Other = "other",
    }
);

name_enum!(
    /// An image's life cycle state (`state`).
    ImageState {
        /// Provisionable.
        Active = "active",
        /// Created, its file not yet added or not activated.
        Unactivated = "unactivated",
        /// Not provisionable.
        Disabled = "disabled",
        /// Being made from a VM.
        Creating = "creating",
        /// Making it failed.
        Failed = "failed",
    }
);

name_enum!(
    /// How an image file is compressed (`files[0].compression`). `zstd` is
    /// basalt's addition to imgadm's four.
    Compression {
        /// gzip (RFC 1952), possibly several members.
        Gzip = "gzip",
        /// bzip2, possibly several streams.
        Bzip2 = "bzip2",
        /// xz, possibly several streams.
        Xz = "xz",
        /// Not compressed.
        None = "none",
        /// Zstandard, possibly several frames.
        Zstd = "zstd",
    }
);

/// A SHA-1 digest, written as 40 lowercase hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha1Digest(pub [u8; 20]);

impl Sha1Digest {
    /// Parses 40 hexadecimal digits (either case).
    pub fn parse(s: &str) -> Option<Sha1Digest> {
        let mut out = [0u8; 20];
        if s.len() != 40 {
            return None;
        }
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Sha1Digest(out))
    }
}

impl fmt::Display for Sha1Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// The one file of an image (`files[0]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFile {
    /// Digest of the file as stored (compressed).
    pub sha1: Sha1Digest,
    /// Size in bytes of the file as stored.
    pub size: u64,
    /// How the file is compressed.
    pub compression: Compression,
    /// Other keys (`dataset_guid`, `digest`, `uncompressedDigest`, ...),
    /// kept as given.
    pub extra: Map<String, Value>,
}

impl ImageFile {
    pub(crate) fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("sha1".into(), self.sha1.to_string().into());
        m.insert("size".into(), self.size.into());
        m.insert("compression".into(), self.compression.as_str().into());
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }
}
