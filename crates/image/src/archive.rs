//! A directory tree written as a tar stream that [`crate::extract`] turns
//! back into the same tree: contents, modes (set-uid bits included),
//! numeric owners, modification times (to the second, as GNU tar's format
//! keeps them), symbolic links, hard links, devices, fifos and extended
//! attributes (PAX `SCHILY.xattr.*`, as GNU tar writes them).
//!
//! The walk never follows a symbolic link, opens each file with
//! `O_NOFOLLOW` and checks it is the inode it listed, and visits names in
//! byte order so that the same tree gives the same archive. Sockets cannot
//! be archived and are skipped (counted in the summary). The first entry is
//! `./`, carrying the top directory's own metadata.
//!
//! The walk and the writing of one entry are shared with [`crate::diff`],
//! whose layers are tar streams of this same format.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{Dir, Mode, OFlags, major, minor};
use tar::{Builder, EntryType, Header};

use crate::diff::WHITEOUT_PREFIX;
use crate::extract::XATTR_PREFIX;

/// What an archive holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveSummary {
    /// Entries written.
    pub entries: u64,
    /// Bytes of file data.
    pub bytes: u64,
    /// Sockets left out.
    pub skipped_sockets: u64,
}

/// Why a directory could not be archived.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading the tree failed.
    #[error("failed to {op} {}", .path.display())]
    Read {
        /// What was being read.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file changed into something else while it was being archived.
    #[error("file {} changed while it was archived", .path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// Writing the archive failed.
    #[error("failed to add {} to the archive", .path.display())]
    Write {
        /// The entry being written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file a layer must carry has a name that would read as a removal
    /// (`.wh.*`).
    #[error("refused to add {} to a layer: names beginning with .wh. mark removals", .path.display())]
    Reserved {
        /// The file.
        path: PathBuf,
    },
}

/// Writes the tree under `dir` to `out` as a tar stream; returns the
/// writer and what was written.
pub fn archive<W: Write>(dir: &Path, out: W) -> Result<(W, ArchiveSummary), ArchiveError> {
    let mut w = Writer::new(out);
    let meta = lstat(dir)?;
    w.add(Path::new("./"), dir, &meta)?;
    w.add_tree(dir, &meta, Path::new(""))?;
    w.finish(dir)
}

pub(crate) fn read_err(path: &Path, op: &'static str) -> impl FnOnce(io::Error) -> ArchiveError {
    let path = path.to_owned();
    move |source| ArchiveError::Read { path, op, source }
}

/// A path's metadata, not following a link.
pub(crate) fn lstat(path: &Path) -> Result<Metadata, ArchiveError> {
    fs::symlink_metadata(path).map_err(read_err(path, "read the metadata of"))
}

/// The names in the directory `dir`, in byte order. The directory is
/// opened without following a link and must be the inode `meta` lists.
pub(crate) fn list(dir: &Path, meta: &Metadata) -> Result<Vec<OsString>, ArchiveError> {
    let file = open_same(dir, meta, OFlags::DIRECTORY)?;
    let entries = Dir::new(file).map_err(|e| read_err(dir, "list")(e.into()))?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|e| read_err(dir, "list")(e.into()))?;
        let name = e.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_owned());
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Writes entries in the one format archives and layers share: PAX
/// extended attributes, numeric owners, hard links to the first path
/// written of an inode.
pub(crate) struct Writer<W: Write> {
    builder: Builder<W>,
    /// First path written of each multiply linked inode.
    links: HashMap<(u64, u64), PathBuf>,
    /// Whether names beginning with `.wh.` are refused, as in a layer.
    layer: bool,
    summary: ArchiveSummary,
}

impl<W: Write> Writer<W> {
    pub(crate) fn new(out: W) -> Self {
        Writer {
            builder: Builder::new(out),
            links: HashMap::new(),
            layer: false,
            summary: ArchiveSummary::default(),
        }
    }

    /// A writer for a layer, where a file named `.wh.*` would read as a
    /// removal and is refused.
    pub(crate) fn for_layer(out: W) -> Self {
        Writer {
            layer: true,
            ..Writer::new(out)
        }
    }

    /// Ends the stream; `top` names it in an error.
    pub(crate) fn finish(self, top: &Path) -> Result<(W, ArchiveSummary), ArchiveError> {
        let out = self
            .builder
            .into_inner()
            .map_err(|source| ArchiveError::Write {
                path: top.to_owned(),
                source,
            })?;
        Ok((out, self.summary))
    }

    /// Adds everything beneath the directory `dir` (listed as `meta`),
    /// named under `rel`, but not `dir` itself.
    pub(crate) fn add_tree(
        &mut self,
        dir: &Path,
        meta: &Metadata,
        rel: &Path,
    ) -> Result<(), ArchiveError> {
        for name in list(dir, meta)? {
            let path = dir.join(&name);
            let rel = rel.join(&name);
            let meta = lstat(&path)?;
            self.add(&rel, &path, &meta)?;
            if meta.is_dir() {
                self.add_tree(&path, &meta, &rel)?;
            }
        }
        Ok(())
    }

    /// Adds the file at `path` (listed as `meta`) as `rel`; a socket is
    /// skipped and counted.
    pub(crate) fn add(
        &mut self,
        rel: &Path,
        path: &Path,
        meta: &Metadata,
    ) -> Result<(), ArchiveError> {
        let ft = meta.file_type();
        if ft.is_socket() {
            self.summary.skipped_sockets += 1;
            return Ok(());
        }
        let reserved = rel
            .file_name()
            .is_some_and(|n| n.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()));
        if self.layer && reserved {
            return Err(ArchiveError::Reserved {
                path: path.to_owned(),
            });
        }
        let xattrs = xattrs(path)?;
        let pax = xattrs
            .iter()
            .map(|(name, value)| (format!("{XATTR_PREFIX}{name}"), value.as_slice()));
        let pax: Vec<(String, &[u8])> = pax.collect();
        let write_err = |source| ArchiveError::Write {
            path: path.to_owned(),
            source,
        };
        self.builder
            .append_pax_extensions(pax.iter().map(|(k, v)| (k.as_str(), *v)))
            .map_err(write_err)?;
        let mut h = header(meta);
        let key = (meta.dev(), meta.ino());
        let first = (!ft.is_dir() && meta.nlink() > 1)
            .then(|| self.links.get(&key).cloned())
            .flatten();
        let appended = if let Some(first) = first {
            h.set_entry_type(EntryType::Link);
            self.builder.append_link(&mut h, rel, first)
        } else {
            if !ft.is_dir() && meta.nlink() > 1 {
                self.links.insert(key, rel.to_owned());
            }
            self.append(&mut h, rel, path, meta)?
        };
        appended.map_err(write_err)?;
        self.summary.entries += 1;
        Ok(())
    }

    /// Adds an empty regular file `rel` owned by root, mode 0600, time 0,
    /// that stands for no file of the tree (a layer's whiteout); it is not
    /// counted.
    pub(crate) fn add_marker(&mut self, rel: &Path) -> Result<(), ArchiveError> {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o600);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(0);
        self.builder
            .append_data(&mut h, rel, io::empty())
            .map_err(|source| ArchiveError::Write {
                path: rel.to_owned(),
                source,
            })
    }

    /// Appends one entry that is not a hard link. The outer error is about
    /// reading the tree, the inner one about writing the archive.
    fn append(
        &mut self,
        h: &mut Header,
        rel: &Path,
        path: &Path,
        meta: &Metadata,
    ) -> Result<io::Result<()>, ArchiveError> {
        let ft = meta.file_type();
        Ok(if ft.is_file() {
            let file = open_same(path, meta, OFlags::empty())?;
            h.set_entry_type(EntryType::Regular);
            h.set_size(meta.len());
            self.summary.bytes += meta.len();
            self.builder.append_data(h, rel, file)
        } else if ft.is_dir() {
            h.set_entry_type(EntryType::Directory);
            self.builder.append_data(h, rel, io::empty())
        } else if ft.is_symlink() {
            let target = fs::read_link(path).map_err(read_err(path, "read the link"))?;
            h.set_entry_type(EntryType::Symlink);
            self.builder.append_link(h, rel, target)
        } else {
            let kind = match () {
                () if ft.is_char_device() => EntryType::Char,
                () if ft.is_block_device() => EntryType::Block,
                () => EntryType::Fifo,
            };
            h.set_entry_type(kind);
            if kind != EntryType::Fifo {
                let set = h
                    .set_device_major(major(meta.rdev()))
                    .and_then(|()| h.set_device_minor(minor(meta.rdev())));
                if let Err(source) = set {
                    return Ok(Err(source));
                }
            }
            self.builder.append_data(h, rel, io::empty())
        })
    }
}

fn header(meta: &Metadata) -> Header {
    let mut h = Header::new_gnu();
    h.set_mode(meta.mode() & 0o7777);
    h.set_uid(u64::from(meta.uid()));
    h.set_gid(u64::from(meta.gid()));
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    h.set_size(0);
    h
}

/// Opens `path` read-only with `flags` added, without following a link,
/// and checks it is the inode `meta` lists (of the same size, if a regular
/// file).
pub(crate) fn open_same(path: &Path, meta: &Metadata, flags: OFlags) -> Result<File, ArchiveError> {
    let flags = flags | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NOCTTY;
    let fd = rustix::fs::open(path, flags, Mode::empty())
        .map_err(|e| read_err(path, "open")(e.into()))?;
    let file = File::from(fd);
    let now = file
        .metadata()
        .map_err(read_err(path, "read the metadata of"))?;
    let size = |m: &Metadata| m.is_file().then_some(m.len());
    if (now.dev(), now.ino(), size(&now)) != (meta.dev(), meta.ino(), size(meta)) {
        return Err(ArchiveError::Changed {
            path: path.to_owned(),
        });
    }
    Ok(file)
}

/// A path's extended attributes (not following a link), by name.
pub(crate) fn xattrs(path: &Path) -> Result<Vec<(String, Vec<u8>)>, ArchiveError> {
    let list = grow(|buf| rustix::fs::llistxattr(path, buf))
        .map_err(|e| read_err(path, "list the extended attributes of")(e.into()))?;
    let mut out = Vec::new();
    for name in list.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let value = grow(|buf| rustix::fs::lgetxattr(path, name, buf))
            .map_err(|e| read_err(path, "read an extended attribute of")(e.into()))?;
        let name = String::from_utf8(name.to_vec()).map_err(|_| {
            let e = io::Error::new(io::ErrorKind::InvalidData, "a name is not UTF-8");
            read_err(path, "list the extended attributes of")(e)
        })?;
        out.push((name, value));
    }
    out.sort();
    Ok(out)
}

/// Calls a `*xattr` function with a buffer that grows until it fits.
fn grow(
    mut call: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> rustix::io::Result<Vec<u8>> {
    let mut size = 4096;
    loop {
        let mut buf = vec![0u8; size];
        match call(&mut buf) {
            Ok(n) => {
                buf.truncate(n);
                return Ok(buf);
            }
            Err(rustix::io::Errno::RANGE) if size < (1 << 20) => size *= 16,
            Err(e) => return Err(e),
        }
    }
}
