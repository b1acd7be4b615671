//! The publish endpoints, on when [`ServerOptions::publish`] is set:
//! what `imgadm publish` calls, staged in the upload directory until the
//! image is activated and handed to [`Catalog::publish`].
//!
//! ```text
//!   POST ?action=import ──▶ <uuid>.json (state unactivated, no files)
//!   PUT /file           ──▶ <uuid>.file.partial ──sha1/size ok──▶ <uuid>.file
//!                           (the manifest gains files[0])
//!   POST ?action=activate ──▶ Catalog::publish(manifest, <uuid>.file) ──▶ staged files removed
//!   DELETE              ──▶ staged files removed
//! ```
//!
//! The uuid in the path is checked before it names a file. Two requests
//! on one image never run at once (the second is a 409). An upload that
//! does not match its `sha1` or `size`, or that stops, leaves nothing.
//!
//! [`ServerOptions::publish`]: super::ServerOptions::publish
//! [`Catalog::publish`]: super::Catalog::publish

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path as FsPath, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use tokio::sync::mpsc;

use super::reply::{ApiError, is_uuid, json_response};
use super::{AppState, blocking};
use crate::urlenc;

/// The largest manifest accepted.
const MANIFEST_LIMIT: usize = 4 << 20;
/// An upload silent for this long is abandoned.
const UPLOAD_STALL: Duration = Duration::from_secs(300);
/// The compressions IMGAPI knows.
const COMPRESSIONS: [&str; 5] = ["none", "gzip", "bzip2", "xz", "zstd"];
/// The largest image file accepted (a manifest's `files[0].size` limit).
const MAX_FILE: u64 = 20 << 30;

/// The staged files of one image.
#[derive(Clone)]
struct Staged {
    manifest: PathBuf,
    file: PathBuf,
    partial: PathBuf,
}

impl Staged {
    fn new(dir: &FsPath, uuid: &str) -> Staged {
        Staged {
            manifest: dir.join(format!("{uuid}.json")),
            file: dir.join(format!("{uuid}.file")),
            partial: dir.join(format!("{uuid}.file.partial")),
        }
    }

    fn remove(&self) -> io::Result<bool> {
        let mut any = false;
        for p in [&self.manifest, &self.file, &self.partial] {
            match fs::remove_file(p) {
                Ok(()) => any = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(any)
    }

    fn read_manifest(&self, uuid: &str) -> Result<Value, ApiError> {
        match fs::read(&self.manifest) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| ApiError::internal(format!("staged manifest of {uuid}: {e}"))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ApiError::no_image(uuid)),
            Err(e) => Err(ApiError::internal(format!(
                "staged manifest of {uuid}: {e}"
            ))),
        }
    }

    fn write_manifest(&self, m: &Value) -> io::Result<()> {
        let tmp = self.manifest.with_extension("json.new");
        fs::write(
            &tmp,
            serde_json::to_vec_pretty(m).expect("a JSON value serialises"),
        )?;
        fs::rename(&tmp, &self.manifest)
    }
}

/// Holds one image's publish step; a second one is refused meanwhile.
struct Busy {
    st: Arc<AppState>,
    uuid: String,
}

impl Busy {
    fn take(st: &Arc<AppState>, uuid: &str) -> Result<Busy, ApiError> {
        let mut busy = st.busy.lock().unwrap_or_else(|p| p.into_inner());
        if !busy.insert(uuid.to_string()) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!("image {uuid} has another publish request in progress"),
            ));
        }
        Ok(Busy {
            st: st.clone(),
            uuid: uuid.to_string(),
        })
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut busy = self.st.busy.lock().unwrap_or_else(|p| p.into_inner());
        busy.remove(&self.uuid);
    }
}

/// The checks every publish endpoint starts with: publishing is on, the
/// uuid is one.
fn enter(st: &Arc<AppState>, uuid: &str) -> Result<(Busy, Staged), ApiError> {
    if !st.options.publish {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "NotAuthorized",
            "publishing images is disabled on this server",
        ));
    }
    if !is_uuid(uuid) {
        return Err(ApiError::no_image(uuid));
    }
    Ok((
        Busy::take(st, uuid)?,
        Staged::new(&st.options.upload_dir, uuid),
    ))
}

/// `POST /images/:uuid?action=...`.
pub(crate) async fn image_action(
    State(st): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let pairs = urlenc::parse_query(query.as_deref().unwrap_or(""));
    let action = pairs
        .iter()
        .rev()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.as_str());
    let (busy, staged) = enter(&st, &uuid)?;
    match action {
        Some("import") => import(&st, &uuid, &staged, body).await,
        Some("activate") => activate(&st, &uuid, staged, busy).await,
        Some(other) => Err(ApiError::invalid(format!(
            "action: \"{other}\" is not supported by this server"
        ))),
        None => Err(ApiError::invalid("action: missing")),
    }
}

/// AdminImportImage: the manifest staged, unactivated, without files.
async fn import(
    st: &Arc<AppState>,
    uuid: &str,
    staged: &Staged,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(body, MANIFEST_LIMIT)
        .await
        .map_err(|e| ApiError::invalid(format!("the manifest could not be read: {e}")))?;
    let mut manifest: Value = serde_json::from_slice(&bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| ApiError::invalid("the body is not a JSON manifest"))?;
    match manifest.get("uuid").and_then(Value::as_str) {
        Some(u) if u == uuid => {}
        None if manifest.get("uuid").is_none() => manifest["uuid"] = json!(uuid),
        _ => {
            return Err(ApiError::invalid(format!(
                "uuid: the manifest's uuid is not {uuid}, the uuid in the path"
            )));
        }
    }
    let catalog = st.catalog.clone();
    let u = uuid.to_string();
    let exists = blocking(move || catalog.image(&u)).await??.is_some();
    if exists || staged.manifest.exists() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "ImageUuidAlreadyExists",
            format!("image uuid {uuid} already exists"),
        ));
    }
    let o = manifest.as_object_mut().expect("checked above");
    o.remove("files");
    o.insert("state".into(), json!("unactivated"));
    staged
        .remove()
        .and_then(|_| staged.write_manifest(&manifest))
        .map_err(|e| ApiError::internal(format!("failed to stage image {uuid}: {e}")))?;
    tracing::info!(image = %uuid, "image imported for publishing");
    Ok(json_response(StatusCode::OK, &manifest))
}

/// What AddImageFile's query says of the file.
struct FileQuery {
    compression: String,
    sha1: Option<String>,
    size: Option<u64>,
}

fn file_query(raw: Option<&str>) -> Result<FileQuery, ApiError> {
    let pairs = urlenc::parse_query(raw.unwrap_or(""));
    let get = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let compression = get("compression").unwrap_or_default();
    if !COMPRESSIONS.contains(&compression) {
        return Err(ApiError::invalid(format!(
            "compression: \"{compression}\" is not one of {}",
            COMPRESSIONS.join(", ")
        )));
    }
    let sha1 = match get("sha1") {
        Some(s) if s.len() == 40 && s.bytes().all(|c| c.is_ascii_hexdigit()) => {
            Some(s.to_ascii_lowercase())
        }
        Some(s) => return Err(ApiError::invalid(format!("sha1: \"{s}\" is not a sha1"))),
        None => None,
    };
    let size = match get("size") {
        Some(s) => Some(
            s.parse()
                .map_err(|_| ApiError::invalid(format!("size: \"{s}\" is not a byte count")))?,
        ),
        None => None,
    };
    Ok(FileQuery {
        compression: compression.to_string(),
        sha1,
        size,
    })
}

/// `PUT /images/:uuid/file`: AddImageFile.
pub(crate) async fn put_file(
    State(st): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let (_busy, staged) = enter(&st, &uuid)?;
    let want = file_query(query.as_deref())?;
    let mut manifest = blocking({
        let (staged, uuid) = (staged.clone(), uuid.clone());
        move || staged.read_manifest(&uuid)
    })
    .await??;
    let limit = want.size.unwrap_or(MAX_FILE).min(MAX_FILE);
    let got = receive(body, staged.partial.clone(), limit).await;
    let (sha1, size) = match got {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_file(&staged.partial);
            return Err(e);
        }
    };
    let mismatch = if want.size.is_some_and(|s| s != size) {
        Some(format!(
            "size: {size} bytes arrived, not {}",
            want.size.unwrap_or_default()
        ))
    } else if want.sha1.as_ref().is_some_and(|s| *s != sha1) {
        Some(format!(
            "sha1: the file's is {sha1}, not {}",
            want.sha1.as_deref().unwrap_or_default()
        ))
    } else {
        None
    };
    if let Some(m) = mismatch {
        let _ = fs::remove_file(&staged.partial);
        return Err(ApiError::invalid(m));
    }
    manifest["files"] = json!([{"sha1": sha1, "size": size, "compression": want.compression}]);
    fs::rename(&staged.partial, &staged.file)
        .and_then(|_| staged.write_manifest(&manifest))
        .map_err(|e| ApiError::internal(format!("failed to stage the file of {uuid}: {e}")))?;
    tracing::info!(image = %uuid, size, "image file uploaded for publishing");
    Ok(json_response(StatusCode::OK, &manifest))
}

/// Streams the body into `path` on a blocking thread, hashing as it
/// goes; returns the sha1 (hex) and size. More than `limit` bytes is an
/// error: an upload cannot fill the node's disk past what it announced.
async fn receive(mut body: Body, path: PathBuf, limit: u64) -> Result<(String, u64), ApiError> {
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let writer = tokio::task::spawn_blocking(move || write_blocks(&path, rx, limit));
    let mut failed = None;
    loop {
        let next = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        match tokio::time::timeout(UPLOAD_STALL, next).await {
            Err(_) => {
                failed = Some(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    "UploadError",
                    format!("no data for {} s", UPLOAD_STALL.as_secs()),
                ));
                break;
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                failed = Some(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "UploadError",
                    format!("the upload broke off: {e}"),
                ));
                break;
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data()
                    && tx.send(data).await.is_err()
                {
                    // The writer stopped: its error is below.
                    break;
                }
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| ApiError::internal(format!("the upload writer failed: {e}")))?
        .map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                ApiError::invalid(format!("size: {e} arrived, past what was announced"))
            } else {
                ApiError::internal(format!("failed to write the upload: {e}"))
            }
        });
    match failed {
        Some(e) => Err(e),
        None => written,
    }
}

fn write_blocks(
    path: &FsPath,
    mut rx: mpsc::Receiver<Bytes>,
    limit: u64,
) -> io::Result<(String, u64)> {
    let mut out = BufWriter::with_capacity(1 << 20, fs::File::create(path)?);
    let mut sha1 = Sha1::new();
    let mut size = 0u64;
    while let Some(block) = rx.blocking_recv() {
        if size + block.len() as u64 > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("more than {limit} bytes"),
            ));
        }
        sha1.update(&block);
        out.write_all(&block)?;
        size += block.len() as u64;
    }
    out.flush()?;
    Ok((hex::encode(sha1.finalize()), size))
}

/// ActivateImage: the staged image handed to the catalog.
async fn activate(
    st: &Arc<AppState>,
    uuid: &str,
    staged: Staged,
    busy: Busy,
) -> Result<Response, ApiError> {
    let catalog = st.catalog.clone();
    let uuid = uuid.to_string();
    let served = blocking(move || {
        let _busy = busy;
        let mut manifest = staged.read_manifest(&uuid)?;
        if manifest["files"][0].is_null() || !staged.file.exists() {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "NoActivationNoFile",
                format!("image {uuid} cannot be activated: it has no file"),
            ));
        }
        manifest["state"] = json!("active");
        if manifest.get("published_at").is_none_or(Value::is_null) {
            manifest["published_at"] = json!(iso8601(SystemTime::now()));
        }
        let served = catalog.publish(manifest, &staged.file)?;
        if let Err(e) = staged.remove() {
            tracing::warn!(image = %uuid, error = %e, "staged files of a published image not removed");
        }
        tracing::info!(image = %uuid, "image published");
        Ok(served)
    })
    .await??;
    Ok(json_response(StatusCode::OK, &served))
}

/// `DELETE /images/:uuid`: a staged image dropped.
pub(crate) async fn delete_image(
    State(st): State<Arc<AppState>>,
    Path(uuid): Path<String>,
) -> Result<Response, ApiError> {
    let (busy, staged) = enter(&st, &uuid)?;
    let removed = blocking(move || {
        let _busy = busy;
        staged.remove()
    })
    .await?
    .map_err(|e| ApiError::internal(format!("failed to remove the staged image {uuid}: {e}")))?;
    if !removed {
        return Err(ApiError::no_image(&uuid));
    }
    tracing::info!(image = %uuid, "staged image deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A time as IMGAPI writes `published_at`: `2024-01-31T12:00:00.000Z`.
pub(crate) fn iso8601(t: SystemTime) -> String {
    let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::{file_query, iso8601};

    #[test]
    fn dates_are_iso() {
        let at = |s: u64, ms: u64| {
            iso8601(SystemTime::UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(1_335_971_685, 805), "2012-05-02T15:14:45.805Z");
        assert_eq!(at(951_825_600, 0), "2000-02-29T12:00:00.000Z");
        assert_eq!(at(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn file_queries() {
        let q = file_query(Some(
            "compression=gzip&sha1=97F20B32C2016782257176FB58A35E5044F05840&size=12",
        ))
        .unwrap();
        assert_eq!(q.compression, "gzip");
        assert_eq!(
            q.sha1.as_deref(),
            Some("97f20b32c2016782257176fb58a35e5044f05840")
        );
        assert_eq!(q.size, Some(12));
        let q = file_query(Some("compression=none")).unwrap();
        assert_eq!((q.sha1, q.size), (None, None));
        for bad in [
            "",
            "compression=zip",
            "compression=none&sha1=xyz",
            "compression=none&size=-1",
        ] {
            assert!(file_query(Some(bad)).is_err(), "{bad}");
        }
    }
}
