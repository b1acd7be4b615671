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
        let placed = received
            .map_err(
                |e| match e.stderr().contains("cannot find parent subvolume") {
                    true if existing => PoolError::NoIncrementalSource(target.to_string()),
                    true => PoolError::NoDestination(target.to_string()),
                    false => e.into(),
                },
            )
            .and_then(|_| self.place_received(target, &new, existing, force));
        if placed.is_err() {
            for n in &new {
                let _ = run(&btrfs::subvolume_delete(&[&dir.join(n)]));
            }
            if !existing {
                let _ = fs::remove_dir(&dir);
            }
        }
        let snap = placed?;
        tracing::info!(dataset = %target, snapshot = %snap, "received");
        Ok(snap)
    }

    /// Makes `target` hold the one snapshot a receive created, with ZFS's
    /// rules: a full stream onto an existing dataset needs `force`, an
    /// incremental one needs the dataset to exist.
    fn place_received(
        &self,
        target: &DatasetName,
        new: &[String],
        existing: bool,
        force: bool,
    ) -> Result<SnapshotName, PoolError> {
        let [name] = new else {
            return Err(PoolError::Parse(format!(
                "receive created {} snapshots",
                new.len()
            )));
        };
        let snap = target.snapshot(name)?;
        let path = self.snapshot_path(&snap);
        let rel = path
            .strip_prefix(self.mountpoint())
            .unwrap_or(&path)
            .display()
            .to_string();
        let incremental = self
            .subvolumes()?
            .iter()
            .find(|s| s.path == rel)
            .is_some_and(|s| s.parent_uuid.is_some());
        match (existing, incremental) {
            (true, false) if !force => return Err(PoolError::MustForce(target.to_string())),
            (false, true) => return Err(PoolError::NoDestination(target.to_string())),
            (true, _) => self.replace_with_snapshot(target, &snap)?,
            (false, false) => {
                run(&btrfs::snapshot(&path, &self.path_of(target), false))?;
            }
        }
        // A received dataset is nobody's clone here, whatever the sender's
        // was (removed only if there, since removing is a change).
        let top = self.path_of(target);
        if xattr::get(&top, ORIGIN_XATTR).is_ok_and(|v| v.is_some()) {
            let _ = xattr::remove(&top, ORIGIN_XATTR);
        }
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
