//! Creating, destroying, snapshotting, cloning, rolling back and setting
//! quotas.

use std::fs;
use std::os::unix::fs::OpenOptionsExt;

use super::{Dataset, Kind, Pool, is_subvolume};
use crate::btrfs;
use crate::error::PoolError;
use crate::exec::run;
use crate::layout::{ORIGIN_XATTR, SNAPSHOTS, VOLSIZE_XATTR};
use crate::name::{DatasetName, SnapshotName};

impl Pool {
    /// Whether `name` is in this pool.
    pub(crate) fn owns(&self, name: &DatasetName) -> bool {
        name.pool() == self.name()
    }

    fn check_new_dataset(&self, name: &DatasetName) -> Result<(), PoolError> {
        if name.pool() != self.name() {
            return Err(PoolError::NoParent(name.to_string()));
        }
        if name.relative().split('/').next() == Some(SNAPSHOTS)
            || name.relative().starts_with(".basalt")
        {
            return Err(PoolError::Reserved(name.to_string()));
        }
        if self.path_of(name).exists() {
            return Err(PoolError::Exists(name.to_string()));
        }
        match name.parent() {
            Some(parent) if is_subvolume(&self.path_of(&parent)) => Ok(()),
            _ => Err(PoolError::NoParent(name.to_string())),
        }
    }

    /// Creates a filesystem, or with `volsize` a volume of that many bytes.
    pub fn create(&self, name: &DatasetName, volsize: Option<u64>) -> Result<(), PoolError> {
        let _lock = self.lock()?;
        self.check_new_dataset(name)?;
        let path = self.path_of(name);
        run(&btrfs::subvolume_create(&path))?;
        if let Some(size) = volsize
            && let Err(e) = self.make_volume(name, size)
        {
            let _ = run(&btrfs::subvolume_delete(&[&path]));
            return Err(e);
        }
        tracing::info!(dataset = %name, "created");
        Ok(())
    }

    fn make_volume(&self, name: &DatasetName, size: u64) -> Result<(), PoolError> {
        let dir = self.path_of(name);
        xattr::set(&dir, VOLSIZE_XATTR, size.to_string().as_bytes())
            .map_err(PoolError::io("mark as volume", &dir))?;
        let file = self.volume_file(name);
        let f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .map_err(PoolError::io("create", &file))?;
        run(&btrfs::nocow(&file))?;
        nix::fcntl::fallocate(&f, nix::fcntl::FallocateFlags::empty(), 0, size as i64)
            .map_err(|e| PoolError::io("allocate", &file)(e.into()))?;
        Ok(())
    }

    /// Takes a read-only snapshot.
    pub fn snapshot(&self, snap: &SnapshotName) -> Result<(), PoolError> {
        let _lock = self.lock()?;
        let source = self.path_of(snap.dataset());
        if !self.owns(snap.dataset())
            || snap.dataset().relative().is_empty()
            || !is_subvolume(&source)
        {
            return Err(PoolError::NotFound(snap.dataset().to_string()));
        }
        let dest = self.snapshot_path(snap);
        if dest.exists() {
            return Err(PoolError::Exists(snap.to_string()));
        }
        let dir = self.layout.snapshot_dir(snap.dataset());
        fs::create_dir_all(&dir).map_err(PoolError::io("create", &dir))?;
        run(&btrfs::snapshot(&source, &dest, true))?;
        tracing::info!(snapshot = %snap, "snapshotted");
        Ok(())
    }

    /// Makes a writable clone of a snapshot, in constant time.
    pub fn clone_snapshot(
        &self,
        snap: &SnapshotName,
        target: &DatasetName,
    ) -> Result<(), PoolError> {
        let _lock = self.lock()?;
        let source = self.snapshot_path(snap);
        if !self.owns(snap.dataset()) || !is_subvolume(&source) {
            return Err(PoolError::NotFound(snap.to_string()));
        }
        self.check_new_dataset(target)?;
        let path = self.path_of(target);
        run(&btrfs::snapshot(&source, &path, false))?;
        // The origin is kept on the clone itself, so that it survives a
        // rollback or receive that gives the clone a new subvolume.
        if let Err(e) = xattr::set(&path, ORIGIN_XATTR, snap.to_string().as_bytes()) {
            let _ = run(&btrfs::subvolume_delete(&[&path]));
            return Err(PoolError::io("record the origin of", &path)(e));
        }
        tracing::info!(origin = %snap, clone = %target, "cloned");
        Ok(())
    }

    /// Renames a dataset within the pool; its snapshots and children go
    /// with it, and clones of its snapshots keep them as their origin.
    pub fn rename(&self, from: &DatasetName, to: &DatasetName) -> Result<(), PoolError> {
        let _lock = self.lock()?;
        let source = self.path_of(from);
        if from.relative().is_empty() || !is_subvolume(&source) {
            return Err(PoolError::NotFound(from.to_string()));
        }
        self.check_new_dataset(to)?;
        let moves = [
            (source, self.path_of(to)),
            (self.layout.snapshot_dir(from), self.layout.snapshot_dir(to)),
            (
                self.layout.children_snapshot_dir(from),
                self.layout.children_snapshot_dir(to),
            ),
        ];
        for (src, dest) in moves {
            if !src.exists() {
                continue;
            }
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).map_err(PoolError::io("create", parent))?;
            }
            fs::rename(&src, &dest).map_err(PoolError::io("rename", &src))?;
        }
        tracing::info!(from = %from, to = %to, "renamed");
        Ok(())
    }

    /// Sets the quota (limit on referenced bytes) of a dataset, or clears it.
    pub fn set_quota(&self, name: &DatasetName, bytes: Option<u64>) -> Result<(), PoolError> {
        let _lock = self.lock()?;
        let path = self.path_of(name);
        if !self.owns(name) || name.relative().is_empty() || !is_subvolume(&path) {
            return Err(PoolError::NotFound(name.to_string()));
        }
        run(&btrfs::qgroup_limit(bytes, &path))?;
        Ok(())
    }

    /// Destroys a dataset or snapshot. `recursive` (-r) also destroys
    /// children and snapshots; `dependents` (-R) also destroys clones made
    /// from its snapshots, and theirs.
    pub fn destroy(&self, name: &str, recursive: bool, dependents: bool) -> Result<(), PoolError> {
        let _lock = self.lock()?;
        let all = self.list()?;
        let target = all
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| PoolError::NotFound(name.to_owned()))?;
        if target.name == self.name() {
            return Err(PoolError::WrongType {
                verb: "destroy",
                name: name.to_owned(),
            });
        }
        let doomed = self.doomed(target, &all, recursive || dependents, dependents)?;
        for d in doomed.iter().rev() {
            self.remove_one(d)?;
        }
        Ok(())
    }

    /// Everything destroying `target` takes with it, parents before
    /// children; errors in ZFS's words when -r or -R is needed.
    fn doomed<'a>(
        &self,
        target: &'a Dataset,
        all: &'a [Dataset],
        recursive: bool,
        dependents: bool,
    ) -> Result<Vec<&'a Dataset>, PoolError> {
        let below = |d: &Dataset| {
            d.name != target.name
                && (d.name.starts_with(&format!("{}/", target.name))
                    || d.name.starts_with(&format!("{}@", target.name)))
        };
        let children: Vec<&Dataset> = if target.kind == Kind::Snapshot {
            Vec::new()
        } else {
            all.iter().filter(|d| below(d)).collect()
        };
        let what = if target.kind == Kind::Snapshot {
            "snapshot"
        } else {
            target.kind.as_str()
        };
        if !children.is_empty() && !recursive {
            return Err(PoolError::HasChildren {
                name: target.name.clone(),
                what,
                list: children.iter().map(|d| d.name.clone()).collect(),
            });
        }
        let mut doomed = vec![target];
        doomed.extend(children);
        let clones = clones_of(&doomed, all);
        if !clones.is_empty() {
            if !dependents {
                return Err(PoolError::HasClones {
                    name: target.name.clone(),
                    what,
                    list: clones.iter().map(|d| d.name.clone()).collect(),
                });
            }
            for c in clones {
                if !doomed.iter().any(|d| d.name == c.name) {
                    doomed.extend(self.doomed(c, all, true, true)?);
                }
            }
        }
        doomed.sort_by_key(|a| a.name.len());
        doomed.dedup_by(|a, b| a.name == b.name);
        Ok(doomed)
    }

    fn remove_one(&self, d: &Dataset) -> Result<(), PoolError> {
        let path = match SnapshotName::parse(&d.name) {
            Ok(s) => self.snapshot_path(&s),
            Err(_) => self.path_of(&DatasetName::parse(&d.name)?),
        };
        if is_subvolume(&path) {
            run(&btrfs::subvolume_delete(&[&path]))?;
        }
        if d.kind != Kind::Snapshot {
            let ds = DatasetName::parse(&d.name)?;
            let _ = fs::remove_dir(self.layout.snapshot_dir(&ds));
            let _ = fs::remove_dir(self.layout.children_snapshot_dir(&ds));
        }
        tracing::info!(dataset = %d.name, "destroyed");
        Ok(())
    }

    /// Rolls a dataset back to a snapshot. Newer snapshots are in the way
    /// unless `destroy_newer` (-r), which destroys them (refused if they
    /// have clones).
    pub fn rollback(&self, snap: &SnapshotName, destroy_newer: bool) -> Result<(), PoolError> {
        let _lock = self.lock()?;
        let all = self.list()?;
        let target = all
            .iter()
            .find(|d| d.name == snap.to_string())
            .ok_or_else(|| PoolError::NotFound(snap.to_string()))?;
        let prefix = format!("{}@", snap.dataset());
        let newer: Vec<&Dataset> = all
            .iter()
            .filter(|d| d.name.starts_with(&prefix) && d.generations.0 > target.generations.0)
            .collect();
        if !newer.is_empty() && !destroy_newer {
            return Err(PoolError::NewerSnapshots {
                name: snap.to_string(),
                list: newer.iter().map(|d| d.name.clone()).collect(),
            });
        }
        let mut doomed = Vec::new();
        for n in &newer {
            doomed.extend(self.doomed(n, &all, false, false)?);
        }
        for d in doomed.iter().rev() {
            self.remove_one(d)?;
        }
        self.replace_with_snapshot(snap.dataset(), snap)
    }

    /// Replaces a dataset's subvolume with a writable snapshot of `snap`,
    /// keeping its quota and the child datasets nested in it. The old
    /// subvolume is swapped out before it is deleted, so a failure leaves
    /// the dataset as it was.
    pub(crate) fn replace_with_snapshot(
        &self,
        dataset: &DatasetName,
        snap: &SnapshotName,
    ) -> Result<(), PoolError> {
        let path = self.path_of(dataset);
        let all = self.list()?;
        let quota = all
            .iter()
            .find(|d| d.name == dataset.as_str())
            .ok_or_else(|| PoolError::NotFound(dataset.to_string()))?
            .quota;
        let children = outermost_children(dataset, &all);
        let old = self.layout.set_aside(dataset);
        // The old subvolume moves aside and the snapshot is taken straight
        // into place (renaming the new one would count as a change to it).
        fs::rename(&path, &old).map_err(PoolError::io("move aside", &path))?;
        if let Err(e) = run(&btrfs::snapshot(&self.snapshot_path(snap), &path, false)) {
            let _ = fs::rename(&old, &path);
            return Err(e.into());
        }
        if let Err((moved, e)) = move_children(&children, &old, &path) {
            // Put the dataset back as it was: the children already moved go
            // back (only those: their places were checked), the new
            // subvolume goes, the old one returns.
            let _ = move_children(&children[..moved], &path, &old);
            let _ = run(&btrfs::subvolume_delete(&[&path]));
            let _ = fs::rename(&old, &path);
            return Err(e);
        }
        run(&btrfs::subvolume_delete(&[&old]))?;
        if quota.is_some() {
            run(&btrfs::qgroup_limit(quota, &path))?;
        }
        tracing::info!(dataset = %dataset, snapshot = %snap, "rolled back");
        Ok(())
    }
}

/// Datasets (outside `doomed`) cloned from a snapshot in `doomed`.
fn clones_of<'a>(doomed: &[&Dataset], all: &'a [Dataset]) -> Vec<&'a Dataset> {
    all.iter()
        .filter(|d| {
            d.origin
                .as_ref()
                .is_some_and(|o| doomed.iter().any(|x| &x.name == o))
                && !doomed.iter().any(|x| x.name == d.name)
        })
        .collect()
}

/// Moves the child datasets nested in the subvolume at `from` to the same
/// place under `to`; `children` are their paths relative to the dataset,
/// outermost only (each carries its own nested children along). The
/// directories leading to each place in `to` come from a snapshot whose
/// content a tenant controls, so none may be a symbolic link.
/// On failure, says how many children were moved before it.
fn move_children(
    children: &[String],
    from: &std::path::Path,
    to: &std::path::Path,
) -> Result<(), (usize, PoolError)> {
    for (i, rel) in children.iter().enumerate() {
        move_child(rel, from, to).map_err(|e| (i, e))?;
    }
    Ok(())
}

pub(crate) fn move_child(
    rel: &str,
    from: &std::path::Path,
    to: &std::path::Path,
) -> Result<(), PoolError> {
    let src = from.join(rel);
    let dest = real_dirs_to(to, rel)?;
    // A snapshot holds an empty directory where a nested subvolume was; it
    // gives way. A subvolume never does (rmdir would delete an empty one).
    if is_subvolume(&dest) {
        return Err(PoolError::Exists(rel.to_owned()));
    }
    if fs::symlink_metadata(&dest).is_ok_and(|m| m.is_dir()) {
        let _ = fs::remove_dir(&dest);
    }
    fs::rename(&src, &dest).map_err(PoolError::io("move child dataset", &src))
}

/// `base/rel`, after making sure that every directory on the way below
/// `base` is a real directory (created where missing), never a link.
fn real_dirs_to(base: &std::path::Path, rel: &str) -> Result<std::path::PathBuf, PoolError> {
    let parts: Vec<&str> = rel.split('/').collect();
    let mut cur = base.to_owned();
    for part in &parts[..parts.len().saturating_sub(1)] {
        cur.push(part);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(PoolError::io("move a child dataset through", &cur)(
                    std::io::Error::other("not a directory (a link in the restored snapshot?)"),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir(&cur).map_err(PoolError::io("create", &cur))?;
            }
            Err(e) => return Err(PoolError::io("inspect", &cur)(e)),
        }
    }
    Ok(base.join(rel))
}

/// The outermost child datasets of `dataset`, as paths relative to it.
fn outermost_children(dataset: &DatasetName, all: &[Dataset]) -> Vec<String> {
    let prefix = format!("{dataset}/");
    let kids: Vec<&str> = all
        .iter()
        .filter(|d| d.kind != Kind::Snapshot)
        .filter_map(|d| d.name.strip_prefix(&prefix))
        .collect();
    kids.iter()
        .filter(|k| !kids.iter().any(|o| k.starts_with(&format!("{o}/"))))
        .map(|k| (*k).to_owned())
        .collect()
}
