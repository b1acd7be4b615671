use serde_json::{Value, json};

use super::error::parse_error_body;
use super::paging::{PAGE, list_all};
use super::transport::{content_range_start, split_url};
use super::{ClientError, TransportKind};

#[test]
fn source_urls_split_into_base_and_channel() {
    assert_eq!(
        split_url("https://images.smartos.org").unwrap(),
        ("https://images.smartos.org".into(), None)
    );
    assert_eq!(
        split_url(" https://updates.example.com/?channel=staging ").unwrap(),
        ("https://updates.example.com".into(), Some("staging".into()))
    );
    assert_eq!(
        split_url("http://10.0.0.1:8080/base/path/?x=1&channel=dev%20one#frag").unwrap(),
        (
            "http://10.0.0.1:8080/base/path".into(),
            Some("dev one".into())
        )
    );
    assert_eq!(
        split_url("http://h/?channel=").unwrap(),
        ("http://h".into(), None)
    );
    for bad in ["images.smartos.org", "ftp://x", "http://", "https:///path"] {
        assert!(
            matches!(split_url(bad), Err(ClientError::BadUrl { .. })),
            "{bad}"
        );
    }
}

#[test]
fn error_bodies_are_read() {
    assert_eq!(
        parse_error_body(
            404,
            br#"{"code":"ResourceNotFound","message":"image x was not found"}"#
        ),
        ("ResourceNotFound".into(), "image x was not found".into())
    );
    // JSON without a code: the status names it.
    assert_eq!(
        parse_error_body(500, br#"{"message":"boom"}"#),
        ("InternalServerError".into(), "boom".into())
    );
    // Not JSON: the status's name and the start of the body.
    assert_eq!(
        parse_error_body(502, b"<html>bad gateway</html>\n"),
        ("BadGateway".into(), "<html>bad gateway</html>".into())
    );
    assert_eq!(
        parse_error_body(503, b""),
        ("ServiceUnavailable".into(), "Service Unavailable".into())
    );
    let long = "é".repeat(300);
    let (_, m) = parse_error_body(500, long.as_bytes());
    assert!(m.ends_with("...") && m.len() <= 203, "{m}");
}

#[test]
fn rest_errors_are_transient_only_when_5xx() {
    let rest = |status| ClientError::Rest {
        url: "http://h/x".into(),
        status,
        code: "C".into(),
        message: "m".into(),
    };
    assert!(rest(500).is_transient());
    assert!(rest(503).is_transient());
    assert!(!rest(404).is_transient());
    assert!(!rest(422).is_transient());
    assert!(rest(404).is_not_found());
    assert_eq!(rest(404).to_string(), "http://h/x answered 404 C: m");
}

#[test]
fn transport_errors_are_sorted() {
    use std::io::{Error, ErrorKind};
    let kind = |e| TransportKind::of(&e);
    assert_eq!(
        kind(ureq::Error::Io(Error::from(ErrorKind::ConnectionRefused))),
        TransportKind::Refused
    );
    assert_eq!(
        kind(ureq::Error::Io(Error::from(ErrorKind::ConnectionReset))),
        TransportKind::Broken
    );
    assert_eq!(kind(ureq::Error::HostNotFound), TransportKind::Dns);
    assert_eq!(
        kind(ureq::Error::Timeout(ureq::Timeout::Connect)),
        TransportKind::Timeout
    );
    assert_eq!(kind(ureq::Error::Tls("bad cert")), TransportKind::Tls);
    assert_eq!(
        kind(ureq::Error::BadUri("x".into())),
        TransportKind::Protocol
    );
    assert!(TransportKind::Refused.is_transient());
    assert!(TransportKind::Timeout.is_transient());
    assert!(!TransportKind::Tls.is_transient());
    assert!(!TransportKind::Dns.is_transient());
    let e = ClientError::transport(
        "http://h/ping",
        ureq::Error::Io(Error::from(ErrorKind::ConnectionRefused)),
    );
    assert_eq!(
        e.to_string(),
        "failed to reach http://h/ping: connection refused"
    );
}

#[test]
fn content_ranges_are_read() {
    assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
    assert_eq!(content_range_start("bytes  7-9/10"), Some(7));
    assert_eq!(content_range_start("bytes */10"), None);
    assert_eq!(content_range_start(""), None);
}

fn images(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"uuid": format!("u{i:05}")}))
        .collect()
}

/// A server as IMGAPI pages: from the marker image itself, `PAGE` at most.
fn serve_pages(all: &[Value], marker: Option<&str>) -> Vec<Value> {
    let start = marker.map_or(0, |m| all.iter().position(|i| i["uuid"] == m).unwrap());
    all[start..].iter().take(PAGE).cloned().collect()
}

#[test]
fn paging_lists_every_image_once() {
    for n in [0, 1, 999, 1000, 1001, 1999, 2000, 2001, 3203] {
        let all = images(n);
        let mut asked = Vec::new();
        let got = list_all::<()>(None, |m| {
            asked.push(m.map(str::to_string));
            Ok(serve_pages(&all, m))
        })
        .unwrap();
        assert_eq!(got, all, "{n} images");
        assert_eq!(asked[0], None);
        for w in asked.windows(2) {
            assert_ne!(w[0], w[1], "the marker moves on");
        }
    }
}

#[test]
fn paging_starts_after_a_given_marker() {
    let all = images(1500);
    let got = list_all::<()>(Some("u00010".into()), |m| Ok(serve_pages(&all, m))).unwrap();
    assert_eq!(got, all[11..].to_vec());
}

#[test]
fn paging_stops_when_the_server_ignores_the_marker() {
    let all = images(1000);
    let mut calls = 0;
    let got = list_all::<()>(None, |_| {
        calls += 1;
        Ok(all.clone())
    })
    .unwrap();
    assert_eq!(calls, 2);
    assert_eq!(got, all);
}

#[test]
fn paging_passes_errors_on() {
    let got = list_all(None, |_| Err::<Vec<Value>, _>("down"));
    assert_eq!(got, Err("down"));
}
