//! Untrusted bytes from a guest through a metadata session, and untrusted
//! answers through the client's readers. The session must never panic,
//! must give the same answers however the bytes are split into reads, and
//! every answer it writes must be one the client can read. Any panic is a
//! bug.

#![no_main]

use std::sync::OnceLock;

use basalt_metadata::codec::{ReplyReader, ReqId, decode_frame, parse_line};
use basalt_metadata::{MemoryBackend, Session};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

/// An instance with every kind of key: sdc: values, NIC routes,
/// customer and internal metadata, a namespace.
fn instance() -> &'static Map<String, Value> {
    static VM: OnceLock<Map<String, Value>> = OnceLock::new();
    VM.get_or_init(|| {
        let vm = json!({
            "uuid": "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0",
            "hostname": "fuzz", "tmpfs": 256, "resolvers": ["8.8.8.8"],
            "nics": [{"mac": "02:08:20:01:02:03", "ip": "10.0.0.5"}, {"mac": "02:08:20:01:02:04", "ip": "dhcp"}],
            "routes": {"10.1.0.0/16": "nics[0]", "10.2.0.0/16": "macs[2:8:20:1:2:4]", "10.3.0.0/16": "10.0.0.1"},
            "tags": {"role": "web"},
            "customer_metadata": {"user-script": "#!/bin/sh\n.\n..\n", "n": 1},
            "internal_metadata": {"root_pw": "x", "docker:id": "y", "operator-script": "z"},
            "internal_metadata_namespaces": ["docker"]
        });
        vm.as_object().cloned().unwrap()
    })
}

/// The answers to `data` read whole, and read in pieces whose sizes the
/// data itself chooses.
fn answers(data: &[u8], max_line: usize) -> Vec<u8> {
    let whole =
        Session::with_max_line(max_line).feed(&mut MemoryBackend::new(instance().clone()), data);
    let mut session = Session::with_max_line(max_line);
    let mut backend = MemoryBackend::new(instance().clone());
    let mut pieces = Vec::new();
    let mut rest = data;
    let mut seed = data.first().copied().unwrap_or(1);
    while !rest.is_empty() {
        seed = seed.wrapping_mul(31).wrapping_add(7);
        let (now, later) = rest.split_at(usize::from(seed % 17 + 1).min(rest.len()));
        pieces.extend(session.feed(&mut backend, now));
        rest = later;
    }
    assert_eq!(pieces, whole);
    assert!(whole.is_empty() || whole.ends_with(b"\n"));
    whole
}

/// Reads the session's answers as a client would: every frame checks,
/// every V1 answer reads.
fn read_back(answers: &[u8]) {
    let mut reader = ReplyReader::new();
    let body = answers.strip_suffix(b"\n").unwrap_or(answers);
    if body.is_empty() {
        return;
    }
    for line in body.split(|&b| b == b'\n') {
        if !reader.in_value() && line.starts_with(b"V2 ") {
            let id = line.split(|&b| b == b' ').nth(3).unwrap();
            let id = ReqId::parse(std::str::from_utf8(id).unwrap()).unwrap();
            decode_frame(line, &id).unwrap();
        } else {
            reader.line(line).unwrap();
        }
    }
    assert!(!reader.in_value());
}

fuzz_target!(|data: &[u8]| {
    for max_line in [64, 1 << 20] {
        read_back(&answers(data, max_line));
    }
    // Arbitrary lines through the server's and the client's readers.
    let mut reader = ReplyReader::new();
    let id = ReqId::from_u32(0x0102_0304);
    for line in data.split(|&b| b == b'\n') {
        let _ = parse_line(line);
        let _ = reader.line(line);
        let _ = decode_frame(line, &id);
    }
});
