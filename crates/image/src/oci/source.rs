//! Where an image's files are: a directory, or a tar archive read in place.
//!
//! A directory's files are opened relative to its descriptor with
//! `openat2` and `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`: no name leads
//! out of it, whatever links it holds. An archive is indexed once (each
//! member's name, data offset and size; links resolved by name inside the
//! archive) and its files are read with positioned reads on the one open
//! file: nothing is unpacked, nothing on disk is looked up by an archive's
//! name. Names are cleaned the same way for both (`.` and empty
//! components dropped, `..` refused).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use tar::EntryType;

use super::OciError;

/// How many links a name may go through in an archive.
const MAX_HOPS: usize = 16;

/// An image's files.
#[derive(Debug)]
pub(super) enum Source {
    /// A directory (an OCI layout).
    Dir {
        /// As given, for messages.
        path: PathBuf,
        /// Opened `O_PATH`.
        root: OwnedFd,
    },
    /// A tar archive.
    Archive {
        /// As given, for messages.
        path: PathBuf,
        file: File,
        /// Members by cleaned name.
        members: HashMap<String, Member>,
    },
}

/// An archive member basalt can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Member {
    /// A regular file's data.
    File { offset: u64, size: u64 },
    /// A symbolic or hard link, by the cleaned name it leads to.
    Link(String),
}

/// A file of the image, ready to read.
#[derive(Debug)]
pub(super) struct Blob<'a> {
    file: Held<'a>,
    offset: u64,
    size: u64,
}

#[derive(Debug)]
enum Held<'a> {
    Own(File),
    Shared(&'a File),
}

impl Blob<'_> {
    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Its bytes.
    pub fn reader(&self) -> Section<'_> {
        let file = match &self.file {
            Held::Own(f) => f,
            Held::Shared(f) => f,
        };
        Section {
            file,
            pos: self.offset,
            end: self.offset + self.size,
        }
    }
}

/// A range of a file, read with positioned reads (so one archive serves
/// any number of readers).
#[derive(Debug)]
pub(super) struct Section<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Section<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.pos).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than it was",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// A name's components, `.` and empty ones dropped; `None` if one is `..`
/// or nothing is left.
pub(super) fn clean(name: &str) -> Option<String> {
    let mut out = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => out.push(p),
        }
    }
    (!out.is_empty()).then(|| out.join("/"))
}

/// Where the link `target`, found in the directory `dir` of an archive,
/// leads, by name: `..` goes up (never above the archive's top), a leading
/// `/` starts from the top.
pub(super) fn resolve(dir: &str, target: &str) -> Option<String> {
    let mut out: Vec<&str> = match target.starts_with('/') {
        true => Vec::new(),
        false => dir.split('/').filter(|p| !p.is_empty()).collect(),
    };
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            p => out.push(p),
        }
    }
    (!out.is_empty()).then(|| out.join("/"))
}

/// The compression an archive's first bytes announce, if any.
pub(super) fn compressed(head: &[u8]) -> Option<&'static str> {
    const MAGIC: [(&[u8], &str); 4] = [
        (&[0x1f, 0x8b], "gzip"),
        (&[0x28, 0xb5, 0x2f, 0xfd], "zstd"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0], "xz"),
        (b"BZh", "bzip2"),
    ];
    MAGIC
        .iter()
        .find(|(m, _)| head.starts_with(m))
        .map(|(_, name)| *name)
}

impl Source {
    /// Opens `path`: a directory, or an archive to index.
    pub fn open(path: &Path) -> Result<Source, OciError> {
        let open_error = |source: io::Error| OciError::Open {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(open_error)?;
        if file.metadata().map_err(open_error)?.is_dir() {
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let root =
                rustix::fs::open(path, flags, Mode::empty()).map_err(|e| open_error(e.into()))?;
            return Ok(Source::Dir {
                path: path.to_owned(),
                root,
            });
        }
        let mut head = [0u8; 6];
        let n = file.read_at(&mut head, 0).map_err(open_error)?;
        if let Some(compression) = compressed(&head[..n]) {
            return Err(OciError::Compressed {
                path: path.to_owned(),
                compression,
            });
        }
        let members = index(&file).map_err(|source| OciError::Read {
            file: path.display().to_string(),
            source,
        })?;
        Ok(Source::Archive {
            path: path.to_owned(),
            file,
            members,
        })
    }

    /// `<image>:<name>`, for messages.
    pub fn describe(&self, name: &str) -> String {
        let path = match self {
            Source::Dir { path, .. } | Source::Archive { path, .. } => path,
        };
        format!("{}:{name}", path.display())
    }

    /// The file `name`, or `None` if the image has none.
    pub fn get(&self, name: &str) -> Result<Option<Blob<'_>>, OciError> {
        let Some(clean) = clean(name) else {
            return Ok(None);
        };
        match self {
            Source::Dir { root, .. } => self.open_in_dir(root, &clean),
            Source::Archive { file, members, .. } => {
                let mut name = clean;
                for _ in 0..MAX_HOPS {
                    match members.get(&name) {
                        None => return Ok(None),
                        Some(Member::File { offset, size }) => {
                            return Ok(Some(Blob {
                                file: Held::Shared(file),
                                offset: *offset,
                                size: *size,
                            }));
                        }
                        Some(Member::Link(target)) => name = target.clone(),
                    }
                }
                Err(OciError::Invalid {
                    file: self.describe(name.as_str()),
                    reason: "it goes through too many links".into(),
                })
            }
        }
    }

    fn open_in_dir(&self, root: &OwnedFd, name: &str) -> Result<Option<Blob<'_>>, OciError> {
        let read_error = |source: io::Error| OciError::Read {
            file: self.describe(name),
            source,
        };
        let flags = OFlags::RDONLY | OFlags::NOCTTY | OFlags::CLOEXEC;
        let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
        let fd = match rustix::fs::openat2(root, name, flags, Mode::empty(), how) {
            Ok(fd) => fd,
            Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
            Err(e) => return Err(read_error(e.into())),
        };
        let file = File::from(fd);
        let meta = file.metadata().map_err(read_error)?;
        if !meta.is_file() {
            return Err(OciError::Invalid {
                file: self.describe(name),
                reason: "it is not a regular file".into(),
            });
        }
        Ok(Some(Blob {
            size: meta.len(),
            file: Held::Own(file),
            offset: 0,
        }))
    }

    /// The whole file `name` if the image has it, refused past `limit`
    /// bytes.
    pub fn read(&self, name: &str, limit: u64) -> Result<Option<Vec<u8>>, OciError> {
        let Some(blob) = self.get(name)? else {
            return Ok(None);
        };
        if blob.size() > limit {
            return Err(OciError::TooLarge {
                file: self.describe(name),
                limit,
            });
        }
        let mut data = Vec::with_capacity(usize::try_from(blob.size()).unwrap_or(0));
        blob.reader()
            .read_to_end(&mut data)
            .map_err(|source| OciError::Read {
                file: self.describe(name),
                source,
            })?;
        Ok(Some(data))
    }
}

/// Every regular file and link of an archive, by cleaned name; a later
/// member of the same name wins, as when the archive is unpacked.
fn index(file: &File) -> io::Result<HashMap<String, Member>> {
    let mut members = HashMap::new();
    let mut archive = tar::Archive::new(file);
    for entry in archive.entries_with_seek()? {
        let entry = entry?;
        let raw = entry.path_bytes();
        let Some(name) = std::str::from_utf8(&raw).ok().and_then(clean) else {
            continue;
        };
        let link = || {
            entry
                .link_name_bytes()
                .and_then(|l| String::from_utf8(l.into_owned()).ok())
        };
        let member = match entry.header().entry_type() {
            EntryType::Regular | EntryType::Continuous => Member::File {
                offset: entry.raw_file_position(),
                size: entry.size(),
            },
            EntryType::Symlink => {
                let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                match link().and_then(|t| resolve(dir, &t)) {
                    Some(target) => Member::Link(target),
                    None => continue,
                }
            }
            EntryType::Link => match link().and_then(|t| clean(&t)) {
                Some(target) => Member::Link(target),
                None => continue,
            },
            _ => {
                members.remove(&name);
                continue;
            }
        };
        members.insert(name, member);
    }
    Ok(members)
}
