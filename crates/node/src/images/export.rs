//! An image file written from a tree: the tree whole, or as its
//! difference from a lower tree (an incremental image), compressed and
//! described (sha1, size) in one pass. What `imgadm create` writes and
//! what an OCI import keeps for serving.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::Ordering;

use basalt_image::file::ImageWriter;
use basalt_image::manifest::{Compression, ImageFile};

use super::ImageError;
use super::import::INTERRUPTED;

/// A writer that fails once the operator interrupted, so that an archive
/// being written stops at its next block.
struct Interruptible<W>(W);

impl<W: Write> Write for Interruptible<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return Err(io::Error::other("interrupted"));
        }
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Writes `root` (with `lower`, only what differs from it) as an image
/// file at `out`. The file is written under a staging name beside `out`
/// (`.<name>.<pid>`) and renamed into place: `out` is whole or untouched.
pub fn write_image_file(
    root: &Path,
    lower: Option<&Path>,
    compression: Compression,
    out: &Path,
) -> Result<ImageFile, ImageError> {
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let staged = dir.join(format!(
        ".{}.{}",
        out.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let written = write(root, lower, compression, &staged).and_then(|file| {
        fs::rename(&staged, out)
            .map(|()| file)
            .map_err(ImageError::io("rename", &staged))
    });
    if written.is_err() {
        let _ = fs::remove_file(&staged);
    }
    written
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
