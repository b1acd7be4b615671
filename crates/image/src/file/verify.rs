//! Size and sha1 of an image file, computed as it streams past.

use std::io::{self, Read};

use sha1::{Digest, Sha1};

use super::FileError;
use crate::manifest::Sha1Digest;

/// What the file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Bytes read.
    pub size: u64,
    /// Their sha1.
    pub sha1: Sha1Digest,
}

/// A reader that hashes and counts what passes through it, and fails as
/// soon as more bytes arrive than the manifest announced (so a stream that
/// is too long stops early). The digest is checked by [`Verifier::finish`].
pub struct Verifier<R> {
    inner: R,
    name: String,
    hasher: Sha1,
    read: u64,
    size: Option<u64>,
    sha1: Option<Sha1Digest>,
}

impl<R: Read> Verifier<R> {
    /// Checks `inner` against the expected size and sha1 (each optional, as
    /// imgadm skips what the manifest does not give). `name` names the file
    /// in messages.
    pub fn new(inner: R, name: &str, size: Option<u64>, sha1: Option<Sha1Digest>) -> Self {
        Verifier {
            inner,
            name: name.to_owned(),
            hasher: Sha1::new(),
            read: 0,
            size,
            sha1,
        }
    }

    /// Bytes read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Reads what is left of the file, then checks its size and sha1.
    pub fn finish(mut self) -> Result<Verified, FileError> {
        let mut buf = vec![0u8; super::BUF_SIZE];
        loop {
            match self.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FileError::from_io(&self.name, e)),
            }
        }
        let sha1 = Sha1Digest(self.hasher.finalize().into());
        if let Some(expected) = self.size
            && expected != self.read
        {
            return Err(FileError::SizeMismatch {
                name: self.name,
                expected,
                actual: self.read,
            });
        }
        match self.sha1 {
            Some(expected) if expected != sha1 => Err(FileError::Sha1Mismatch {
                name: self.name,
                expected,
                actual: sha1,
            }),
            _ => Ok(Verified {
                size: self.read,
                sha1,
            }),
        }
    }
}

impl<R: Read> Read for Verifier<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        match self.size {
            Some(expected) if self.read > expected => Err(io::Error::other(FileError::TooLarge {
                name: self.name.clone(),
                expected,
            })),
            _ => Ok(n),
        }
    }
}
