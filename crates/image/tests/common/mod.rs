//! Helpers for host tests: archives built in memory, a sandbox whose
//! outside is watched, what a path turned out to be, and setting a path's
//! times and mode.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FileType, Stat, Timespec, Timestamps, XattrFlags};
use tar::{Builder, EntryType, Header};
use tempfile::TempDir;

pub type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// `etc/passwd` with root's line alone.
pub const PASSWD: &[u8] = b"root:x:0:0::/root:/bin/sh\n";

/// A temporary directory holding `dest` (where archives go) and a file
/// `victim` that hostile archives aim at. Everything outside `dest` is
/// listed before and compared after.
pub struct Sandbox {
    pub dir: TempDir,
    pub dest: PathBuf,
    before: BTreeSet<PathBuf>,
}

pub const VICTIM: &[u8] = b"do not touch\n";

impl Sandbox {
    pub fn new() -> io::Result<Sandbox> {
        let dir = tempfile::Builder::new()
            .prefix("basalt-image-test-")
            .tempdir()?;
        let dest = dir.path().join("dest");
        std::fs::create_dir(&dest)?;
        std::fs::write(dir.path().join("victim"), VICTIM)?;
        let mut s = Sandbox {
            dir,
            dest,
            before: BTreeSet::new(),
        };
        s.before = s.outside()?;
        Ok(s)
    }

    pub fn victim(&self) -> PathBuf {
        self.dir.path().join("victim")
    }

    /// Every path in the sandbox but inside `dest`.
    fn outside(&self) -> io::Result<BTreeSet<PathBuf>> {
        let mut out = BTreeSet::new();
        walk(self.dir.path(), &self.dest, &mut out)?;
        Ok(out)
    }

    /// Panics if anything outside `dest` appeared, vanished or changed.
    pub fn assert_outside_untouched(&self) -> io::Result<()> {
        assert_eq!(
            self.outside()?,
            self.before,
            "something was written outside dest"
        );
        assert_eq!(
            std::fs::read(self.victim())?,
            VICTIM,
            "the victim file changed"
        );
        let st = lstat(&self.victim())?;
        assert_eq!(
            (st.st_nlink, st.st_mode & 0o7777),
            (1, 0o644),
            "the victim's inode changed"
        );
        Ok(())
    }

    pub fn at(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }
}

fn walk(dir: &Path, skip: &Path, out: &mut BTreeSet<PathBuf>) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p == skip {
            continue;
        }
        out.insert(p.clone());
        if std::fs::symlink_metadata(&p)?.is_dir() {
            walk(&p, skip, out)?;
        }
    }
    Ok(())
}

/// The paths beneath `dir`, relative to it: each directory's names in
/// order, each followed by what it holds.
pub fn tree(dir: &Path) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    tree_into(dir, "", &mut out)?;
    Ok(out)
}

fn tree_into(dir: &Path, prefix: &str, out: &mut Vec<String>) -> io::Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let rel = format!("{prefix}{name}");
        out.push(rel.clone());
        let p = dir.join(&name);
        if std::fs::symlink_metadata(&p)?.is_dir() {
            tree_into(&p, &format!("{rel}/"), out)?;
        }
    }
    Ok(())
}

pub fn lstat(p: &Path) -> io::Result<Stat> {
    Ok(rustix::fs::statat(CWD, p, AtFlags::SYMLINK_NOFOLLOW)?)
}

pub fn file_type(p: &Path) -> io::Result<FileType> {
    Ok(FileType::from_raw_mode(lstat(p)?.st_mode))
}

pub fn xattr(p: &Path, name: &str) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::lgetxattr(p, name, &mut buf[..])?;
    buf.truncate(n);
    Ok(buf)
}

pub fn set_xattr(p: &Path, name: &str, value: &[u8]) -> io::Result<()> {
    Ok(rustix::fs::lsetxattr(p, name, value, XattrFlags::empty())?)
}

/// A path's extended attributes, sorted by name.
pub fn list_xattrs(p: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut buf = vec![0u8; 65536];
    let n = rustix::fs::llistxattr(p, &mut buf[..])?;
    let mut out = Vec::new();
    for name in buf[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        out.push((name.clone(), xattr(p, &name)?));
    }
    out.sort();
    Ok(out)
}

/// Sets a path's access and modification times, not following a link.
pub fn set_times(p: &Path, secs: i64, nsecs: i64) -> io::Result<()> {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: nsecs,
    };
    let times = Timestamps {
        last_access: t,
        last_modification: t,
    };
    Ok(rustix::fs::utimensat(
        CWD,
        p,
        &times,
        AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

/// Sets a path's times to a whole second, not following a link.
pub fn touch(p: &Path, secs: i64) -> io::Result<()> {
    set_times(p, secs, 0)
}

pub fn chmod(p: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

/// An archive built in memory.
pub fn tar(build: impl FnOnce(&mut Builder<Vec<u8>>) -> io::Result<()>) -> io::Result<Vec<u8>> {
    let mut b = Builder::new(Vec::new());
    build(&mut b)?;
    b.into_inner()
}

/// A header with owner, mode and mtime.
pub fn header(kind: EntryType, mode: u32, uid: u64, gid: u64, mtime: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(gid);
    h.set_mtime(mtime);
    h.set_size(0);
    h
}

pub fn file(
    b: &mut Builder<Vec<u8>>,
    path: &str,
    data: &[u8],
    mode: u32,
    ids: (u64, u64),
) -> io::Result<()> {
    let mut h = header(EntryType::Regular, mode, ids.0, ids.1, 1_600_000_000);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, path, data)
}

pub fn dir(
    b: &mut Builder<Vec<u8>>,
    path: &str,
    mode: u32,
    ids: (u64, u64),
    mtime: u64,
) -> io::Result<()> {
    let mut h = header(EntryType::Directory, mode, ids.0, ids.1, mtime);
    b.append_data(&mut h, path, io::empty())
}

/// `etc/passwd` and `etc/motd`, as a base layer holds them.
pub fn etc_files(b: &mut Builder<Vec<u8>>) -> io::Result<()> {
    file(b, "etc/passwd", PASSWD, 0o644, (0, 0))?;
    file(b, "etc/motd", b"hello\n", 0o644, (0, 0))
}

pub fn link(b: &mut Builder<Vec<u8>>, kind: EntryType, path: &str, target: &str) -> io::Result<()> {
    let mut h = header(kind, 0o777, 0, 0, 1_600_000_000);
    b.append_link(&mut h, path, target)
}

/// An entry written byte for byte, for names the builder refuses (`..`,
/// absolute paths).
pub fn raw(
    b: &mut Builder<Vec<u8>>,
    kind: EntryType,
    name: &str,
    target: &str,
    data: &[u8],
) -> io::Result<()> {
    let mut h = header(kind, 0o644, 0, 0, 1_600_000_000);
    h.set_size(data.len() as u64);
    let bytes = h.as_mut_bytes();
    bytes[..name.len()].copy_from_slice(name.as_bytes());
    bytes[157..157 + target.len()].copy_from_slice(target.as_bytes());
    h.set_cksum();
    b.append(&h, data)
}
