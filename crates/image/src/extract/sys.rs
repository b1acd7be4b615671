//! Every syscall extraction makes. Each is relative to a directory file
//! descriptor that was itself opened beneath the destination, resolves with
//! `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS` when it walks a path, and never
//! follows a symbolic link in the last component.
//!
//! Two operations have no such call on Linux: changing the mode of a device
//! node and setting extended attributes on a symbolic link or device. Those
//! go through `/proc/self/fd/<fd>` of a descriptor opened (`O_PATH`,
//! `O_NOFOLLOW`) on the very inode, as glibc's `fchmodat` does.
//!
//! Removing a tree (a layer's whiteouts) descends through directories
//! opened `O_NOFOLLOW` one level at a time and unlinks relative to them: a
//! symbolic link inside is removed, never followed.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use rustix::fs::{
    self, AtFlags, Dev, Dir, FileType, Gid, Mode, OFlags, ResolveFlags, Timestamps, Uid, XattrFlags,
};
use rustix::io::Errno;

use super::meta::Meta;
use super::path::join;

/// Resolution rules for every path walk: stay beneath the directory, no
/// `/proc` magic links.
const BENEATH: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_MAGICLINKS);

/// A failed syscall: what it was doing and the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    /// What failed, as in "failed to <op> <entry>".
    pub op: &'static str,
    /// The error.
    pub errno: Errno,
}

fn at(op: &'static str) -> impl Fn(Errno) -> Failed + Copy {
    move |errno| Failed { op, errno }
}

fn dot(rel: &[u8]) -> &[u8] {
    if rel.is_empty() { b"." } else { rel }
}

/// Opens a directory to create things in (`O_PATH`).
pub fn open_dir(root: BorrowedFd<'_>, rel: &[u8]) -> Result<OwnedFd, Errno> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    fs::openat2(root, dot(rel), flags, Mode::empty(), BENEATH)
}

/// Opens a directory to change its metadata; never a symbolic link.
pub fn open_dir_for_meta(root: BorrowedFd<'_>, rel: &[u8]) -> Result<OwnedFd, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    fs::openat2(root, dot(rel), flags, Mode::empty(), BENEATH)
}

/// Opens the directory `parts` beneath `root` to create an entry in,
/// making the directories the archive implies but does not list (mode
/// 0755 whatever the umask, owned by the extracting user), unless
/// `create` is false.
pub fn open_parent(root: BorrowedFd<'_>, parts: &[&[u8]], create: bool) -> Result<OwnedFd, Failed> {
    let walk = at("open the directory of");
    match open_dir(root, &join(parts)) {
        Err(Errno::NOENT) if create => {}
        other => return other.map_err(walk),
    }
    let mut prev =
        fs::openat(root, ".", OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).map_err(walk)?;
    for i in 1..=parts.len() {
        prev = match open_dir(root, &join(&parts[..i])) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => {
                make_implicit_dir(prev.as_fd(), parts[i - 1]).map_err(at("make a directory for"))?
            }
            Err(e) => return Err(walk(e)),
        };
    }
    Ok(prev)
}

fn make_implicit_dir(parent: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
    fs::mkdirat(parent, name, Mode::from_raw_mode(0o755))?;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = fs::openat2(parent, name, flags, Mode::empty(), BENEATH)?;
    fs::fchmod(&fd, Mode::from_raw_mode(0o755))?;
    Ok(fd)
}

/// Makes a directory listed by the archive; its metadata comes at the end.
pub fn make_dir(parent: BorrowedFd<'_>, name: &[u8]) -> Result<(), Errno> {
    fs::mkdirat(parent, name, Mode::from_raw_mode(0o700))
}

/// Creates a new regular file for writing; fails if the name exists.
pub fn create_file(parent: BorrowedFd<'_>, name: &[u8]) -> Result<OwnedFd, Errno> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    fs::openat2(parent, name, flags, Mode::from_raw_mode(0o600), BENEATH)
}

/// Creates a symbolic link (its target is only stored, never resolved).
pub fn symlink(parent: BorrowedFd<'_>, name: &[u8], target: &[u8]) -> Result<(), Errno> {
    fs::symlinkat(target, parent, name)
}

/// Creates a hard link to an existing file (a link to a symbolic link
/// links the link itself).
pub fn hard_link(
    target_dir: BorrowedFd<'_>,
    target: &[u8],
    parent: BorrowedFd<'_>,
    name: &[u8],
) -> Result<(), Errno> {
    fs::linkat(target_dir, target, parent, name, AtFlags::empty())
}

/// Creates a device node or fifo.
pub fn make_node(
    parent: BorrowedFd<'_>,
    name: &[u8],
    kind: FileType,
    dev: Dev,
) -> Result<(), Errno> {
    fs::mknodat(parent, name, kind, Mode::from_raw_mode(0o600), dev)
}

/// What [`make_room`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Room {
    /// A directory stands there and was kept.
    KeptDir,
    /// The name is free now; `was_dir` if a directory was removed.
    Cleared {
        /// Whether the removed thing was a directory.
        was_dir: bool,
    },
}

/// Whatever is at `name` is removed so an entry can take its place: a
/// non-directory is unlinked, an empty directory removed (a full one is
/// not, unless `whole_tree`: a layer's entry replaces a lower layer's
/// directory with all it holds), unless `keep_dir` (a directory entry over
/// a directory keeps it).
pub fn make_room(
    parent: BorrowedFd<'_>,
    name: &[u8],
    keep_dir: bool,
    whole_tree: bool,
) -> Result<Room, Errno> {
    let st = fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
    match (is_dir, keep_dir) {
        (true, true) => return Ok(Room::KeptDir),
        (true, false) if whole_tree => {
            remove_all(parent, name)?;
        }
        (true, false) => fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?,
        (false, _) => fs::unlinkat(parent, name, AtFlags::empty())?,
    }
    Ok(Room::Cleared { was_dir: is_dir })
}

/// Opens a directory to list and remove its entries. The last component
/// is never a symbolic link; the rest resolves beneath `parent`.
pub fn open_dir_to_list(parent: BorrowedFd<'_>, rel: &[u8]) -> Result<Dir, Errno> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = fs::openat2(parent, dot(rel), flags, Mode::empty(), BENEATH)?;
    Dir::new(fd)
}

/// Removes `name` in `parent`, whatever it is: a directory goes with
/// everything beneath it, a symbolic link is removed, not followed.
/// `false` when nothing was there.
pub fn remove_all(parent: BorrowedFd<'_>, name: &[u8]) -> Result<bool, Errno> {
    let st = match fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Err(Errno::NOENT) => return Ok(false),
        other => other?,
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        prune(open_dir_to_list(parent, name)?, &mut Vec::new(), &|_| false)?;
        fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
    } else {
        fs::unlinkat(parent, name, AtFlags::empty())?;
    }
    Ok(true)
}

/// Removes every entry beneath the open directory `dir` whose path (`rel`
/// joined with its name, `rel` being the directory's own path) `keep`
/// refuses; the directories it keeps are pruned the same way. One
/// descriptor stays open per level of depth.
pub fn prune(mut dir: Dir, rel: &mut Vec<u8>, keep: &dyn Fn(&[u8]) -> bool) -> Result<(), Errno> {
    let names = names(&mut dir)?;
    let fd = dir.fd()?;
    for name in names {
        let len = rel.len();
        if len > 0 {
            rel.push(b'/');
        }
        rel.extend_from_slice(&name);
        let done = if keep(rel) {
            let st = fs::statat(fd, &name[..], AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                prune(open_dir_to_list(fd, &name)?, rel, keep)
            } else {
                Ok(())
            }
        } else {
            remove_all(fd, &name).map(drop)
        };
        rel.truncate(len);
        done?;
    }
    Ok(())
}

/// A directory's entry names, all read before any is removed.
fn names(dir: &mut Dir) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out = Vec::new();
    while let Some(entry) = dir.read() {
        let name = entry?.file_name().to_bytes().to_vec();
        if name != b"." && name != b".." {
            out.push(name);
        }
    }
    Ok(out)
}

fn ids(meta: &Meta) -> (Option<Uid>, Option<Gid>) {
    (Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)))
}

fn times(meta: &Meta) -> Timestamps {
    Timestamps {
        last_access: meta.atime,
        last_modification: meta.mtime,
    }
}

/// Owner, then mode (a change of owner clears set-uid bits), then extended
/// attributes (a change of owner clears `security.capability`), then times,
/// on an open regular file or directory.
pub fn apply_fd(fd: BorrowedFd<'_>, meta: &Meta) -> Result<(), Failed> {
    let (uid, gid) = ids(meta);
    fs::fchown(fd, uid, gid).map_err(at("set the owner of"))?;
    fs::fchmod(fd, Mode::from_raw_mode(meta.mode)).map_err(at("set the mode of"))?;
    for (name, value) in &meta.xattrs {
        fs::fsetxattr(fd, &name[..], value, XattrFlags::empty())
            .map_err(at("set an extended attribute of"))?;
    }
    fs::futimens(fd, &times(meta)).map_err(at("set the times of"))
}

/// The same for a symbolic link, which has no mode of its own.
pub fn apply_symlink(parent: BorrowedFd<'_>, name: &[u8], meta: &Meta) -> Result<(), Failed> {
    let (uid, gid) = ids(meta);
    fs::chownat(parent, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(at("set the owner of"))?;
    if !meta.xattrs.is_empty() {
        let path = proc_path(parent, Some(name));
        for (xname, value) in &meta.xattrs {
            fs::lsetxattr(&path, &xname[..], value, XattrFlags::empty())
                .map_err(at("set an extended attribute of"))?;
        }
    }
    fs::utimensat(parent, name, &times(meta), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(at("set the times of"))
}

/// The same for a device node or fifo, which must not be opened.
pub fn apply_node(parent: BorrowedFd<'_>, name: &[u8], meta: &Meta) -> Result<(), Failed> {
    let (uid, gid) = ids(meta);
    fs::chownat(parent, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(at("set the owner of"))?;
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let node = fs::openat2(
        parent,
        name,
        flags,
        Mode::empty(),
        BENEATH | ResolveFlags::NO_SYMLINKS,
    )
    .map_err(at("open"))?;
    let path = proc_path(node.as_fd(), None);
    fs::chmod(&path, Mode::from_raw_mode(meta.mode)).map_err(at("set the mode of"))?;
    for (xname, value) in &meta.xattrs {
        fs::setxattr(&path, &xname[..], value, XattrFlags::empty())
            .map_err(at("set an extended attribute of"))?;
    }
    fs::utimensat(parent, name, &times(meta), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(at("set the times of"))
}

/// `/proc/self/fd/<fd>`, or `/proc/self/fd/<fd>/<name>`.
fn proc_path(fd: BorrowedFd<'_>, name: Option<&[u8]>) -> Vec<u8> {
    let mut p = format!("/proc/self/fd/{}", fd.as_raw_fd()).into_bytes();
    if let Some(name) = name {
        p.push(b'/');
        p.extend_from_slice(name);
    }
    p
}
