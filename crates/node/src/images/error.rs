//! imgadm's errors: each has imgadm's code (what `-E` prints and what
//! scripts match) and a message; the CLI prints
//! `imgadm <command>: error (<code>): <message>`.

use std::path::PathBuf;

use basalt_image::ManifestError;
use basalt_image::extract::ExtractError;
use basalt_image::file::FileError;
use basalt_pool::PoolError;

/// A failure of an image store operation.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The manifest is not valid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The image file is not the one the manifest describes, or unreadable.
    #[error(transparent)]
    File(#[from] FileError),
    /// The archive could not be unpacked (or tried to escape).
    #[error("image archive could not be unpacked: {0}")]
    Extract(#[from] ExtractError),
    /// The image is not installed.
    #[error("image \"{uuid}\" was not found on zpool \"{pool}\"")]
    NotInstalled { uuid: String, pool: String },
    /// An incremental image's origin is not installed.
    #[error("origin image \"{origin}\" of image \"{uuid}\" is not installed")]
    OriginNotInstalled { uuid: String, origin: String },
    /// Instances or images are cloned from the image.
    #[error("image \"{uuid}\" has dependent clones: {}", clone_list(clones))]
    HasClones {
        uuid: String,
        name: String,
        version: String,
        clones: Vec<String>,
    },
    /// Not a UUID.
    #[error("invalid uuid: \"{0}\"")]
    InvalidUuid(String),
    /// A file argument does not exist.
    #[error("{what} file \"{}\" does not exist", path.display())]
    Missing { what: &'static str, path: PathBuf },
    /// A volume image's disk is larger than the manifest's image_size.
    #[error("image file holds more than image_size ({mib} MiB)")]
    TooBig { mib: u64 },
    /// The pool failed.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// A record in the image database cannot be read.
    #[error("image record {} is corrupt: {reason}", path.display())]
    Record { path: PathBuf, reason: String },
    /// A source, a download or an upload failed, or an argument about
    /// them is wrong: the code is imgadm's (`NoSources`, `SourcePing`,
    /// `ActiveImageNotFound`, `Download`, ...).
    #[error("{message}")]
    Source { code: &'static str, message: String },
    /// A file operation failed.
    #[error("failed to {what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The first clone, and how many more (imgadm's wording).
fn clone_list(clones: &[String]) -> String {
    match clones {
        [] => String::new(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} and {} others...", rest.len()),
    }
}

impl From<basalt_pool::name::NameError> for ImageError {
    fn from(e: basalt_pool::name::NameError) -> ImageError {
        ImageError::Pool(e.into())
    }
}

impl ImageError {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> ImageError {
        let path = path.into();
        move |source| ImageError::Io { what, path, source }
    }

    /// imgadm's error code.
    pub fn code(&self) -> &'static str {
        match self {
            ImageError::Manifest(e) => e.code(),
            ImageError::File(e) => e.code(),
            ImageError::Extract(_) => "FileSystem",
            ImageError::NotInstalled { .. } => "ImageNotInstalled",
            ImageError::OriginNotInstalled { .. } => "OriginNotInstalled",
            ImageError::HasClones { .. } => "ImageHasDependentClones",
            ImageError::InvalidUuid(_) => "InvalidUUID",
            ImageError::Missing { .. } => "InvalidArgument",
            ImageError::TooBig { .. } => "InvalidManifest",
            ImageError::Source { code, .. } => code,
            ImageError::Pool(_) | ImageError::Record { .. } | ImageError::Io { .. } => {
                "InternalError"
            }
        }
    }

    /// imgadm's exit status: 3 for an image (or origin) not installed, else 1.
    pub fn exit_status(&self) -> u8 {
        match self {
            ImageError::NotInstalled { .. } | ImageError::OriginNotInstalled { .. } => 3,
            _ => 1,
        }
    }
}
