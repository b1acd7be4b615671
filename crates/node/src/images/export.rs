//! An image file written from a tree: the tree whole, or as its
//! difference from a lower tree (an incremental image), compressed and
//! described (sha1, size) in one pass. What `imgadm create` writes and
//! what an OCI import keeps for serving.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::Path;
use std::sync::atomic::Ordering;

use basalt_image::file::ImageWriter;
use basalt_image::manifest::{Compression, ImageFile};

use super::interrupt::{INTERRUPTED, Interruptible};
use super::{ImageError, ImageRecord, ImageStore};
use basalt_image::manifest::ImageType;

/// Writes `root` (with `lower`, only what differs from it) as an image
/// file at `out`. The file is written under a staging name beside `out`
/// (`.<name>.<pid>`) and renamed into place: `out` is whole or untouched.
pub fn write_image_file(
    root: &Path,
    lower: Option<&Path>,
    compression: Compression,
    out: &Path,
) -> Result<ImageFile, ImageError> {
    super::stage(out, |staged| write(root, lower, compression, staged))
}

fn write(
    root: &Path,
    lower: Option<&Path>,
    compression: Compression,
    path: &Path,
) -> Result<ImageFile, ImageError> {
    let archive_error = |e: basalt_image::archive::ArchiveError| {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return ImageError::Source {
                code: "Interrupted",
                message: "interrupted: what was being made was removed".into(),
            };
        }
        ImageError::Source {
            code: "FileSystem",
            message: e.to_string(),
        }
    };
    let out = File::create(path).map_err(ImageError::io("create", path))?;
    let w = ImageWriter::new(
        Interruptible(BufWriter::with_capacity(1 << 20, out)),
        compression,
    )
    .map_err(ImageError::io("write", path))?;
    let w = match lower {
        Some(lower) => {
            basalt_image::diff::diff(lower, root, w)
                .map_err(archive_error)?
                .0
        }
        None => {
            basalt_image::archive::archive(root, w)
                .map_err(archive_error)?
                .0
        }
    };
    let (Interruptible(buf), file) = w.finish().map_err(ImageError::io("write", path))?;
    let out = buf
        .into_inner()
        .map_err(|e| ImageError::io("write", path)(e.into_error()))?;
    out.sync_all().map_err(ImageError::io("sync", path))?;
    Ok(file)
}

impl ImageStore {
    /// The kept file of installed image `uuid`, made from its `@final`
    /// when the node has none (an image installed before files were
    /// kept, or received by `pooladm receive`): its root archived (an
    /// incremental image's, as its difference from its origin's), gzip;
    /// the record's `files[0]` then describes that file. `None` for a
    /// volume image, which is not served.
    pub fn ensure_file(&self, uuid: &str) -> Result<Option<std::path::PathBuf>, ImageError> {
        let img = self.get(uuid)?;
        let kept = self.kept_file(uuid);
        // A file is the image's when its record describes it (a crash
        // between writing the file and the record leaves one that is not).
        let described = |img: &super::InstalledImage| {
            let want = img.record.manifest.file().map(|f| f.size);
            fs::metadata(&kept).is_ok_and(|m| m.is_file() && Some(m.len()) == want)
        };
        if described(&img) {
            return Ok(Some(kept));
        }
        let _lock = self.lock(uuid)?;
        let img = self.get(uuid)?;
        if described(&img) {
            return Ok(Some(kept));
        }
        super::remove_staged(&self.paths, uuid);
        let mut manifest = img.record.manifest.clone();
        if manifest.image_type == ImageType::Zvol {
            return Ok(None);
        }
        let lower = match &manifest.origin {
            Some(o) => Some(self.final_root(&o.to_string())?),
            None => None,
        };
        let dir = self.paths.image_files();
        fs::create_dir_all(&dir).map_err(ImageError::io("create", &dir))?;
        let file = write_image_file(
            &self.final_root(uuid)?,
            lower.as_deref(),
            Compression::Gzip,
            &kept,
        )?;
        tracing::warn!(image = %uuid, sha1 = %file.sha1, "the image had no file: made one from its @final, which its record now describes");
        manifest.files = Some(vec![file]);
        let record = ImageRecord {
            manifest,
            ..img.record
        };
        if let Err(e) = record.write(&self.record_path(uuid)) {
            let _ = fs::remove_file(&kept);
            return Err(e);
        }
        Ok(Some(kept))
    }
}
