//! The operator's interruption (SIGINT, SIGTERM, SIGHUP, turned into a
//! flag by the command): downloads, installs and the writing of image
//! files stop at their next block, and remove what they made.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use super::ImageError;

/// Set when the operator interrupts.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The error of an operation stopped by the operator.
pub(super) fn interrupted() -> ImageError {
    ImageError::Source {
        code: "Interrupted",
        message: "interrupted: what the import made was removed".into(),
    }
}

/// A reader or writer that fails once the operator interrupted.
pub(super) struct Interruptible<T>(pub T);

impl<T> Interruptible<T> {
    fn check() -> io::Result<()> {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return Err(io::Error::other("interrupted"));
        }
        Ok(())
    }
}

impl<R: Read> Read for Interruptible<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Self::check()?;
        self.0.read(buf)
    }
}

impl<W: Write> Write for Interruptible<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Self::check()?;
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
