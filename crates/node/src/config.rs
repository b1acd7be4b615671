//! The node's configuration: `/usbkey/config`, SmartOS's bash-sourceable
//! `key=value` file (comments with `#`, every other line starts with a
//! letter).
//!
//! The file is the operator's, so basalt reads every key and keeps unknown
//! ones untouched; what it understands is exposed through typed accessors.
//! A line that is not `key=value` stops the command with the file and line.
//! basalt adds one key of its own, `server_uuid`, the node's stable UUID,
//! written the first time it is needed.
//!
//! Nic tags are kept as SmartOS keeps them: `<tag>_nic=<mac>` binds a tag
//! to the physical link with that MAC, `<tag>_mtu=<n>` gives its MTU, and
//! `etherstub=<a>,<b>` lists the host-only switches. A configuration that
//! names no tag at all has the embedded default, one etherstub `admin`;
//! the first write of tags writes it down, so that it survives the change.
//! Writes change only the keys concerned and leave every other line,
//! comments included, as the operator wrote it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use basalt_model::ids::{Mac, is_uuid};

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
    /// A nic tag's key holds a value of the wrong kind.
    #[error("{path}: {key} {value:?} is not {expected}")]
    BadValue {
        path: PathBuf,
        key: String,
        value: String,
        expected: &'static str,
    },
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
    path: PathBuf,
    entries: Vec<(String, String)>,
}

/// What a line of the file holds: nothing (blank or a comment), a
/// `key=value` (the value unquoted), or something else.
fn split_line(raw: &str) -> Result<Option<(&str, &str)>, ()> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (key, value) = line.split_once('=').ok_or(())?;
    let key_ok = key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !key_ok {
        return Err(());
    }
    Ok(Some((key, unquote(value))))
}

impl NodeConfig {
    /// Parses the text of a configuration file; `path` only names it in
    /// errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let entry = split_line(raw).map_err(|()| ConfigError::Syntax {
                path: path.to_owned(),
                line: i + 1,
                text: raw.to_owned(),
            })?;
            if let Some((key, value)) = entry {
                entries.push((key.to_owned(), value.to_owned()));
            }
        }
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    /// Reads `path`; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::parse("", path),
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

    /// The names of the nic tags the configuration defines (see
    /// [`NodeConfig::tags`]), sorted; lenient: a tag whose values are
    /// malformed is still named.
    pub fn nic_tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self
            .nic_keys()
            .into_keys()
            .chain(self.etherstubs())
            .map(str::to_owned)
            .collect();
        tags.sort();
        tags.dedup();
        tags
    }

    /// The nic tags the configuration defines: every `<tag>_nic` with a
    /// value (sorted by name), then every etherstub (sorted), each with
    /// its `<tag>_mtu`. With no `<tag>_nic` and no `etherstub` key at all,
    /// the embedded default: one etherstub, [`DEFAULT_TAG`].
    pub fn tags(&self) -> Result<Vec<NicTag>, ConfigError> {
        let mut tags = Vec::new();
        for (name, value) in self.nic_keys() {
            let kind = uplink_of(value).ok_or_else(|| ConfigError::BadValue {
                path: self.path.clone(),
                key: format!("{name}_nic"),
                value: value.to_owned(),
                expected: "a MAC address or a link name",
            })?;
            tags.push(NicTag {
                name: name.to_owned(),
                kind,
                mtu: self.tag_mtu(name)?,
            });
        }
        for name in self.etherstubs() {
            tags.push(NicTag {
                name: name.to_owned(),
                kind: TagKind::Etherstub,
                mtu: self.tag_mtu(name)?,
            });
        }
        Ok(tags)
    }

    /// `<tag>_nic` keys with a value, by tag (the last line wins).
    fn nic_keys(&self) -> BTreeMap<&str, &str> {
        let mut keys = BTreeMap::new();
        for (k, v) in self.entries() {
            if let Some(tag) = k.strip_suffix("_nic").filter(|t| !t.is_empty()) {
                keys.insert(tag, v);
            }
        }
        keys.retain(|_, v| !v.is_empty());
        keys
    }

    /// The etherstubs, sorted: the names in `etherstub`, or the default's
    /// when the configuration names no tag at all.
    fn etherstubs(&self) -> Vec<&str> {
        match self.get("etherstub") {
            Some(list) => {
                let mut stubs = split_list(list);
                stubs.sort_unstable();
                stubs.dedup();
                stubs
            }
            None if self.nic_keys().is_empty() => vec![DEFAULT_TAG],
            None => Vec::new(),
        }
    }

    /// Whether the tags are the embedded default's, named by no key.
    fn default_tags(&self) -> bool {
        self.get("etherstub").is_none() && self.nic_keys().is_empty()
    }

    fn tag_mtu(&self, tag: &str) -> Result<Option<u32>, ConfigError> {
        let key = format!("{tag}_mtu");
        match self.get(&key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => match v.parse::<u32>() {
                Ok(mtu) if v.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(mtu)),
                _ => Err(ConfigError::BadValue {
                    path: self.path.clone(),
                    key,
                    value: v.to_owned(),
                    expected: "an MTU",
                }),
            },
        }
    }
}

/// The nic tag a configuration with no tags has: an etherstub.
pub const DEFAULT_TAG: &str = "admin";

/// What a nic tag is bound to, as the configuration says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagKind {
    /// A host-only switch, listed in `etherstub`.
    Etherstub,
    /// The physical link that has this MAC (`<tag>_nic=<mac>`).
    Physical {
        /// The link's MAC.
        mac: Mac,
    },
    /// A link named in place of a MAC (`<tag>_nic=aggr0`: how SmartOS
    /// binds a tag to an aggregation).
    Link {
        /// The link's name.
        name: String,
    },
}

/// One nic tag of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicTag {
    /// The tag's name.
    pub name: String,
    /// What it is bound to.
    pub kind: TagKind,
    /// `<tag>_mtu`, when set.
    pub mtu: Option<u32>,
}

/// A `<tag>_nic` value: a MAC (anything with a colon must be one), else a
/// link name as Linux takes them.
fn uplink_of(value: &str) -> Option<TagKind> {
    if value.contains(':') {
        return Mac::parse(value).map(|mac| TagKind::Physical { mac });
    }
    let link_ok = value.len() <= 15
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    link_ok.then(|| TagKind::Link {
        name: value.to_owned(),
    })
}

/// The non-empty, trimmed items of a comma list.
fn split_list(list: &str) -> Vec<&str> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// One change to the nic tags of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    /// Appends an etherstub to `etherstub`.
    AddEtherstub(String),
    /// Sets `<tag>_nic`.
    SetNic {
        /// The tag.
        tag: String,
        /// Its physical link's MAC.
        mac: Mac,
    },
    /// Sets `<tag>_mtu`.
    SetMtu {
        /// The tag.
        tag: String,
        /// Its MTU.
        mtu: u32,
    },
    /// Removes `<tag>_nic`, `<tag>_mtu` and the tag's name from
    /// `etherstub` (an emptied list stays as `etherstub=`, so that the
    /// default does not come back).
    Remove(String),
}

/// The text of a configuration file with `changes` made, in order.
/// A key that is set replaces its last line in place (earlier lines for
/// the same key, dead in bash, go), or is appended; every other line stays
/// byte for byte. When the tags were the embedded default,
/// `etherstub=admin` is written first.
pub fn edit_tags(text: &str, path: &Path, changes: &[TagChange]) -> Result<String, ConfigError> {
    let config = NodeConfig::parse(text, path)?;
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    if let Some(last) = lines.last_mut()
        && !last.ends_with('\n')
    {
        last.push('\n');
    }
    if config.default_tags() && !changes.is_empty() {
        set_key(&mut lines, "etherstub", DEFAULT_TAG);
    }
    for change in changes {
        match change {
            TagChange::AddEtherstub(name) => {
                let mut stubs = etherstub_list(&lines);
                stubs.push(name.clone());
                set_key(&mut lines, "etherstub", &stubs.join(","));
            }
            TagChange::SetNic { tag, mac } => {
                set_key(&mut lines, &format!("{tag}_nic"), &mac.to_string())
            }
            TagChange::SetMtu { tag, mtu } => {
                set_key(&mut lines, &format!("{tag}_mtu"), &mtu.to_string())
            }
            TagChange::Remove(tag) => {
                remove_key(&mut lines, &format!("{tag}_nic"));
                remove_key(&mut lines, &format!("{tag}_mtu"));
                let stubs = etherstub_list(&lines);
                if stubs.contains(tag) {
                    let kept: Vec<String> = stubs.into_iter().filter(|s| s != tag).collect();
                    set_key(&mut lines, "etherstub", &kept.join(","));
                }
            }
        }
    }
    Ok(lines.concat())
}

fn key_of(line: &str) -> Option<&str> {
    split_line(line).ok().flatten().map(|(k, _)| k)
}

/// The names in the last `etherstub` line.
fn etherstub_list(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .rev()
        .filter_map(|l| split_line(l).ok().flatten())
        .find(|(k, _)| *k == "etherstub")
        .map(|(_, v)| split_list(v).into_iter().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn set_key(lines: &mut Vec<String>, key: &str, value: &str) {
    let line = format!("{key}={value}\n");
    match lines.iter().rposition(|l| key_of(l) == Some(key)) {
        Some(last) => {
            *lines = std::mem::take(lines)
                .into_iter()
                .enumerate()
                .filter_map(|(i, l)| {
                    if i == last {
                        Some(line.clone())
                    } else {
                        (key_of(&l) != Some(key)).then_some(l)
                    }
                })
                .collect();
        }
        None => lines.push(line),
    }
}

fn remove_key(lines: &mut Vec<String>, key: &str) {
    lines.retain(|l| key_of(l) != Some(key));
}

/// Changes the nic tags of the configuration at `path`: under the same
/// lock as [`ensure_node_uuid`], reads the file afresh, asks `plan` for
/// the changes (its checks see what is current), and replaces the file
/// atomically, keeping its mode (0600 for a new file). Returns the new
/// configuration.
pub fn update_tags<E: From<ConfigError>>(
    path: &Path,
    plan: impl FnOnce(&NodeConfig) -> Result<Vec<TagChange>, E>,
) -> Result<NodeConfig, E> {
    let _lock = lock_beside(path)?;
    let (text, mode) = match std::fs::read_to_string(path) {
        Ok(text) => {
            let mode = std::fs::metadata(path).map_or(0o600, |m| {
                std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777
            });
            (text, mode)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), 0o600),
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }
            .into());
        }
    };
    let config = NodeConfig::parse(&text, path)?;
    let changes = plan(&config)?;
    if changes.is_empty() {
        return Ok(config);
    }
    let new = edit_tags(&text, path, &changes)?;
    fsutil::write_atomic(path, new.as_bytes(), mode).map_err(|source| ConfigError::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(NodeConfig::parse(&new, path)?)
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
        assert!(parse("etherstub=\n").unwrap().nic_tags().is_empty());
        assert!(parse("x_nic=\netherstub=\n").unwrap().nic_tags().is_empty());
    }

    fn tag(name: &str, kind: TagKind, mtu: Option<u32>) -> NicTag {
        NicTag {
            name: name.into(),
            kind,
            mtu,
        }
    }

    #[test]
    fn tags_are_typed() {
        let c = parse(
            "external_nic=AA:bb:c:dd:ee:ff\nexternal_mtu=9000\nbonded_nic=aggr0\n\
             etherstub=stub1,stub0\nexternal_nic=aa:bb:cc:dd:ee:01\n",
        )
        .unwrap();
        let mac = Mac([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x01]);
        assert_eq!(
            c.tags().unwrap(),
            [
                tag(
                    "bonded",
                    TagKind::Link {
                        name: "aggr0".into()
                    },
                    None
                ),
                tag("external", TagKind::Physical { mac }, Some(9000)),
                tag("stub0", TagKind::Etherstub, None),
                tag("stub1", TagKind::Etherstub, None),
            ]
        );
        assert_eq!(
            parse("").unwrap().tags().unwrap(),
            [tag("admin", TagKind::Etherstub, None)]
        );
        assert!(parse("etherstub=").unwrap().tags().unwrap().is_empty());
        let bad = parse("x_nic=aa:bb").unwrap().tags().unwrap_err();
        assert_eq!(
            bad.to_string(),
            "/usbkey/config: x_nic \"aa:bb\" is not a MAC address or a link name"
        );
        let bad = parse("x_nic=eth0\nx_mtu=big").unwrap().tags().unwrap_err();
        assert_eq!(
            bad.to_string(),
            "/usbkey/config: x_mtu \"big\" is not an MTU"
        );
    }

    fn edit(text: &str, changes: &[TagChange]) -> String {
        edit_tags(text, Path::new("/usbkey/config"), changes).unwrap()
    }

    const MAC1: Mac = Mac([2, 0, 0, 0, 0, 1]);

    #[test]
    fn edits_keep_comments_and_other_keys() {
        let text = "# the operator's notes\nhostname=node1\n\n  # indented\n\
                    external_nic=02:00:00:00:00:09\nexternal_mtu=1500\netherstub=stub0\n\
                    dns_domain=\"example.com\"\n";
        let changed = edit(
            text,
            &[
                TagChange::SetNic {
                    tag: "external".into(),
                    mac: MAC1,
                },
                TagChange::AddEtherstub("stub1".into()),
                TagChange::SetMtu {
                    tag: "storage".into(),
                    mtu: 9000,
                },
            ],
        );
        assert_eq!(
            changed,
            "# the operator's notes\nhostname=node1\n\n  # indented\n\
             external_nic=02:00:00:00:00:01\nexternal_mtu=1500\netherstub=stub0,stub1\n\
             dns_domain=\"example.com\"\nstorage_mtu=9000\n"
        );
        let removed = edit(&changed, &[TagChange::Remove("external".into())]);
        assert_eq!(
            removed,
            "# the operator's notes\nhostname=node1\n\n  # indented\n\
             etherstub=stub0,stub1\ndns_domain=\"example.com\"\nstorage_mtu=9000\n"
        );
    }

    #[test]
    fn a_set_key_replaces_its_last_line_and_drops_dead_ones() {
        let text = "a_nic=02:00:00:00:00:09\nhostname=x\na_nic=02:00:00:00:00:08\nzpool=zones";
        assert_eq!(
            edit(
                text,
                &[TagChange::SetNic {
                    tag: "a".into(),
                    mac: MAC1
                }]
            ),
            "hostname=x\na_nic=02:00:00:00:00:01\nzpool=zones\n"
        );
    }

    #[test]
    fn the_default_admin_is_written_with_the_first_tags() {
        assert_eq!(
            edit(
                "pool_file_size=1G\n",
                &[TagChange::AddEtherstub("stub0".into())]
            ),
            "pool_file_size=1G\netherstub=admin,stub0\n"
        );
        assert_eq!(
            edit(
                "",
                &[TagChange::SetNic {
                    tag: "external".into(),
                    mac: MAC1
                }]
            ),
            "etherstub=admin\nexternal_nic=02:00:00:00:00:01\n"
        );
        assert_eq!(edit("hostname=a\n", &[]), "hostname=a\n");
        let no_default = "external_nic=02:00:00:00:00:01\n";
        assert_eq!(
            edit(no_default, &[TagChange::AddEtherstub("stub0".into())]),
            "external_nic=02:00:00:00:00:01\netherstub=stub0\n"
        );
    }

    #[test]
    fn removing_the_last_etherstub_keeps_an_empty_list() {
        let gone = edit("zpool=zones\n", &[TagChange::Remove("admin".into())]);
        assert_eq!(gone, "zpool=zones\netherstub=\n");
        assert!(parse(&gone).unwrap().tags().unwrap().is_empty());
        assert_eq!(
            edit(
                "etherstub=a,b\na_mtu=9000\n",
                &[TagChange::Remove("a".into()), TagChange::Remove("b".into())]
            ),
            "etherstub=\n"
        );
        assert_eq!(
            edit("etherstub=\"a, b\"\n", &[TagChange::Remove("a".into())]),
            "etherstub=b\n"
        );
    }

    #[test]
    fn update_tags_writes_atomically_under_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usbkey/config");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "# mine\nhostname=h\n").unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o640))
            .unwrap();
        let config = update_tags(&path, |c| {
            assert_eq!(c.hostname(), Some("h"));
            Ok::<_, ConfigError>(vec![TagChange::AddEtherstub("stub0".into())])
        })
        .unwrap();
        assert_eq!(config.nic_tags(), ["admin", "stub0"]);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# mine\nhostname=h\netherstub=admin,stub0\n"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o640);
        let fresh = dir.path().join("fresh/config");
        update_tags(&fresh, |_| {
            Ok::<_, ConfigError>(vec![TagChange::Remove("admin".into())])
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "etherstub=\n");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&fresh).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
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
