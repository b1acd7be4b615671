//! V2 frames: `V2 <clen> <crc32> <body>` (reference 4.3).
//!
//! The body is `<reqid> <WORD>[ <base64 payload>]`, the same shape for a
//! request (`GET`, `KEYS`, `PUT`, `DELETE`) and its answer (`SUCCESS`,
//! `NOTFOUND`, `FAILURE`). The header is read as the agent reads it: runs
//! of white space between its fields, `clen` in decimal digits, the
//! checksum as eight lowercase hex digits compared as text; the length and
//! checksum are those of `<reqid> <rest>` with a single space, which is
//! what every client sends. An empty payload is left out, as the agent
//! leaves out an empty value or message.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::ReqId;
use super::text::{is_space, trim_start};

/// Standard base64; padding is written, and accepted or not when read.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a frame was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// malformed V2 frame header
    #[error("malformed V2 frame header")]
    Header,
    /// The declared length is not the body's.
    #[error("V2 frame length {declared} does not match its body of {actual} bytes")]
    Length { declared: String, actual: usize },
    /// The checksum is not the body's.
    #[error("V2 frame checksum {sent} does not match its body's {computed}")]
    Checksum { sent: String, computed: String },
    /// An answer to another request (client side).
    #[error("V2 answer for request {got}, not {expected}")]
    OtherRequest { expected: ReqId, got: ReqId },
    /// An answer word the protocol does not have (client side).
    #[error("unknown V2 answer {0:?}")]
    Answer(String),
    /// An answer's payload is not base64 of UTF-8 text (client side).
    #[error("V2 answer payload is not base64 of UTF-8 text")]
    Payload,
}

/// The CRC-32 (IEEE 802.3, zlib's) of `body` as the protocol writes it:
/// eight lowercase hex digits.
pub fn crc32_hex(body: &[u8]) -> String {
    format!("{:08x}", crc32fast::hash(body))
}

/// `payload` in standard base64.
pub(crate) fn base64(payload: &[u8]) -> String {
    BASE64.encode(payload)
}

/// Base64 text decoded to UTF-8 text, if it is both.
pub(crate) fn unbase64(text: &[u8]) -> Option<String> {
    String::from_utf8(BASE64.decode(text).ok()?).ok()
}

/// A whole frame line (with its `\n`) for `word` and `payload`.
pub(crate) fn encode(reqid: &ReqId, word: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = format!("{reqid} {word}");
    if !payload.is_empty() {
        body.push(' ');
        body.push_str(&base64(payload));
    }
    format!("V2 {} {} {body}\n", body.len(), crc32_hex(body.as_bytes())).into_bytes()
}

/// The argument of a PUT before the frame encodes it: the key and the
/// value each in base64, joined by a space (so the frame's payload is
/// base64 of base64).
pub(crate) fn put_argument(key: &str, value: &str) -> String {
    format!("{} {}", base64(key.as_bytes()), base64(value.as_bytes()))
}

/// A PUT's key (trimmed, never empty) and value (never empty) from its
/// decoded argument, which must be exactly two base64 words separated by
/// one space once trimmed.
pub(crate) fn parse_put_argument(argument: &str) -> Option<(String, String)> {
    let (key, value) = argument.trim().split_once(' ')?;
    if value.contains(' ') {
        return None;
    }
    let key = unbase64(key.as_bytes())?.trim().to_owned();
    let value = unbase64(value.as_bytes())?;
    (!key.is_empty() && !value.is_empty()).then_some((key, value))
}

/// Reads the header of a frame, given what follows `V2` and its space,
/// and checks length and checksum. Gives the request id and the rest of
/// the body (`<WORD>[ <payload>]`).
pub(crate) fn open(after_v2: &[u8]) -> Result<(ReqId, &[u8]), FrameError> {
    let s = trim_start(after_v2);
    let (clen, s) = field(s, |b| b.is_ascii_digit())?;
    let (crc, s) = field(s, is_lower_hex)?;
    let (reqid, rest) = field(s, is_lower_hex)?;
    let reqid = ReqId::parse(std::str::from_utf8(reqid).map_err(|_| FrameError::Header)?)
        .ok_or(FrameError::Header)?;
    let mut body = Vec::with_capacity(reqid.as_str().len() + 1 + rest.len());
    body.extend_from_slice(reqid.as_str().as_bytes());
    body.push(b' ');
    body.extend_from_slice(rest);
    let declared = String::from_utf8_lossy(clen).into_owned();
    if declared.parse::<usize>().ok().filter(|&n| n > 0) != Some(body.len()) {
        return Err(FrameError::Length {
            declared,
            actual: body.len(),
        });
    }
    let computed = crc32_hex(&body);
    if crc != computed.as_bytes() {
        return Err(FrameError::Checksum {
            sent: String::from_utf8_lossy(crc).into_owned(),
            computed,
        });
    }
    Ok((reqid, rest))
}

/// The request id at the start of a frame's first bytes, without checking
/// anything else: what an overlong frame is answered by.
pub(crate) fn peek_reqid(after_v2: &[u8]) -> Option<ReqId> {
    let s = trim_start(after_v2);
    let (_, s) = field(s, |b| b.is_ascii_digit()).ok()?;
    let (_, s) = field(s, is_lower_hex).ok()?;
    let (reqid, _) = field(s, is_lower_hex).ok()?;
    ReqId::parse(std::str::from_utf8(reqid).ok()?)
}

fn is_lower_hex(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'a'..=b'f')
}

/// One header field of `allowed` bytes, which must be followed by white
/// space; gives the field and what follows that white space.
fn field(s: &[u8], allowed: impl Fn(u8) -> bool) -> Result<(&[u8], &[u8]), FrameError> {
    let end = s.iter().position(|&b| !allowed(b)).unwrap_or(s.len());
    if end == 0 || !s.get(end).copied().is_some_and(is_space) {
        return Err(FrameError::Header);
    }
    Ok((&s[..end], trim_start(&s[end..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc32_hex(b"123456789"), "cbf43926");
        assert_eq!(crc32_hex(b""), "00000000");
    }

    #[test]
    fn crcs_of_the_worked_frames() {
        for (body, crc) in [
            ("dc4fae17 GET c2RjOnV1aWQ=", "8cf8e622"),
            (
                "dc4fae17 SUCCESS NTRmMWNjNzctNjhmMS00MmFiLWFjYWMtNWM0ZjY0ZjVkNmUw",
                "9493638f",
            ),
            ("0a1b2c3d KEYS", "b1df2f94"),
            (
                "0a1b2c3d SUCCESS dXNlci1zY3JpcHQKcm9vdF9hdXRob3JpemVkX2tleXM=",
                "667a5a4d",
            ),
            ("11223344 PUT Wm05diBZbUZ5", "8d569294"),
            ("11223344 SUCCESS T0s=", "8bf03bb3"),
            ("55667788 GET bm9wZQ==", "13ea5684"),
            ("55667788 NOTFOUND", "3bcffbdd"),
            ("99aabbcc DELETE Zm9v", "48ab290e"),
        ] {
            assert_eq!(crc32_hex(body.as_bytes()), crc, "{body}");
        }
    }

    #[test]
    fn encodes_the_worked_frames() {
        let id = ReqId::from_u32(0xdc4fae17);
        assert_eq!(
            encode(&id, "GET", b"sdc:uuid"),
            b"V2 25 8cf8e622 dc4fae17 GET c2RjOnV1aWQ=\n"
        );
        let id = ReqId::from_u32(0x0a1b2c3d);
        assert_eq!(encode(&id, "KEYS", b""), b"V2 13 b1df2f94 0a1b2c3d KEYS\n");
        let id = ReqId::from_u32(0x11223344);
        assert_eq!(put_argument("foo", "bar"), "Zm9v YmFy");
        assert_eq!(
            encode(&id, "PUT", put_argument("foo", "bar").as_bytes()),
            b"V2 25 8d569294 11223344 PUT Wm05diBZbUZ5\n"
        );
        assert_eq!(
            encode(&id, "SUCCESS", b"OK"),
            b"V2 21 8bf03bb3 11223344 SUCCESS T0s=\n"
        );
        let id = ReqId::from_u32(0x55667788);
        assert_eq!(
            encode(&id, "NOTFOUND", b""),
            b"V2 17 3bcffbdd 55667788 NOTFOUND\n"
        );
    }

    #[test]
    fn opens_frames() {
        let (id, rest) = open(b"25 8cf8e622 dc4fae17 GET c2RjOnV1aWQ=").unwrap();
        assert_eq!(id, ReqId::from_u32(0xdc4fae17));
        assert_eq!(rest, b"GET c2RjOnV1aWQ=");
        // Runs of white space between the header's fields, as the agent's
        // expression allows; the body is rebuilt with one space.
        let (_, rest) = open(b" 25\t 8cf8e622  dc4fae17   GET c2RjOnV1aWQ=").unwrap();
        assert_eq!(rest, b"GET c2RjOnV1aWQ=");
    }

    #[test]
    fn refuses_bad_frames() {
        let header = |s: &[u8]| open(s).unwrap_err();
        assert_eq!(header(b""), FrameError::Header);
        assert_eq!(header(b"25 8cf8e622 dc4fae17"), FrameError::Header);
        assert_eq!(header(b"x 8cf8e622 dc4fae17 GET a"), FrameError::Header);
        assert_eq!(
            header(b"25 8CF8E622 dc4fae17 GET c2RjOnV1aWQ="),
            FrameError::Header
        );
        assert_eq!(
            header(b"25 8cf8e622 DC4FAE17 GET c2RjOnV1aWQ="),
            FrameError::Header
        );
        assert_eq!(
            header(b"24 8cf8e622 dc4fae17 GET c2RjOnV1aWQ="),
            FrameError::Length {
                declared: "24".into(),
                actual: 25
            }
        );
        assert!(matches!(
            header(b"0 00000000 dc4fae17 GET c2RjOnV1aWQ="),
            FrameError::Length { .. }
        ));
        assert!(matches!(
            header(b"99999999999999999999999 8cf8e622 dc4fae17 GET c2RjOnV1aWQ="),
            FrameError::Length { .. }
        ));
        assert_eq!(
            header(b"25 8cf8e623 dc4fae17 GET c2RjOnV1aWQ="),
            FrameError::Checksum {
                sent: "8cf8e623".into(),
                computed: "8cf8e622".into()
            }
        );
        // The agent compares the checksum as text: it must be zero-padded.
        let (id, crc) = (0u32..)
            .map(|n| {
                (
                    format!("{n:08x}"),
                    crc32_hex(format!("{n:08x} KEYS").as_bytes()),
                )
            })
            .find(|(_, crc)| crc.starts_with('0'))
            .unwrap();
        let line = format!("13 {} {id} KEYS", crc.trim_start_matches('0'));
        assert!(matches!(
            header(line.as_bytes()),
            FrameError::Checksum { .. }
        ));
        assert!(open(format!("13 {crc} {id} KEYS").as_bytes()).is_ok());
    }

    #[test]
    fn leading_zeros_in_the_length_are_a_number() {
        assert!(open(b"025 8cf8e622 dc4fae17 GET c2RjOnV1aWQ=").is_ok());
    }

    #[test]
    fn put_arguments() {
        assert_eq!(
            parse_put_argument("Zm9v YmFy"),
            Some(("foo".into(), "bar".into()))
        );
        // The key is trimmed, the value is not.
        assert_eq!(
            parse_put_argument(&put_argument(" foo\n", " bar\n")),
            Some(("foo".into(), " bar\n".into()))
        );
        assert_eq!(
            parse_put_argument(" Zm9v YmFy \n"),
            Some(("foo".into(), "bar".into()))
        );
        for bad in [
            "Zm9v",
            "Zm9v ",
            "Zm9v  YmFy",
            "Zm9v YmFy YmFy",
            "Zm9v Ym!y",
            "Zm9v //79",
            "IA== YmFy",
            "",
        ] {
            assert_eq!(parse_put_argument(bad), None, "{bad:?}");
        }
        assert_eq!(parse_put_argument(&put_argument("foo", "")), None);
        assert_eq!(parse_put_argument(&put_argument("", "bar")), None);
    }

    #[test]
    fn base64_padding_is_optional_when_read() {
        assert_eq!(unbase64(b"Zm9vYg==").as_deref(), Some("foob"));
        assert_eq!(unbase64(b"Zm9vYg").as_deref(), Some("foob"));
        assert_eq!(unbase64(b"Zm9vY").as_deref(), None);
        assert_eq!(unbase64(b"Zm9v\nYg==").as_deref(), None);
        assert_eq!(unbase64(b"").as_deref(), Some(""));
    }

    #[test]
    fn peeks_at_the_reqid() {
        assert_eq!(
            peek_reqid(b"2000000 0badf00d 01234567 PUT AAAA"),
            Some(ReqId::from_u32(0x0123_4567))
        );
        assert_eq!(peek_reqid(b"2000000 0badf00d 0123"), None);
        assert_eq!(peek_reqid(b"junk"), None);
    }
}
