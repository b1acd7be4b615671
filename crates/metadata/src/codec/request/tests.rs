use super::*;
use crate::codec::frame::{encode, put_argument};

fn v1(command: Command) -> Line {
    Line::Request(Request {
        envelope: Envelope::V1,
        command,
    })
}

fn v2(id: u32, command: Command) -> Line {
    Line::Request(Request {
        envelope: Envelope::V2(ReqId::from_u32(id)),
        command,
    })
}

fn parse(line: &str) -> Line {
    parse_line(line.as_bytes())
}

fn get(key: &str) -> Command {
    Command::Get(key.to_owned())
}

#[test]
fn worked_request_frames() {
    assert_eq!(
        parse("V2 25 8cf8e622 dc4fae17 GET c2RjOnV1aWQ="),
        v2(0xdc4fae17, get("sdc:uuid"))
    );
    assert_eq!(
        parse("V2 13 b1df2f94 0a1b2c3d KEYS"),
        v2(0x0a1b2c3d, Command::Keys)
    );
    assert_eq!(
        parse("V2 25 8d569294 11223344 PUT Wm05diBZbUZ5"),
        v2(
            0x11223344,
            Command::Put {
                key: "foo".into(),
                value: "bar".into()
            }
        )
    );
    assert_eq!(
        parse("V2 21 13ea5684 55667788 GET bm9wZQ=="),
        v2(0x55667788, get("nope"))
    );
    assert_eq!(
        parse("V2 20 48ab290e 99aabbcc DELETE Zm9v"),
        v2(0x99aabbcc, Command::Delete("foo".into()))
    );
}

#[test]
fn v1_requests() {
    assert_eq!(parse("GET user-script"), v1(get("user-script")));
    assert_eq!(parse("GET  a key \r"), v1(get("a key")));
    assert_eq!(parse("GET\tsdc:uuid"), v1(get("sdc:uuid")));
    assert_eq!(parse("KEYS"), v1(Command::Keys));
    assert_eq!(parse("KEYS whatever"), v1(Command::Keys));
    assert_eq!(parse("NEGOTIATE V2"), v1(Command::Negotiate("V2".into())));
    assert_eq!(parse("NEGOTIATE V3"), v1(Command::Negotiate("V3".into())));
    assert_eq!(parse("NEGOTIATE  V2"), v1(Command::Negotiate(" V2".into())));
}

#[test]
fn v1_has_no_put_or_delete() {
    assert_eq!(parse("PUT foo bar"), v1(Command::Unknown("PUT".into())));
    assert_eq!(parse("DELETE foo"), v1(Command::Unknown("DELETE".into())));
    assert_eq!(parse("get foo"), v1(Command::Unknown("get".into())));
    assert_eq!(parse("FROB"), v1(Command::Unknown("FROB".into())));
}

#[test]
fn lines_answered_invalid_command() {
    for line in [
        "",
        "\r",
        "  \t",
        " GET foo",
        "GET",
        "GET \r",
        "NEGOTIATE",
        "NEGOTIATE  ",
    ] {
        assert_eq!(parse(line), Line::InvalidCommand, "{line:?}");
    }
}

#[test]
fn a_get_of_only_unicode_space_is_invalid() {
    assert_eq!(parse("GET \u{a0}"), v1(Command::Invalid(Invalid::Get)));
}

#[test]
fn v1_bytes_that_are_not_utf8_are_replaced() {
    assert_eq!(parse_line(b"GET a\xffb"), v1(get("a\u{fffd}b")));
}

#[test]
fn frames_that_fail_their_checks_are_dropped() {
    assert_eq!(parse("V2"), Line::Dropped(FrameError::Header));
    assert_eq!(parse("V2 hello"), Line::Dropped(FrameError::Header));
    assert!(matches!(
        parse("V2 26 8cf8e622 dc4fae17 GET c2RjOnV1aWQ="),
        Line::Dropped(FrameError::Length { .. })
    ));
    assert!(matches!(
        parse("V2 25 00000000 dc4fae17 GET c2RjOnV1aWQ="),
        Line::Dropped(FrameError::Checksum { .. })
    ));
    // A body of white space only: the agent cannot find its command.
    let line = String::from_utf8(encode(&ReqId::from_u32(1), "X", b"")).unwrap();
    assert!(matches!(parse(&line.replace(" X", "  ")), Line::Dropped(_)));
}

#[test]
fn trailing_white_space_after_a_frame_is_not_part_of_it() {
    assert_eq!(
        parse("V2 13 b1df2f94 0a1b2c3d KEYS \r"),
        v2(0x0a1b2c3d, Command::Keys)
    );
}

fn frame(word: &str, payload: &[u8]) -> Line {
    parse_line(&encode(&ReqId::from_u32(7), word, payload)[..])
}

#[test]
fn v2_arguments_that_cannot_be_read() {
    let invalid = |kind| v2(7, Command::Invalid(kind));
    assert_eq!(frame("GET", b""), invalid(Invalid::Get));
    assert_eq!(frame("GET", b" \n "), invalid(Invalid::Get));
    assert_eq!(frame("DELETE", b""), invalid(Invalid::Delete));
    assert_eq!(frame("PUT", b""), invalid(Invalid::Put));
    assert_eq!(frame("PUT", b"Zm9v"), invalid(Invalid::Put));
    assert_eq!(
        frame("PUT", put_argument("foo", "").as_bytes()),
        invalid(Invalid::Put)
    );
    assert_eq!(
        frame("PUT", put_argument(" ", "x").as_bytes()),
        invalid(Invalid::Put)
    );
    assert_eq!(frame("PUT", b"Zm9v YmFy YmF6"), invalid(Invalid::Put));
    // Payloads that are not base64, or not of UTF-8 text.
    for word in ["GET", "DELETE", "PUT"] {
        let id = ReqId::from_u32(7);
        let body = format!("{id} {word} !!!!");
        let line = format!(
            "V2 {} {} {body}",
            body.len(),
            frame::crc32_hex(body.as_bytes())
        );
        assert!(
            matches!(
                parse(&line),
                Line::Request(Request {
                    command: Command::Invalid(_),
                    ..
                })
            ),
            "{word}"
        );
        assert!(matches!(
            frame(word, b"\xff\xfe"),
            Line::Request(Request {
                command: Command::Invalid(_),
                ..
            })
        ));
    }
}

#[test]
fn v2_keys_are_trimmed() {
    assert_eq!(frame("GET", b" user-script\n"), v2(7, get("user-script")));
    assert_eq!(
        frame("DELETE", b"\tfoo "),
        v2(7, Command::Delete("foo".into()))
    );
}

#[test]
fn v2_unknown_commands() {
    assert_eq!(
        frame("NEGOTIATE", b"V2"),
        v2(7, Command::Unknown("NEGOTIATE".into()))
    );
    assert_eq!(frame("V2", b""), v2(7, Command::Unknown("V2".into())));
    assert_eq!(frame("get", b"foo"), v2(7, Command::Unknown("get".into())));
}

#[test]
fn v2_keys_ignores_a_payload() {
    assert_eq!(frame("KEYS", b"anything"), v2(7, Command::Keys));
}

#[test]
fn encodes_v1_requests() {
    assert_eq!(encode_v1(&get("sdc:uuid")).unwrap(), b"GET sdc:uuid\n");
    assert_eq!(encode_v1(&Command::Keys).unwrap(), b"KEYS\n");
    assert_eq!(
        encode_v1(&Command::Negotiate("V2".into())).unwrap(),
        b"NEGOTIATE V2\n"
    );
    assert_eq!(encode_v1(&get("a\nb")), Err(EncodeError::LineBreak));
    assert_eq!(
        encode_v1(&Command::Delete("k".into())),
        Err(EncodeError::NotInVersion {
            command: "DELETE",
            version: 1
        })
    );
    assert_eq!(
        encode_v1(&Command::Put {
            key: "k".into(),
            value: "v".into()
        })
        .unwrap_err()
        .to_string(),
        "PUT is not a V1 request"
    );
    assert_eq!(
        encode_v1(&Command::Invalid(Invalid::Get)),
        Err(EncodeError::Invalid)
    );
    assert_eq!(
        encode_v1(&Command::Unknown("A B".into())),
        Err(EncodeError::Word("A B".into()))
    );
}

#[test]
fn encodes_the_worked_v2_requests() {
    let put = Command::Put {
        key: "foo".into(),
        value: "bar".into(),
    };
    for (id, command, line) in [
        (
            0xdc4fae17,
            get("sdc:uuid"),
            "V2 25 8cf8e622 dc4fae17 GET c2RjOnV1aWQ=\n",
        ),
        (0x0a1b2c3d, Command::Keys, "V2 13 b1df2f94 0a1b2c3d KEYS\n"),
        (
            0x11223344,
            put,
            "V2 25 8d569294 11223344 PUT Wm05diBZbUZ5\n",
        ),
        (
            0x55667788,
            get("nope"),
            "V2 21 13ea5684 55667788 GET bm9wZQ==\n",
        ),
        (
            0x99aabbcc,
            Command::Delete("foo".into()),
            "V2 20 48ab290e 99aabbcc DELETE Zm9v\n",
        ),
    ] {
        let got = encode_v2(&ReqId::from_u32(id), &command).unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), line);
    }
    assert_eq!(
        encode_v2(&ReqId::from_u32(1), &Command::Negotiate("V2".into())),
        Err(EncodeError::NotInVersion {
            command: "NEGOTIATE",
            version: 2
        })
    );
}

#[test]
fn a_v2_value_may_hold_line_breaks() {
    let put = Command::Put {
        key: "user-script".into(),
        value: "#!/bin/sh\necho .\n".into(),
    };
    let line = encode_v2(&ReqId::from_u32(9), &put).unwrap();
    assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
    assert_eq!(parse_line(&line[..line.len() - 1]), v2(9, put));
}

#[test]
fn the_largest_put_value_fits_in_a_line() {
    use crate::codec::{MAX_LINE, MAX_PUT_VALUE};
    let put = |n: usize| Command::Put {
        key: "k".into(),
        value: "x".repeat(n),
    };
    let id = ReqId::from_u32(0);
    let fits = encode_v2(&id, &put(MAX_PUT_VALUE)).unwrap();
    assert!(fits.len() - 1 <= MAX_LINE);
    let over = encode_v2(&id, &put(MAX_PUT_VALUE + 1)).unwrap();
    assert!(over.len() - 1 > MAX_LINE);
}
