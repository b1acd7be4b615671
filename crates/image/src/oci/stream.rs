//! One layer from blob to tree, checked as it streams:
//!
//! ```text
//!   blob ─▶ Hashing (digest) ─▶ gunzip / unzstd ─▶ Hashing (diff id) ─▶ extract_layer
//! ```
//!
//! After the extraction the rest of each stream is read (a tar's padding,
//! a compressor's trailer) so that both digests cover every byte. The
//! blob's digest is checked first: when it is wrong, that is the error,
//! whatever the extraction made of the bytes.
//!
//! Both digests are known only at the end, after the layer has changed
//! the tree: a failed layer leaves the destination half made.

use std::io::{self, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;
use sha2::{Digest as _, Sha256};

use super::source::{Section, Source};
use super::spec::{Digest, LayerCompression};
use super::{OciError, OciLayer};
use crate::extract::{Summary, extract_layer};
use crate::file::BUF_SIZE;

/// What one layer did.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Applied {
    pub blob_bytes: u64,
    pub tar_bytes: u64,
    pub extracted: Summary,
}

/// A reader that hashes and counts what passes through it.
pub(super) struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Reads what is left (if `drain`), then gives the digest, the byte
    /// count and the reader back.
    pub fn finish(mut self, drain: bool) -> (io::Result<()>, Digest, u64, R) {
        let drained = match drain {
            true => io::copy(&mut self, &mut io::sink()).map(drop),
            false => Ok(()),
        };
        let digest = Digest::of(&self.hasher.finalize());
        (drained, digest, self.count, self.inner)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

type Raw<'a> = Hashing<Section<'a>>;

/// A layer's tar, decompressed as its media type says.
enum Decoded<'a> {
    Plain(Raw<'a>),
    Gzip(Box<MultiGzDecoder<BufReader<Raw<'a>>>>),
    Zstd(zstd::stream::read::Decoder<'static, BufReader<Raw<'a>>>),
}

impl<'a> Decoded<'a> {
    fn new(raw: Raw<'a>, compression: LayerCompression) -> io::Result<Self> {
        let buffered = |raw| BufReader::with_capacity(BUF_SIZE, raw);
        Ok(match compression {
            LayerCompression::None => Decoded::Plain(raw),
            LayerCompression::Gzip => Decoded::Gzip(Box::new(MultiGzDecoder::new(buffered(raw)))),
            LayerCompression::Zstd => {
                Decoded::Zstd(zstd::stream::read::Decoder::with_buffer(buffered(raw))?)
            }
        })
    }

    /// The blob's reader, where decompression left it (what it buffered
    /// was hashed already).
    fn into_raw(self) -> Raw<'a> {
        match self {
            Decoded::Plain(r) => r,
            Decoded::Gzip(d) => d.into_inner().into_inner(),
            Decoded::Zstd(d) => d.into_inner().into_inner(),
        }
    }
}

impl Read for Decoded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(d) => d.read(buf),
            Decoded::Zstd(d) => d.read(buf),
        }
    }
}

/// Applies `layer` of `source` over `dest`.
pub(super) fn apply(source: &Source, layer: &OciLayer, dest: &Path) -> Result<Applied, OciError> {
    let name = layer.name();
    let read_error = |source: io::Error| OciError::Read {
        file: format!("layer {name}"),
        source,
    };
    let blob = source
        .get(&layer.path)?
        .ok_or_else(|| OciError::MissingBlob { blob: name.clone() })?;
    if blob.size() != layer.size {
        return Err(OciError::SizeMismatch {
            blob: name,
            expected: layer.size,
            actual: blob.size(),
        });
    }
    let decoded =
        Decoded::new(Hashing::new(blob.reader()), layer.compression).map_err(&read_error)?;
    let mut tar = Hashing::new(decoded);
    let extracted = extract_layer(&mut tar, dest);
    // A failed extraction's error stands unless the blob is not the one
    // named: only the blob is read to its end then.
    let (tar_end, diff_id, tar_bytes, decoded) = tar.finish(extracted.is_ok());
    let (raw_end, digest, blob_bytes, _) = decoded.into_raw().finish(true);
    raw_end.map_err(&read_error)?;
    if digest != layer.digest {
        return Err(OciError::DigestMismatch {
            blob: name,
            actual: digest.to_string(),
        });
    }
    let extracted = extracted.map_err(|source| OciError::Extract {
        blob: name.clone(),
        source,
    })?;
    tar_end.map_err(&read_error)?;
    if diff_id != layer.diff_id {
        return Err(OciError::DiffIdMismatch {
            blob: name,
            expected: layer.diff_id.to_string(),
            actual: diff_id.to_string(),
        });
    }
    Ok(Applied {
        blob_bytes,
        tar_bytes,
        extracted,
    })
}
