//! Zones on this node: the instance's life across the subsystems — the
//! spec from its configuration, the per-zone supervisor, the runtime
//! record it keeps, and vmadm's lifecycle verbs.

pub mod daemon;
pub mod docker;
mod lifecycle;
pub mod metadata;
pub mod network;
pub mod runtime;
pub mod spec;
pub mod supervisor;

pub use lifecycle::{StartOutcome, StopOutcome};

use std::os::fd::AsFd;

use basalt_model::VmUuid;
use basalt_zone::spec::{ID_RANGE_SIZE, IdMap};

use crate::instances::{Node, NodeError};
use serde_json::{Map, Value};

/// A running zone to log in to.
#[derive(Debug, Clone)]
pub struct LoginTarget {
    /// The instance.
    pub uuid: VmUuid,
    /// Its init.
    pub init: runtime::ProcId,
}

impl LoginTarget {
    /// Moves the calling (single-threaded) process into the zone: its
    /// cgroups, its namespaces, its root user.
    pub fn join(&self) -> Result<(), NodeError> {
        let fail = |e: &dyn std::fmt::Display| NodeError::Lifecycle(e.to_string());
        let init = lifecycle::pidfd(&self.init)
            .ok_or_else(|| NodeError::Lifecycle("the zone stopped".into()))?;
        let cgroups = supervisor::cgroups().map_err(|e| fail(&e))?;
        cgroups
            .attach(self.uuid.as_str(), std::process::id())
            .map_err(|e| fail(&e))?;
        basalt_zone::enter::join(init.as_fd(), self.init.pid).map_err(|e| fail(&e))?;
        basalt_zone::boot::confine().map_err(|e| fail(&e))
    }
}

impl Node {
    /// The zone `uuid` if it runs (zlogin's check).
    pub fn login_target(&self, uuid: &str) -> Result<LoginTarget, NodeError> {
        let id = crate::instances::parse_uuid(uuid)?;
        let stored = self
            .store()
            .read(&id)?
            .ok_or_else(|| NodeError::NotFound(uuid.to_owned()))?;
        match self.live_record(&id) {
            Some(runtime::Record {
                phase: runtime::Phase::Running,
                init: Some(init),
                ..
            }) => Ok(LoginTarget { uuid: id, init }),
            _ => Err(NodeError::Lifecycle(format!(
                "login allowed only to running zones ({uuid} is '{}').",
                self.state_of(&stored)
            ))),
        }
    }
}

/// Writes `contents` to `rel` (such as `etc/hostname`) inside a zone's
/// root, never leaving it: the path is resolved as if the root were `/`,
/// so a symbolic link the zone made cannot point the write at the host.
pub fn write_guest_file(root: &std::path::Path, rel: &str, contents: &str) -> std::io::Result<()> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let dir = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let fd = rustix::fs::openat2(
        &dir,
        rel,
        // Never blocks on a fifo the zone put there; only a regular file
        // is written (checked before it is truncated).
        OFlags::WRONLY | OFlags::CREATE | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK,
        Mode::from_raw_mode(0o644),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?;
    if !rustix::fs::FileType::from_raw_mode(rustix::fs::fstat(&fd)?.st_mode).is_file() {
        return Err(std::io::Error::other(format!(
            "{rel} is not a regular file"
        )));
    }
    rustix::fs::ftruncate(&fd, 0)?;
    let mut file = std::fs::File::from(fd);
    std::io::Write::write_all(&mut file, contents.as_bytes())
}

/// The configuration key holding the host uid/gid of a zone's root (its
/// range is [`ID_RANGE_SIZE`] ids from there). Kept with the instance's
/// configuration, not printed by `vmadm get`.
pub const ID_KEY: &str = "zone_id_base";

/// The id range recorded in a configuration.
pub fn id_map(vm: &Map<String, Value>) -> Option<IdMap> {
    let base = u32::try_from(vm.get(ID_KEY)?.as_u64()?).ok()?;
    Some(IdMap {
        base,
        count: ID_RANGE_SIZE,
    })
}

/// The lowest free range, given the configurations of the node's other
/// instances.
pub fn free_id_map<'a>(others: impl IntoIterator<Item = &'a Map<String, Value>>) -> IdMap {
    let used: std::collections::BTreeSet<u32> = others
        .into_iter()
        .filter_map(id_map)
        .map(|m| m.base)
        .collect();
    (0..)
        .map(IdMap::nth)
        .find(|m| !used.contains(&m.base))
        .expect("fewer zones than id ranges")
}

#[cfg(test)]
mod tests {
    use super::*;
    use basalt_zone::spec::ID_RANGE_START;
    use serde_json::json;

    #[test]
    fn ranges_are_distinct_and_reused_once_free() {
        let a = json!({ID_KEY: ID_RANGE_START});
        let c = json!({ID_KEY: ID_RANGE_START + 2 * ID_RANGE_SIZE});
        let others = [a.as_object().unwrap(), c.as_object().unwrap()];
        assert_eq!(free_id_map(others).base, ID_RANGE_START + ID_RANGE_SIZE);
        assert_eq!(free_id_map([]).base, ID_RANGE_START);
        assert_eq!(id_map(a.as_object().unwrap()).unwrap().count, 65536);
    }
}
