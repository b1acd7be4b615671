//! Retries and timeouts against a raw server that answers as scripted;
//! what every request carries.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use basalt_imgapi::{Client, ClientError, ClientOptions, TransportKind};
use common::{RawServer, client, options, raw_response};

const PONG: &str = r#"{"ping":"pong","version":"1.0.0","imgapi":true}"#;
const BUSY: &str = r#"{"code":"ServiceUnavailableError","message":"busy"}"#;

#[test]
fn two_503_then_200_succeeds() {
    let raw = RawServer::start(|n| {
        if n < 2 {
            raw_response("503 Service Unavailable", BUSY)
        } else {
            raw_response("200 OK", PONG)
        }
    });
    let pong = client(&raw.url).ping().unwrap();
    assert_eq!(pong["imgapi"], true);
    assert_eq!(raw.count(), 3);
}

/// The status, code and message of a server's error answer.
fn rest(e: &ClientError) -> (u16, &str, &str) {
    match e {
        ClientError::Rest {
            status,
            code,
            message,
            ..
        } => (*status, code, message),
        other => panic!("not an error answer: {other:?}"),
    }
}

#[test]
fn always_503_fails_after_three_attempts() {
    let raw = RawServer::start(|_| raw_response("503 Service Unavailable", BUSY));
    let e = client(&raw.url).get(&common::uuid(1)).unwrap_err();
    assert_eq!(rest(&e), (503, "ServiceUnavailableError", "busy"));
    assert_eq!(raw.count(), 3);
}

#[test]
fn a_404_is_not_retried() {
    let raw = RawServer::start(|_| {
        raw_response(
            "404 Not Found",
            r#"{"code":"ResourceNotFound","message":"image x was not found"}"#,
        )
    });
    let e = client(&raw.url).get(&common::uuid(1)).unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(raw.count(), 1);
}

#[test]
fn a_non_json_error_keeps_status_and_text() {
    let raw = RawServer::start(|_| raw_response("502 Bad Gateway", "<h1>upstream down</h1>"));
    let e = client(&raw.url).list(&[]).unwrap_err();
    assert_eq!(rest(&e), (502, "BadGateway", "<h1>upstream down</h1>"));
    assert_eq!(raw.count(), 3, "a 5xx is retried");
}

#[test]
fn bad_json_is_invalid() {
    let raw = RawServer::start(|_| raw_response("200 OK", "[{not json"));
    let e = client(&raw.url).list(&[]).unwrap_err();
    assert!(matches!(e, ClientError::Invalid { .. }), "{e:?}");
    assert!(e.to_string().contains(&raw.url), "{e}");
}

#[test]
fn connection_refused_is_a_transport_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let e = client(&url).ping().unwrap_err();
    match &e {
        ClientError::Transport { kind, url: u, .. } => {
            assert_eq!(*kind, TransportKind::Refused);
            assert_eq!(u, &format!("{url}/ping"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.to_string(),
        format!("failed to reach {url}/ping: connection refused")
    );
}

/// Every call says `Accept-Version: ~2`, the user agent, the request id
/// and the source's channel.
#[test]
fn requests_carry_version_agent_and_channel() {
    let raw = RawServer::start(|_| raw_response("200 OK", "[]"));
    let c = Client::new(
        &format!("{}/?channel=experimental", raw.url),
        ClientOptions {
            user_agent: "imgadm/4.0.0 (test)".into(),
            request_id: Some("req-1".into()),
            ..options()
        },
    )
    .unwrap();
    c.list(&[("os".into(), "linux".into())]).unwrap();
    let head = raw.requests.lock().unwrap()[0].to_ascii_lowercase();
    let line = head.lines().next().unwrap();
    assert!(line.starts_with("get /images?"), "{line}");
    for part in ["os=linux", "limit=1000", "channel=experimental"] {
        assert!(line.contains(part), "{part} in {line}");
    }
    for h in [
        "accept-version: ~2",
        "user-agent: imgadm/4.0.0 (test)",
        "x-request-id: req-1",
    ] {
        assert!(head.contains(h), "{h} in {head}");
    }
}

/// A download whose server goes silent fails after the stall timeout,
/// with the URL in the error.
#[test]
fn a_stalled_download_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
              Content-Length: 100\r\n\r\n0123456789",
        );
        std::thread::sleep(Duration::from_secs(5));
    });
    let c = Client::new(
        &url,
        ClientOptions {
            stall_timeout: Duration::from_millis(300),
            ..options()
        },
    )
    .unwrap();
    let mut d = c.file(&common::uuid(1), 0).unwrap();
    assert_eq!(d.content_length, Some(100));
    let started = Instant::now();
    let mut got = Vec::new();
    let e = d.read_to_end(&mut got).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
    assert!(e.to_string().contains(&url), "{e}");
    assert_eq!(got, b"0123456789");
    assert!(started.elapsed() < Duration::from_secs(4));
}
