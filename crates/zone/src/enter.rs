//! Joining a running zone (zlogin): the calling process moves into the
//! namespaces of the zone's init and becomes the zone's root. The pid
//! namespace applies to the children it starts afterwards, so the caller
//! runs the command as a child. The caller must be single-threaded (the
//! kernel refuses a user namespace switch otherwise) and have joined the
//! zone's cgroups first.

use std::fs::File;
use std::io;

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

/// The namespaces joined, in the order they are joined: the user namespace
/// first, which gives the capabilities the others need.
pub const NAMESPACES: [(&str, CloneFlags); 7] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("mnt", CloneFlags::CLONE_NEWNS),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("pid", CloneFlags::CLONE_NEWPID),
];

/// Joins every namespace of the process `pid` (the zone's init) and
/// becomes root of its user namespace.
pub fn join(pid: i32) -> Result<(), EnterError> {
    let err = |what: String| move |source: io::Error| EnterError { what, source };
    // Open them all first: once in the zone's mount namespace, the host's
    // /proc is out of reach.
    let mut fds = Vec::new();
    for (name, flag) in NAMESPACES {
        let path = format!("/proc/{pid}/ns/{name}");
        let f = File::open(&path).map_err(err(path))?;
        fds.push((name, flag, f));
    }
    for (name, flag, f) in fds {
        nix::sched::setns(&f, flag).map_err(|e| err(format!("{name} namespace"))(e.into()))?;
    }
    let g = Gid::from_raw(0);
    nix::unistd::setresgid(g, g, g).map_err(|e| err("root group".into())(e.into()))?;
    nix::unistd::setgroups(&[]).map_err(|e| err("groups".into())(e.into()))?;
    let u = Uid::from_raw(0);
    nix::unistd::setresuid(u, u, u).map_err(|e| err("root user".into())(e.into()))?;
    std::env::set_current_dir("/").map_err(err("/".into()))?;
    Ok(())
}
