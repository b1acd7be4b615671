//! The tools against a real server session on the other end of a socket
//! pair, or against fakes that misbehave in the ways a client must bear.

use std::io::{Cursor, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use basalt_metadata::codec::encode_response;
use basalt_metadata::{Envelope, Lookup, MemoryBackend, ReqId, Session};
use serde_json::json;

use super::*;

type Shared = Arc<Mutex<MemoryBackend>>;

/// Answers a line (without its `\n`) with the bytes to write back.
type Handler = Box<dyn FnMut(&[u8]) -> Vec<u8> + Send>;

fn backend() -> Shared {
    let vm = json!({
        "uuid": "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0",
        "hostname": "web0",
        "tags": {"role": "web"},
        "customer_metadata": {
            "user-script": "#!/bin/sh\necho hi\n",
            "dotted": ".profile\n..\nend"
        },
        "internal_metadata": {"root_pw": "hunter2"},
        "internal_metadata_namespaces": ["docker"]
    });
    Arc::new(Mutex::new(MemoryBackend::new(
        vm.as_object().cloned().unwrap(),
    )))
}

fn empty_backend() -> Shared {
    Arc::new(Mutex::new(MemoryBackend::default()))
}

/// Serves `stream` line by line with `handler` until the client goes.
fn serve(mut stream: UnixStream, mut handler: Handler) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let out = handler(&line[..line.len() - 1]);
            if stream.write_all(&out).is_err() {
                return;
            }
        }
    }
}

/// The real session over `backend`.
fn session(backend: Shared) -> Handler {
    let mut session = Session::new();
    Box::new(move |line| {
        let mut input = line.to_vec();
        input.push(b'\n');
        session.feed(&mut *backend.lock().unwrap(), &input)
    })
}

/// A V1-only server: `FAILURE` to `NEGOTIATE`, the real session otherwise.
fn v1_only(backend: Shared) -> Handler {
    let mut inner = session(backend);
    Box::new(move |line| {
        if line.starts_with(b"NEGOTIATE") {
            b"FAILURE\n".to_vec()
        } else {
            inner(line)
        }
    })
}

/// Runs `tool` against servers made by `handler`, one per connection.
fn run_against(
    handler: &mut dyn FnMut() -> Handler,
    tool: Tool,
    args: &[&str],
    stdin: Option<&str>,
) -> Outcome {
    let mut connect = || {
        let (client, server) = UnixStream::pair().unwrap();
        let h = handler();
        thread::spawn(move || serve(server, h));
        Ok(client)
    };
    let mut service = Service {
        connect: &mut connect,
        retry_for: Some(Duration::from_secs(5)),
        retry_every: Duration::from_millis(10),
        timeouts: Timeouts::default(),
    };
    let args: Vec<String> = args.iter().map(|&a| a.to_owned()).collect();
    let mut reader = stdin.map(|s| Cursor::new(s.as_bytes().to_vec()));
    let input = match &mut reader {
        Some(r) => Input::Reader(r),
        None => Input::Terminal,
    };
    run(tool, &args, input, &mut service)
}

fn run_v2(b: &Shared, tool: Tool, args: &[&str], stdin: Option<&str>) -> Outcome {
    run_against(&mut || session(b.clone()), tool, args, stdin)
}

fn run_v1(b: &Shared, tool: Tool, args: &[&str], stdin: Option<&str>) -> Outcome {
    run_against(&mut || v1_only(b.clone()), tool, args, stdin)
}

fn ok(stdout: &str) -> Outcome {
    Outcome::ok(stdout.as_bytes().to_vec())
}

fn fail(code: u8, stderr: &str) -> Outcome {
    Outcome::fail(code, stderr.to_owned())
}

fn lookup(b: &Shared, key: &str) -> Lookup {
    use basalt_metadata::Backend as _;
    b.lock().unwrap().get(key)
}

#[test]
fn get_prints_the_value_with_one_newline() {
    let b = backend();
    assert_eq!(run_v2(&b, Tool::Get, &["sdc:hostname"], None), ok("web0\n"));
    assert_eq!(
        run_v2(&b, Tool::Get, &["user-script"], None),
        ok("#!/bin/sh\necho hi\n")
    );
    assert_eq!(
        run_v2(&b, Tool::Get, &["dotted"], None),
        ok(".profile\n..\nend\n")
    );
    assert_eq!(run_v2(&b, Tool::Get, &["root_pw"], None), ok("hunter2\n"));
}

#[test]
fn get_of_a_missing_key() {
    assert_eq!(
        run_v2(&backend(), Tool::Get, &["nope"], None),
        fail(1, "No metadata for 'nope'")
    );
}

#[test]
fn get_of_a_value_that_is_not_text() {
    assert_eq!(
        run_v2(&backend(), Tool::Get, &["sdc:tags"], None),
        fail(2, "Error getting metadata for key 'sdc:tags': ")
    );
}

#[test]
fn list_prints_keys_one_per_line() {
    assert_eq!(
        run_v2(&backend(), Tool::List, &[], None),
        ok("user-script\ndotted\nroot_pw\n")
    );
    assert_eq!(
        run_v2(&empty_backend(), Tool::List, &[], None),
        fail(1, "No metadata")
    );
    // Arguments are ignored, as SmartOS's mdata-list ignores them.
    assert_eq!(run_v2(&backend(), Tool::List, &["x"], None).code, EXIT_OK);
}

#[test]
fn put_from_the_command_line_and_from_stdin() {
    let b = backend();
    assert_eq!(run_v2(&b, Tool::Put, &["colour", "blue"], None), ok(""));
    assert_eq!(lookup(&b, "colour"), Lookup::Found("blue".into()));
    let script = "#!/bin/sh\n. /etc/profile\n";
    assert_eq!(
        run_v2(&b, Tool::Put, &["user-script"], Some(script)),
        ok("")
    );
    assert_eq!(lookup(&b, "user-script"), Lookup::Found(script.into()));
    assert_eq!(run_v2(&b, Tool::Get, &["user-script"], None), ok(script));
    assert_eq!(run_v2(&b, Tool::Put, &["admin_pw", "s3"], None), ok(""));
    assert_eq!(lookup(&b, "admin_pw"), Lookup::Found("s3".into()));
}

#[test]
fn put_refuses_a_terminal() {
    let b = backend();
    assert_eq!(
        run_v2(&b, Tool::Put, &["k"], None),
        fail(2, INTERACTIVE_STDIN)
    );
    assert_eq!(lookup(&b, "k"), Lookup::NotFound);
}

#[test]
fn refused_writes_exit_2_with_the_servers_message() {
    let b = backend();
    assert_eq!(
        run_v2(&b, Tool::Put, &["sdc:hostname", "evil"], None),
        fail(
            2,
            r#"Error putting metadata for key 'sdc:hostname': Cannot update the "sdc" Namespace."#
        )
    );
    assert_eq!(
        run_v2(&b, Tool::Delete, &["docker:id"], None),
        fail(
            2,
            r#"Error deleting metadata key 'docker:id': Cannot update the "docker" Namespace."#
        )
    );
    assert_eq!(
        run_v2(&b, Tool::Put, &["k"], Some("")),
        fail(2, "Error putting metadata for key 'k': Invalid PUT Request")
    );
    assert_eq!(lookup(&b, "sdc:hostname"), Lookup::Found("web0".into()));
}

#[test]
fn delete_removes_and_a_missing_key_is_no_error() {
    let b = backend();
    assert_eq!(run_v2(&b, Tool::Delete, &["dotted"], None), ok(""));
    assert_eq!(lookup(&b, "dotted"), Lookup::NotFound);
    assert_eq!(
        run_v2(&b, Tool::Get, &["dotted"], None),
        fail(1, "No metadata for 'dotted'")
    );
    assert_eq!(run_v2(&b, Tool::Delete, &["never"], None), ok(""));
}

#[test]
fn usage_errors_exit_3_without_connecting() {
    let mut never = || -> Handler { panic!("connected") };
    let cases: [(Tool, &[&str], &str); 6] = [
        (Tool::Get, &[], "mdata-get: Usage: mdata-get <keyname>"),
        (
            Tool::Get,
            &["a", "b"],
            "mdata-get: Usage: mdata-get <keyname>",
        ),
        (
            Tool::Delete,
            &[],
            "mdata-delete: Usage: mdata-delete <keyname>",
        ),
        (
            Tool::Put,
            &[],
            "mdata-put: Usage: mdata-put <keyname> [ <value> ]",
        ),
        (
            Tool::Put,
            &["a", "b", "c"],
            "mdata-put: Usage: mdata-put <keyname> [ <value> ]",
        ),
        (
            Tool::Delete,
            &["a", "b"],
            "mdata-delete: Usage: mdata-delete <keyname>",
        ),
    ];
    for (tool, args, message) in cases {
        assert_eq!(run_against(&mut never, tool, args, None), fail(3, message));
    }
}

#[test]
fn v1_fallback_reads_but_does_not_write() {
    let b = backend();
    assert_eq!(run_v1(&b, Tool::Get, &["sdc:hostname"], None), ok("web0\n"));
    assert_eq!(
        run_v1(&b, Tool::Get, &["dotted"], None),
        ok(".profile\n..\nend\n")
    );
    assert_eq!(
        run_v1(&b, Tool::Get, &["nope"], None),
        fail(1, "No metadata for 'nope'")
    );
    assert_eq!(
        run_v1(&b, Tool::List, &[], None),
        ok("user-script\ndotted\nroot_pw\n")
    );
    assert_eq!(
        run_v1(&b, Tool::Put, &["k", "v"], None),
        fail(2, "ERROR: host does not support PUT")
    );
    assert_eq!(
        run_v1(&b, Tool::Delete, &["dotted"], None),
        fail(2, "ERROR: host does not support DELETE")
    );
    // Refused before reading stdin.
    assert_eq!(
        run_v1(&b, Tool::Put, &["k"], None),
        fail(2, "ERROR: host does not support PUT")
    );
    assert_eq!(lookup(&b, "k"), Lookup::NotFound);
    assert_eq!(
        lookup(&b, "dotted"),
        Lookup::Found(".profile\n..\nend".into())
    );
}

/// Negotiates V2, then answers every request `invalid command`.
fn old_v2(line: &[u8]) -> Vec<u8> {
    if line == b"NEGOTIATE V2" {
        b"V2_OK\n".to_vec()
    } else {
        b"invalid command\n".to_vec()
    }
}

#[test]
fn an_unknown_command_is_reported_as_unsupported() {
    for (tool, args, word) in [
        (Tool::Get, &["k"][..], "GET"),
        (Tool::List, &[][..], "KEYS"),
        (Tool::Put, &["k", "v"][..], "PUT"),
        (Tool::Delete, &["k"][..], "DELETE"),
    ] {
        let out = run_against(&mut || Box::new(old_v2), tool, args, None);
        assert_eq!(
            out,
            fail(2, &format!("ERROR: host does not support {word}"))
        );
    }
}

/// The real session, but each V2 answer is preceded by one for another
/// request and one with a bad checksum.
fn noisy(backend: Shared) -> Handler {
    let mut inner = session(backend);
    Box::new(move |line| {
        let real = inner(line);
        if !real.starts_with(b"V2 ") {
            return real;
        }
        let other = Envelope::V2(ReqId::from_u32(0xdead_beef));
        let mut out = encode_response(&other, &Response::Success("wrong".into()));
        let mut damaged = real.clone();
        let at = damaged.len() - 2;
        damaged[at] ^= 1;
        out.extend(damaged);
        out.extend(real);
        out
    })
}

#[test]
fn answers_to_other_requests_and_damaged_frames_are_dropped() {
    let b = backend();
    let out = run_against(&mut || noisy(b.clone()), Tool::Get, &["sdc:hostname"], None);
    assert_eq!(out, ok("web0\n"));
}

#[test]
fn an_unreachable_service_is_retried_until_it_comes() {
    let b = backend();
    let mut tries = 0;
    let mut connect = || {
        tries += 1;
        let (client, server) = UnixStream::pair().unwrap();
        match tries {
            1 => Err(ConnectError::NoSocket(vec![PathBuf::from("/x.sock")])),
            // Accepted, then closed before an answer.
            2 => Ok(client),
            // Answers the negotiation, then goes away.
            3 => {
                let h: Handler = Box::new(|_: &[u8]| b"V2_OK\n".to_vec());
                thread::spawn(move || {
                    let mut s = server;
                    let mut buf = [0; 64];
                    let _ = s.read(&mut buf);
                    let _ = s.write_all(&{ h }(b""));
                });
                Ok(client)
            }
            _ => {
                let h = session(b.clone());
                thread::spawn(move || serve(server, h));
                Ok(client)
            }
        }
    };
    let mut service = Service {
        connect: &mut connect,
        retry_for: Some(Duration::from_secs(5)),
        retry_every: Duration::from_millis(10),
        timeouts: Timeouts::default(),
    };
    let out = run(
        Tool::Get,
        &["sdc:hostname".to_owned()],
        Input::Terminal,
        &mut service,
    );
    assert_eq!(out, ok("web0\n"));
    assert_eq!(tries, 4);
}

fn run_with_connect(
    connect: &mut dyn FnMut() -> Result<UnixStream, ConnectError>,
    retry_for: Duration,
    timeouts: Timeouts,
) -> Outcome {
    let mut service = Service {
        connect,
        retry_for: Some(retry_for),
        retry_every: Duration::from_millis(10),
        timeouts,
    };
    run(Tool::Get, &["k".to_owned()], Input::Terminal, &mut service)
}

#[test]
fn retrying_stops_at_the_limit() {
    let mut tries = 0;
    let mut connect = || {
        tries += 1;
        Err(ConnectError::NoSocket(vec![PathBuf::from("/x.sock")]))
    };
    let out = run_with_connect(&mut connect, Duration::ZERO, Timeouts::default());
    assert_eq!(
        out,
        fail(
            2,
            "ERROR: could not initialise protocol: no metadata socket at /x.sock"
        )
    );
    assert_eq!(tries, 1);
    let mut tries = 0;
    let mut connect = || {
        tries += 1;
        Err(ConnectError::NoSocket(vec![PathBuf::from("/x.sock")]))
    };
    run_with_connect(
        &mut connect,
        Duration::from_millis(100),
        Timeouts::default(),
    );
    assert!(tries > 2, "{tries}");
}

#[test]
fn a_socket_that_cannot_be_used_is_not_retried() {
    let mut tries = 0;
    let mut connect = || {
        tries += 1;
        Err(ConnectError::Failed(
            PathBuf::from("/x.sock"),
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        ))
    };
    let out = run_with_connect(&mut connect, Duration::from_secs(5), Timeouts::default());
    assert_eq!(out.code, EXIT_ERROR);
    assert!(
        out.stderr
            .starts_with("ERROR: could not initialise protocol: failed to connect to /x.sock: "),
        "{}",
        out.stderr
    );
    assert_eq!(tries, 1);
}

#[test]
fn a_silent_service_times_out() {
    let mut servers = Vec::new();
    let mut connect = || {
        let (client, server) = UnixStream::pair().unwrap();
        servers.push(server);
        Ok(client)
    };
    let quick = Timeouts {
        v1: Duration::from_millis(20),
        v2: Duration::from_millis(20),
    };
    let out = run_with_connect(&mut connect, Duration::from_millis(100), quick);
    assert_eq!(
        out,
        fail(
            2,
            "ERROR: could not initialise protocol: timed out waiting for the metadata service"
        )
    );
}

#[test]
fn a_request_that_times_out_is_sent_again_on_a_new_connection() {
    let b = backend();
    let mut connections = 0;
    let mut handler = || -> Handler {
        connections += 1;
        if connections == 1 {
            // Negotiates, then never answers.
            Box::new(|line: &[u8]| {
                if line == b"NEGOTIATE V2" {
                    b"V2_OK\n".to_vec()
                } else {
                    Vec::new()
                }
            })
        } else {
            session(b.clone())
        }
    };
    let mut connect = || {
        let (client, server) = UnixStream::pair().unwrap();
        let h = handler();
        thread::spawn(move || serve(server, h));
        Ok(client)
    };
    let quick = Timeouts {
        v1: Duration::from_millis(200),
        v2: Duration::from_millis(50),
    };
    let mut service = Service {
        connect: &mut connect,
        retry_for: Some(Duration::from_secs(5)),
        retry_every: Duration::from_millis(10),
        timeouts: quick,
    };
    let out = run(
        Tool::Put,
        &["k".to_owned(), "v".to_owned()],
        Input::Terminal,
        &mut service,
    );
    assert_eq!(out, ok(""));
    assert_eq!(lookup(&b, "k"), Lookup::Found("v".into()));
}

#[test]
fn newlines() {
    assert_eq!(with_newline(String::new()), b"");
    assert_eq!(with_newline("a".into()), b"a\n");
    assert_eq!(with_newline("a\n".into()), b"a\n");
}
