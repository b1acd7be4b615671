//! `imgadm publish` against an IMGAPI: the manifest imported with its
//! uuid and `published_at` kept (AdminImportImage), the file added, the
//! image activated; the image deleted again when a step after the import
//! fails, so a failed publish leaves nothing behind.
//!
//! ```text
//!   POST /images/:uuid?action=import ──▶ PUT /images/:uuid/file ──▶ POST ?action=activate
//!                                              │ failure                  │ failure
//!                                              └──────▶ DELETE /images/:uuid ◀──┘
//! ```

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use serde_json::Value;
use sha1::{Digest, Sha1};
use ureq::SendBody;

use super::transport::{check_status, read_json};
use super::{Client, ClientError};
use crate::urlenc;

pub(crate) fn publish(
    c: &Client,
    manifest: &Value,
    path: &Path,
    on_progress: &mut dyn FnMut(u64),
) -> Result<Value, ClientError> {
    let bad = |reason: &str| ClientError::BadManifest {
        reason: reason.to_string(),
    };
    if !manifest.is_object() {
        return Err(bad("it is not a JSON object"));
    }
    let uuid = manifest["uuid"]
        .as_str()
        .ok_or_else(|| bad("it has no uuid"))?;
    let file0 = &manifest["files"][0];
    let compression = file0["compression"].as_str().unwrap_or("none").to_string();
    let io_err = |source| ClientError::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io_err)?.len();
    let sha1 = match file0["sha1"].as_str() {
        Some(s) => s.to_string(),
        None => hash_file(path).map_err(io_err)?,
    };
    let image_url = c.endpoint(&format!("/images/{}", urlenc::encode_segment(uuid)));

    import(c, &image_url, manifest)?;
    let upload = Upload {
        path,
        size,
        sha1: &sha1,
        compression: &compression,
    };
    let done = add_file(c, &image_url, &upload, on_progress).and_then(|_| activate(c, &image_url));
    if let Err(e) = &done {
        tracing::warn!(image = %uuid, error = %e, "publish failed: deleting the imported image");
        let rb = c.prepare(c.agent().delete(&image_url), &[]);
        match rb.call().map_err(|e| ClientError::transport(&image_url, e)) {
            Ok(resp) => {
                if let Err(d) = check_status(&image_url, resp) {
                    tracing::warn!(image = %uuid, error = %d, "imported image could not be deleted");
                }
            }
            Err(d) => {
                tracing::warn!(image = %uuid, error = %d, "imported image could not be deleted")
            }
        }
    }
    done
}

fn action(a: &str) -> [(String, String); 1] {
    [("action".to_string(), a.to_string())]
}

/// AdminImportImage: the manifest as the body.
fn import(c: &Client, url: &str, manifest: &Value) -> Result<Value, ClientError> {
    let body = serde_json::to_vec(manifest).expect("a JSON value serialises");
    let rb = c
        .prepare(c.agent().post(url), &action("import"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/json");
    let resp = rb
        .send(&body[..])
        .map_err(|e| ClientError::transport(url, e))?;
    read_json(url, check_status(url, resp)?)
}

/// The file to add and what the server checks it against.
struct Upload<'a> {
    path: &'a Path,
    size: u64,
    sha1: &'a str,
    compression: &'a str,
}

/// AddImageFile: the file streamed as the body, its digest, size and
/// compression in the query.
fn add_file(
    c: &Client,
    image_url: &str,
    up: &Upload,
    on_progress: &mut dyn FnMut(u64),
) -> Result<Value, ClientError> {
    let url = format!("{image_url}/file");
    let file = File::open(up.path).map_err(|source| ClientError::Io {
        path: up.path.to_path_buf(),
        source,
    })?;
    let query = [
        ("compression".to_string(), up.compression.to_string()),
        ("sha1".to_string(), up.sha1.to_string()),
        ("size".to_string(), up.size.to_string()),
    ];
    let mut reader = Counted {
        inner: file.take(up.size),
        sent: 0,
        report: on_progress,
        failed: None,
    };
    let rb = c
        .prepare(c.agent().put(&url), &query)
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", up.size.to_string())
        .header("Accept", "application/json");
    let sent = rb.send(SendBody::from_reader(&mut reader));
    if let Some((kind, message)) = reader.failed {
        return Err(ClientError::Io {
            path: up.path.to_path_buf(),
            source: io::Error::new(kind, message),
        });
    }
    let resp = sent.map_err(|e| ClientError::transport(&url, e))?;
    read_json(&url, check_status(&url, resp)?)
}

/// ActivateImage. The server installs the image before it answers, so
/// the wait for its answer has its own limit.
fn activate(c: &Client, url: &str) -> Result<Value, ClientError> {
    let rb = c
        .prepare(c.agent().post(url), &action("activate"))
        .header("Accept", "application/json")
        .config()
        .timeout_per_read(Some(c.options().activate_timeout))
        .build();
    let resp = rb
        .send_empty()
        .map_err(|e| ClientError::transport(url, e))?;
    read_json(url, check_status(url, resp)?)
}

/// The local file as it is sent: the bytes read so far reported, and a
/// read error kept so that it is told as the file's, not the network's.
struct Counted<'a, R> {
    inner: R,
    sent: u64,
    report: &'a mut dyn FnMut(u64),
    failed: Option<(io::ErrorKind, String)>,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.sent += n as u64;
                (self.report)(self.sent);
                Ok(n)
            }
            Err(e) => {
                self.failed = Some((e.kind(), e.to_string()));
                Err(e)
            }
        }
    }
}

/// The sha1 of a file, in hex.
fn hash_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha1::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok(hex::encode(h.finalize())),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
