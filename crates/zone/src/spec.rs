//! What a zone is made of when it boots, as plain data: the node computes
//! it from the instance's configuration and hands it to the runtime, which
//! passes it from the supervisor to the zone's setup process.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The first host uid (and gid) of the ranges zones are given, and the size
/// of one range: root of a zone is host id `base`, its uid 65535 is
/// `base + 65535`. Ranges start far above the ids host accounts use.
pub const ID_RANGE_START: u32 = 1 << 20;
/// The number of ids a zone maps.
pub const ID_RANGE_SIZE: u32 = 65536;

/// A zone's id mapping: zone id `0..count` is host id `base..base+count`,
/// for users and groups alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    /// The host id of the zone's root.
    pub base: u32,
    /// How many ids are mapped.
    pub count: u32,
}

impl IdMap {
    /// The `n`th range (0-based) of the host's zone id space.
    pub fn nth(n: u32) -> IdMap {
        IdMap {
            base: ID_RANGE_START + n * ID_RANGE_SIZE,
            count: ID_RANGE_SIZE,
        }
    }

    /// The line written to `/proc/<pid>/uid_map` and `gid_map`.
    pub fn proc_line(&self) -> String {
        format!("0 {} {}\n", self.base, self.count)
    }
}

/// A file system from the instance's `filesystems` property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filesystem {
    /// `lofs` (a bind mount of `source`) or a file system type.
    pub fstype: String,
    /// A host path (lofs) or the file system's source.
    pub source: String,
    /// The absolute path inside the zone.
    pub target: String,
    /// Mount options (`ro`, `nodevices`...).
    pub options: Vec<String>,
}

/// A cgroup hierarchy mounted inside the zone (for an init that manages
/// cgroups itself, such as systemd).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupMount {
    /// Relative to the zone's root (`sys/fs/cgroup/memory`).
    pub target: String,
    /// `tmpfs`, `cgroup` or `cgroup2`.
    pub fstype: String,
    /// The mount's data (`memory`, `none,name=systemd`, `mode=755`).
    pub data: String,
}

/// Everything the runtime needs to boot one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSpec {
    /// The instance's uuid: also its cgroup's name.
    pub name: String,
    /// The directory that becomes the zone's `/` (the dataset's `root`).
    pub root: PathBuf,
    /// The zone's hostname.
    pub hostname: String,
    /// Its user and group id mapping.
    pub ids: IdMap,
    /// The init's argv, inside the zone.
    pub init: Vec<String>,
    /// The init's environment.
    pub env: Vec<(String, String)>,
    /// The init's working directory, inside the zone (made if missing);
    /// `/` when unset.
    #[serde(default)]
    pub workdir: Option<String>,
    /// Who the init runs as (docker's `User`): `uid`, `uid:gid`, `name` or
    /// `name:group`, names looked up in the zone's own `/etc/passwd` and
    /// `/etc/group`. Set, the init also gets the user's `HOME` unless
    /// `env` has one. Unset, the init runs as the zone's root.
    #[serde(default)]
    pub user: Option<String>,
    /// Size of `/tmp` in MiB (`tmpfs`); 0 for no tmpfs on `/tmp`.
    pub tmpfs_mib: u64,
    /// Size of `/run` in MiB.
    pub run_mib: u64,
    /// The `filesystems` property.
    pub filesystems: Vec<Filesystem>,
    /// The cgroup tree inside the zone; empty for none.
    pub cgroup_mounts: Vec<CgroupMount>,
    /// The host path of the console's terminal (bound at `/dev/console`).
    pub console: Option<PathBuf>,
}
