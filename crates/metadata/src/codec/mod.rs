//! The metadata protocol on the wire, both directions (reference 4.2, 4.3).
//!
//! Every request is one line ending in `\n`. A V1 request is
//! `<COMMAND> [<argument>]` with the argument sent raw; a V2 request is a
//! frame `V2 <clen> <crc32> <body>` whose body is
//! `<reqid> <COMMAND>[ <base64 payload>]`, `clen` the body's length in
//! bytes and `crc32` its CRC-32 as eight lowercase hex digits. Answers
//! mirror the request: V1 answers are bare words (`SUCCESS` followed by
//! the dot-stuffed value and a line holding `.`, `NOTFOUND`, `FAILURE`),
//! V2 answers are frames carrying the request's id.
//!
//! The server side reads lines as SmartOS's metadata agent does: trailing
//! white space is dropped, an empty or unparseable line is answered
//! `invalid command`, a frame with a wrong length or checksum is dropped
//! without an answer (the client times out and resets), and every line is
//! read on its own, so a V1 line after negotiation and a V2 frame before
//! it are both served (a serial client's reset line and renegotiation
//! arrive on the same channel).
//!
//! | module | owns |
//! | --- | --- |
//! | [`lines`] | reassembling lines from arbitrary reads, refusing lines longer than [`MAX_LINE`] |
//! | [`request`] | a request line into a [`Request`] (server), a [`Command`] into a line (client) |
//! | [`response`] | a [`Response`] into bytes (server), answer lines into a [`Response`] (client) |
//! | `frame` | V2 frames: the checksum, headers, base64 payloads, PUT's double encoding |

pub(crate) mod frame;
pub mod lines;
pub mod request;
pub mod response;
pub(crate) mod text;

use std::fmt;

pub use frame::{FrameError, crc32_hex};
pub use lines::{LineBuffer, Piece};
pub use request::{EncodeError, encode_v1, encode_v2, parse_line};
pub use response::{DecodeError, ReplyReader, decode_frame, encode_response};

/// The longest request line read, in bytes without its `\n`: 1 MiB.
///
/// SmartOS's agent buffers a line without bound; a guest could hold the
/// host's memory with a line that never ends. The largest legitimate
/// request is a PUT, whose value is base64-encoded twice (about 16/9 of
/// its size): a 1 MiB line carries a value of up to [`MAX_PUT_VALUE`]
/// bytes, far more than the keys guests write (states, passwords, host
/// keys) while keeping one connection's buffer small. Answers are not
/// limited: a GET of a large `user-script` is served whole. A longer line
/// is discarded up to its `\n` and then answered: a framed `FAILURE` when
/// it began as a V2 frame whose id can be read, `invalid command`
/// otherwise.
pub const MAX_LINE: usize = 1 << 20;

/// The largest value whose V2 PUT (with a 1-byte key and an 8-digit
/// request id) fits in [`MAX_LINE`].
pub const MAX_PUT_VALUE: usize = 589_800;

/// A V2 request id: lowercase hex digits, echoed in the answer. Clients
/// send eight digits of a random number; the server echoes whatever it
/// was given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReqId(String);

impl ReqId {
    /// The id of a number: eight lowercase hex digits.
    pub fn from_u32(n: u32) -> ReqId {
        ReqId(format!("{n:08x}"))
    }

    /// An id as written in a frame: one or more of `0-9a-f`.
    pub fn parse(text: &str) -> Option<ReqId> {
        let hex = text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        (hex && !text.is_empty()).then(|| ReqId(text.to_owned()))
    }

    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ReqId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a request travelled, and so how its answer must: as a bare V1
/// line, or in a V2 frame with its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    V1,
    V2(ReqId),
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `NEGOTIATE <version>` (V1 only): the protocol version the client
    /// wants.
    Negotiate(String),
    /// `GET <key>`: the key, trimmed of white space.
    Get(String),
    /// `KEYS`: the keys a guest may read.
    Keys,
    /// `PUT` (V2 only): a key (trimmed) and its new value, never empty.
    Put { key: String, value: String },
    /// `DELETE <key>` (V2 only): the key, trimmed.
    Delete(String),
    /// A command the protocol does not have, including `PUT` and `DELETE`
    /// in V1 and `NEGOTIATE` inside a frame.
    Unknown(String),
    /// A V2 GET, PUT or DELETE whose argument cannot be read.
    Invalid(Invalid),
}

/// Which request's argument could not be read: empty after trimming, not
/// base64, not UTF-8, or (PUT) not two base64 words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    Get,
    Put,
    Delete,
}

impl Invalid {
    /// The agent's message for it: `Invalid PUT Request`.
    pub fn message(self) -> &'static str {
        match self {
            Invalid::Get => "Invalid GET Request",
            Invalid::Put => "Invalid PUT Request",
            Invalid::Delete => "Invalid DELETE Request",
        }
    }
}

/// A request as the server reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub envelope: Envelope,
    pub command: Command,
}

/// What one request line is to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A request to serve.
    Request(Request),
    /// An empty or unparseable line, or `GET`/`NEGOTIATE` without an
    /// argument: answered `invalid command`.
    InvalidCommand,
    /// A V2 frame that fails its checks: dropped without an answer.
    Dropped(FrameError),
}

/// An answer, as the server sends it and the client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `SUCCESS` with a value: the key's value, the keys joined by `\n`,
    /// or `OK` after a PUT or DELETE.
    Success(String),
    /// `NOTFOUND`.
    NotFound,
    /// `FAILURE`, with a message that only V2 carries (empty: none).
    Failure(String),
    /// `invalid command` (a line the server could not read; V1 form only).
    InvalidCommand,
    /// `V2_OK`: the answer to `NEGOTIATE V2` (V1 form only).
    V2Ok,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reqids() {
        assert_eq!(ReqId::from_u32(0xdc4fae17).as_str(), "dc4fae17");
        assert_eq!(ReqId::from_u32(0x1a).as_str(), "0000001a");
        assert_eq!(ReqId::parse("0a1b2c3d"), Some(ReqId::from_u32(0x0a1b2c3d)));
        assert_eq!(
            ReqId::parse("abc").map(|r| r.to_string()).as_deref(),
            Some("abc")
        );
        assert_eq!(ReqId::parse(""), None);
        assert_eq!(ReqId::parse("DC4FAE17"), None);
        assert_eq!(ReqId::parse("dc4fae1g"), None);
    }

    #[test]
    fn invalid_messages() {
        assert_eq!(Invalid::Get.message(), "Invalid GET Request");
        assert_eq!(Invalid::Put.message(), "Invalid PUT Request");
        assert_eq!(Invalid::Delete.message(), "Invalid DELETE Request");
    }
}
