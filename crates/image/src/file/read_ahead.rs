//! Reading a stream on its own thread, so that decompressing an image and
//! writing its files use two cores, as `tar -xz` does with its gzip child.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::{self, JoinHandle};

/// Size of one chunk handed from the reading thread to the consumer.
const CHUNK: usize = super::BUF_SIZE;
/// Chunks the reading thread may be ahead.
const DEPTH: usize = 4;

type Chunk = io::Result<(Vec<u8>, usize)>;

/// A reader whose inner reader runs on a thread of its own, up to
/// four chunks of 1 MiB ahead. Buffers go back to the thread once
/// consumed, so reading allocates only at the start.
pub struct ReadAhead<R> {
    chunks: Option<Receiver<Chunk>>,
    spent: Option<SyncSender<Vec<u8>>>,
    current: Vec<u8>,
    filled: usize,
    pos: usize,
    thread: Option<JoinHandle<R>>,
}

impl<R: Read + Send + 'static> ReadAhead<R> {
    /// Starts reading `inner` on a new thread.
    pub fn spawn(inner: R) -> io::Result<Self> {
        let (tx, chunks) = sync_channel(DEPTH);
        let (spent, recycled) = sync_channel(DEPTH + 2);
        let thread = thread::Builder::new()
            .name("image-read".into())
            .spawn(move || produce(inner, &tx, &recycled))?;
        Ok(ReadAhead {
            chunks: Some(chunks),
            spent: Some(spent),
            current: Vec::new(),
            filled: 0,
            pos: 0,
            thread: Some(thread),
        })
    }

    /// Stops the thread (whatever it had read ahead is dropped) and gives
    /// back the inner reader, e.g. to finish checking an image file.
    pub fn into_inner(mut self) -> io::Result<R> {
        self.chunks = None;
        self.spent = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(inner)) => Ok(inner),
            _ => Err(io::Error::other("the image reading thread panicked")),
        }
    }
}

fn produce<R: Read>(mut inner: R, tx: &SyncSender<Chunk>, recycled: &Receiver<Vec<u8>>) -> R {
    loop {
        let mut buf = recycled.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
        let (n, error) = fill(&mut inner, &mut buf);
        if n > 0 && tx.send(Ok((buf, n))).is_err() {
            return inner;
        }
        match error {
            Some(e) => {
                let _ = tx.send(Err(e));
                return inner;
            }
            None if n == 0 => return inner,
            None => {}
        }
    }
}

/// Reads until `buf` is full, the stream ends or fails; what was read
/// before an error is kept.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

impl<R> Read for ReadAhead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.filled {
            let Some(chunks) = &self.chunks else {
                return Ok(0);
            };
            match chunks.recv() {
                Ok(Ok((next, n))) => {
                    let old = std::mem::replace(&mut self.current, next);
                    if let (Some(spent), false) = (&self.spent, old.is_empty()) {
                        let _ = spent.try_send(old);
                    }
                    (self.filled, self.pos) = (n, 0);
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    self.chunks = None;
                    return Ok(0);
                }
            }
        }
        let n = buf.len().min(self.filled - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Failing(usize);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0).min(1000);
            buf[..n].fill(7);
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn passes_every_byte_through_in_order() -> io::Result<()> {
        let data: Vec<u8> = (0..(3 * CHUNK + 12345)).map(|i| (i % 251) as u8).collect();
        let mut ra = ReadAhead::spawn(io::Cursor::new(data.clone()))?;
        let mut out = Vec::new();
        ra.read_to_end(&mut out)?;
        assert!(out == data);
        let inner = ra.into_inner()?;
        assert_eq!(inner.position(), data.len() as u64);
        Ok(())
    }

    #[test]
    fn errors_reach_the_consumer() -> io::Result<()> {
        let mut ra = ReadAhead::spawn(Failing(5000))?;
        let mut out = Vec::new();
        let e = ra.read_to_end(&mut out).err();
        assert_eq!(e.map(|e| e.to_string()).as_deref(), Some("disk on fire"));
        assert_eq!(out.len(), 5000);
        Ok(())
    }

    #[test]
    fn stopping_early_gives_the_reader_back() -> io::Result<()> {
        let data = vec![1u8; 20 * CHUNK];
        let mut ra = ReadAhead::spawn(io::Cursor::new(data))?;
        let mut first = [0u8; 10];
        ra.read_exact(&mut first)?;
        let inner = ra.into_inner()?;
        assert!(inner.position() < 20 * CHUNK as u64);
        Ok(())
    }
}
