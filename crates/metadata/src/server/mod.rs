//! The server side of one connection, independent of its transport.
//!
//! A [`Session`] takes the bytes a read returned and gives back the bytes
//! to write: it reassembles lines across reads, answers each complete
//! line in order, and asks a [`Backend`] for the keys. The transport (a
//! unix socket, a serial port) only moves bytes; the backend only knows
//! keys and values.
//!
//! ```text
//!                 NEGOTIATE V2 / V2_OK
//!   ┌──────────┐ ─────────────────────▶ ┌──────────┐
//!   │    V1    │                        │    V2    │ ◀─┐ NEGOTIATE V2 again
//!   └──────────┘                        └──────────┘ ──┘ (a serial reset)
//!     │ every line on its own:                │
//!     │  "V2 …" frames  → framed answer       │ same
//!     │  V1 words       → V1 answer           │
//!     │  unreadable     → `invalid command`   │
//!     │  bad frame      → no answer           │
//!     │  over MAX_LINE  → discarded to its \n, answered as failed
//! ```
//!
//! The protocol state records what the client negotiated, but answers do
//! not depend on it: as in SmartOS's agent, every line is read on its own,
//! so a client that resets (a blank line, expecting `invalid command`) and
//! negotiates again on the same serial line is served, and so is a V2
//! frame sent without negotiating.

mod memory;
mod render;
pub mod routing;

pub use memory::MemoryBackend;
pub use routing::{Routing, Section};

use crate::codec::text::split_word;
use crate::codec::{
    self, Command, Envelope, FrameError, Line, LineBuffer, MAX_LINE, Piece, Response,
};

/// Why the backend did not do what was asked. Both go to the guest as
/// `FAILURE` with the message (V2) or without (V1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// A write the guest may not make (`Cannot update the "sdc"
    /// Namespace.`).
    #[error("{0}")]
    Refused(String),
    /// The backend could not serve the request.
    #[error("{0}")]
    Failed(String),
}

/// What the backend found for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Its value, as text.
    Found(String),
    /// No such key.
    NotFound,
    /// A value that is neither text, number nor boolean: `FAILURE` without
    /// a message, as SmartOS answers.
    NotScalar,
    /// The key could not be read.
    Failed(Failure),
}

/// What happened on a connection that has no answer of its own to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A frame dropped without an answer (the client times out and
    /// resets).
    Dropped(FrameError),
    /// A line longer than the limit, discarded and answered as failed.
    Overlong,
}

/// Where the keys are. Which key lives where (the `sdc:` keys, namespaces,
/// `*_pw`) is the backend's business: [`Routing`] decides it for an
/// instance's configuration.
pub trait Backend {
    /// The value of `key`.
    fn get(&mut self, key: &str) -> Lookup;
    /// The keys `KEYS` lists, in order.
    fn keys(&mut self) -> Result<Vec<String>, Failure>;
    /// Sets `key` to `value` (never empty).
    fn put(&mut self, key: &str, value: &str) -> Result<(), Failure>;
    /// Removes `key`; removing a missing key succeeds.
    fn delete(&mut self, key: &str) -> Result<(), Failure>;
    /// Told of events the guest gets no answer about, for the log.
    fn observe(&mut self, _event: Event) {}
}

/// The protocol a client negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    V1,
    V2,
}

/// One connection's state: its unfinished line and what it negotiated.
#[derive(Debug, Clone)]
pub struct Session {
    lines: LineBuffer,
    max_line: usize,
    protocol: Protocol,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A new connection: V1, lines of at most [`MAX_LINE`] bytes.
    pub fn new() -> Session {
        Session::with_max_line(MAX_LINE)
    }

    /// A new connection with another line limit (tests, fuzzing).
    pub fn with_max_line(max_line: usize) -> Session {
        Session {
            lines: LineBuffer::new(max_line),
            max_line,
            protocol: Protocol::V1,
        }
    }

    /// What the client negotiated last.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Bytes of an unfinished line held.
    pub fn pending(&self) -> usize {
        self.lines.pending()
    }

    /// Reads `input` and gives the answers to every line it completes, in
    /// order. Whatever the pieces a stream is read in, the answers are the
    /// same bytes.
    pub fn feed<B: Backend + ?Sized>(&mut self, backend: &mut B, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let (protocol, max_line) = (&mut self.protocol, self.max_line);
        self.lines.push(input, |piece| match piece {
            Piece::Line(line) => answer(backend, protocol, line, &mut out),
            Piece::Overlong(head) => {
                backend.observe(Event::Overlong);
                out.extend(overlong(head, max_line));
            }
        });
        out
    }
}

/// Answers one line into `out`.
fn answer<B: Backend + ?Sized>(
    backend: &mut B,
    protocol: &mut Protocol,
    line: &[u8],
    out: &mut Vec<u8>,
) {
    match codec::parse_line(line) {
        Line::InvalidCommand => {
            out.extend(codec::encode_response(
                &Envelope::V1,
                &Response::InvalidCommand,
            ));
        }
        Line::Dropped(why) => backend.observe(Event::Dropped(why)),
        Line::Request(request) => {
            let response = serve(backend, &request.command);
            if response == Response::V2Ok {
                *protocol = Protocol::V2;
            }
            out.extend(codec::encode_response(&request.envelope, &response));
        }
    }
}

/// The answer to a command.
fn serve<B: Backend + ?Sized>(backend: &mut B, command: &Command) -> Response {
    match command {
        Command::Negotiate(version) if version == "V2" => Response::V2Ok,
        Command::Negotiate(_) => Response::Failure(String::new()),
        Command::Get(key) => match backend.get(key) {
            Lookup::Found(value) => Response::Success(value),
            Lookup::NotFound => Response::NotFound,
            Lookup::NotScalar => Response::Failure(String::new()),
            Lookup::Failed(why) => Response::Failure(why.to_string()),
        },
        Command::Keys => match backend.keys() {
            Ok(keys) => Response::Success(keys.join("\n")),
            Err(why) => Response::Failure(why.to_string()),
        },
        Command::Put { key, value } => done(backend.put(key, value)),
        Command::Delete(key) => done(backend.delete(key)),
        Command::Unknown(word) => Response::Failure(format!("Unknown command {word}")),
        Command::Invalid(kind) => Response::Failure(kind.message().to_owned()),
    }
}

fn done(result: Result<(), Failure>) -> Response {
    match result {
        Ok(()) => Response::Success("OK".to_owned()),
        Err(why) => Response::Failure(why.to_string()),
    }
}

/// The answer to a line longer than `max_line`, from its first bytes: a
/// V2 frame whose id can be read gets a framed `FAILURE` (so the client
/// reports it instead of waiting), anything else `invalid command`.
fn overlong(head: &[u8], max_line: usize) -> Vec<u8> {
    let (word, after) = split_word(head, false);
    let response = Response::Failure(format!("request too long (more than {max_line} bytes)"));
    match codec::frame::peek_reqid(after) {
        Some(id) if word == b"V2" => codec::encode_response(&Envelope::V2(id), &response),
        _ => codec::encode_response(&Envelope::V1, &Response::InvalidCommand),
    }
}

#[cfg(test)]
mod tests;
