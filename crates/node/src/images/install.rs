//! `imgadm install -m MANIFEST -f FILE`: the install pipeline.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use basalt_image::Manifest;
use basalt_image::extract::{ExtractError, extract, extract_layer};
use basalt_image::file::{ImageStream, ReadAhead};
use basalt_image::manifest::ImageType;
use basalt_pool::DatasetName;

use super::{ImageError, ImageRecord, ImageStore, Installed, PARTIAL};
use crate::fsutil::{FileLock, lock_file};
use crate::paths::Paths;

/// What becomes of the file an image was installed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keep {
    /// The operator's file: a copy is kept.
    Copy,
    /// The node's own download or upload: moved into place.
    Move,
}

/// Takes the install lock of image `uuid` if no one holds it.
pub(super) fn try_lock(paths: &Paths, uuid: &str) -> Result<Option<FileLock>, ImageError> {
    let path = paths.image_lock(uuid);
    lock_file(&path, false).map_err(ImageError::io("lock", &path))
}

fn read_manifest(path: &Path) -> Result<Manifest, ImageError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(ImageError::Missing {
                what: "manifest",
                path: path.to_owned(),
            });
        }
        Err(e) => return Err(ImageError::io("read", path)(e)),
    };
    Ok(Manifest::from_json(&text)?)
}

impl ImageStore {
    /// Installs an image from a manifest and its file.
    pub fn install(&self, manifest: &Path, file: &Path) -> Result<Installed, ImageError> {
        let manifest = read_manifest(manifest)?;
        let size = match fs::metadata(file) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ImageError::Missing {
                    what: "image",
                    path: file.to_owned(),
                });
            }
            Err(e) => return Err(ImageError::io("read", file)(e)),
        };
        if let Some(f) = manifest.file() {
            basalt_image::file::verify_size(&file.display().to_string(), f, size)?;
        }
        let uuid = manifest.uuid.to_string();
        let _lock = self.lock(&uuid)?;
        if self.get(&uuid).is_ok() {
            return Ok(Installed::Already(manifest));
        }
        self.install_locked(&manifest, file, None, Keep::Copy)?;
        Ok(Installed::New(manifest))
    }

    /// Installs `manifest` from `file` with the image's lock held: builds
    /// the dataset, records it, and keeps the file as the image's file
    /// (copied, or moved into place when it is the node's own download or
    /// upload). A failure leaves no dataset and no record, and removes a
    /// file that was to be moved.
    pub(super) fn install_locked(
        &self,
        manifest: &Manifest,
        file: &Path,
        source: Option<&str>,
        keep: Keep,
    ) -> Result<(), ImageError> {
        let uuid = manifest.uuid.to_string();
        super::remove_staged(&self.paths, &uuid);
        if let Err(e) = self.install_dataset(manifest, file, source) {
            if keep == Keep::Move {
                let _ = fs::remove_file(file);
            }
            return Err(e);
        }
        let kept = self.kept_file(&uuid);
        let placed = kept
            .parent()
            .map_or(Ok(()), |dir| {
                fs::create_dir_all(dir).map_err(ImageError::io("create", dir))
            })
            .and_then(|()| {
                super::stage(&kept, |staged| {
                    let put = match keep {
                        // Across file systems, a copy; the download goes
                        // either way.
                        Keep::Move => {
                            let moved = fs::rename(file, staged)
                                .or_else(|_| fs::copy(file, staged).map(drop));
                            let _ = fs::remove_file(file);
                            moved
                        }
                        Keep::Copy => fs::copy(file, staged).map(drop),
                    };
                    put.map_err(ImageError::io("keep", file))
                })
            });
        if let Err(e) = placed {
            // The image is installed; only serving it is lost.
            tracing::warn!(image = %uuid, error = %e, "the image's file could not be kept: this node will not serve the image");
        }
        Ok(())
    }

    fn install_dataset(
        &self,
        manifest: &Manifest,
        file: &Path,
        source: Option<&str>,
    ) -> Result<(), ImageError> {
        let uuid = manifest.uuid.to_string();
        let target = self.dataset(&uuid)?;
        let partial = DatasetName::parse(&format!("{target}{PARTIAL}"))?;
        if self.pool.exists(partial.as_str()) {
            tracing::warn!(dataset = %partial, "removing what an interrupted install left");
            self.pool.destroy(partial.as_str(), true, false)?;
        }
        // Nothing is destroyed with -R here: instances cloned from an image
        // are never collateral of an install.
        let placed = self
            .build(manifest, file, &partial, &target)
            .and_then(|()| Ok(self.pool.rename(&partial, &target)?));
        if let Err(e) = placed {
            let _ = self.pool.destroy(partial.as_str(), true, false);
            return Err(e);
        }
        let record = ImageRecord {
            manifest: manifest.clone(),
            zpool: self.pool.name().to_owned(),
            source: source.map(str::to_owned),
        };
        if let Err(e) = record.write(&self.record_path(&uuid)) {
            let _ = self.pool.destroy(target.as_str(), true, false);
            return Err(e);
        }
        tracing::info!(image = %uuid, "installed");
        Ok(())
    }

    fn build(
        &self,
        manifest: &Manifest,
        file: &Path,
        partial: &DatasetName,
        target: &DatasetName,
    ) -> Result<(), ImageError> {
        let uuid = manifest.uuid.to_string();
        if self.pool.exists(target.as_str()) {
            tracing::warn!(dataset = %target, "an image dataset without a record: replacing it (refused if anything is cloned from it)");
            self.pool.destroy(target.as_str(), true, false)?;
        }
        let is_volume = manifest.image_type == ImageType::Zvol;
        match (&manifest.origin, is_volume) {
            (Some(origin), _) => {
                let origin = origin.to_string();
                if self.get(&origin).is_err() {
                    return Err(ImageError::OriginNotInstalled { uuid, origin });
                }
                let snap = self.dataset(&origin)?.snapshot("final")?;
                self.pool.clone_snapshot(&snap, partial)?;
            }
            (None, true) => {
                let mib = manifest.image_size.map_or(0, |m| m.0);
                self.pool.create(partial, Some(mib << 20))?;
            }
            (None, false) => {
                self.pool.create(partial, None)?;
                let root = self.pool.path_of(partial).join("root");
                fs::create_dir(&root).map_err(ImageError::io("create", &root))?;
            }
        }
        self.unpack(manifest, file, partial, is_volume)?;
        self.pool.snapshot(&partial.snapshot("final")?)?;
        Ok(())
    }

    fn unpack(
        &self,
        manifest: &Manifest,
        file: &Path,
        ds: &DatasetName,
        is_volume: bool,
    ) -> Result<(), ImageError> {
        let raw = File::open(file).map_err(ImageError::io("open", file))?;
        let raw = super::interrupt::Interruptible(raw);
        let name = file.display().to_string();
        let mut stream = ImageStream::open(raw, &name, manifest.file())?;
        if let Some(declared) = stream.overridden() {
            tracing::warn!(file = %name, %declared, actual = %stream.compression(), "the file's magic number overrides the manifest's compression");
        }
        if is_volume {
            let limit = manifest.image_size.map_or(0, |m| m.0);
            copy_into_volume(&mut stream, &self.pool.volume_file(ds), limit)?;
            stream.finish()?;
            return Ok(());
        }
        let root = self.pool.path_of(ds).join("root");
        // Decompression runs on its own thread, overlapping with writing
        // the files, as tar's gzip child does.
        let mut ahead = ReadAhead::spawn(stream).map_err(ImageError::io("read", file))?;
        // An incremental image is a layer over its origin: its whiteouts
        // remove what the instance it was made from had removed.
        let extracted = if manifest.origin.is_some() {
            extract_layer(&mut ahead, &root)
        } else {
            extract(&mut ahead, &root)
        };
        let stream = ahead.into_inner().map_err(ImageError::io("read", file))?;
        let extracted = match extracted {
            // The archive's bytes stopped coming: the file's own error
            // (a mismatch, a decompression failure) says why.
            Err(ExtractError::Read { source, .. }) => {
                let cause = stream.error(source);
                return Err(match stream.finish() {
                    Err(e) if e.is_mismatch() => e,
                    _ => cause,
                }
                .into());
            }
            other => other,
        };
        match (extracted, stream.finish()) {
            (Ok(summary), Ok(_)) => {
                if summary.skipped_acls > 0 {
                    tracing::warn!(
                        count = summary.skipped_acls,
                        "ACL entries naming users were left out"
                    );
                }
                Ok(())
            }
            // A file that is not the one the manifest describes explains a
            // failed extraction better than the extraction's own error.
            (_, Err(e)) => Err(e.into()),
            (Err(e), Ok(_)) => Err(e.into()),
        }
    }
}

fn copy_into_volume<R: Read>(
    stream: &mut ImageStream<R>,
    volume: &Path,
    mib: u64,
) -> Result<(), ImageError> {
    let mut out = OpenOptions::new()
        .write(true)
        .open(volume)
        .map_err(ImageError::io("open", volume))?;
    let limit = mib << 20;
    let mut buf = vec![0u8; 1 << 20];
    let mut written = 0u64;
    loop {
        let n = stream.read(&mut buf).map_err(|e| stream.error(e))?;
        if n == 0 {
            break;
        }
        written += n as u64;
        if written > limit {
            return Err(ImageError::TooBig { mib });
        }
        out.write_all(&buf[..n])
            .map_err(ImageError::io("write", volume))?;
    }
    out.sync_all().map_err(ImageError::io("sync", volume))
}
