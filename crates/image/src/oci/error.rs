//! Why an OCI image could not be read or applied. Each error names the
//! file or blob it is about; [`OciError::code`] gives an imgadm-style code.

use std::io;
use std::path::PathBuf;

use crate::extract::ExtractError;

/// Why an OCI image could not be opened or applied.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The image's path cannot be opened.
    #[error("failed to open image {}", .path.display())]
    Open {
        /// The path given.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file of the image (or the archive itself) cannot be read.
    #[error("failed to read {file}")]
    Read {
        /// The file, as `<image>:<name>` or the archive's path.
        file: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The archive is compressed: its blobs cannot be read in place.
    #[error("{} is a {compression}-compressed archive: decompress it first", .path.display())]
    Compressed {
        /// The archive.
        path: PathBuf,
        /// What compresses it.
        compression: &'static str,
    },
    /// Neither an OCI image layout nor a `docker save` archive.
    #[error(
        "{} is neither an OCI image layout nor a docker save archive (it has no oci-layout and no manifest.json)",
        .path.display()
    )]
    NotAnImage {
        /// The path given.
        path: PathBuf,
    },
    /// A document is malformed or inconsistent.
    #[error("invalid {file}: {reason}")]
    Invalid {
        /// The document (a file name or a blob's digest).
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A document is not the JSON it should be.
    #[error("invalid {file}")]
    Json {
        /// The document.
        file: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A digest that is not `sha256:` and 64 lowercase hex digits.
    #[error("invalid digest {digest:?} in {file}: expected sha256:<64 lowercase hex digits>")]
    InvalidDigest {
        /// The digest as written.
        digest: String,
        /// The document that holds it.
        file: String,
    },
    /// A blob the image needs is not in it.
    #[error("blob {blob} is missing from the image")]
    MissingBlob {
        /// The blob's digest or path.
        blob: String,
    },
    /// A blob's size differs from its descriptor's.
    #[error("blob {blob} is {actual} bytes, its descriptor says {expected}")]
    SizeMismatch {
        /// The blob.
        blob: String,
        /// The descriptor's size.
        expected: u64,
        /// The blob's.
        actual: u64,
    },
    /// A blob's sha256 differs from its digest.
    #[error("blob {blob} has digest {actual}")]
    DigestMismatch {
        /// The blob (its expected digest, or its path).
        blob: String,
        /// Its sha256.
        actual: String,
    },
    /// A layer's uncompressed tar differs from the configuration's
    /// `rootfs.diff_ids`.
    #[error("layer {blob} uncompresses to {actual}, the image configuration says {expected}")]
    DiffIdMismatch {
        /// The layer's blob.
        blob: String,
        /// The configuration's diff id.
        expected: String,
        /// The tar's sha256.
        actual: String,
    },
    /// A document larger than basalt reads.
    #[error("{file} is larger than {limit} bytes")]
    TooLarge {
        /// The document.
        file: String,
        /// The limit.
        limit: u64,
    },
    /// A media type basalt does not read.
    #[error("unsupported media type {media_type} of blob {blob}")]
    UnsupportedMediaType {
        /// The blob.
        blob: String,
        /// Its media type.
        media_type: String,
    },
    /// A layer whose data is not in the image (non-distributable, foreign).
    #[error(
        "layer {blob} is not in the image: its media type {media_type} says to fetch it elsewhere"
    )]
    ForeignLayer {
        /// The blob.
        blob: String,
        /// Its media type.
        media_type: String,
    },
    /// No manifest has the name asked for.
    #[error("no image named {reference:?}; the image holds: {}", .available.join(", "))]
    NoSuchReference {
        /// The name asked for.
        reference: String,
        /// What there is.
        available: Vec<String>,
    },
    /// Several manifests and no name to choose one.
    #[error("the image holds several manifests, choose one by name: {}", .available.join(", "))]
    Ambiguous {
        /// What there is.
        available: Vec<String>,
    },
    /// An image index with no manifest for linux/amd64.
    #[error("index {index} has no linux/amd64 image; it has: {}", .available.join(", "))]
    NoPlatform {
        /// The index.
        index: String,
        /// The platforms it has.
        available: Vec<String>,
    },
    /// A layer could not be applied.
    #[error("failed to apply layer {blob}")]
    Extract {
        /// The layer's blob.
        blob: String,
        /// The cause.
        #[source]
        source: ExtractError,
    },
}

impl OciError {
    /// An imgadm-style code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            OciError::Open { .. } => "FileSystem",
            OciError::Read { source, .. } => match source.kind() {
                io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => "InvalidOciImage",
                _ => "FileSystem",
            },
            OciError::Compressed { .. }
            | OciError::UnsupportedMediaType { .. }
            | OciError::ForeignLayer { .. }
            | OciError::NoPlatform { .. } => "NotSupported",
            OciError::NotAnImage { .. }
            | OciError::Invalid { .. }
            | OciError::Json { .. }
            | OciError::InvalidDigest { .. }
            | OciError::MissingBlob { .. }
            | OciError::TooLarge { .. } => "InvalidOciImage",
            OciError::SizeMismatch { .. }
            | OciError::DigestMismatch { .. }
            | OciError::DiffIdMismatch { .. } => "DigestMismatch",
            OciError::NoSuchReference { .. } => "ImageNotFound",
            OciError::Ambiguous { .. } => "AmbiguousImage",
            OciError::Extract { source, .. } => match source {
                ExtractError::Destination { .. } | ExtractError::Io { .. } => "FileSystem",
                _ => "InvalidOciImage",
            },
        }
    }
}
