//! Creating one entry's file, link, node or directory in its parent.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};

use rustix::io::Errno;

use super::meta::Meta;
use super::sys::{self, Failed, Room};
use super::{ExtractError, Extractor, Kind, Unsafe, components, io_error, unsafe_entry};

/// Where an entry goes: its parent directory, its last component, and its
/// name as the archive spells it (for errors).
pub(super) struct At<'a> {
    pub parent: BorrowedFd<'a>,
    pub leaf: &'a [u8],
    /// The whole path, relative to the destination.
    pub rel: &'a [u8],
    pub name: &'a str,
}

impl Extractor {
    /// Runs `make`; if the name is taken, clears it (see [`sys::make_room`])
    /// and runs it again. `None` means an existing directory was kept. A
    /// directory removed here no longer gets its metadata at the end. In a
    /// layer, a full directory goes too, with all it holds.
    fn with_room<T>(
        &mut self,
        at: &At<'_>,
        op: &'static str,
        keep_dir: bool,
        mut make: impl FnMut() -> Result<T, Errno>,
    ) -> Result<Option<T>, ExtractError> {
        let fail = |op, errno| io_error(at.name, Failed { op, errno });
        match make() {
            Err(Errno::EXIST) => {}
            other => return other.map(Some).map_err(|e| fail(op, e)),
        }
        let whole_tree = self.layer.is_some();
        match sys::make_room(at.parent, at.leaf, keep_dir, whole_tree)
            .map_err(|e| fail("replace", e))?
        {
            Room::KeptDir => return Ok(None),
            Room::Cleared { was_dir: true } => self.forget(at.rel),
            Room::Cleared { was_dir: false } => {}
        }
        make().map(Some).map_err(|e| fail(op, e))
    }

    /// [`Extractor::with_room`] for anything but a directory, which never
    /// keeps what stood there.
    fn replace<T>(
        &mut self,
        at: &At<'_>,
        op: &'static str,
        make: impl FnMut() -> Result<T, Errno>,
    ) -> Result<T, ExtractError> {
        let made = self.with_room(at, op, false, make)?;
        made.ok_or_else(|| {
            io_error(
                at.name,
                Failed {
                    op,
                    errno: Errno::EXIST,
                },
            )
        })
    }

    /// A directory: made now, its metadata applied at the end.
    fn dir(&mut self, at: &At<'_>, meta: Meta) -> Result<(), ExtractError> {
        let made = self.with_room(at, "make directory", true, || {
            sys::make_dir(at.parent, at.leaf)
        })?;
        if made.is_none() {
            // Listed again: the last listing's metadata wins.
            self.dirs.retain(|(p, ..)| p.as_slice() != at.rel);
        }
        self.dirs.push((at.rel.to_vec(), meta, at.name.to_owned()));
        self.summary.dirs += 1;
        Ok(())
    }

    /// Makes what the entry describes at `at`.
    pub(super) fn create<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        at: &At<'_>,
        kind: Kind,
        meta: Meta,
    ) -> Result<(), ExtractError> {
        let applied = match kind {
            Kind::File => return self.file(entry, at, &meta),
            Kind::Dir => return self.dir(at, meta),
            Kind::HardLink(target) => return self.hard_link(at, &target),
            Kind::Symlink(target) => {
                self.replace(at, "make symbolic link", || {
                    sys::symlink(at.parent, at.leaf, &target)
                })?;
                self.summary.symlinks += 1;
                sys::apply_symlink(at.parent, at.leaf, &meta)
            }
            Kind::Node(file_type, dev) => {
                self.replace(at, "make device node", || {
                    sys::make_node(at.parent, at.leaf, file_type, dev)
                })?;
                self.summary.nodes += 1;
                sys::apply_node(at.parent, at.leaf, &meta)
            }
        };
        applied.map_err(|f| io_error(at.name, f))
    }

    fn file<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        at: &At<'_>,
        meta: &Meta,
    ) -> Result<(), ExtractError> {
        let fd = self.replace(at, "create", || sys::create_file(at.parent, at.leaf))?;
        let mut file = File::from(fd);
        let size = entry.size();
        let written = copy(entry, &mut file, &mut self.buf).map_err(|e| match e {
            Copy::Read(source) => self.read_error(source),
            Copy::Write(source) => ExtractError::Io {
                entry: at.name.to_owned(),
                op: "write",
                source,
            },
        })?;
        if written != size {
            let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "archive ends inside a file");
            return Err(self.read_error(eof));
        }
        sys::apply_fd(file.as_fd(), meta).map_err(|f| io_error(at.name, f))?;
        self.summary.files += 1;
        self.summary.bytes += written;
        Ok(())
    }

    /// A hard link to an earlier entry; the target is a path inside the
    /// destination, whatever it says.
    fn hard_link(&mut self, at: &At<'_>, target: &[u8]) -> Result<(), ExtractError> {
        let parts = components(target).map_err(|_| unsafe_entry(at.name, Unsafe::LinkDotDot))?;
        let Some((tleaf, tdirs)) = parts.split_last() else {
            return Err(unsafe_entry(at.name, Unsafe::LinkToRoot));
        };
        let tdir =
            sys::open_parent(self.root.as_fd(), tdirs, false).map_err(|f| io_error(at.name, f))?;
        self.replace(at, "make hard link", || {
            sys::hard_link(tdir.as_fd(), tleaf, at.parent, at.leaf)
        })?;
        self.summary.hard_links += 1;
        Ok(())
    }

    /// Applies directories' metadata, deepest last-listed first.
    pub(super) fn finish_dirs(&mut self) -> Result<(), ExtractError> {
        for (rel, meta, name) in self.dirs.iter().rev() {
            let fd = sys::open_dir_for_meta(self.root.as_fd(), rel).map_err(|errno| {
                io_error(
                    name,
                    Failed {
                        op: "open directory",
                        errno,
                    },
                )
            })?;
            sys::apply_fd(fd.as_fd(), meta).map_err(|f| io_error(name, f))?;
        }
        Ok(())
    }
}

enum Copy {
    Read(io::Error),
    Write(io::Error),
}

/// Copies an entry's data into its file through one reused buffer.
fn copy(from: &mut impl Read, to: &mut File, buf: &mut [u8]) -> Result<u64, Copy> {
    let mut total = 0u64;
    loop {
        let n = match from.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(Copy::Write)?;
        total += n as u64;
    }
}
