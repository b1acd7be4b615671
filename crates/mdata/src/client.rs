//! One connection to the metadata service: negotiation, then requests
//! and their answers (reference 4.2, 4.3).
//!
//! The client asks for V2 (`NEGOTIATE V2`) and stays on V1 when the server
//! answers anything but `V2_OK`. V2 requests carry an id made up per
//! request; an answer whose id or checksum does not match is dropped and
//! the client keeps waiting, as SmartOS's does. An answer that does not
//! come in time (6 s in V1, 45 s in V2) is an error the caller retries on
//! a new connection.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use basalt_metadata::codec::{self, EncodeError, ReplyReader};
use basalt_metadata::{Command, ReqId, Response};

/// The protocol the server agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V1,
    V2,
}

/// How long an answer may take to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// For a V1 answer, including the one to `NEGOTIATE`.
    pub v1: Duration,
    /// For a V2 answer.
    pub v2: Duration,
}

impl Default for Timeouts {
    /// SmartOS's: 6 s and 45 s.
    fn default() -> Self {
        Timeouts {
            v1: Duration::from_secs(6),
            v2: Duration::from_secs(45),
        }
    }
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum ClientError {
    /// Reading or writing the socket failed.
    Io(io::Error),
    /// The server closed the connection.
    Closed,
    /// No answer came in time.
    TimedOut,
    /// A V1 answer line that is not one of the protocol's.
    Unexpected(String),
    /// The request cannot be written in the protocol the server speaks.
    Encode(EncodeError),
}

impl ClientError {
    /// Whether a new connection may fare better: everything but a request
    /// that cannot be written.
    pub fn is_transient(&self) -> bool {
        !matches!(self, ClientError::Encode(_))
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "i/o error on the metadata socket: {e}"),
            ClientError::Closed => f.write_str("the metadata service closed the connection"),
            ClientError::TimedOut => f.write_str("timed out waiting for the metadata service"),
            ClientError::Unexpected(why) => write!(f, "unreadable answer: {why}"),
            ClientError::Encode(e) => e.fmt(f),
        }
    }
}

impl From<EncodeError> for ClientError {
    fn from(e: EncodeError) -> Self {
        ClientError::Encode(e)
    }
}

/// Request ids: eight hex digits that differ from one request, process
/// and moment to the next. Seeded from the pid and the clock and stirred
/// with splitmix64; they need to be unlikely to repeat, not secret.
#[derive(Debug, Clone)]
pub struct ReqIds {
    state: u64,
}

impl ReqIds {
    /// Ids seeded from this process and the time.
    pub fn new() -> ReqIds {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        ReqIds::seeded(nanos ^ (u64::from(std::process::id()) << 32))
    }

    /// Ids from a given seed (tests).
    pub fn seeded(seed: u64) -> ReqIds {
        ReqIds { state: seed }
    }

    /// The next id.
    pub fn next_id(&mut self) -> ReqId {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ReqId::from_u32((z >> 32) as u32)
    }
}

impl Default for ReqIds {
    fn default() -> Self {
        ReqIds::new()
    }
}

/// A negotiated connection.
#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
    /// Bytes read past the last line.
    pending: Vec<u8>,
    protocol: Protocol,
    ids: ReqIds,
    timeouts: Timeouts,
}

impl Connection {
    /// Negotiates V2 on `stream`; stays on V1 if the server answers
    /// anything but `V2_OK`.
    pub fn negotiate(
        stream: UnixStream,
        timeouts: Timeouts,
        ids: ReqIds,
    ) -> Result<Connection, ClientError> {
        let mut conn = Connection {
            stream,
            pending: Vec::new(),
            protocol: Protocol::V1,
            ids,
            timeouts,
        };
        conn.send(&codec::encode_v1(&Command::Negotiate("V2".to_owned()))?)?;
        let answer = conn.read_line(Instant::now() + timeouts.v1)?;
        if trim_end(&answer) == b"V2_OK" {
            conn.protocol = Protocol::V2;
        }
        Ok(conn)
    }

    /// The protocol the server agreed to.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Sends `command` and waits for its answer.
    pub fn request(&mut self, command: &Command) -> Result<Response, ClientError> {
        match self.protocol {
            Protocol::V1 => self.request_v1(command),
            Protocol::V2 => self.request_v2(command),
        }
    }

    fn request_v1(&mut self, command: &Command) -> Result<Response, ClientError> {
        self.send(&codec::encode_v1(command)?)?;
        let deadline = Instant::now() + self.timeouts.v1;
        let mut reader = ReplyReader::new();
        loop {
            let line = self.read_line(deadline)?;
            let line = if reader.in_value() {
                &line[..]
            } else {
                trim_end(&line)
            };
            match reader.line(line) {
                Ok(Some(response)) => return Ok(response),
                Ok(None) => {}
                Err(e) => return Err(ClientError::Unexpected(e.to_string())),
            }
        }
    }

    fn request_v2(&mut self, command: &Command) -> Result<Response, ClientError> {
        let id = self.ids.next_id();
        self.send(&codec::encode_v2(&id, command)?)?;
        let deadline = Instant::now() + self.timeouts.v2;
        loop {
            let line = self.read_line(deadline)?;
            if trim_end(&line) == b"invalid command" {
                return Ok(Response::InvalidCommand);
            }
            // Another request's answer, or a damaged one: not ours, wait on.
            if let Ok(response) = codec::decode_frame(&line, &id) {
                return Ok(response);
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).map_err(ClientError::Io)
    }

    /// The next line (without its `\n`), waiting until `deadline`.
    fn read_line(&mut self, deadline: Instant) -> Result<Vec<u8>, ClientError> {
        let mut buf = [0u8; 8192];
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop();
                return Ok(line);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::TimedOut);
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(ClientError::Io)?;
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(ClientError::TimedOut);
                }
                Err(e) => return Err(ClientError::Io(e)),
            }
        }
    }
}

/// `bytes` without trailing white space (a `\r` from a serial line).
fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_and_are_eight_hex_digits() {
        let mut ids = ReqIds::seeded(7);
        let a = ids.next_id();
        let b = ids.next_id();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 8);
        assert_ne!(ReqIds::seeded(1).next_id(), ReqIds::seeded(2).next_id());
    }

    #[test]
    fn trims_line_ends() {
        assert_eq!(trim_end(b"V2_OK\r"), b"V2_OK");
        assert_eq!(trim_end(b"  "), b"");
    }
}
