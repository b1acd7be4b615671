//! Answers: written by the server ([`encode_response`]), read by the
//! client ([`ReplyReader`] for V1 lines, [`decode_frame`] for V2).
//!
//! A V1 value follows `SUCCESS` on lines of its own and ends with a line
//! holding only `.`; a value line that starts with `.` gets another `.` in
//! front (dot-stuffing) and the reader takes one away. V1 has no room for
//! a failure's message: `FAILURE` alone. V2 answers are frames with the
//! request's id, the value or message as their payload.

use super::frame::{self, FrameError};
use super::text::{split_word, trim_end};
use super::{Envelope, ReqId, Response};

/// The bytes of `response` to a request that came in `envelope`.
pub fn encode_response(envelope: &Envelope, response: &Response) -> Vec<u8> {
    match (envelope, response) {
        (_, Response::InvalidCommand) => b"invalid command\n".to_vec(),
        (_, Response::V2Ok) => b"V2_OK\n".to_vec(),
        (Envelope::V1, Response::Success(value)) => {
            let mut out = b"SUCCESS\n".to_vec();
            for line in value.split('\n') {
                if line.starts_with('.') {
                    out.push(b'.');
                }
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            out.extend_from_slice(b".\n");
            out
        }
        (Envelope::V1, Response::NotFound) => b"NOTFOUND\n".to_vec(),
        (Envelope::V1, Response::Failure(_)) => b"FAILURE\n".to_vec(),
        (Envelope::V2(id), Response::Success(value)) => {
            frame::encode(id, "SUCCESS", value.as_bytes())
        }
        (Envelope::V2(id), Response::NotFound) => frame::encode(id, "NOTFOUND", b""),
        (Envelope::V2(id), Response::Failure(message)) => {
            frame::encode(id, "FAILURE", message.as_bytes())
        }
    }
}

/// Why a V1 answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A line that is no answer of the protocol.
    #[error("unexpected answer {0:?}")]
    Unexpected(String),
    /// A line that is not UTF-8 text.
    #[error("answer is not UTF-8 text")]
    Utf8,
}

/// Reads a V1 answer line by line: one line, or `SUCCESS`, the value's
/// lines and `.`.
#[derive(Debug, Clone, Default)]
pub struct ReplyReader {
    /// The value's lines read so far, while inside a `SUCCESS`.
    value: Option<Vec<String>>,
}

impl ReplyReader {
    pub fn new() -> ReplyReader {
        ReplyReader::default()
    }

    /// Reads one line (without its `\n`); gives the answer once it is
    /// complete. After an error the reader starts afresh.
    pub fn line(&mut self, line: &[u8]) -> Result<Option<Response>, DecodeError> {
        let Ok(line) = std::str::from_utf8(line) else {
            self.value = None;
            return Err(DecodeError::Utf8);
        };
        if let Some(value) = &mut self.value {
            if line == "." {
                let value = value.join("\n");
                self.value = None;
                return Ok(Some(Response::Success(value)));
            }
            value.push(line.strip_prefix('.').unwrap_or(line).to_owned());
            return Ok(None);
        }
        match line {
            "SUCCESS" => {
                self.value = Some(Vec::new());
                Ok(None)
            }
            "NOTFOUND" => Ok(Some(Response::NotFound)),
            "FAILURE" => Ok(Some(Response::Failure(String::new()))),
            "invalid command" => Ok(Some(Response::InvalidCommand)),
            "V2_OK" => Ok(Some(Response::V2Ok)),
            other => Err(DecodeError::Unexpected(other.to_owned())),
        }
    }

    /// Whether the reader is inside a `SUCCESS` value.
    pub fn in_value(&self) -> bool {
        self.value.is_some()
    }
}

/// Reads a V2 answer line (without its `\n`) to the request `expected`.
/// A client drops a line that gives an error and keeps waiting.
pub fn decode_frame(line: &[u8], expected: &ReqId) -> Result<Response, FrameError> {
    let (word, after) = split_word(trim_end(line), false);
    if word != b"V2" {
        return Err(FrameError::Header);
    }
    let (reqid, body) = frame::open(after)?;
    if reqid != *expected {
        return Err(FrameError::OtherRequest {
            expected: expected.clone(),
            got: reqid,
        });
    }
    let (word, payload) = split_word(body, true);
    let payload = || frame::unbase64(payload).ok_or(FrameError::Payload);
    match word {
        b"SUCCESS" => Ok(Response::Success(payload()?)),
        b"NOTFOUND" => Ok(Response::NotFound),
        b"FAILURE" => Ok(Response::Failure(payload()?)),
        other => Err(FrameError::Answer(
            String::from_utf8_lossy(other).into_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1(response: &Response) -> String {
        String::from_utf8(encode_response(&Envelope::V1, response)).unwrap()
    }

    fn v2(id: u32, response: &Response) -> String {
        let envelope = Envelope::V2(ReqId::from_u32(id));
        String::from_utf8(encode_response(&envelope, response)).unwrap()
    }

    fn success(value: &str) -> Response {
        Response::Success(value.to_owned())
    }

    #[test]
    fn worked_answer_frames() {
        assert_eq!(
            v2(0xdc4fae17, &success("54f1cc77-68f1-42ab-acac-5c4f64f5d6e0")),
            "V2 65 9493638f dc4fae17 SUCCESS NTRmMWNjNzctNjhmMS00MmFiLWFjYWMtNWM0ZjY0ZjVkNmUw\n"
        );
        assert_eq!(
            v2(0x0a1b2c3d, &success("user-script\nroot_authorized_keys")),
            "V2 61 667a5a4d 0a1b2c3d SUCCESS dXNlci1zY3JpcHQKcm9vdF9hdXRob3JpemVkX2tleXM=\n"
        );
        assert_eq!(
            v2(0x11223344, &success("OK")),
            "V2 21 8bf03bb3 11223344 SUCCESS T0s=\n"
        );
        assert_eq!(
            v2(0x55667788, &Response::NotFound),
            "V2 17 3bcffbdd 55667788 NOTFOUND\n"
        );
    }

    #[test]
    fn v2_empty_values_and_messages_have_no_payload() {
        assert!(v2(1, &success("")).ends_with(" 00000001 SUCCESS\n"));
        assert!(v2(1, &Response::Failure(String::new())).ends_with(" 00000001 FAILURE\n"));
        let refused = v2(
            1,
            &Response::Failure("Cannot update the \"sdc\" Namespace.".into()),
        );
        assert!(refused.ends_with(" FAILURE Q2Fubm90IHVwZGF0ZSB0aGUgInNkYyIgTmFtZXNwYWNlLg==\n"));
    }

    #[test]
    fn v1_answers() {
        assert_eq!(v1(&success("bar")), "SUCCESS\nbar\n.\n");
        assert_eq!(v1(&success("")), "SUCCESS\n\n.\n");
        assert_eq!(v1(&success("a\nb\n")), "SUCCESS\na\nb\n\n.\n");
        assert_eq!(v1(&Response::NotFound), "NOTFOUND\n");
        assert_eq!(v1(&Response::Failure("why".into())), "FAILURE\n");
        assert_eq!(v1(&Response::InvalidCommand), "invalid command\n");
        assert_eq!(v1(&Response::V2Ok), "V2_OK\n");
        // Neither has a frame.
        assert_eq!(v2(1, &Response::InvalidCommand), "invalid command\n");
        assert_eq!(v2(1, &Response::V2Ok), "V2_OK\n");
    }

    #[test]
    fn v1_values_are_dot_stuffed() {
        assert_eq!(v1(&success(".")), "SUCCESS\n..\n.\n");
        assert_eq!(
            v1(&success(".hidden\n..\nx.y\n. ")),
            "SUCCESS\n..hidden\n...\nx.y\n.. \n.\n"
        );
    }

    fn read_v1(bytes: &str) -> Vec<Response> {
        let mut reader = ReplyReader::new();
        let body = bytes.strip_suffix('\n').unwrap();
        body.split('\n')
            .filter_map(|l| reader.line(l.as_bytes()).unwrap())
            .collect()
    }

    #[test]
    fn reads_v1_answers() {
        let stuffed = ".hidden\n..\nx.y\n. \n";
        assert_eq!(read_v1(&v1(&success(stuffed))), [success(stuffed)]);
        let all = [
            v1(&success("")),
            v1(&Response::NotFound),
            v1(&Response::Failure(String::new())),
            v1(&Response::InvalidCommand),
            v1(&Response::V2Ok),
        ]
        .concat();
        assert_eq!(
            read_v1(&all),
            [
                success(""),
                Response::NotFound,
                Response::Failure(String::new()),
                Response::InvalidCommand,
                Response::V2Ok
            ]
        );
    }

    #[test]
    fn refuses_unknown_v1_answers() {
        let mut reader = ReplyReader::new();
        assert_eq!(
            reader.line(b"OK"),
            Err(DecodeError::Unexpected("OK".into()))
        );
        assert_eq!(reader.line(b"SUCCESS"), Ok(None));
        assert!(reader.in_value());
        assert_eq!(reader.line(b"\xff"), Err(DecodeError::Utf8));
        assert!(!reader.in_value());
    }

    #[test]
    fn reads_v2_answers() {
        let id = ReqId::from_u32(0xdc4fae17);
        let line =
            b"V2 65 9493638f dc4fae17 SUCCESS NTRmMWNjNzctNjhmMS00MmFiLWFjYWMtNWM0ZjY0ZjVkNmUw";
        assert_eq!(
            decode_frame(line, &id),
            Ok(success("54f1cc77-68f1-42ab-acac-5c4f64f5d6e0"))
        );
        let other = ReqId::from_u32(1);
        assert_eq!(
            decode_frame(line, &other),
            Err(FrameError::OtherRequest {
                expected: other.clone(),
                got: id
            })
        );
        let id = ReqId::from_u32(0x55667788);
        assert_eq!(
            decode_frame(b"V2 17 3bcffbdd 55667788 NOTFOUND", &id),
            Ok(Response::NotFound)
        );
        assert_eq!(
            decode_frame(b"invalid command", &id),
            Err(FrameError::Header)
        );
        assert!(decode_frame(b"V2 17 3bcffbdc 55667788 NOTFOUND", &id).is_err());
    }

    #[test]
    fn refuses_bad_v2_answers() {
        let id = ReqId::from_u32(2);
        let answer = |word: &str, payload: &[u8]| frame::encode(&id, word, payload);
        assert_eq!(
            decode_frame(&answer("MAYBE", b""), &id),
            Err(FrameError::Answer("MAYBE".into()))
        );
        assert_eq!(
            decode_frame(&answer("SUCCESS", b"\xff"), &id),
            Err(FrameError::Payload)
        );
        assert_eq!(
            decode_frame(&answer("FAILURE", b"no"), &id),
            Ok(Response::Failure("no".into()))
        );
    }
}
