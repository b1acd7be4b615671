//! Properties of the codec and the session over open-ended inputs: what a
//! client writes, the server reads back; what the server writes, the
//! client reads back; and a stream's answers do not depend on how its
//! bytes were split into reads.

use basalt_metadata::codec::{
    Command, Envelope, Line, ReplyReader, ReqId, Request, Response, decode_frame, encode_response,
    encode_v1, encode_v2, parse_line,
};
use basalt_metadata::{MemoryBackend, Session};
use proptest::prelude::*;
use serde_json::json;

/// Any text that is a key: not empty, no white space around it.
fn key() -> BoxedStrategy<String> {
    any::<String>()
        .prop_filter("a key is trimmed and not empty", |k| {
            !k.is_empty() && k.trim() == k
        })
        .boxed()
}

/// Keys as guests write them, so that requests meet existing keys.
fn known_key() -> BoxedStrategy<String> {
    prop_oneof![
        Just("user-script".to_owned()),
        Just("root_pw".to_owned()),
        Just("docker:id".to_owned()),
        Just("sdc:uuid".to_owned()),
        Just("sdc:routes".to_owned()),
        Just("k".to_owned()),
        "[a-z:_.]{1,12}",
    ]
    .boxed()
}

fn command(key: BoxedStrategy<String>) -> impl Strategy<Value = Command> {
    prop_oneof![
        key.clone().prop_map(Command::Get),
        Just(Command::Keys),
        (key.clone(), ".+").prop_map(|(key, value)| Command::Put { key, value }),
        key.prop_map(Command::Delete),
    ]
}

fn strip_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n")
        .expect("a line ends with a newline")
}

proptest! {
    #[test]
    fn v2_requests_round_trip(id in any::<u32>(), command in command(key())) {
        let reqid = ReqId::from_u32(id);
        let line = encode_v2(&reqid, &command).unwrap();
        prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let read = parse_line(strip_newline(&line));
        let expected = Line::Request(Request { envelope: Envelope::V2(reqid), command });
        prop_assert_eq!(read, expected);
    }

    #[test]
    fn v1_requests_round_trip(key in key().prop_filter("one line", |k| !k.contains('\n'))) {
        for command in [Command::Get(key.clone()), Command::Keys, Command::Negotiate(key.clone())] {
            let line = encode_v1(&command).unwrap();
            let read = parse_line(strip_newline(&line));
            let expected = Line::Request(Request { envelope: Envelope::V1, command });
            prop_assert_eq!(read, expected);
        }
    }

    #[test]
    fn v2_responses_round_trip(id in any::<u32>(), text in any::<String>(), which in 0..3u8) {
        let reqid = ReqId::from_u32(id);
        let response = match which {
            0 => Response::Success(text),
            1 => Response::Failure(text),
            _ => Response::NotFound,
        };
        let bytes = encode_response(&Envelope::V2(reqid.clone()), &response);
        prop_assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 1);
        prop_assert_eq!(decode_frame(strip_newline(&bytes), &reqid), Ok(response));
    }

    #[test]
    fn v1_responses_round_trip(value in any::<String>()) {
        let bytes = encode_response(&Envelope::V1, &Response::Success(value.clone()));
        let mut reader = ReplyReader::new();
        let mut answers = Vec::new();
        for line in strip_newline(&bytes).split(|&b| b == b'\n') {
            answers.extend(reader.line(line).unwrap());
        }
        prop_assert_eq!(answers, [Response::Success(value)]);
        prop_assert!(!reader.in_value());
    }

    #[test]
    fn answers_do_not_depend_on_how_the_stream_is_read(
        parts in prop::collection::vec(stream_part(), 0..24),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..16),
        max_line in prop_oneof![Just(48usize), Just(1 << 20)],
    ) {
        let input: Vec<u8> = parts.concat();
        let whole = Session::with_max_line(max_line).feed(&mut backend(), &input);
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        at.sort_unstable();
        let mut session = Session::with_max_line(max_line);
        let mut b = backend();
        let mut pieces = Vec::new();
        let mut start = 0;
        for end in at.into_iter().chain([input.len()]) {
            pieces.extend(session.feed(&mut b, &input[start..end]));
            start = end;
        }
        prop_assert_eq!(pieces, whole);
    }
}

/// A piece of a request stream: a well-formed request, a V1 line, or
/// arbitrary bytes (newlines included).
fn stream_part() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (any::<u32>(), command(known_key())).prop_map(|(id, c)| encode_v2(
            &ReqId::from_u32(id),
            &c
        )
        .unwrap()),
        prop_oneof![
            Just(b"NEGOTIATE V2\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"KEYS\n".to_vec()),
            known_key().prop_map(|k| format!("GET {k}\n").into_bytes()),
        ],
        prop::collection::vec(any::<u8>(), 0..80),
        "V2 [0-9]{0,90}[ \t]{1,2}[0-9a-f]{1,9} [0-9a-f]{1,9}[ \x0b]{1,2}[A-Z]{0,6} [A-Za-z0-9+/=]{0,40}\n"
            .prop_map(String::into_bytes),
        prop::collection::vec(
            prop_oneof![Just(b'\n'), Just(b' '), Just(b'V'), Just(b'2')],
            0..8
        ),
    ]
}

fn backend() -> MemoryBackend {
    let vm = json!({
        "uuid": "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0",
        "nics": [{"mac": "02:08:20:01:02:03", "ip": "10.0.0.5"}],
        "routes": {"10.0.0.0/8": "nics[0]"},
        "customer_metadata": {"user-script": "#!/bin/sh\n.\n"},
        "internal_metadata": {"root_pw": "x", "docker:id": "y"},
        "internal_metadata_namespaces": ["docker"]
    });
    MemoryBackend::new(vm.as_object().cloned().unwrap())
}
