//! The v2 image manifest (reference §3.3): typed, validated the way imgadm
//! validates a manifest it is asked to install, and written back with its
//! keys in the order they came.
//!
//! Validation is imgmanifest's `validateMinimalManifest` (required `v`,
//! `uuid`, `name`, `version`, `type`, `os`; every other known field checked
//! when present), with basalt's additions: `files` holds exactly one file
//! whose `sha1` is 40 hex digits, whose `size` is at most 20 GiB and whose
//! `compression` may also be `zstd`; a `zvol` needs `image_size`;
//! `requirements.bootrom` is `bios` or `uefi`. Unknown top-level keys are
//! kept as they are (SmartOS manifests carry extras) in [`Manifest::extra`].
//!
//! Pure: no I/O.

mod error;
mod fields;
mod js;
mod requirements;
mod types;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use basalt_model::Mib;

pub use error::{ManifestError, Problem, ProblemCode};
pub use fields::is_published_at;
pub use requirements::{Bootrom, Network, Requirements, is_platform_stamp};
pub use types::{
    AccountUuid, Compression, ImageFile, ImageOs, ImageState, ImageType, ImageUuid, Sha1Digest,
};

/// The largest image file a manifest may describe: 20 GiB.
pub const MAX_FILE_SIZE: u64 = 20 << 30;

/// The manifest version basalt writes.
pub const MANIFEST_V: u32 = 2;

/// Every top-level key imgmanifest knows, in the order basalt writes them
/// when it makes a manifest (the order of the reference's example).
const KNOWN: [&str; 33] = [
    "v",
    "uuid",
    "owner",
    "name",
    "version",
    "state",
    "disabled",
    "public",
    "published_at",
    "type",
    "os",
    "files",
    "description",
    "requirements",
    "urn",
    "homepage",
    "eula",
    "icon",
    "error",
    "activated",
    "origin",
    "acl",
    "users",
    "generate_passwords",
    "billing_tags",
    "traits",
    "tags",
    "inherited_directories",
    "nic_driver",
    "disk_driver",
    "cpu_type",
    "image_size",
    "channels",
];

/// A valid v2 image manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Manifest format version (2).
    pub v: u32,
    /// The image's id.
    pub uuid: ImageUuid,
    /// The account that made it.
    pub owner: Option<AccountUuid>,
    /// Name; not unique.
    pub name: String,
    /// Version string.
    pub version: String,
    /// Short prose.
    pub description: Option<String>,
    /// http(s) URL.
    pub homepage: Option<String>,
    /// http(s) URL.
    pub eula: Option<String>,
    /// Whether the image has an icon.
    pub icon: Option<bool>,
    /// Life cycle state.
    pub state: Option<ImageState>,
    /// Why creating it failed.
    pub error: Option<Map<String, Value>>,
    /// Not provisionable.
    pub disabled: Option<bool>,
    /// Activated on its IMGAPI.
    pub activated: Option<bool>,
    /// Visible to all.
    pub public: Option<bool>,
    /// `YYYY-MM-DDTHH:MM:SS(.mmm)?Z`.
    pub published_at: Option<String>,
    /// What the image holds.
    pub image_type: ImageType,
    /// Its operating system.
    pub os: ImageOs,
    /// The image this one is incremental on.
    pub origin: Option<ImageUuid>,
    /// The image's file: exactly one when present.
    pub files: Option<Vec<ImageFile>>,
    /// Accounts that may see a private image.
    pub acl: Option<Vec<AccountUuid>>,
    /// What an instance needs.
    pub requirements: Option<Requirements>,
    /// Names of users to make passwords for.
    pub users: Option<Vec<String>>,
    /// Whether to make those passwords.
    pub generate_passwords: Option<bool>,
    /// Billing tags.
    pub billing_tags: Option<Vec<String>>,
    /// Placement hints.
    pub traits: Option<Map<String, Value>>,
    /// Free key/values.
    pub tags: Option<Map<String, Value>>,
    /// zone-dataset only.
    pub inherited_directories: Option<Vec<String>>,
    /// HVM NIC model.
    pub nic_driver: Option<String>,
    /// HVM disk model.
    pub disk_driver: Option<String>,
    /// HVM CPU type.
    pub cpu_type: Option<String>,
    /// Size of a zvol image's disk.
    pub image_size: Option<Mib>,
    /// IMGAPI channels.
    pub channels: Option<Vec<String>>,
    /// Deprecated `cloud:creator:name:version`.
    pub urn: Option<String>,
    /// Keys imgmanifest does not know, kept as given.
    pub extra: Map<String, Value>,
    /// The object as read: its key order, and nested values to keep as they
    /// were written while they mean the same.
    source: Map<String, Value>,
}

impl Manifest {
    /// A new manifest with the required fields and `v` 2.
    pub fn new(uuid: ImageUuid, name: &str, version: &str, t: ImageType, os: ImageOs) -> Self {
        Manifest {
            v: MANIFEST_V,
            uuid,
            owner: None,
            name: name.to_owned(),
            version: version.to_owned(),
            description: None,
            homepage: None,
            eula: None,
            icon: None,
            state: None,
            error: None,
            disabled: None,
            activated: None,
            public: None,
            published_at: None,
            image_type: t,
            os,
            origin: None,
            files: None,
            acl: None,
            requirements: None,
            users: None,
            generate_passwords: None,
            billing_tags: None,
            traits: None,
            tags: None,
            inherited_directories: None,
            nic_driver: None,
            disk_driver: None,
            cpu_type: None,
            image_size: None,
            channels: None,
            urn: None,
            extra: Map::new(),
            source: Map::new(),
        }
    }

    /// Parses and validates manifest text.
    pub fn from_json(text: &str) -> Result<Self, ManifestError> {
        let value: Value = serde_json::from_str(text).map_err(|e| ManifestError::Invalid {
            reason: e.to_string(),
        })?;
        Manifest::from_value(value)
    }

    /// Validates a JSON value, reporting every problem at once.
    pub fn from_value(value: Value) -> Result<Self, ManifestError> {
        match value {
            Value::Object(map) => Manifest::from_map(map),
            _ => Err(ManifestError::Invalid {
                reason: "not a JSON object".into(),
            }),
        }
    }

    fn from_map(map: Map<String, Value>) -> Result<Self, ManifestError> {
        let mut c = fields::Checker::new(&map);
        let v = c.v();
        let uuid = c.uuid::<ImageUuid>("uuid", true);
        let name = c.name();
        let version = c.version();
        let image_type = c.image_type();
        let os = c.os();
        let mut m = Manifest::new(
            ImageUuid::nil(),
            "",
            "",
            image_type.unwrap_or(ImageType::Other),
            os.unwrap_or(ImageOs::Other),
        );
        m.check_optional(&mut c, image_type);
        let problems = c.problems;
        let (Some(v), Some(uuid), Some(name), Some(version), true) =
            (v, uuid, name, version, problems.is_empty())
        else {
            return Err(ManifestError::Validation { problems });
        };
        m.v = v;
        m.uuid = uuid;
        m.name = name;
        m.version = version;
        m.extra = map
            .iter()
            .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        m.source = map;
        Ok(m)
    }

    /// The fields that are checked only when present, in imgmanifest's order.
    fn check_optional(&mut self, c: &mut fields::Checker<'_>, image_type: Option<ImageType>) {
        self.urn = c.string("urn");
        self.owner = c.uuid("owner", false);
        self.description = c.description();
        self.homepage = c.url("homepage", "homepage");
        self.eula = c.url("eula", "EULA");
        self.disabled = c.flag("disabled", false);
        self.activated = c.flag("activated", false);
        let activated = c.get("activated").and_then(js::boolean);
        self.published_at = c.published_at(activated);
        self.state = c.state();
        self.public = c.flag("public", false);
        self.origin = c.uuid("origin", false);
        self.error = c.error();
        self.files = c.files(activated);
        self.icon = c.flag("icon", true);
        self.acl = c.acl();
        self.requirements = c.requirements();
        self.users = c.users();
        self.billing_tags = c.billing_tags();
        self.traits = c.traits();
        self.tags = c.tags();
        self.generate_passwords = c.flag("generate_passwords", true);
        self.inherited_directories = c.inherited_directories(image_type);
        self.nic_driver = c.hvm_string("nic_driver", image_type);
        self.disk_driver = c.hvm_string("disk_driver", image_type);
        self.cpu_type = c.hvm_string("cpu_type", image_type);
        self.image_size = c.image_size(image_type);
        self.channels = c.channels();
    }

    /// The image's file (`files[0]`), if the manifest lists one.
    pub fn file(&self) -> Option<&ImageFile> {
        self.files.as_ref().and_then(|f| f.first())
    }

    /// The manifest as JSON: keys in the order they were read (known and
    /// extra alike), then keys set since, known ones first.
    pub fn to_value(&self) -> Value {
        let known = self.known_values();
        let lookup = |k: &str| known.iter().find(|(n, _)| *n == k).map(|(_, v)| v);
        let mut out = Map::new();
        for (k, raw) in &self.source {
            match lookup(k) {
                // Keep the value as written when it means the same (nested
                // key order, extras inside `files[0]`).
                Some(Some(val)) if val == raw => {
                    out.insert(k.clone(), raw.clone());
                }
                Some(Some(val)) => {
                    out.insert(k.clone(), val.clone());
                }
                Some(None) => {}
                None => {
                    if let Some(v) = self.extra.get(k) {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        for (k, val) in known {
            if let (Some(val), false) = (val, out.contains_key(k)) {
                out.insert(k.to_owned(), val);
            }
        }
        for (k, v) in &self.extra {
            if !out.contains_key(k) {
                out.insert(k.clone(), v.clone());
            }
        }
        Value::Object(out)
    }

    fn known_values(&self) -> Vec<(&'static str, Option<Value>)> {
        let s = |v: &Option<String>| v.clone().map(Value::String);
        let b = |v: Option<bool>| v.map(Value::Bool);
        let strings = |v: &Option<Vec<String>>| {
            v.as_ref()
                .map(|l| Value::Array(l.iter().cloned().map(Value::String).collect()))
        };
        let obj = |v: &Option<Map<String, Value>>| v.clone().map(Value::Object);
        let values = [
            Some(Value::from(self.v)),
            Some(self.uuid.as_str().into()),
            self.owner.as_ref().map(|o| o.as_str().into()),
            Some(self.name.clone().into()),
            Some(self.version.clone().into()),
            self.state.map(|st| st.as_str().into()),
            b(self.disabled),
            b(self.public),
            s(&self.published_at),
            Some(self.image_type.as_str().into()),
            Some(self.os.as_str().into()),
            self.files
                .as_ref()
                .map(|f| Value::Array(f.iter().map(ImageFile::to_value).collect())),
            s(&self.description),
            self.requirements.as_ref().map(Requirements::to_value),
            s(&self.urn),
            s(&self.homepage),
            s(&self.eula),
            b(self.icon),
            obj(&self.error),
            b(self.activated),
            self.origin.as_ref().map(|o| o.as_str().into()),
            self.acl
                .as_ref()
                .map(|l| Value::Array(l.iter().map(|a| a.as_str().into()).collect())),
            self.users.as_ref().map(|l| {
                let users = l.iter().map(|n| {
                    let mut o = Map::new();
                    o.insert("name".into(), n.clone().into());
                    Value::Object(o)
                });
                Value::Array(users.collect())
            }),
            b(self.generate_passwords),
            strings(&self.billing_tags),
            obj(&self.traits),
            obj(&self.tags),
            strings(&self.inherited_directories),
            s(&self.nic_driver),
            s(&self.disk_driver),
            s(&self.cpu_type),
            self.image_size.map(|m| m.0.into()),
            strings(&self.channels),
        ];
        KNOWN.into_iter().zip(values).collect()
    }
}

impl Serialize for Manifest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Manifest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Manifest::from_value(value).map_err(serde::de::Error::custom)
    }
}
