//! A mounted pool and ZFS's verbs on it. Each verb checks what ZFS checks
//! (names, existence, parents, children, clones), then acts through the
//! btrfs layer; verbs of several steps hold the pool's lock and undo what
//! they did when a step fails.

mod ops;
mod stream;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

use crate::btrfs::{self, Qgroup, Subvolume};
use crate::error::PoolError;
use crate::exec::run;
use crate::layout::{Entry, Layout, ORIGIN_XATTR, VOLSIZE_XATTR};
use crate::name::{DatasetName, SnapshotName};

/// What a dataset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A filesystem (btrfs subvolume).
    Filesystem,
    /// A volume (a fixed-size no-copy-on-write file in its own subvolume).
    Volume,
    /// A read-only snapshot.
    Snapshot,
}

impl Kind {
    /// ZFS's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Filesystem => "filesystem",
            Kind::Volume => "volume",
            Kind::Snapshot => "snapshot",
        }
    }
}

/// One dataset or snapshot with its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// `pool/a/b` or `pool/a/b@s`.
    pub name: String,
    /// Its type.
    pub kind: Kind,
    /// Bytes it and its snapshots hold exclusively.
    pub used: u64,
    /// Bytes it can still write.
    pub available: u64,
    /// Bytes it references.
    pub referenced: u64,
    /// Its quota (limit on referenced bytes).
    pub quota: Option<u64>,
    /// The snapshot it was cloned from.
    pub origin: Option<String>,
    /// Where it is mounted (filesystems only).
    pub mountpoint: Option<PathBuf>,
    /// Creation time, seconds since the epoch.
    pub creation: u64,
    /// Size of a volume, bytes.
    pub volsize: Option<u64>,
    /// btrfs generation at creation and now (used to tell whether a
    /// dataset changed since it was created from a snapshot).
    pub(crate) generations: (u64, u64),
}

/// A pool mounted at a directory.
#[derive(Debug, Clone)]
pub struct Pool {
    layout: Layout,
}

/// The pool's lock, held by verbs of several steps.
pub(crate) struct PoolLock {
    _lock: Flock<File>,
}

impl Pool {
    /// The pool named `name` whose top is mounted at `mountpoint` (see
    /// `embedded` for making it so).
    pub fn at(name: &str, mountpoint: impl Into<PathBuf>) -> Pool {
        Pool {
            layout: Layout {
                pool: name.to_owned(),
                mountpoint: mountpoint.into(),
            },
        }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.layout.pool
    }

    /// Where the pool is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.layout.mountpoint
    }

    /// The directory of a filesystem dataset.
    pub fn path_of(&self, name: &DatasetName) -> PathBuf {
        self.layout.dataset(name)
    }

    /// The file of a volume.
    pub fn volume_file(&self, name: &DatasetName) -> PathBuf {
        self.layout.volume_file(name)
    }

    /// The read-only directory of a snapshot.
    pub fn snapshot_path(&self, name: &SnapshotName) -> PathBuf {
        self.layout.snapshot(name)
    }

    /// Takes the pool lock, then finishes any replacement (rollback,
    /// receive) that a killed process left half done: no one else can be
    /// in the middle of one while the lock is held.
    pub(crate) fn lock(&self) -> Result<PoolLock, PoolError> {
        let lock = lock_file(&self.layout.mountpoint.join(".basalt.lock"))?;
        self.recover_set_aside()?;
        Ok(PoolLock { _lock: lock })
    }

    /// A dataset's old subvolume set aside by an interrupted replacement:
    /// if the new one never took its place, the old one goes back; if it
    /// did, the old one's child datasets move over and it is deleted.
    fn recover_set_aside(&self) -> Result<(), PoolError> {
        let Ok(entries) = std::fs::read_dir(self.mountpoint()) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Some(dataset) = self.layout.set_aside_of(&name) else {
                continue;
            };
            let old = entry.path();
            let path = self.path_of(&dataset);
            tracing::warn!(dataset = %dataset, "finishing a replacement a killed process left");
            if !is_subvolume(&path) {
                std::fs::rename(&old, &path).map_err(PoolError::io("put back", &old))?;
                continue;
            }
            for child in nested_subvolumes(&old) {
                let rel = child
                    .strip_prefix(&old)
                    .unwrap_or(&child)
                    .display()
                    .to_string();
                ops::move_child(&rel, &old, &path)?;
            }
            run(&btrfs::subvolume_delete(&[&old]))?;
        }
        Ok(())
    }

    pub(crate) fn subvolumes(&self) -> Result<Vec<Subvolume>, PoolError> {
        let text = run(&btrfs::subvolume_list(self.mountpoint()))?;
        Ok(btrfs::parse_subvolume_list(&text))
    }

    fn qgroups(&self) -> Result<HashMap<u64, Qgroup>, PoolError> {
        let text = run(&btrfs::qgroup_show(self.mountpoint()))?;
        Ok(btrfs::parse_qgroup_show(&text)
            .into_iter()
            .map(|q| (q.id, q))
            .collect())
    }

    fn free_bytes(&self) -> Result<u64, PoolError> {
        let st = nix::sys::statvfs::statvfs(self.mountpoint())
            .map_err(|e| PoolError::io("statvfs", self.mountpoint())(e.into()))?;
        Ok(st.blocks_available() * st.fragment_size())
    }

    /// Every dataset and snapshot of the pool, sorted by name (the pool's
    /// own top first).
    pub fn list(&self) -> Result<Vec<Dataset>, PoolError> {
        // qgroup show syncs the filesystem first, so that the generations
        // listed next account for every write so far.
        let qgroups = self.qgroups()?;
        let subs = self.subvolumes()?;
        let free = self.free_bytes()?;
        let by_uuid: HashMap<&str, &Subvolume> =
            subs.iter().map(|s| (s.uuid.as_str(), s)).collect();
        let mut out = vec![self.top(&qgroups, free)];
        for sub in &subs {
            let Some(entry) = self.layout.classify(&sub.path) else {
                continue;
            };
            out.push(self.describe(sub, entry, &by_uuid, &qgroups, free));
        }
        let snapshot_excl: HashMap<String, u64> = out
            .iter()
            .filter(|d| d.kind == Kind::Snapshot)
            .fold(HashMap::new(), |mut acc, d| {
                let ds = d.name.split('@').next().unwrap_or("").to_owned();
                *acc.entry(ds).or_default() += d.used;
                acc
            });
        for d in out.iter_mut().filter(|d| d.kind != Kind::Snapshot) {
            d.used += snapshot_excl.get(&d.name).copied().unwrap_or(0);
        }
        out.sort_by_key(sort_key);
        Ok(out)
    }

    fn top(&self, qgroups: &HashMap<u64, Qgroup>, free: u64) -> Dataset {
        let q = qgroups.get(&5);
        Dataset {
            name: self.layout.pool.clone(),
            kind: Kind::Filesystem,
            used: q.map_or(0, |q| q.referenced),
            available: free,
            referenced: q.map_or(0, |q| q.referenced),
            quota: None,
            origin: None,
            mountpoint: Some(self.layout.mountpoint.clone()),
            creation: creation_time(self.mountpoint()),
            volsize: None,
            generations: (0, 0),
        }
    }

    fn describe(
        &self,
        sub: &Subvolume,
        entry: Entry,
        by_uuid: &HashMap<&str, &Subvolume>,
        qgroups: &HashMap<u64, Qgroup>,
        free: u64,
    ) -> Dataset {
        let q = qgroups.get(&sub.id);
        let referenced = q.map_or(0, |q| q.referenced);
        let quota = q.and_then(|q| q.max_referenced);
        let path = self.layout.mountpoint.join(&sub.path);
        let volsize = xattr::get(&path, VOLSIZE_XATTR)
            .ok()
            .flatten()
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse().ok());
        let (name, kind, origin) = match entry {
            Entry::Snapshot(s) => (s.to_string(), Kind::Snapshot, None),
            Entry::Dataset(d) => {
                let recorded = xattr::get(&path, ORIGIN_XATTR)
                    .ok()
                    .flatten()
                    .and_then(|v| String::from_utf8(v).ok())
                    .filter(|o| {
                        SnapshotName::parse(o)
                            .is_ok_and(|s| is_subvolume(&self.layout.snapshot(&s)))
                    });
                let origin = recorded.or_else(|| {
                    sub.parent_uuid
                        .as_deref()
                        .and_then(|u| by_uuid.get(u))
                        .and_then(|parent| match self.layout.classify(&parent.path) {
                            Some(Entry::Snapshot(s)) if s.dataset() != &d => Some(s.to_string()),
                            _ => None,
                        })
                });
                let kind = if volsize.is_some() {
                    Kind::Volume
                } else {
                    Kind::Filesystem
                };
                (d.to_string(), kind, origin)
            }
        };
        let available = match (kind, quota) {
            (Kind::Snapshot, _) => 0,
            (_, Some(limit)) => limit.saturating_sub(referenced).min(free),
            (_, None) => free,
        };
        Dataset {
            name,
            kind,
            used: q.map_or(0, |q| q.exclusive),
            available,
            referenced,
            quota,
            origin,
            mountpoint: (kind == Kind::Filesystem).then_some(path.clone()),
            creation: creation_time(&path),
            volsize,
            generations: (sub.cgen, sub.generation),
        }
    }

    /// One dataset or snapshot by name.
    pub fn get(&self, name: &str) -> Result<Dataset, PoolError> {
        self.list()?
            .into_iter()
            .find(|d| d.name == name)
            .ok_or_else(|| PoolError::NotFound(name.to_owned()))
    }

    /// Whether a dataset or snapshot exists (by its path, without listing).
    pub fn exists(&self, name: &str) -> bool {
        let path = match SnapshotName::parse(name) {
            Ok(s) => self.layout.snapshot(&s),
            Err(_) => match DatasetName::parse(name) {
                Ok(d) if d.pool() == self.name() => self.layout.dataset(&d),
                _ => return false,
            },
        };
        is_subvolume(&path)
    }
}

/// Sort datasets as ZFS lists them: by name, a dataset's snapshots right
/// after it in the order they were taken, before its children.
fn sort_key(d: &Dataset) -> (String, u64, String) {
    match d.name.split_once('@') {
        Some((ds, snap)) => (ds.to_owned(), d.generations.0.max(1), snap.to_owned()),
        None => (d.name.clone(), 0, String::new()),
    }
}

/// An exclusive `flock` on the file at `path` (created with its directory
/// if missing), waiting for another holder.
pub(crate) fn lock_file(path: &Path) -> Result<Flock<File>, PoolError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(PoolError::io("create", dir))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(PoolError::io("open", path))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, e)| PoolError::io("lock", path)(e.into()))
}

/// The outermost subvolumes nested below `dir` (not `dir` itself).
fn nested_subvolumes(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if is_subvolume(&p) {
            found.push(p);
        } else {
            found.extend(nested_subvolumes(&p));
        }
    }
    found
}

/// Whether `path` is the root of a btrfs subvolume (inode 256).
pub(crate) fn is_subvolume(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir() && m.ino() == 256)
}

fn creation_time(path: &Path) -> u64 {
    std::fs::metadata(path)
        .and_then(|m| m.created())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}
