//! Handing an instance its cgroup: delegation to the zone's root user.
//!
//! A zone's init (systemd above all) manages its own cgroup tree: it makes
//! groups for its services, moves processes between them and, on v2,
//! enables controllers for them. A zone runs in a user namespace, so its
//! root is an ordinary uid on the host, and cgroupfs checks ordinary file
//! permissions. Delegation chowns to that uid exactly what managing a
//! subtree needs, and nothing that limits the zone:
//!
//! - the group's directory, so the zone can make and remove groups under it
//!   (the files of a group it makes are its own: the kernel gives them to
//!   the creator);
//! - `cgroup.procs` (and v1's per-thread `tasks`, v2's `cgroup.threads`), so
//!   it can move its processes between its groups; v2 checks this file on
//!   the common ancestor of both groups, which is the zone's group;
//! - v1's `cgroup.clone_children`, so its init decides whether its cpuset
//!   groups start with their parent's CPUs; v2's `cgroup.subtree_control`,
//!   so it can hand controllers down to its own groups.
//!
//! The limit files (`memory.limit_in_bytes`, `cpu.max`, `pids.max`, …) stay
//! the host's root's, whom the zone's user namespace does not map, so not
//! even the zone's root may raise its own limits; the groups it makes below
//! are bounded by them, every controller being hierarchical. Nor is v1's
//! `notify_on_release` handed over: nothing in a zone needs it, and on the
//! zone's own group it would let the zone decide whether a host program
//! (the hierarchy's release agent) runs when that group empties. The groups
//! the zone makes carry their own `notify_on_release`, which is the zone's
//! like every file there; a host that sets a release agent must treat the
//! path it is given as the zone's word (this build machine sets none).

use std::path::Path;

use nix::unistd::{Gid, Uid, chown};

use super::apply::{CgroupError, Cgroups, check_name};

/// The files of a v1 group a delegated subtree needs.
const V1_DELEGATED: [&str; 3] = ["cgroup.procs", "tasks", "cgroup.clone_children"];
/// The files of a v2 group a delegated subtree needs.
const V2_DELEGATED: [&str; 3] = ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"];

/// The files (besides the directory) handed over in a v1 or a unified
/// (`cgroup2`) hierarchy.
pub fn delegated_files(unified: bool) -> &'static [&'static str] {
    if unified {
        &V2_DELEGATED
    } else {
        &V1_DELEGATED
    }
}

fn give(path: &Path, uid: Uid, gid: Gid) -> Result<(), CgroupError> {
    chown(path, Some(uid), Some(gid)).map_err(|errno| CgroupError::Io {
        what: "chown",
        path: path.to_owned(),
        source: errno.into(),
    })
}

impl Cgroups {
    /// Delegates an instance's group, in every hierarchy, to the zone's root
    /// (`uid`, `gid` as the host sees them): the directory and the files in
    /// [`delegated_files`], never a limit (see the module documentation).
    pub fn delegate(&self, name: &str, uid: Uid, gid: Gid) -> Result<(), CgroupError> {
        check_name(name)?;
        for (h, dir) in self.zone_dirs(name) {
            give(&dir, uid, gid)?;
            for file in delegated_files(h.unified) {
                give(&dir.join(file), uid, gid)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limit_is_handed_over() {
        for unified in [false, true] {
            let files = delegated_files(unified);
            assert!(files.contains(&"cgroup.procs"));
            for f in files {
                assert!(
                    f.starts_with("cgroup.") || *f == "tasks",
                    "{f} is not a core file"
                );
            }
        }
        assert!(!delegated_files(false).contains(&"notify_on_release"));
        assert!(delegated_files(true).contains(&"cgroup.subtree_control"));
    }
}
