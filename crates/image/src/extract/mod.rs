//! Unpacking a tar stream into a directory so that nothing is ever written
//! outside it, whatever the archive says.
//!
//! How it stays inside:
//! - a path is split into components before anything is touched: `..`
//!   is refused, a leading `/` dropped (`/etc/x` lands in `<dest>/etc/x`);
//! - every directory an entry goes into is opened with `openat2` relative
//!   to the destination's descriptor, with `RESOLVE_BENEATH |
//!   RESOLVE_NO_MAGICLINKS`: a symbolic link that the archive made earlier
//!   may be walked through only while it stays beneath the destination
//!   (`a -> /` followed by `a/etc/passwd` fails);
//! - the last component is created with calls that never follow it
//!   (`O_CREAT | O_EXCL | O_NOFOLLOW`, `mkdirat`, `symlinkat`, `mknodat`,
//!   `linkat` without `AT_SYMLINK_FOLLOW`); what already stands at that name
//!   is removed first (a non-empty directory is not);
//! - a hard link's target is a path inside the destination, found the same
//!   way, so `/etc/shadow` means `<dest>/etc/shadow`.
//!
//! What it keeps: regular files (their data, mode with set-uid/set-gid/
//! sticky bits), directories, symbolic links, hard links, character and
//! block devices, fifos; numeric owners; modification times (PAX `mtime`
//! to the nanosecond); PAX `SCHILY.xattr.*` extended attributes, file
//! capabilities (`security.capability`) included; POSIX ACLs (GNU tar's
//! `SCHILY.acl.*` records) whose entries give numeric ids; an ACL that names
//! users or groups is left out and counted in [`Summary::skipped_acls`]. Owner comes before mode
//! and attributes, because a change of owner clears set-uid bits and
//! capabilities. A directory's metadata is applied after everything else,
//! so that creating its contents does not change its time.
//!
//! [`extract_layer`] applies a stream the same way over a tree that earlier
//! layers made, with the OCI layout's whiteouts (see the `layer` module):
//! removal follows the same rules, relative to directories opened beneath
//! the destination, never through a symbolic link.
//!
//! The caller extracts into a fresh directory it made, as root, and
//! removes that directory if extraction (or the image file's check) fails:
//! a failed extraction leaves what it had written so far. Nothing is
//! synced per file: the caller syncs the file system once, if it must.

mod acl;
mod create;
mod layer;
mod meta;
mod path;
mod records;
mod sys;

use std::io::{self, BufReader, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, makedev};
use rustix::io::Errno;
use tar::EntryType;

pub use meta::{Meta, XATTR_PREFIX, pax_time};
pub use path::{Unsafe, components};
pub use records::parse_pax;

use records::{Described, Pending, Record};

use sys::Failed;

/// What an extraction wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Regular files.
    pub files: u64,
    /// Directories listed by the archive.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Hard links.
    pub hard_links: u64,
    /// Device nodes and fifos.
    pub nodes: u64,
    /// Bytes of file data.
    pub bytes: u64,
    /// ACLs left out because they name users or groups instead of giving
    /// ids (the caller logs a warning).
    pub skipped_acls: u64,
    /// Whiteouts applied by a layer, plain and opaque, whether or not
    /// anything was there to remove.
    pub whiteouts: u64,
}

impl Summary {
    /// Adds another extraction's counts (a layer's to an image's).
    pub fn add(&mut self, other: &Summary) {
        self.files += other.files;
        self.dirs += other.dirs;
        self.symlinks += other.symlinks;
        self.hard_links += other.hard_links;
        self.nodes += other.nodes;
        self.bytes += other.bytes;
        self.skipped_acls += other.skipped_acls;
        self.whiteouts += other.whiteouts;
    }
}

/// Why an extraction stopped. Each error about an entry names it as the
/// archive spells it.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The destination cannot be opened as a directory.
    #[error("failed to open destination directory {}", .dest.display())]
    Destination {
        /// The destination.
        dest: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The archive stream cannot be read or parsed.
    #[error("failed to read the archive{}", after_entry(.after))]
    Read {
        /// The last entry read whole, if any.
        after: Option<String>,
        /// The cause (it may carry the image file's own error).
        #[source]
        source: io::Error,
    },
    /// An entry would write outside the destination.
    #[error("refused archive entry {entry}: {reason}")]
    Unsafe {
        /// The entry.
        entry: String,
        /// Why.
        reason: Unsafe,
    },
    /// An entry of a kind basalt does not unpack (GNU volume headers,
    /// multi-volume continuations, ...).
    #[error("unsupported archive entry {entry}: type {kind:?}")]
    Unsupported {
        /// The entry.
        entry: String,
        /// Its tar type flag.
        kind: char,
    },
    /// An entry whose header cannot be used.
    #[error("invalid archive entry {entry}: {reason}")]
    Invalid {
        /// The entry.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file system operation failed.
    #[error("failed to {op} {entry}")]
    Io {
        /// The entry.
        entry: String,
        /// What was being done.
        op: &'static str,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn after_entry(after: &Option<String>) -> String {
    after
        .as_ref()
        .map(|a| format!(" after entry {a}"))
        .unwrap_or_default()
}

/// Unpacks the tar stream `archive` into the existing directory `dest`.
pub fn extract<R: Read>(archive: R, dest: &Path) -> Result<Summary, ExtractError> {
    run(archive, dest, false)
}

/// Applies the tar stream `archive` as a layer over the tree in `dest`:
/// as [`extract`], but a `.wh.<name>` entry removes `<name>` instead of
/// being written, `.wh..wh..opq` removes what lower layers put in its
/// directory (see [`Summary::whiteouts`]), and a non-directory replaces a
/// lower directory with all it holds. A whiteout never removes what this
/// layer itself wrote. A failed layer leaves the tree half changed: the
/// caller throws the whole destination away.
pub fn extract_layer<R: Read>(archive: R, dest: &Path) -> Result<Summary, ExtractError> {
    run(archive, dest, true)
}

fn run<R: Read>(archive: R, dest: &Path, layer: bool) -> Result<Summary, ExtractError> {
    let root = rustix::fs::open(
        dest,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| ExtractError::Destination {
        dest: dest.to_owned(),
        source: e.into(),
    })?;
    let mut x = Extractor {
        root,
        cache: None,
        dirs: Vec::new(),
        buf: vec![0u8; crate::file::BUF_SIZE],
        summary: Summary::default(),
        last: None,
        layer: layer.then(layer::Written::default),
    };
    let mut archive = tar::Archive::new(BufReader::with_capacity(256 << 10, archive));
    let entries = archive.entries().map_err(|source| x.read_error(source))?;
    let mut pending = Pending::default();
    for entry in entries.raw(true) {
        let mut entry = entry.map_err(|source| x.read_error(source))?;
        match record_kind(entry.header().entry_type()) {
            Some(record) => {
                let data = read_record(&mut entry).map_err(|source| x.read_error(source))?;
                let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                pending
                    .absorb(record, data)
                    .map_err(|reason| ExtractError::Invalid {
                        entry: name,
                        reason,
                    })?;
            }
            None => {
                let link = entry.header().link_name_bytes();
                let member = pending.describe(&entry.path_bytes(), link.as_deref());
                x.entry(&mut entry, member)?;
            }
        }
    }
    if !pending.is_empty() {
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "records describe no member");
        return Err(x.read_error(eof));
    }
    x.finish_dirs()?;
    Ok(x.summary)
}

fn record_kind(t: EntryType) -> Option<Record> {
    match t {
        EntryType::GNULongName => Some(Record::LongName),
        EntryType::GNULongLink => Some(Record::LongLink),
        EntryType::XHeader => Some(Record::Pax),
        EntryType::XGlobalHeader => Some(Record::GlobalPax),
        _ => None,
    }
}

/// An extension record's data, refusing records too large to be names or
/// attributes.
fn read_record<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Vec<u8>> {
    if entry.size() > records::MAX_RECORD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "an extension record is larger than 16 MiB",
        ));
    }
    let mut data = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry.read_to_end(&mut data)?;
    Ok(data)
}

struct Extractor {
    root: OwnedFd,
    /// The directory the previous entry went into, by path.
    cache: Option<(Vec<u8>, OwnedFd)>,
    /// Directories whose metadata is applied at the end.
    dirs: Vec<(Vec<u8>, Meta, String)>,
    buf: Vec<u8>,
    summary: Summary,
    last: Option<String>,
    /// When applying a layer, the paths it wrote.
    layer: Option<layer::Written>,
}

enum Kind {
    File,
    Dir,
    Symlink(Vec<u8>),
    HardLink(Vec<u8>),
    Node(FileType, u64),
}

impl Extractor {
    fn read_error(&self, source: io::Error) -> ExtractError {
        ExtractError::Read {
            after: self.last.clone(),
            source,
        }
    }

    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        member: Described,
    ) -> Result<(), ExtractError> {
        let name = String::from_utf8_lossy(&member.path).into_owned();
        if self.layer.is_some() && self.whiteout(&member.path, &name)? {
            self.last = Some(name);
            return Ok(());
        }
        let kind = kind(entry, &member, &name)?;
        let parts = components(&member.path).map_err(|reason| unsafe_entry(&name, reason))?;
        let meta =
            Meta::new(entry.header(), &member.pax).map_err(|reason| ExtractError::Invalid {
                entry: name.clone(),
                reason,
            })?;
        self.summary.skipped_acls += meta.skipped_acls;
        match parts.split_last() {
            None => self.root_entry(kind, meta, &name)?,
            Some((leaf, dirs)) => self.place(entry, dirs, leaf, kind, meta, &name)?,
        }
        if let Some(written) = &mut self.layer {
            written.insert(path::join(&parts));
        }
        self.last = Some(name);
        Ok(())
    }

    /// An entry naming the destination itself (`./`): a directory lends it
    /// its metadata; anything else is refused.
    fn root_entry(&mut self, kind: Kind, meta: Meta, name: &str) -> Result<(), ExtractError> {
        match kind {
            Kind::Dir => {
                self.dirs.push((Vec::new(), meta, name.to_owned()));
                Ok(())
            }
            _ => Err(unsafe_entry(name, Unsafe::ReplacesRoot)),
        }
    }

    fn place<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        dirs: &[&[u8]],
        leaf: &[u8],
        kind: Kind,
        meta: Meta,
        name: &str,
    ) -> Result<(), ExtractError> {
        // The cache holds the parent of the previous entry. An entry only
        // ever removes its own leaf, never its parent, so the cached
        // descriptor stays the directory its path names.
        let key = path::join(dirs);
        let rel = path::join(&[&key[..], leaf][usize::from(key.is_empty())..]);
        let parent = match self.cache.take() {
            Some((k, fd)) if k == key => fd,
            _ => sys::open_parent(self.root.as_fd(), dirs, true).map_err(|f| io_error(name, f))?,
        };
        let at = create::At {
            parent: parent.as_fd(),
            leaf,
            rel: &rel,
            name,
        };
        let result = self.create(entry, &at, kind, meta);
        self.cache = Some((key, parent));
        result
    }
}

/// What a member makes. Sparse members (GNU `S`, PAX `GNU.sparse.*`) are
/// refused: their data is not the file's, and basalt's archives and image
/// builders never make them. A PAX `size` must agree with the header's.
fn kind<R: Read>(
    entry: &tar::Entry<'_, R>,
    member: &Described,
    name: &str,
) -> Result<Kind, ExtractError> {
    let h = entry.header();
    let unsupported = |kind: u8| ExtractError::Unsupported {
        entry: name.to_owned(),
        kind: char::from(kind),
    };
    if member
        .pax
        .iter()
        .any(|(k, _)| k.starts_with(b"GNU.sparse."))
    {
        return Err(unsupported(b'S'));
    }
    if let Some((_, size)) = member.pax.iter().rev().find(|(k, _)| k == b"size")
        && size.as_slice() != entry.size().to_string().as_bytes()
    {
        return Err(invalid(name, "its PAX size differs from its header's"));
    }
    let link = || {
        member
            .link
            .clone()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| invalid(name, "it has no link target"))
    };
    let dev = |t: FileType| -> Result<Kind, ExtractError> {
        let major = h.device_major().ok().flatten();
        let minor = h.device_minor().ok().flatten();
        match (major, minor) {
            (Some(ma), Some(mi)) => Ok(Kind::Node(t, makedev(ma, mi))),
            _ => Err(invalid(name, "its device numbers cannot be read")),
        }
    };
    Ok(match h.entry_type() {
        EntryType::Regular | EntryType::Continuous => Kind::File,
        EntryType::Directory => Kind::Dir,
        EntryType::Symlink => Kind::Symlink(link()?),
        EntryType::Link => Kind::HardLink(link()?),
        EntryType::Char => dev(FileType::CharacterDevice)?,
        EntryType::Block => dev(FileType::BlockDevice)?,
        EntryType::Fifo => Kind::Node(FileType::Fifo, 0),
        other => return Err(unsupported(other.as_byte())),
    })
}

fn invalid(name: &str, reason: &str) -> ExtractError {
    ExtractError::Invalid {
        entry: name.to_owned(),
        reason: reason.to_owned(),
    }
}

fn unsafe_entry(name: &str, reason: Unsafe) -> ExtractError {
    ExtractError::Unsafe {
        entry: name.to_owned(),
        reason,
    }
}

/// A failed syscall as the entry's error; leaving the destination through
/// a symbolic link (`EXDEV` from `RESOLVE_BENEATH`) is refused as unsafe.
fn io_error(name: &str, f: Failed) -> ExtractError {
    match f.errno {
        Errno::XDEV => unsafe_entry(name, Unsafe::Escapes),
        errno => ExtractError::Io {
            entry: name.to_owned(),
            op: f.op,
            source: errno.into(),
        },
    }
}
