//! The node's configuration: `/usbkey/config`, SmartOS's bash-sourceable
//! `key=value` file (comments with `#`, every other line starts with a
//! letter).
//!
//! The file is the operator's, so basalt reads every key and keeps unknown
//! ones untouched; what it understands is exposed through typed accessors.
//! A line that is not `key=value` stops the command with the file and line.
//! basalt adds one key of its own, `server_uuid`, the node's stable UUID,
//! written the first time it is needed.

use std::path::{Path, PathBuf};

use basalt_model::ids::is_uuid;

use crate::fsutil;

/// A failure to read or update the node's configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("failed to read node configuration {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line is not `key=value`.
    #[error("{path}:{line}: expected key=value, found {text:?}")]
    Syntax {
        path: PathBuf,
        line: usize,
        text: String,
    },
    /// `server_uuid` holds something that is not a UUID.
    #[error("{path}: server_uuid {value:?} is not a lowercase UUID")]
    BadUuid { path: PathBuf, value: String },
    /// The file could not be written.
    #[error("failed to write node configuration {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The parsed node configuration, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeConfig {
    entries: Vec<(String, String)>,
}

impl NodeConfig {
    /// Parses the text of a configuration file; `path` only names it in
    /// errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let syntax = || ConfigError::Syntax {
                path: path.to_owned(),
                line: i + 1,
                text: raw.to_owned(),
            };
            let (key, value) = line.split_once('=').ok_or_else(syntax)?;
            let key_ok = key.starts_with(|c: char| c.is_ascii_alphabetic())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !key_ok {
                return Err(syntax());
            }
            entries.push((key.to_owned(), unquote(value).to_owned()));
        }
        Ok(Self { entries })
    }

    /// Reads `path`; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The last value given for `key` (later lines win, as in bash).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every key with its value, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `hostname`, when configured.
    pub fn hostname(&self) -> Option<&str> {
        self.get("hostname").filter(|s| !s.is_empty())
    }

    /// `datacenter_name`, when configured.
    pub fn datacenter_name(&self) -> Option<&str> {
        self.get("datacenter_name").filter(|s| !s.is_empty())
    }

    /// The name of the node's pool (`zpool`, default `zones`).
    pub fn pool_name(&self) -> &str {
        self.get("zpool")
            .filter(|s| !s.is_empty())
            .unwrap_or("zones")
    }

    /// `pool_device`: a block device or partition for the pool.
    pub fn pool_device(&self) -> Option<&str> {
        self.get("pool_device").filter(|s| !s.is_empty())
    }

    /// `pool_mount`: an existing btrfs mount to use as the pool.
    pub fn pool_mount(&self) -> Option<&str> {
        self.get("pool_mount").filter(|s| !s.is_empty())
    }

    /// `pool_file_size`: the size of the embedded pool file when it is
    /// created (`20G`, ...).
    pub fn pool_file_size(&self) -> Option<&str> {
        self.get("pool_file_size").filter(|s| !s.is_empty())
    }

    /// The nic tags the configuration defines: every `<tag>_nic` key and
    /// every name in `etherstub`. A node configured with none has the
    /// embedded default's `admin` etherstub.
    pub fn nic_tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .entries()
            .filter_map(|(k, _)| k.strip_suffix("_nic"))
            .map(str::to_owned)
            .collect();
        if let Some(stubs) = self.get("etherstub") {
            tags.extend(
                stubs
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
        if tags.is_empty() {
            tags.push("admin".to_owned());
        }
        tags.sort();
        tags.dedup();
        tags
    }
}

fn lock_beside(path: &Path) -> Result<fsutil::FileLock, ConfigError> {
    fsutil::wait_lock(&path.with_extension("lock")).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The node's UUID (see [`ensure_node_uuid`]), from this machine's SMBIOS
/// UUID or the operating system's randomness.
pub fn node_uuid(paths: &crate::paths::Paths) -> Result<String, ConfigError> {
    let smbios = std::fs::read_to_string("/sys/class/dmi/id/product_uuid").ok();
    ensure_node_uuid(&paths.node_config(), smbios, || {
        let mut bytes = [0u8; 16];
        crate::entropy::fill(&mut bytes);
        basalt_model::VmUuid::from_random_bytes(bytes).to_string()
    })
}

fn unquote(value: &str) -> &str {
    let v = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// Returns the node's UUID from `path`, choosing and persisting one the
/// first time: the machine's SMBIOS UUID when `smbios` offers a usable one,
/// else `random`. The choice is appended to the file atomically, under a
/// lock so that two first runs agree, and the node keeps its identity from
/// then on.
pub fn ensure_node_uuid(
    path: &Path,
    smbios: Option<String>,
    random: impl FnOnce() -> String,
) -> Result<String, ConfigError> {
    if let Some(uuid) = NodeConfig::load(path)?
        .get("server_uuid")
        .filter(|v| is_uuid(v))
    {
        return Ok(uuid.to_owned());
    }
    let _lock = lock_beside(path)?;
    let config = NodeConfig::load(path)?;
    if let Some(v) = config.get("server_uuid") {
        if is_uuid(v) {
            return Ok(v.to_owned());
        }
        return Err(ConfigError::BadUuid {
            path: path.to_owned(),
            value: v.to_owned(),
        });
    }
    let uuid = smbios
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| is_uuid(s) && s != basalt_model::VmUuid::ZERO)
        .unwrap_or_else(random);
    let mut text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("server_uuid={uuid}\n"));
    fsutil::write_atomic(path, text.as_bytes(), 0o600).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(uuid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NodeConfig, ConfigError> {
        NodeConfig::parse(text, Path::new("/usbkey/config"))
    }

    #[test]
    fn reads_keys_comments_and_quotes() {
        let c = parse("# admin\nadmin_nic=00:0c:29:aa:bb:cc\n\nhostname='node1'\ndns_domain=\"example.com\"\nhostname=node2\n").unwrap();
        assert_eq!(c.get("admin_nic"), Some("00:0c:29:aa:bb:cc"));
        assert_eq!(c.hostname(), Some("node2"));
        assert_eq!(c.get("dns_domain"), Some("example.com"));
        assert_eq!(c.get("missing"), None);
    }

    #[test]
    fn a_bad_line_names_file_and_line() {
        let err = parse("hostname=a\nthis is not config\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/usbkey/config:2: expected key=value, found \"this is not config\""
        );
        assert!(parse("1abc=x").is_err());
        assert!(parse("a-b=x").is_err());
    }

    #[test]
    fn nic_tags_come_from_nic_keys_and_etherstubs() {
        let c = parse(
            "external_nic=aa:bb:cc:dd:ee:ff\nadmin_nic=1:2:3:4:5:6\netherstub=stub0, stub1\n",
        )
        .unwrap();
        assert_eq!(c.nic_tags(), ["admin", "external", "stub0", "stub1"]);
        assert_eq!(parse("").unwrap().nic_tags(), ["admin"]);
    }

    #[test]
    fn node_uuid_is_chosen_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usbkey/config");
        let smbios = Some("4C4C4544-0000-1000-8000-B7C04F4E4E31".to_owned());
        let first = ensure_node_uuid(&path, smbios, || unreachable!()).unwrap();
        assert_eq!(first, "4c4c4544-0000-1000-8000-b7c04f4e4e31");
        let again = ensure_node_uuid(&path, None, || "x".to_owned()).unwrap();
        assert_eq!(again, first);
        let zero = dir.path().join("other");
        let chosen = ensure_node_uuid(&zero, Some(basalt_model::VmUuid::ZERO.into()), || {
            "11111111-2222-4333-8444-555555555555".to_owned()
        })
        .unwrap();
        assert_eq!(chosen, "11111111-2222-4333-8444-555555555555");
        std::fs::write(&zero, "server_uuid=nope\n").unwrap();
        assert!(matches!(
            ensure_node_uuid(&zero, None, String::new),
            Err(ConfigError::BadUuid { .. })
        ));
    }
}
