//! An image file on its way out: the archive compressed as the manifest
//! will say, with its sha1 and size computed as the bytes are written, so
//! that the manifest's `files[0]` needs no second pass over the file.

use std::io::{self, Write};

use bzip2::write::BzEncoder;
use flate2::write::GzEncoder;
use liblzma::write::XzEncoder;
use sha1::{Digest, Sha1};

use crate::manifest::{Compression, ImageFile, Sha1Digest};

/// Counts and hashes what passes through to `inner`.
struct Hashing<W> {
    inner: W,
    sha1: Sha1,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha1.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum Stage<W: Write> {
    None(Hashing<W>),
    Gzip(GzEncoder<Hashing<W>>),
    Bzip2(BzEncoder<Hashing<W>>),
    Xz(XzEncoder<Hashing<W>>),
    Zstd(zstd::stream::write::Encoder<'static, Hashing<W>>),
}

/// A writer that compresses into `W` and describes what it wrote.
pub struct ImageWriter<W: Write> {
    stage: Stage<W>,
    compression: Compression,
}

impl<W: Write> ImageWriter<W> {
    /// Compresses with `compression` (gzip and xz at their default levels,
    /// zstd at 3, bzip2 at 9 as bzip2(1) does) into `out`.
    pub fn new(out: W, compression: Compression) -> io::Result<ImageWriter<W>> {
        let h = Hashing {
            inner: out,
            sha1: Sha1::new(),
            size: 0,
        };
        let stage = match compression {
            Compression::None => Stage::None(h),
            Compression::Gzip => Stage::Gzip(GzEncoder::new(h, flate2::Compression::default())),
            Compression::Bzip2 => Stage::Bzip2(BzEncoder::new(h, bzip2::Compression::best())),
            Compression::Xz => Stage::Xz(XzEncoder::new(h, 6)),
            Compression::Zstd => Stage::Zstd(zstd::stream::write::Encoder::new(h, 3)?),
        };
        Ok(ImageWriter { stage, compression })
    }

    /// Ends the compressed stream; returns the output and its description.
    pub fn finish(self) -> io::Result<(W, ImageFile)> {
        let mut h = match self.stage {
            Stage::None(h) => h,
            Stage::Gzip(e) => e.finish()?,
            Stage::Bzip2(e) => e.finish()?,
            Stage::Xz(e) => e.finish()?,
            Stage::Zstd(e) => e.finish()?,
        };
        h.inner.flush()?;
        let digest: [u8; 20] = h.sha1.finalize().into();
        let file = ImageFile {
            sha1: Sha1Digest(digest),
            size: h.size,
            compression: self.compression,
            extra: Default::default(),
        };
        Ok((h.inner, file))
    }
}

impl<W: Write> Write for ImageWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stage {
            Stage::None(w) => w.write(buf),
            Stage::Gzip(w) => w.write(buf),
            Stage::Bzip2(w) => w.write(buf),
            Stage::Xz(w) => w.write(buf),
            Stage::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.stage {
            Stage::None(w) => w.flush(),
            Stage::Gzip(w) => w.flush(),
            Stage::Bzip2(w) => w.flush(),
            Stage::Xz(w) => w.flush(),
            Stage::Zstd(w) => w.flush(),
        }
    }
}
