//! Lines out of a byte stream read in arbitrary pieces.
//!
//! A transport hands over whatever a read returned: half a line, three
//! lines and a bit, one byte. [`LineBuffer`] keeps the unfinished line
//! between reads and yields each line once its `\n` has come. A line that
//! grows past the limit is not kept: only its first [`OVERLONG_HEAD`]
//! bytes are (enough to answer a V2 frame by its id; one more than the
//! limit when the limit is smaller), the rest is dropped
//! as it comes, and the line is yielded as [`Piece::Overlong`] when its
//! `\n` finally arrives, so the stream is read in step again from the next
//! line on and every line, long or not, gets exactly one answer.

use super::MAX_LINE;

/// How much of an overlong line is kept.
pub const OVERLONG_HEAD: usize = 256;

/// Buffers larger than this are released after their line instead of being
/// kept for the next one, so an idle connection holds little.
const KEEP_CAPACITY: usize = 64 * 1024;

/// One line of the stream, without its `\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A line within the limit.
    Line(&'a [u8]),
    /// A line longer than the limit, now ended: its first bytes.
    Overlong(&'a [u8]),
}

/// The unfinished line of a stream.
#[derive(Debug, Clone)]
pub struct LineBuffer {
    buf: Vec<u8>,
    max: usize,
    overlong: bool,
}

impl Default for LineBuffer {
    fn default() -> Self {
        LineBuffer::new(MAX_LINE)
    }
}

impl LineBuffer {
    /// A buffer for lines of at most `max` bytes (without the `\n`).
    pub fn new(max: usize) -> LineBuffer {
        LineBuffer {
            buf: Vec::new(),
            max,
            overlong: false,
        }
    }

    /// Reads `input`, calling `each` for every line it completes, in order.
    pub fn push(&mut self, mut input: &[u8], mut each: impl FnMut(Piece<'_>)) {
        while let Some(end) = input.iter().position(|&b| b == b'\n') {
            self.append(&input[..end]);
            if self.overlong {
                each(Piece::Overlong(&self.buf));
            } else {
                each(Piece::Line(&self.buf));
            }
            self.overlong = false;
            if self.buf.capacity() > KEEP_CAPACITY {
                self.buf = Vec::new();
            } else {
                self.buf.clear();
            }
            input = &input[end + 1..];
        }
        self.append(input);
    }

    /// Bytes of the unfinished line held now.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Whether the unfinished line is already too long.
    pub fn is_overlong(&self) -> bool {
        self.overlong
    }

    fn append(&mut self, part: &[u8]) {
        if self.overlong {
            return;
        }
        if self.buf.len() + part.len() <= self.max {
            self.buf.extend_from_slice(part);
            return;
        }
        // Exactly the same head whatever the reads: the first `keep` bytes,
        // all of which have come by now (the line is past `max`).
        self.overlong = true;
        let keep = OVERLONG_HEAD.min(self.max + 1);
        let room = keep.saturating_sub(self.buf.len()).min(part.len());
        self.buf.extend_from_slice(&part[..room]);
        self.buf.truncate(keep);
        self.buf.shrink_to(keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Line(Vec<u8>),
        Overlong(Vec<u8>),
    }

    fn collect(buffer: &mut LineBuffer, chunks: &[&[u8]]) -> Vec<Owned> {
        let mut out = Vec::new();
        for chunk in chunks {
            buffer.push(chunk, |piece| {
                out.push(match piece {
                    Piece::Line(l) => Owned::Line(l.to_vec()),
                    Piece::Overlong(h) => Owned::Overlong(h.to_vec()),
                });
            });
        }
        out
    }

    fn line(s: &str) -> Owned {
        Owned::Line(s.as_bytes().to_vec())
    }

    #[test]
    fn reassembles_across_reads() {
        let mut b = LineBuffer::default();
        let got = collect(&mut b, &[b"GE", b"T a\nKE", b"YS\n\nNEGOT", b"IATE V2"]);
        assert_eq!(got, [line("GET a"), line("KEYS"), line("")]);
        assert_eq!(b.pending(), 12);
        assert_eq!(collect(&mut b, &[b"\n"]), [line("NEGOTIATE V2")]);
        assert_eq!(b.pending(), 0);
    }

    #[test]
    fn a_line_at_the_limit_is_kept() {
        let mut b = LineBuffer::new(4);
        assert_eq!(collect(&mut b, &[b"abcd\n"]), [line("abcd")]);
        assert!(!b.is_overlong());
    }

    #[test]
    fn an_overlong_line_is_answered_once_at_its_end_and_the_next_line_is_read() {
        let mut b = LineBuffer::new(4);
        assert_eq!(collect(&mut b, &[b"abc", b"de"]), []);
        assert!(b.is_overlong());
        assert_eq!(b.pending(), 5);
        assert_eq!(collect(&mut b, &[b"fgh"]), []);
        let got = collect(&mut b, &[b"ij\nKEYS\n"]);
        assert_eq!(got, [Owned::Overlong(b"abcde".to_vec()), line("KEYS")]);
        assert!(!b.is_overlong());
    }

    #[test]
    fn the_head_of_an_overlong_line_does_not_depend_on_the_reads() {
        let whole = collect(&mut LineBuffer::new(4), &[b"abcdefgh\n"]);
        assert_eq!(whole, [Owned::Overlong(b"abcde".to_vec())]);
        for split in 0..9 {
            let (a, b) = b"abcdefgh\n".split_at(split);
            assert_eq!(collect(&mut LineBuffer::new(4), &[a, b]), whole, "{split}");
        }
    }

    #[test]
    fn only_the_head_of_an_overlong_line_is_kept() {
        let mut b = LineBuffer::new(1000);
        let long = vec![b'x'; 5000];
        assert_eq!(collect(&mut b, &[&long]), []);
        assert_eq!(b.pending(), OVERLONG_HEAD);
        let got = collect(&mut b, &[&long, b"\n"]);
        assert_eq!(got, [Owned::Overlong(vec![b'x'; OVERLONG_HEAD])]);
    }

    #[test]
    fn large_buffers_are_released_after_their_line() {
        let mut b = LineBuffer::default();
        let long = vec![b'x'; 2 * KEEP_CAPACITY];
        collect(&mut b, &[&long, b"\n"]);
        assert_eq!(b.buf.capacity(), 0);
    }
}
