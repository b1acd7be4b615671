//! The built tools against a metadata service listening on a socket in a
//! temporary directory, found through `MDATA_SOCKET`.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use basalt_metadata::{MemoryBackend, Session};
use serde_json::json;

type Shared = Arc<Mutex<MemoryBackend>>;

/// A directory of the test's own, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("basalt-mdata-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn backend() -> Shared {
    let vm = json!({
        "uuid": "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0",
        "hostname": "web0",
        "customer_metadata": {"user-script": "#!/bin/sh\necho hi\n"},
        "internal_metadata_namespaces": ["docker"]
    });
    Arc::new(Mutex::new(MemoryBackend::new(
        vm.as_object().cloned().unwrap(),
    )))
}

/// Serves every connection to `path` with a session over `backend`.
fn listen(path: &Path, backend: Shared) {
    let listener = UnixListener::bind(path).unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let backend = backend.clone();
            thread::spawn(move || serve(stream, &backend));
        }
    });
}

fn serve(mut stream: UnixStream, backend: &Shared) {
    let mut session = Session::new();
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut buf) {
        let out = session.feed(&mut *backend.lock().unwrap(), &buf[..n]);
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}

/// A service in a directory of its own.
struct Service {
    dir: TempDir,
    backend: Shared,
}

impl Service {
    fn start(name: &str) -> Service {
        let dir = TempDir::new(name);
        let backend = backend();
        listen(&dir.0.join("metadata.sock"), backend.clone());
        Service { dir, backend }
    }

    fn socket(&self) -> PathBuf {
        self.dir.0.join("metadata.sock")
    }

    fn run(&self, tool: &str, args: &[&str], stdin: Option<&str>) -> Output {
        run(&self.socket(), "2", tool, args, stdin)
    }

    fn get(&self, key: &str) -> basalt_metadata::Lookup {
        use basalt_metadata::Backend as _;
        self.backend.lock().unwrap().get(key)
    }
}

fn run(socket: &Path, retry: &str, tool: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let exe = match tool {
        "mdata-get" => env!("CARGO_BIN_EXE_mdata-get"),
        "mdata-put" => env!("CARGO_BIN_EXE_mdata-put"),
        "mdata-list" => env!("CARGO_BIN_EXE_mdata-list"),
        "mdata-delete" => env!("CARGO_BIN_EXE_mdata-delete"),
        other => panic!("no tool {other}"),
    };
    let mut child = Command::new(exe)
        .args(args)
        .env("MDATA_SOCKET", socket)
        .env("MDATA_RETRY_SECONDS", retry)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn check(out: &Output, code: i32, stdout: &str, stderr: &str) {
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).as_ref(),
            String::from_utf8_lossy(&out.stderr).as_ref()
        ),
        (Some(code), stdout, stderr)
    );
}

#[test]
fn get_and_list() {
    let s = Service::start("get");
    check(
        &s.run("mdata-get", &["sdc:hostname"], None),
        0,
        "web0\n",
        "",
    );
    check(
        &s.run("mdata-get", &["user-script"], None),
        0,
        "#!/bin/sh\necho hi\n",
        "",
    );
    check(
        &s.run("mdata-get", &["nope"], None),
        1,
        "",
        "No metadata for 'nope'\n",
    );
    check(&s.run("mdata-list", &[], None), 0, "user-script\n", "");
    check(
        &s.run("mdata-get", &[], None),
        3,
        "",
        "mdata-get: Usage: mdata-get <keyname>\n",
    );
}

#[test]
fn put_and_delete() {
    let s = Service::start("put");
    check(&s.run("mdata-put", &["colour", "blue"], None), 0, "", "");
    check(&s.run("mdata-get", &["colour"], None), 0, "blue\n", "");
    check(&s.run("mdata-put", &["motd"], Some("hello\n")), 0, "", "");
    assert_eq!(
        s.get("motd"),
        basalt_metadata::Lookup::Found("hello\n".into())
    );
    check(&s.run("mdata-delete", &["colour"], None), 0, "", "");
    assert_eq!(s.get("colour"), basalt_metadata::Lookup::NotFound);
    check(
        &s.run("mdata-put", &["sdc:hostname", "x"], None),
        2,
        "",
        "Error putting metadata for key 'sdc:hostname': Cannot update the \"sdc\" Namespace.\n",
    );
    check(
        &s.run("mdata-delete", &[], None),
        3,
        "",
        "mdata-delete: Usage: mdata-delete <keyname>\n",
    );
    check(
        &s.run("mdata-list", &[], None),
        0,
        "user-script\nmotd\n",
        "",
    );
}

#[test]
fn a_missing_socket_fails_once_the_retries_are_spent() {
    let dir = TempDir::new("missing");
    let socket = dir.0.join("metadata.sock");
    let started = Instant::now();
    let out = run(&socket, "0", "mdata-get", &["k"], None);
    let expected = format!(
        "ERROR: could not initialise protocol: no metadata socket at {}\n",
        socket.display()
    );
    check(&out, 2, "", &expected);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn the_tools_wait_for_a_service_that_comes_late() {
    let dir = TempDir::new("late");
    let socket = dir.0.join("metadata.sock");
    let backend = backend();
    let late = socket.clone();
    let starter = thread::spawn(move || {
        thread::sleep(Duration::from_millis(1500));
        listen(&late, backend);
    });
    let out = run(&socket, "30", "mdata-get", &["sdc:hostname"], None);
    starter.join().unwrap();
    check(&out, 0, "web0\n", "");
}
