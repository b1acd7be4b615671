//! Whether a path of the upper tree is unchanged from the same path of the
//! lower tree (the parent module says why the shortcut is sound).

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rustix::fs::OFlags;

use crate::archive::{ArchiveError, open_same, read_err, xattrs};

/// Bytes read at a time from each file compared.
const CHUNK: usize = 128 << 10;

/// The two buffers contents are compared in, kept for the whole diff.
pub(super) struct Buffers {
    lower: Vec<u8>,
    upper: Vec<u8>,
}

impl Default for Buffers {
    fn default() -> Self {
        Buffers {
            lower: vec![0; CHUNK],
            upper: vec![0; CHUNK],
        }
    }
}

/// Whether `upper` (listed as `um`) is the same as `lower` (listed as
/// `lm`) for a layer: the same type, and the same inode number and ctime,
/// or else the same metadata, extended attributes and contents.
pub(super) fn same(
    lower: &Path,
    lm: &Metadata,
    upper: &Path,
    um: &Metadata,
    buffers: &mut Buffers,
) -> Result<bool, ArchiveError> {
    if lm.file_type() != um.file_type() {
        return Ok(false);
    }
    if untouched(lm, um) {
        return Ok(true);
    }
    if attributes(lm) != attributes(um) {
        return Ok(false);
    }
    let ft = um.file_type();
    if ft.is_symlink() && link(lower)? != link(upper)? {
        return Ok(false);
    }
    if xattrs(lower)? != xattrs(upper)? {
        return Ok(false);
    }
    if ft.is_file() {
        return same_contents(lower, lm, upper, um, buffers);
    }
    Ok(true)
}

/// Whether `upper` lacks an extended attribute that `lower` has.
pub(super) fn drops_xattrs(lower: &Path, upper: &Path) -> Result<bool, ArchiveError> {
    let kept = xattrs(upper)?;
    let lost = xattrs(lower)?
        .into_iter()
        .any(|(name, _)| !kept.iter().any(|(k, _)| *k == name));
    Ok(lost)
}

/// The same inode number and ctime: on a snapshot, the same inode, not
/// changed since.
fn untouched(lm: &Metadata, um: &Metadata) -> bool {
    (lm.ino(), lm.ctime(), lm.ctime_nsec()) == (um.ino(), um.ctime(), um.ctime_nsec())
}

/// What a layer records of an inode besides its data, link target and
/// extended attributes: mode (with the type), owner, modification time,
/// a regular file's size and a device's numbers. A directory's size says
/// nothing of its names (those are compared one by one), and a link's is
/// its target's length.
fn attributes(m: &Metadata) -> (u32, u32, u32, i64, i64, Option<u64>, Option<u64>) {
    let ft = m.file_type();
    let size = ft.is_file().then_some(m.len());
    let rdev = (ft.is_char_device() || ft.is_block_device()).then(|| m.rdev());
    (
        m.mode(),
        m.uid(),
        m.gid(),
        m.mtime(),
        m.mtime_nsec(),
        size,
        rdev,
    )
}

fn link(path: &Path) -> Result<std::path::PathBuf, ArchiveError> {
    fs::read_link(path).map_err(read_err(path, "read the link"))
}

/// Compares two regular files of the same size, a chunk at a time.
fn same_contents(
    lower: &Path,
    lm: &Metadata,
    upper: &Path,
    um: &Metadata,
    buffers: &mut Buffers,
) -> Result<bool, ArchiveError> {
    let mut l = open_same(lower, lm, OFlags::empty())?;
    let mut u = open_same(upper, um, OFlags::empty())?;
    loop {
        let n = fill(&mut l, &mut buffers.lower).map_err(read_err(lower, "read"))?;
        let m = fill(&mut u, &mut buffers.upper).map_err(read_err(upper, "read"))?;
        if buffers.lower[..n] != buffers.upper[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn fill(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
