//! An image file on its way in: its size and sha1 checked while it streams
//! (one pass, no temporary copy), and decompressed by what the manifest
//! declares and what its magic bytes say.
//!
//! ```text
//!   file ──▶ Verifier (sha1, size) ──▶ 1 MiB buffer ──▶ decoder ──▶ tar / disk
//!                   ▲                                       │
//!                   └──────── ImageStream::finish ◀─────────┘
//!                     drains what the consumer left, checks
//! ```
//!
//! The digest is known only at the end, so the caller unpacks into a fresh
//! place and throws it away when [`ImageStream::finish`] fails. When the
//! consumer itself failed, `finish` still tells whether the file was the
//! one the manifest describes: a wrong file is the better error.

mod encode;
mod magic;
mod read_ahead;
mod verify;

#[cfg(test)]
mod tests;

use std::io::{self, BufReader, Chain, Cursor, Read};

use bzip2::bufread::MultiBzDecoder;
use flate2::bufread::MultiGzDecoder;
use liblzma::bufread::XzDecoder;

use crate::manifest::{Compression, ImageFile, Sha1Digest};

pub use encode::ImageWriter;
pub use magic::{MAGIC_LEN, choose, detect};
pub use read_ahead::ReadAhead;
pub use verify::{Verified, Verifier};

/// Buffer size for reading image files and their decompressed contents.
pub const BUF_SIZE: usize = 1 << 20;

/// An image file that is not the one its manifest describes, or cannot be
/// read or decompressed. [`FileError::code`] is imgadm's error code.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file's size differs from the manifest's.
    #[error("image file size error: manifest says {expected} bytes, {name} is {actual} bytes")]
    SizeMismatch {
        /// The file.
        name: String,
        /// `files[0].size`.
        expected: u64,
        /// What was read.
        actual: u64,
    },
    /// More bytes arrived than the manifest announced; reading stopped.
    #[error("image file size error: manifest says {expected} bytes, {name} is larger")]
    TooLarge {
        /// The file.
        name: String,
        /// `files[0].size`.
        expected: u64,
    },
    /// The file's sha1 differs from the manifest's.
    #[error(
        "image file checksum (sha1) error: manifest says \"{expected}\", {name} is \"{actual}\""
    )]
    Sha1Mismatch {
        /// The file.
        name: String,
        /// `files[0].sha1`.
        expected: Sha1Digest,
        /// What was read.
        actual: Sha1Digest,
    },
    /// The manifest says the file is compressed, but it starts with no
    /// compressor's magic number.
    #[error("image file {name} is not {declared}-compressed as its manifest says")]
    NotCompressed {
        /// The file.
        name: String,
        /// `files[0].compression`.
        declared: Compression,
    },
    /// Reading the file failed.
    #[error("failed to read image file {name}")]
    Read {
        /// The file.
        name: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Decompressing the file failed.
    #[error("failed to decompress image file {name} ({compression})")]
    Decompress {
        /// The file.
        name: String,
        /// The compression in use.
        compression: Compression,
        /// The decoder's error.
        #[source]
        source: io::Error,
    },
}

impl FileError {
    /// imgadm's error code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            FileError::SizeMismatch { .. }
            | FileError::TooLarge { .. }
            | FileError::Sha1Mismatch { .. } => "DownloadError",
            FileError::NotCompressed { .. } | FileError::Decompress { .. } => "UncompressionError",
            FileError::Read { .. } => "FileSystem",
        }
    }

    /// The `FileError` an I/O error carries (a [`Verifier`] stopping a file
    /// that is too long), or a read error.
    pub fn from_io(name: &str, e: io::Error) -> FileError {
        e.downcast::<FileError>()
            .unwrap_or_else(|source| FileError::Read {
                name: name.to_owned(),
                source,
            })
    }

    /// Whether this error says the file is not the one the manifest
    /// describes (rather than that it could not be read).
    pub fn is_mismatch(&self) -> bool {
        self.code() == "DownloadError"
    }
}

/// Size and sha1 checks on an image file of a manifest.
pub fn verify_size(name: &str, file: &ImageFile, actual: u64) -> Result<(), FileError> {
    if file.size == actual {
        Ok(())
    } else {
        Err(FileError::SizeMismatch {
            name: name.to_owned(),
            expected: file.size,
            actual,
        })
    }
}

type Raw<R> = BufReader<Chain<Cursor<Vec<u8>>, Verifier<R>>>;

enum Decoder<R: Read> {
    None(Raw<R>),
    Gzip(MultiGzDecoder<Raw<R>>),
    Bzip2(MultiBzDecoder<Raw<R>>),
    Xz(XzDecoder<Raw<R>>),
    Zstd(zstd::stream::read::Decoder<'static, Raw<R>>),
}

/// The decompressed contents of an image file, checked as they stream.
pub struct ImageStream<R: Read> {
    decoder: Decoder<R>,
    name: String,
    declared: Option<Compression>,
    compression: Compression,
}

impl<R: Read> ImageStream<R> {
    /// Opens the image file `raw` (named `name` in messages) described by
    /// `file` (imgadm checks nothing when the manifest lists no file), and
    /// picks its decompressor: see [`choose`].
    pub fn open(raw: R, name: &str, file: Option<&ImageFile>) -> Result<Self, FileError> {
        let mut verifier = Verifier::new(raw, name, file.map(|f| f.size), file.map(|f| f.sha1));
        let head = read_head(&mut verifier).map_err(|e| FileError::from_io(name, e))?;
        let declared = file.map(|f| f.compression);
        let detected = detect(&head);
        let compression = choose(declared, detected).ok_or_else(|| FileError::NotCompressed {
            name: name.to_owned(),
            declared: declared.unwrap_or(Compression::None),
        })?;
        let raw = BufReader::with_capacity(BUF_SIZE, Cursor::new(head).chain(verifier));
        let decoder = match compression {
            Compression::None => Decoder::None(raw),
            Compression::Gzip => Decoder::Gzip(MultiGzDecoder::new(raw)),
            Compression::Bzip2 => Decoder::Bzip2(MultiBzDecoder::new(raw)),
            Compression::Xz => Decoder::Xz(XzDecoder::new_multi_decoder(raw)),
            Compression::Zstd => Decoder::Zstd(
                zstd::stream::read::Decoder::with_buffer(raw).map_err(|source| {
                    FileError::Decompress {
                        name: name.to_owned(),
                        compression,
                        source,
                    }
                })?,
            ),
        };
        Ok(ImageStream {
            decoder,
            name: name.to_owned(),
            declared,
            compression,
        })
    }

    /// The compression being undone.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// What the manifest declared, when it differs from what is used (the
    /// caller logs it: the magic number won).
    pub fn overridden(&self) -> Option<Compression> {
        self.declared.filter(|d| *d != self.compression)
    }

    /// Reads the rest of the file and checks its size and sha1.
    pub fn finish(self) -> Result<Verified, FileError> {
        let raw = match self.decoder {
            Decoder::None(r) => r,
            Decoder::Gzip(d) => d.into_inner(),
            Decoder::Bzip2(d) => d.into_inner(),
            Decoder::Xz(d) => d.into_inner(),
            Decoder::Zstd(d) => d.finish(),
        };
        let (_, verifier) = raw.into_inner().into_inner();
        verifier.finish()
    }

    /// The error for a failed read of the decompressed stream: the file's
    /// own error when it carries one, else a decompression error.
    pub fn error(&self, e: io::Error) -> FileError {
        match FileError::from_io(&self.name, e) {
            FileError::Read { name, source } if self.compression != Compression::None => {
                FileError::Decompress {
                    name,
                    compression: self.compression,
                    source,
                }
            }
            other => other,
        }
    }
}

impl<R: Read> Read for ImageStream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.decoder {
            Decoder::None(r) => r.read(buf),
            Decoder::Gzip(d) => d.read(buf),
            Decoder::Bzip2(d) => d.read(buf),
            Decoder::Xz(d) => d.read(buf),
            Decoder::Zstd(d) => d.read(buf),
        }
    }
}

/// The first [`MAGIC_LEN`] bytes (fewer if the file is shorter).
fn read_head(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(MAGIC_LEN);
    r.take(MAGIC_LEN as u64).read_to_end(&mut head)?;
    Ok(head)
}
