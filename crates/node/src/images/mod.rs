//! The local image store (imgadm's local side): an installed image is the
//! dataset `<pool>/<uuid>` with the single snapshot `@final`, plus its
//! record `/var/imgadm/images/<pool>-<uuid>.json` =
//! `{"manifest": {...}, "zpool": "<pool>", "source"?: "<url>"}`.
//!
//! Install is all or nothing: the image is built in `<pool>/<uuid>-partial`
//! (a filesystem whose `root/` receives the archive, or a volume receiving
//! the disk), checked against the manifest's size and sha1 while it
//! streams, snapshotted `@final`, renamed into place, and only then
//! recorded. A failure destroys the partial dataset; one left by a killed
//! install is destroyed by the next install of that image, or by vacuum.

pub mod catalog;
pub mod create;
mod error;
pub mod export;
pub mod import;
mod install;
mod interrupt;
pub mod oci;
mod record;
pub mod sources;

pub use error::ImageError;
pub use record::ImageRecord;

use std::fs;
use std::path::{Path, PathBuf};

use basalt_image::Manifest;
use basalt_pool::{Dataset, DatasetName, Kind, Pool};

use crate::paths::Paths;

/// The suffix of a dataset an install is building.
const PARTIAL: &str = "-partial";

/// An installed image.
#[derive(Debug, Clone)]
pub struct InstalledImage {
    /// Its record.
    pub record: ImageRecord,
    /// Instances and images cloned from its `@final`.
    pub clones: Vec<String>,
}

/// What an install did.
#[derive(Debug, Clone)]
pub enum Installed {
    /// The image is now installed.
    New(Manifest),
    /// It already was; nothing changed.
    Already(Manifest),
}

/// The node's installed images, on its pool.
pub struct ImageStore {
    paths: Paths,
    pool: Pool,
}

impl ImageStore {
    /// The store of the images on `pool`.
    pub fn new(paths: Paths, pool: Pool) -> ImageStore {
        ImageStore { paths, pool }
    }

    /// The pool the images live on.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    fn dataset(&self, uuid: &str) -> Result<DatasetName, ImageError> {
        DatasetName::parse(&format!("{}/{uuid}", self.pool.name()))
            .map_err(|_| ImageError::InvalidUuid(uuid.to_owned()))
    }

    /// Takes image `uuid`'s lock (`/var/run/img.<uuid>.import.lock`),
    /// waiting for it: installs, imports, deletes and the making of its
    /// file never overlap.
    pub(crate) fn lock(&self, uuid: &str) -> Result<crate::fsutil::FileLock, ImageError> {
        let path = self.paths.image_lock(uuid);
        crate::fsutil::wait_lock(&path).map_err(ImageError::io("lock", &path))
    }

    /// Where the file of image `uuid` is kept.
    pub fn kept_file(&self, uuid: &str) -> PathBuf {
        self.paths.image_files().join(format!("{uuid}.file"))
    }

    fn record_path(&self, uuid: &str) -> std::path::PathBuf {
        self.paths
            .image_records()
            .join(format!("{}-{uuid}.json", self.pool.name()))
    }

    /// Every installed image, ordered by uuid. Records that cannot be read
    /// are returned apart, named.
    pub fn list(&self) -> Result<(Vec<InstalledImage>, Vec<ImageError>), ImageError> {
        let datasets = self.pool.list()?;
        let prefix = format!("{}-", self.pool.name());
        let mut names: Vec<String> = match fs::read_dir(self.paths.image_records()) {
            Ok(it) => it
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.starts_with(&prefix) && n.ends_with(".json"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(ImageError::io("list", self.paths.image_records())(e)),
        };
        names.sort();
        let mut images = Vec::new();
        let mut broken = Vec::new();
        for name in names {
            let uuid = &name[prefix.len()..name.len() - ".json".len()];
            match self.read_installed(uuid, &datasets) {
                Ok(Some(img)) => images.push(img),
                Ok(None) => {}
                Err(e) => broken.push(e),
            }
        }
        Ok((images, broken))
    }

    fn read_installed(
        &self,
        uuid: &str,
        datasets: &[Dataset],
    ) -> Result<Option<InstalledImage>, ImageError> {
        let snapshot = format!("{}/{uuid}@final", self.pool.name());
        if !datasets.iter().any(|d| d.name == snapshot) {
            return Ok(None);
        }
        let record = ImageRecord::read(&self.record_path(uuid))?;
        let clones = datasets
            .iter()
            .filter(|d| d.kind != Kind::Snapshot && d.origin.as_deref() == Some(snapshot.as_str()))
            .map(|d| d.name.clone())
            .collect();
        Ok(Some(InstalledImage { record, clones }))
    }

    /// One installed image.
    pub fn get(&self, uuid: &str) -> Result<InstalledImage, ImageError> {
        if !basalt_model::ids::is_uuid(uuid) {
            return Err(ImageError::InvalidUuid(uuid.to_owned()));
        }
        self.read_installed(uuid, &self.pool.list()?)?
            .ok_or_else(|| ImageError::NotInstalled {
                uuid: uuid.to_owned(),
                pool: self.pool.name().to_owned(),
            })
    }

    /// Replaces an installed image's manifest with what `source` says
    /// (`imgadm update`); the dataset and the kept file are unchanged, so
    /// the file's description stays the installed one.
    pub fn update_manifest(&self, manifest: &Manifest, source: &str) -> Result<(), ImageError> {
        let uuid = manifest.uuid.to_string();
        let _lock = self.lock(&uuid)?;
        let img = self.get(&uuid)?;
        let mut manifest = manifest.clone();
        manifest.files = img.record.manifest.files.clone();
        let record = ImageRecord {
            manifest,
            zpool: img.record.zpool,
            source: Some(source.to_owned()),
        };
        record.write(&self.record_path(&uuid))
    }

    /// Deletes an installed image: refused while instances or images are
    /// cloned from it.
    pub fn delete(&self, uuid: &str) -> Result<Manifest, ImageError> {
        if !basalt_model::ids::is_uuid(uuid) {
            return Err(ImageError::InvalidUuid(uuid.to_owned()));
        }
        // An install of the same image waits until the delete is done.
        let _lock = self.lock(uuid)?;
        let img = self.get(uuid)?;
        let manifest = img.record.manifest.clone();
        if !img.clones.is_empty() {
            return Err(ImageError::HasClones {
                uuid: uuid.to_owned(),
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                clones: img.clones,
            });
        }
        let ds = self.dataset(uuid)?;
        self.pool.destroy(ds.as_str(), true, false)?;
        let path = self.record_path(uuid);
        fs::remove_file(&path).map_err(ImageError::io("remove", &path))?;
        let kept = self.kept_file(uuid);
        match fs::remove_file(&kept) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::warn!(file = %kept.display(), error = %e, "the image's file could not be removed");
            }
            _ => {}
        }
        Ok(manifest)
    }

    /// Deletes every image nothing is cloned from (with `dry_run`, only
    /// says which), and the datasets of installs that were killed.
    pub fn vacuum(&self, dry_run: bool) -> Result<Vec<Manifest>, ImageError> {
        let (images, _) = self.list()?;
        let unused: Vec<Manifest> = images
            .into_iter()
            .filter(|i| i.clones.is_empty())
            .map(|i| i.record.manifest)
            .collect();
        if !dry_run {
            for m in &unused {
                self.delete(&m.uuid.to_string())?;
            }
            self.remove_stale_partials()?;
        }
        Ok(unused)
    }

    /// Destroys the `<pool>/<uuid>-partial` datasets that installs which
    /// were killed left (not one an install is building now). Only those:
    /// a dataset of another name is not imgadm's to remove.
    fn remove_stale_partials(&self) -> Result<(), ImageError> {
        let prefix = format!("{}/", self.pool.name());
        for d in self.pool.list()? {
            let Some(uuid) = d
                .name
                .strip_prefix(&prefix)
                .and_then(|n| n.strip_suffix(PARTIAL))
                .filter(|u| basalt_model::ids::is_uuid(u))
            else {
                continue;
            };
            if let Some(_lock) = install::try_lock(&self.paths, uuid)? {
                self.pool.destroy(&d.name, true, false)?;
            }
        }
        // Staging copies and downloads that killed processes left.
        for dir in [self.paths.image_files(), self.paths.image_downloads()] {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let uuid = name.trim_start_matches('.').split('.').next().unwrap_or("");
                let stray = name.starts_with('.') || dir == self.paths.image_downloads();
                if !stray || !basalt_model::ids::is_uuid(uuid) {
                    continue;
                }
                if let Some(_lock) = install::try_lock(&self.paths, uuid)? {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }
}

/// Makes `target` through `make`, which writes a staging name beside it
/// (`.<name>.<pid>`, what [`remove_staged`] knows), then renames it into
/// place: `target` is whole or untouched, and a failure removes the
/// staging file.
fn stage<T>(
    target: &Path,
    make: impl FnOnce(&Path) -> Result<T, ImageError>,
) -> Result<T, ImageError> {
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let staged = dir.join(format!(
        ".{}.{}",
        target.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let made = make(&staged).and_then(|v| {
        fs::rename(&staged, target)
            .map(|()| v)
            .map_err(ImageError::io("rename", &staged))
    });
    if made.is_err() {
        let _ = fs::remove_file(&staged);
    }
    made
}

impl ImageStore {
    /// `<pool>/<uuid>@final`'s `root/`: what an installed image unpacks to.
    fn final_root(&self, uuid: &str) -> Result<PathBuf, ImageError> {
        let snap = self.dataset(uuid)?.snapshot("final")?;
        Ok(self.pool.snapshot_path(&snap).join("root"))
    }
}

/// Removes the staging copies of image `uuid`'s file that a killed
/// process left (`.<uuid>.file.<pid>`); the caller holds the image's lock.
fn remove_staged(paths: &Paths, uuid: &str) {
    let prefix = format!(".{uuid}.file.");
    let Ok(entries) = fs::read_dir(paths.image_files()) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(e.path());
        }
    }
}
