//! Send and receive: a snapshot as a btrfs send stream, full or
//! incremental, and a stream received as a dataset with that snapshot.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use super::{Kind, Pool, is_subvolume};
use crate::btrfs;
use crate::error::PoolError;
use crate::exec::{run, run_from, run_to};
use crate::layout::ORIGIN_XATTR;
use crate::name::{DatasetName, SnapshotName};

fn entries(dir: &Path) -> BTreeSet<String> {
    fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

impl Pool {
    /// Writes `snap` as a stream to `out`; with `from`, only what changed
    /// since that earlier snapshot.
    pub fn send(
        &self,
        snap: &SnapshotName,
        from: Option<&SnapshotName>,
        out: &mut dyn Write,
    ) -> Result<(), PoolError> {
        let path = self.snapshot_path(snap);
        if !self.owns(snap.dataset()) || !is_subvolume(&path) {
            return Err(PoolError::NotFound(snap.to_string()));
        }
        let parent = match from {
            Some(f) => {
                let p = self.snapshot_path(f);
                if !is_subvolume(&p) {
                    return Err(PoolError::NotFound(f.to_string()));
                }
                Some(p)
            }
            None => None,
        };
        run_to(&btrfs::send(&path, parent.as_deref()), out)?;
        Ok(())
    }

    /// Receives a stream as `target`: a new dataset with the stream's
    /// snapshot, or, when `target` exists, its next snapshot (incremental
    /// streams), the dataset then holding that snapshot's content. An
    /// existing target changed since its latest snapshot is refused unless
    /// `force`. A failed receive leaves nothing behind.
    pub fn receive(
        &self,
        target: &DatasetName,
        input: &mut dyn Read,
        force: bool,
    ) -> Result<SnapshotName, PoolError> {
        let _lock = self.lock()?;
        let existing = is_subvolume(&self.path_of(target));
        if !existing {
            self.check_parent(target)?;
        } else if !force && self.modified_since_snapshot(target)? {
            return Err(PoolError::Modified(target.to_string()));
        }
        let dir = self.layout.snapshot_dir(target);
        fs::create_dir_all(&dir).map_err(PoolError::io("create", &dir))?;
        let before = entries(&dir);
        let received = run_from(&btrfs::receive(&dir), input);
        let new: Vec<String> = entries(&dir).difference(&before).cloned().collect();
        let cleanup = |names: &[String]| {
            for n in names {
                let _ = run(&btrfs::subvolume_delete(&[&dir.join(n)]));
            }
            if !existing {
                let _ = fs::remove_dir(&dir);
            }
        };
        if let Err(e) = received {
            cleanup(&new);
            return Err(e.into());
        }
        let [name] = new.as_slice() else {
            cleanup(&new);
            return Err(PoolError::Parse(format!(
                "receive created {} snapshots",
                new.len()
            )));
        };
        let snap = target.snapshot(name)?;
        let placed = if existing {
            self.replace_with_snapshot(target, &snap)
        } else {
            run(&btrfs::snapshot(
                &self.snapshot_path(&snap),
                &self.path_of(target),
                false,
            ))
            .map(|_| ())
            .map_err(PoolError::from)
        };
        if let Err(e) = placed {
            cleanup(&new);
            return Err(e);
        }
        // A received dataset is nobody's clone here, whatever the sender's
        // was.
        let _ = xattr::remove(self.path_of(target), ORIGIN_XATTR);
        tracing::info!(dataset = %target, snapshot = %snap, "received");
        Ok(snap)
    }

    fn check_parent(&self, target: &DatasetName) -> Result<(), PoolError> {
        match target.parent() {
            Some(p) if target.pool() == self.name() && is_subvolume(&self.path_of(&p)) => Ok(()),
            _ => Err(PoolError::NoParent(target.to_string())),
        }
    }

    /// Whether a dataset was written since it was created from its latest
    /// snapshot (or since that snapshot was taken).
    fn modified_since_snapshot(&self, target: &DatasetName) -> Result<bool, PoolError> {
        let all = self.list()?;
        let ds = all
            .iter()
            .find(|d| d.name == target.as_str())
            .ok_or_else(|| PoolError::NotFound(target.to_string()))?;
        let prefix = format!("{target}@");
        let latest = all
            .iter()
            .filter(|d| d.kind == Kind::Snapshot && d.name.starts_with(&prefix))
            .map(|d| d.generations.0)
            .max()
            .unwrap_or(0);
        Ok(ds.generations.1 > ds.generations.0.max(latest))
    }
}
