//! Where ZFS's names live in a btrfs filesystem. The pool's top-level
//! subvolume is the dataset named after the pool and is mounted at the
//! pool's mountpoint; dataset `pool/a/b` is the subvolume at `a/b`;
//! snapshot `pool/a/b@s` is the read-only subvolume at `.snapshots/a/b@/s`.
//! btrfs names a received snapshot after the sender's, which is why a
//! snapshot's own directory entry is exactly its ZFS snapshot name; the
//! `@` ending a snapshot directory's name (never valid in a dataset name)
//! keeps a dataset's snapshots apart from its children's directories
//! (`.snapshots/a@/b` is `pool/a@b`, `.snapshots/a/b@/` holds `pool/a/b`'s).

use std::path::PathBuf;

use crate::name::{DatasetName, SnapshotName};

/// The directory under the pool's top that holds every snapshot.
pub const SNAPSHOTS: &str = ".snapshots";

/// Extended attribute marking a volume, holding its size in bytes.
pub const VOLSIZE_XATTR: &str = "user.basalt.volsize";

/// The prefix of a dataset's subvolume set aside during a replacement.
pub const SET_ASIDE: &str = ".basalt-old-";

/// Extended attribute on a clone's top directory naming the snapshot it
/// was cloned from.
pub const ORIGIN_XATTR: &str = "user.basalt.origin";

/// The file inside a volume dataset that is the volume.
pub const VOLUME_FILE: &str = "volume";

/// What a subvolume path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A filesystem or volume.
    Dataset(DatasetName),
    /// A snapshot.
    Snapshot(SnapshotName),
}

/// Paths of one pool mounted at `mountpoint`.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The pool's name.
    pub pool: String,
    /// Where its top is mounted.
    pub mountpoint: PathBuf,
}

impl Layout {
    /// The directory of a dataset.
    pub fn dataset(&self, name: &DatasetName) -> PathBuf {
        if name.relative().is_empty() {
            self.mountpoint.clone()
        } else {
            self.mountpoint.join(name.relative())
        }
    }

    /// The directory holding a dataset's snapshots.
    pub fn snapshot_dir(&self, dataset: &DatasetName) -> PathBuf {
        self.mountpoint
            .join(SNAPSHOTS)
            .join(format!("{}@", dataset.relative()))
    }

    /// The directory holding the snapshot directories of a dataset's
    /// children.
    pub fn children_snapshot_dir(&self, dataset: &DatasetName) -> PathBuf {
        self.mountpoint.join(SNAPSHOTS).join(dataset.relative())
    }

    /// The subvolume of a snapshot.
    pub fn snapshot(&self, snap: &SnapshotName) -> PathBuf {
        self.snapshot_dir(snap.dataset()).join(snap.snap())
    }

    /// The file of a volume.
    pub fn volume_file(&self, name: &DatasetName) -> PathBuf {
        self.dataset(name).join(VOLUME_FILE)
    }

    /// What the subvolume at `path` (relative to the top, as btrfs lists
    /// it) is; `None` for subvolumes outside basalt's layout.
    pub fn classify(&self, path: &str) -> Option<Entry> {
        match path
            .strip_prefix(SNAPSHOTS)
            .and_then(|r| r.strip_prefix('/'))
        {
            Some(rest) => {
                let (ds, snap) = rest.rsplit_once('/')?;
                let ds = ds.strip_suffix('@')?;
                let name = format!("{}/{ds}@{snap}", self.pool);
                SnapshotName::parse(&name).ok().map(Entry::Snapshot)
            }
            None if path.starts_with(".basalt") => None,
            None => DatasetName::parse(&format!("{}/{path}", self.pool))
                .ok()
                .map(Entry::Dataset),
        }
    }

    /// Where a rollback or receive puts a dataset's old subvolume while it
    /// replaces it: `.basalt-old-<relative name, '/' as '%'>` ('%' never
    /// occurs in a dataset name), so that the next holder of the pool lock
    /// knows which dataset an interrupted replacement belongs to.
    pub fn set_aside(&self, dataset: &DatasetName) -> PathBuf {
        self.mountpoint.join(format!(
            "{SET_ASIDE}{}",
            dataset.relative().replace('/', "%")
        ))
    }

    /// The dataset a set-aside directory name belongs to.
    pub fn set_aside_of(&self, file_name: &str) -> Option<DatasetName> {
        let rel = file_name.strip_prefix(SET_ASIDE)?.replace('%', "/");
        DatasetName::parse(&format!("{}/{rel}", self.pool)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn layout() -> Layout {
        Layout {
            pool: "zones".into(),
            mountpoint: "/zones".into(),
        }
    }

    #[test]
    fn names_to_paths_and_back() {
        let l = layout();
        let d = DatasetName::parse("zones/a/b").unwrap();
        assert_eq!(l.dataset(&d), Path::new("/zones/a/b"));
        assert_eq!(
            l.dataset(&DatasetName::parse("zones").unwrap()),
            Path::new("/zones")
        );
        let s = d.snapshot("final").unwrap();
        assert_eq!(l.snapshot(&s), Path::new("/zones/.snapshots/a/b@/final"));
        assert_eq!(l.classify("a/b"), Some(Entry::Dataset(d.clone())));
        assert_eq!(
            l.classify(".snapshots/a/b@/final"),
            Some(Entry::Snapshot(s))
        );
        let aside = l.set_aside(&d);
        assert_eq!(aside, Path::new("/zones/.basalt-old-a%b"));
        assert_eq!(l.set_aside_of(".basalt-old-a%b"), Some(d.clone()));
        assert_eq!(l.classify(".basalt-old-a%b"), None);
        let a_at_b = SnapshotName::parse("zones/a@b").unwrap();
        assert_eq!(l.classify(".snapshots/a@/b"), Some(Entry::Snapshot(a_at_b)));
        assert_eq!(l.classify(".snapshots/a/b/final"), None);
        assert_eq!(l.classify(".snapshots/orphan"), None);
        assert_eq!(l.classify("bad name"), None);
    }
}
