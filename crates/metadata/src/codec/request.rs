//! Request lines: read by the server ([`parse_line`]), written by the
//! client ([`encode_v1`], [`encode_v2`]).
//!
//! A line is read as the agent reads it: trailing white space dropped; a
//! first word that does not start the line is `invalid command`; the
//! argument is what follows one white-space byte after the word. `V2`
//! opens a frame, whose command is the first word of the body and whose
//! argument is the base64 payload after it.

use super::frame::{self, FrameError};
use super::text::{is_space, split_word, trim_end};
use super::{Command, Envelope, Invalid, Line, ReqId, Request};

/// Reads one request line (without its `\n`).
pub fn parse_line(line: &[u8]) -> Line {
    let line = trim_end(line);
    if line.first().is_none_or(|&b| is_space(b)) {
        return Line::InvalidCommand;
    }
    let (word, argument) = split_word(line, false);
    let command = match word {
        b"V2" => return parse_frame(argument),
        b"GET" | b"NEGOTIATE" if argument.is_empty() => return Line::InvalidCommand,
        b"GET" => key(text(argument)).map_or(Command::Invalid(Invalid::Get), Command::Get),
        b"NEGOTIATE" => Command::Negotiate(text(argument)),
        b"KEYS" => Command::Keys,
        other => Command::Unknown(text(other)),
    };
    Line::Request(Request {
        envelope: Envelope::V1,
        command,
    })
}

/// A frame's request, or why it is dropped.
fn parse_frame(after_v2: &[u8]) -> Line {
    let (reqid, body) = match frame::open(after_v2) {
        Ok(opened) => opened,
        Err(e) => return Line::Dropped(e),
    };
    let (word, payload) = split_word(body, true);
    if word.is_empty() {
        return Line::Dropped(FrameError::Header);
    }
    let argument = frame::unbase64(payload);
    let command = match word {
        b"GET" => argument
            .and_then(key)
            .map_or(Command::Invalid(Invalid::Get), Command::Get),
        b"KEYS" => Command::Keys,
        b"PUT" => argument
            .as_deref()
            .and_then(frame::parse_put_argument)
            .map_or(Command::Invalid(Invalid::Put), |(key, value)| {
                Command::Put { key, value }
            }),
        b"DELETE" => argument
            .and_then(key)
            .map_or(Command::Invalid(Invalid::Delete), Command::Delete),
        other => Command::Unknown(text(other)),
    };
    Line::Request(Request {
        envelope: Envelope::V2(reqid),
        command,
    })
}

/// A key as the agent takes it: trimmed, and not empty.
fn key(argument: String) -> Option<String> {
    let key = argument.trim();
    (!key.is_empty()).then(|| key.to_owned())
}

/// Bytes of a V1 line as text (invalid UTF-8 replaced, as node reads it).
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Why a command cannot be written as a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// PUT and DELETE exist only in V2, NEGOTIATE only in V1.
    #[error("{command} is not a V{version} request")]
    NotInVersion { command: &'static str, version: u8 },
    /// A line break would end the request early.
    #[error("a request cannot hold a line break")]
    LineBreak,
    /// A command word must be a non-empty word without white space.
    #[error("{0:?} is not a command word")]
    Word(String),
    /// [`Command::Invalid`] is what a server reads, not a request.
    #[error("an invalid request cannot be written")]
    Invalid,
}

/// The V1 request line (with its `\n`) for `command`.
pub fn encode_v1(command: &Command) -> Result<Vec<u8>, EncodeError> {
    let line = match command {
        Command::Negotiate(version) => format!("NEGOTIATE {version}"),
        Command::Get(key) => format!("GET {key}"),
        Command::Keys => "KEYS".to_owned(),
        Command::Unknown(word) => checked_word(word)?.to_owned(),
        Command::Put { .. } => return Err(not_in("PUT", 1)),
        Command::Delete(_) => return Err(not_in("DELETE", 1)),
        Command::Invalid(_) => return Err(EncodeError::Invalid),
    };
    if line.contains('\n') {
        return Err(EncodeError::LineBreak);
    }
    Ok(format!("{line}\n").into_bytes())
}

/// The V2 frame (with its `\n`) for `command` with id `reqid`. PUT's
/// argument is encoded twice: the key and value each in base64, joined by
/// a space, then the whole as the frame's payload.
pub fn encode_v2(reqid: &ReqId, command: &Command) -> Result<Vec<u8>, EncodeError> {
    Ok(match command {
        Command::Get(key) => frame::encode(reqid, "GET", key.as_bytes()),
        Command::Keys => frame::encode(reqid, "KEYS", b""),
        Command::Put { key, value } => {
            frame::encode(reqid, "PUT", frame::put_argument(key, value).as_bytes())
        }
        Command::Delete(key) => frame::encode(reqid, "DELETE", key.as_bytes()),
        Command::Unknown(word) => frame::encode(reqid, checked_word(word)?, b""),
        Command::Negotiate(_) => return Err(not_in("NEGOTIATE", 2)),
        Command::Invalid(_) => return Err(EncodeError::Invalid),
    })
}

fn not_in(command: &'static str, version: u8) -> EncodeError {
    EncodeError::NotInVersion { command, version }
}

fn checked_word(word: &str) -> Result<&str, EncodeError> {
    if word.is_empty() || word.bytes().any(is_space) {
        return Err(EncodeError::Word(word.to_owned()));
    }
    Ok(word)
}

#[cfg(test)]
mod tests;
