//! What the client–server tests share: catalogs (one on disk in a
//! tempdir, one in memory), a server on a free port, a raw HTTP server
//! that answers as scripted, and test images.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use basalt_imgapi::server::{self, Catalog, CatalogError, ServerHandle, ServerOptions};
use basalt_imgapi::{Client, ClientOptions};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

/// A catalog on disk: `<uuid>.json` manifests and `<uuid>.file` files in
/// a tempdir, read on every call.
pub struct DiskCatalog {
    pub dir: tempfile::TempDir,
    /// What `publish` was given: the manifest and the file's bytes.
    pub published: Mutex<Vec<(Value, Vec<u8>)>>,
    /// Makes `publish` fail.
    pub refuse_publish: AtomicBool,
}

impl DiskCatalog {
    pub fn new() -> DiskCatalog {
        DiskCatalog {
            dir: tempfile::tempdir().unwrap(),
            published: Mutex::new(Vec::new()),
            refuse_publish: AtomicBool::new(false),
        }
    }

    /// Adds an image; its manifest gains `files[0]` when it has a file.
    pub fn add(&self, mut manifest: Value, file: Option<&[u8]>) {
        let uuid = manifest["uuid"].as_str().unwrap().to_string();
        if let Some(bytes) = file {
            std::fs::write(self.dir.path().join(format!("{uuid}.file")), bytes).unwrap();
            manifest["files"] = json!([{"sha1": sha1_hex(bytes), "size": bytes.len(),
                                        "compression": "none"}]);
        }
        let path = self.dir.path().join(format!("{uuid}.json"));
        std::fs::write(path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    }
}

impl Catalog for DiskCatalog {
    fn images(&self) -> Result<Vec<Value>, CatalogError> {
        let mut out = Vec::new();
        for e in
            std::fs::read_dir(self.dir.path()).map_err(|e| CatalogError::internal(e.to_string()))?
        {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "json") {
                out.push(serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap());
            }
        }
        Ok(out)
    }

    fn image(&self, uuid: &str) -> Result<Option<Value>, CatalogError> {
        match std::fs::read(self.dir.path().join(format!("{uuid}.json"))) {
            Ok(b) => Ok(Some(serde_json::from_slice(&b).unwrap())),
            Err(_) => Ok(None),
        }
    }

    fn file(&self, uuid: &str) -> Result<Option<(PathBuf, u64)>, CatalogError> {
        let p = self.dir.path().join(format!("{uuid}.file"));
        Ok(std::fs::metadata(&p).ok().map(|m| (p, m.len())))
    }

    fn publish(&self, manifest: Value, file: &Path) -> Result<Value, CatalogError> {
        if self.refuse_publish.load(Ordering::SeqCst) {
            return Err(CatalogError::invalid("this test refuses every image"));
        }
        let bytes = std::fs::read(file).map_err(|e| CatalogError::internal(e.to_string()))?;
        let uuid = manifest["uuid"].as_str().unwrap();
        std::fs::write(self.dir.path().join(format!("{uuid}.file")), &bytes).unwrap();
        std::fs::write(
            self.dir.path().join(format!("{uuid}.json")),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
        self.published
            .lock()
            .unwrap()
            .push((manifest.clone(), bytes));
        Ok(manifest)
    }
}

/// A catalog in memory, without files; counts the listings.
pub struct MemCatalog {
    pub images: Vec<Value>,
    pub listings: AtomicUsize,
}

impl Catalog for MemCatalog {
    fn images(&self) -> Result<Vec<Value>, CatalogError> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        Ok(self.images.clone())
    }
    fn image(&self, uuid: &str) -> Result<Option<Value>, CatalogError> {
        Ok(self.images.iter().find(|m| m["uuid"] == uuid).cloned())
    }
    fn file(&self, _: &str) -> Result<Option<(PathBuf, u64)>, CatalogError> {
        Ok(None)
    }
    fn publish(&self, _: Value, _: &Path) -> Result<Value, CatalogError> {
        Err(CatalogError::internal("read-only"))
    }
}

pub fn sha1_hex(b: &[u8]) -> String {
    hex::encode(Sha1::digest(b))
}

/// A uuid made from a number.
pub fn uuid(i: u32) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// A manifest as IMGAPI serves one.
pub fn manifest(i: u32, name: &str, published_at: &str) -> Value {
    json!({
        "v": 2, "uuid": uuid(i), "owner": "00000000-0000-0000-0000-000000000000",
        "name": name, "version": "1.0.0", "state": "active", "disabled": false,
        "public": true, "published_at": published_at, "type": "zone-dataset",
        "os": "smartos",
    })
}

/// Bytes that do not repeat in blocks.
pub fn content(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// A server for `catalog` on a free port of 127.0.0.1, and its URL.
pub fn start(catalog: Arc<dyn Catalog>, options: ServerOptions) -> (ServerHandle, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let handle = server::spawn(listener, catalog, options).unwrap();
    let url = format!("http://{}", handle.local_addr());
    (handle, url)
}

/// Client options for tests: quick retries.
pub fn options() -> ClientOptions {
    ClientOptions {
        retry_backoff: Duration::from_millis(10),
        ..ClientOptions::default()
    }
}

pub fn client(url: &str) -> Client {
    Client::new(url, options()).unwrap()
}

/// A raw HTTP server on a free port: each request's head is recorded,
/// and `answer(n)` (n counting from 0) gives the raw response, sent on a
/// connection then closed.
pub struct RawServer {
    pub url: String,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl RawServer {
    pub fn start(answer: impl Fn(usize) -> Vec<u8> + Send + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let n = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(read_head(&conn));
                    seen.len() - 1
                };
                let mut conn = conn;
                let _ = conn.write_all(&answer(n));
                let _ = conn.flush();
            }
        });
        RawServer { url, requests }
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

fn read_head(conn: &TcpStream) -> String {
    let mut r = BufReader::new(conn);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            return head;
        }
        head.push_str(&line);
    }
}

/// A raw HTTP response that closes its connection.
pub fn raw_response(status: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The names of the files in a directory (none when it does not exist).
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}
