use serde_json::json;

use super::*;
use crate::codec::frame::{base64, encode};
use crate::codec::{Command, ReqId, encode_v2};

const UUID: &str = "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0";

fn backend() -> MemoryBackend {
    let vm = json!({
        "uuid": UUID,
        "hostname": "web0",
        "tags": {"role": "web"},
        "customer_metadata": {
            "user-script": "#!/bin/sh\necho hi\n",
            "root_authorized_keys": "ssh-ed25519 AAAA k1",
            "dotted": ".profile\n..\nend"
        },
        "internal_metadata": {"root_pw": "hunter2"},
        "internal_metadata_namespaces": ["docker"]
    });
    MemoryBackend::new(vm.as_object().cloned().unwrap())
}

fn feed(session: &mut Session, backend: &mut MemoryBackend, input: &str) -> String {
    String::from_utf8(session.feed(backend, input.as_bytes())).unwrap()
}

fn request(id: u32, command: Command) -> String {
    String::from_utf8(encode_v2(&ReqId::from_u32(id), &command).unwrap()).unwrap()
}

fn answer(id: u32, word: &str, payload: &str) -> String {
    String::from_utf8(encode(&ReqId::from_u32(id), word, payload.as_bytes())).unwrap()
}

#[test]
fn worked_conversation() {
    let mut b = MemoryBackend::new(
        json!({"uuid": UUID, "customer_metadata": {}})
            .as_object()
            .cloned()
            .unwrap(),
    );
    let mut s = Session::new();
    assert_eq!(feed(&mut s, &mut b, "NEGOTIATE V2\n"), "V2_OK\n");
    assert_eq!(s.protocol(), Protocol::V2);
    assert_eq!(
        feed(&mut s, &mut b, "V2 25 8cf8e622 dc4fae17 GET c2RjOnV1aWQ=\n"),
        "V2 65 9493638f dc4fae17 SUCCESS NTRmMWNjNzctNjhmMS00MmFiLWFjYWMtNWM0ZjY0ZjVkNmUw\n"
    );
    assert_eq!(
        feed(&mut s, &mut b, "V2 25 8d569294 11223344 PUT Wm05diBZbUZ5\n"),
        "V2 21 8bf03bb3 11223344 SUCCESS T0s=\n"
    );
    assert_eq!(b.get("foo"), Lookup::Found("bar".into()));
    assert_eq!(
        feed(&mut s, &mut b, "V2 21 13ea5684 55667788 GET bm9wZQ==\n"),
        "V2 17 3bcffbdd 55667788 NOTFOUND\n"
    );
    assert_eq!(
        feed(&mut s, &mut b, "V2 20 48ab290e 99aabbcc DELETE Zm9v\n"),
        answer(0x99aabbcc, "SUCCESS", "OK")
    );
    assert_eq!(b.get("foo"), Lookup::NotFound);
    b.put("user-script", "x").unwrap();
    b.put("root_authorized_keys", "y").unwrap();
    assert_eq!(
        feed(&mut s, &mut b, "V2 13 b1df2f94 0a1b2c3d KEYS\n"),
        "V2 61 667a5a4d 0a1b2c3d SUCCESS dXNlci1zY3JpcHQKcm9vdF9hdXRob3JpemVkX2tleXM=\n"
    );
    assert!(b.events.is_empty());
}

#[test]
fn v1_conversation() {
    let (mut s, mut b) = (Session::new(), backend());
    assert_eq!(
        feed(&mut s, &mut b, "GET user-script\n"),
        "SUCCESS\n#!/bin/sh\necho hi\n\n.\n"
    );
    assert_eq!(
        feed(&mut s, &mut b, "GET dotted\n"),
        "SUCCESS\n..profile\n...\nend\n.\n"
    );
    assert_eq!(
        feed(&mut s, &mut b, "GET sdc:hostname\n"),
        "SUCCESS\nweb0\n.\n"
    );
    assert_eq!(feed(&mut s, &mut b, "GET nope\n"), "NOTFOUND\n");
    assert_eq!(feed(&mut s, &mut b, "GET sdc:tags\n"), "FAILURE\n");
    assert_eq!(
        feed(&mut s, &mut b, "KEYS\n"),
        "SUCCESS\nuser-script\nroot_authorized_keys\ndotted\nroot_pw\n.\n"
    );
    assert_eq!(feed(&mut s, &mut b, "PUT foo bar\n"), "FAILURE\n");
    assert_eq!(feed(&mut s, &mut b, "DELETE foo\n"), "FAILURE\n");
    assert_eq!(feed(&mut s, &mut b, "\n"), "invalid command\n");
    assert_eq!(feed(&mut s, &mut b, "GET\n"), "invalid command\n");
    assert_eq!(feed(&mut s, &mut b, "NEGOTIATE\n"), "invalid command\n");
    assert_eq!(feed(&mut s, &mut b, "NEGOTIATE V3\n"), "FAILURE\n");
    assert_eq!(s.protocol(), Protocol::V1);
    assert_eq!(b.get("foo"), Lookup::NotFound);
}

#[test]
fn v2_failures_carry_their_message() {
    let (mut s, mut b) = (Session::new(), backend());
    let put = |key: &str| Command::Put {
        key: key.into(),
        value: "v".into(),
    };
    assert_eq!(
        feed(&mut s, &mut b, &request(1, put("sdc:hostname"))),
        answer(1, "FAILURE", r#"Cannot update the "sdc" Namespace."#)
    );
    assert_eq!(
        feed(
            &mut s,
            &mut b,
            &request(2, Command::Delete("docker:id".into()))
        ),
        answer(2, "FAILURE", r#"Cannot update the "docker" Namespace."#)
    );
    assert_eq!(
        feed(&mut s, &mut b, &answer(3, "PUT", "Zm9v")),
        answer(3, "FAILURE", "Invalid PUT Request")
    );
    assert_eq!(
        feed(&mut s, &mut b, &answer(4, "GET", "")),
        answer(4, "FAILURE", "Invalid GET Request")
    );
    assert_eq!(
        feed(&mut s, &mut b, &answer(5, "DELETE", " ")),
        answer(5, "FAILURE", "Invalid DELETE Request")
    );
    assert_eq!(
        feed(&mut s, &mut b, &answer(6, "FROB", "")),
        answer(6, "FAILURE", "Unknown command FROB")
    );
    assert_eq!(
        feed(&mut s, &mut b, &answer(7, "NEGOTIATE", "V2")),
        answer(7, "FAILURE", "Unknown command NEGOTIATE")
    );
    // A value that is not a scalar: FAILURE without a message.
    assert_eq!(
        feed(&mut s, &mut b, &request(8, Command::Get("sdc:tags".into()))),
        answer(8, "FAILURE", "")
    );
    assert_eq!(
        feed(&mut s, &mut b, &request(9, Command::Get("root_pw".into()))),
        answer(9, "SUCCESS", "hunter2")
    );
}

#[test]
fn frames_that_fail_their_checks_get_no_answer() {
    let (mut s, mut b) = (Session::new(), backend());
    assert_eq!(
        feed(&mut s, &mut b, "V2 25 8cf8e623 dc4fae17 GET c2RjOnV1aWQ=\n"),
        ""
    );
    assert_eq!(
        feed(&mut s, &mut b, "V2 24 8cf8e622 dc4fae17 GET c2RjOnV1aWQ=\n"),
        ""
    );
    assert_eq!(feed(&mut s, &mut b, "V2 junk\n"), "");
    assert!(matches!(
        b.events[..],
        [
            Event::Dropped(FrameError::Checksum { .. }),
            Event::Dropped(FrameError::Length { .. }),
            Event::Dropped(FrameError::Header)
        ]
    ));
}

#[test]
fn a_v2_frame_is_served_without_negotiating_and_v1_after() {
    let (mut s, mut b) = (Session::new(), backend());
    let get = request(1, Command::Get("sdc:hostname".into()));
    assert_eq!(feed(&mut s, &mut b, &get), answer(1, "SUCCESS", "web0"));
    assert_eq!(s.protocol(), Protocol::V1);
    assert_eq!(feed(&mut s, &mut b, "NEGOTIATE V2\n"), "V2_OK\n");
    assert_eq!(
        feed(&mut s, &mut b, "GET sdc:hostname\n"),
        "SUCCESS\nweb0\n.\n"
    );
}

#[test]
fn a_serial_reset_after_negotiation() {
    let (mut s, mut b) = (Session::new(), backend());
    assert_eq!(feed(&mut s, &mut b, "NEGOTIATE V2\n"), "V2_OK\n");
    // Half a frame, then the client times out and resets with a blank
    // line: the half frame and the blank line make one line that is
    // dropped, and the next blank line is answered.
    assert_eq!(feed(&mut s, &mut b, "V2 25 8cf8e622 dc4f"), "");
    assert_eq!(feed(&mut s, &mut b, "\n"), "");
    assert_eq!(feed(&mut s, &mut b, "\n"), "invalid command\n");
    assert_eq!(feed(&mut s, &mut b, "NEGOTIATE V2\n"), "V2_OK\n");
    assert_eq!(s.protocol(), Protocol::V2);
}

#[test]
fn lines_are_reassembled_across_reads() {
    let (mut s, mut b) = (Session::new(), backend());
    let input = "GET sdc:uuid\nNEGOTIATE V2\nV2 13 b1df2f94 0a1b2c3d KEYS\n\n";
    let whole = feed(&mut Session::new(), &mut backend(), input);
    let mut pieces = String::new();
    for byte in input.as_bytes().chunks(1) {
        pieces.push_str(&String::from_utf8(s.feed(&mut b, byte)).unwrap());
    }
    assert_eq!(pieces, whole);
    assert!(whole.starts_with(&format!("SUCCESS\n{UUID}\n.\nV2_OK\nV2 ")));
    assert!(whole.ends_with("\ninvalid command\n"));
}

#[test]
fn several_requests_in_one_read_are_answered_in_order() {
    let (mut s, mut b) = (Session::new(), backend());
    let put = request(
        1,
        Command::Put {
            key: "k".into(),
            value: "v".into(),
        },
    );
    let get = request(2, Command::Get("k".into()));
    let got = feed(&mut s, &mut b, &format!("{put}{get}GET k\nKEYS"));
    assert_eq!(
        got,
        format!(
            "{}{}SUCCESS\nv\n.\n",
            answer(1, "SUCCESS", "OK"),
            answer(2, "SUCCESS", "v")
        )
    );
    assert_eq!(s.pending(), 4);
}

#[test]
fn overlong_lines_are_discarded_and_answered() {
    let (mut s, mut b) = (Session::with_max_line(64), backend());
    let big = Command::Put {
        key: "k".into(),
        value: "x".repeat(100),
    };
    let line = request(0xfeed, big);
    let (head, tail) = line.split_at(70);
    assert_eq!(feed(&mut s, &mut b, head), "");
    assert!(s.pending() <= crate::codec::lines::OVERLONG_HEAD);
    assert_eq!(
        feed(&mut s, &mut b, tail),
        answer(0xfeed, "FAILURE", "request too long (more than 64 bytes)")
    );
    assert_eq!(feed(&mut s, &mut b, &"y".repeat(200)), "");
    assert_eq!(
        feed(&mut s, &mut b, "\nGET sdc:hostname\n"),
        "invalid command\nSUCCESS\nweb0\n.\n"
    );
    assert_eq!(b.events, [Event::Overlong, Event::Overlong]);
    assert_eq!(b.get("k"), Lookup::NotFound);
}

#[test]
fn an_overlong_frame_is_answered_the_same_whatever_the_reads() {
    // Found by fuzzing: a header longer than the limit once gave a framed
    // answer when read whole and `invalid command` when read in pieces.
    let mut input = b"V2 ".to_vec();
    input.extend([b'0'; 125]);
    input.extend(b"\x0b2 22 ~\x0b\x05 22 ~\x0b\x05 \0\0 \0\0\n");
    let whole = Session::with_max_line(64).feed(&mut backend(), &input);
    for split in 0..input.len() {
        let (mut s, mut b) = (Session::with_max_line(64), backend());
        let mut pieces = s.feed(&mut b, &input[..split]);
        pieces.extend(s.feed(&mut b, &input[split..]));
        assert_eq!(pieces, whole, "{split}");
    }
    assert_eq!(whole, b"invalid command\n");
}

#[test]
fn the_default_limit_is_a_mebibyte() {
    let (mut s, mut b) = (Session::new(), backend());
    let line = |n: usize| format!("GET {}\n", "k".repeat(n - 4));
    assert_eq!(feed(&mut s, &mut b, &line(MAX_LINE)), "NOTFOUND\n");
    assert_eq!(
        feed(&mut s, &mut b, &line(MAX_LINE + 1)),
        "invalid command\n"
    );
}

#[test]
fn v2_values_with_line_breaks_and_dots() {
    let (mut s, mut b) = (Session::new(), backend());
    let got = feed(&mut s, &mut b, &request(1, Command::Get("dotted".into())));
    assert_eq!(got, answer(1, "SUCCESS", ".profile\n..\nend"));
    assert!(got.ends_with(&format!(" {}\n", base64(b".profile\n..\nend"))));
}

/// A backend whose store is down.
struct Broken;

impl Backend for Broken {
    fn get(&mut self, _: &str) -> Lookup {
        Lookup::Failed(Failure::Failed("Unable to load metadata: gone".into()))
    }
    fn keys(&mut self) -> Result<Vec<String>, Failure> {
        Err(Failure::Failed("Unable to load metadata: gone".into()))
    }
    fn put(&mut self, _: &str, _: &str) -> Result<(), Failure> {
        Err(Failure::Failed("disk full".into()))
    }
    fn delete(&mut self, _: &str) -> Result<(), Failure> {
        Err(Failure::Failed("disk full".into()))
    }
}

#[test]
fn backend_failures() {
    let mut s = Session::new();
    let mut run = |input: String| String::from_utf8(s.feed(&mut Broken, input.as_bytes())).unwrap();
    assert_eq!(run("GET a\n".into()), "FAILURE\n");
    assert_eq!(run("KEYS\n".into()), "FAILURE\n");
    assert_eq!(
        run(request(1, Command::Keys)),
        answer(1, "FAILURE", "Unable to load metadata: gone")
    );
    assert_eq!(
        run(request(2, Command::Delete("a".into()))),
        answer(2, "FAILURE", "disk full")
    );
    // Events go nowhere by default.
    assert_eq!(run("V2 bad\n".into()), "");
}
