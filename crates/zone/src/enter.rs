//! Joining a running zone (zlogin): the calling process moves into the
//! namespaces of the zone's init and becomes the zone's root. The pid
//! namespace applies to the children it starts afterwards, so the caller
//! runs the command as a child. The caller must be single-threaded (the
//! kernel refuses a user namespace switch otherwise) and have joined the
//! zone's cgroups first.

use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::MetadataExt;

use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};

/// A failure to join a zone.
#[derive(Debug, thiserror::Error)]
#[error("cannot enter the zone ({what}): {source}")]
pub struct EnterError {
    what: String,
    #[source]
    source: io::Error,
}

/// The namespaces joined (all in one `setns` on a pidfd).
pub const NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("pid", CloneFlags::CLONE_NEWPID),
];

/// Joins every namespace of the process `pidfd` refers to (the zone's
/// init) at once, and becomes root of its user namespace. A pidfd names
/// one process for good: a reused pid cannot send the caller elsewhere.
/// Refuses a process in the caller's own user namespace (not a zone).
pub fn join(pidfd: BorrowedFd<'_>, pid: i32) -> Result<(), EnterError> {
    let err = |what: String| move |source: io::Error| EnterError { what, source };
    let own = std::fs::metadata("/proc/self/ns/user").map_err(err("my user namespace".into()))?;
    let theirs = std::fs::metadata(format!("/proc/{pid}/ns/user"))
        .map_err(err("the zone's user namespace".into()))?;
    if (own.dev(), own.ino()) == (theirs.dev(), theirs.ino()) {
        return Err(EnterError {
            what: "user namespace".into(),
            source: io::Error::other("the process is not in a zone"),
        });
    }
    let all = NAMESPACES
        .iter()
        .fold(CloneFlags::empty(), |a, (_, f)| a | *f);
    nix::sched::setns(pidfd, all).map_err(|e| err("namespaces".into())(e.into()))?;
    let g = Gid::from_raw(0);
    nix::unistd::setresgid(g, g, g).map_err(|e| err("root group".into())(e.into()))?;
    nix::unistd::setgroups(&[]).map_err(|e| err("groups".into())(e.into()))?;
    let u = Uid::from_raw(0);
    nix::unistd::setresuid(u, u, u).map_err(|e| err("root user".into())(e.into()))?;
    std::env::set_current_dir("/").map_err(err("/".into()))?;
    Ok(())
}
