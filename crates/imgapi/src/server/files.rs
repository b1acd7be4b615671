//! `GET /images/:uuid/file`: an image file streamed from disk, whole or
//! from a byte (`Range: bytes=N-`, also `N-M` and `-N`).
//!
//! The file is read on a blocking thread in 512 KiB blocks, a few blocks
//! ahead of the socket (a bounded channel), so disk reads and network
//! writes overlap; the async side only hands the blocks to hyper, which
//! writes them with vectored writes. A client that goes away closes the
//! channel and the reader stops.
//!
//! ```text
//!   file ──read 512 KiB──▶ [channel, 4 blocks] ──▶ body stream ──▶ socket
//!        (blocking thread)                         (runtime worker)
//! ```

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;
use tokio_util::io::ReaderStream;

use super::reply::{ApiError, is_uuid};
use super::{AppState, blocking};

/// The size of a block read from disk and of a body chunk.
const CHUNK: usize = 512 << 10;
/// How many blocks are read ahead of the socket.
const AHEAD: usize = 4;

/// What a `Range` header asks of a file of a given length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangePlan {
    /// No range, or one this server ignores (several ranges, garbage):
    /// the whole file, 200.
    Whole,
    /// Bytes `start..=end`, 206.
    Part { start: u64, end: u64 },
    /// A range starting past the end: 416.
    Unsatisfiable,
}

/// Reads a `Range` header against a file of `len` bytes.
pub(crate) fn plan_range(header: Option<&str>, len: u64) -> RangePlan {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangePlan::Whole;
    };
    if spec.contains(',') {
        return RangePlan::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangePlan::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // The last `b` bytes.
        return match b.parse::<u64>() {
            Ok(0) => RangePlan::Unsatisfiable,
            Ok(_) if len == 0 => RangePlan::Unsatisfiable,
            Ok(n) => RangePlan::Part {
                start: len.saturating_sub(n),
                end: len - 1,
            },
            Err(_) => RangePlan::Whole,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangePlan::Whole;
    };
    let end = match b {
        "" => u64::MAX,
        b => match b.parse::<u64>() {
            Ok(e) if e >= start => e,
            _ => return RangePlan::Whole,
        },
    };
    if start >= len {
        return RangePlan::Unsatisfiable;
    }
    RangePlan::Part {
        start,
        end: end.min(len - 1),
    }
}

pub(crate) async fn get_file(
    State(st): State<Arc<AppState>>,
    Path(uuid): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if !is_uuid(&uuid) {
        return Err(ApiError::no_image(&uuid));
    }
    let catalog = st.catalog.clone();
    let u = uuid.clone();
    let (path, _) = blocking(move || catalog.file(&u))
        .await??
        .ok_or_else(|| ApiError::no_image(&uuid))?;
    let (file, len) = blocking(move || {
        let f = File::open(&path)?;
        let len = f.metadata()?.len();
        Ok::<_, io::Error>((f, len))
    })
    .await?
    .map_err(|e| ApiError::internal(format!("failed to open the file of image {uuid}: {e}")))?;

    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let (status, start, count) = match plan_range(range, len) {
        RangePlan::Whole => (StatusCode::OK, 0, len),
        RangePlan::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        RangePlan::Unsatisfiable => {
            let mut resp = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "RequestedRangeNotSatisfiable",
                format!("the file of image {uuid} has {len} bytes"),
            )
            .into_response();
            resp.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes */{len}")),
            );
            return Ok(resp);
        }
    };
    let mut resp = Response::new(stream(file, start, count));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if status == StatusCode::PARTIAL_CONTENT {
        let end = start + count - 1;
        h.insert(
            header::CONTENT_RANGE,
            header_value(format!("bytes {start}-{end}/{len}")),
        );
    }
    Ok(resp)
}

fn header_value(s: String) -> HeaderValue {
    HeaderValue::try_from(s).expect("digits, spaces and dashes make a header value")
}

/// `count` bytes of `file` from `start`, as a body read ahead on a
/// blocking thread.
fn stream(file: File, start: u64, count: u64) -> Body {
    let (tx, rx) = mpsc::channel(AHEAD);
    tokio::task::spawn_blocking(move || pump(file, start, count, &tx));
    let reader = Blocks {
        rx,
        pending: Bytes::new(),
    };
    Body::from_stream(ReaderStream::with_capacity(reader, CHUNK))
}

/// Reads the blocks and sends them on; stops at the end, at an error
/// (sent on, so the body fails rather than ends short) or when the
/// receiving side is gone.
fn pump(mut file: File, start: u64, mut left: u64, tx: &mpsc::Sender<io::Result<Bytes>>) {
    if start > 0
        && let Err(e) = file.seek(SeekFrom::Start(start))
    {
        let _ = tx.blocking_send(Err(e));
        return;
    }
    while left > 0 {
        let want = left.min(CHUNK as u64);
        let mut block = Vec::with_capacity(want as usize);
        let sent = match Read::by_ref(&mut file).take(want).read_to_end(&mut block) {
            Ok(0) => tx.blocking_send(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the image file is shorter than it was",
            ))),
            Ok(n) => {
                left -= n as u64;
                tx.blocking_send(Ok(Bytes::from(block)))
            }
            Err(e) => tx.blocking_send(Err(e)),
        };
        if sent.is_err() {
            return;
        }
    }
}

/// The blocks from the channel as an `AsyncRead`.
struct Blocks {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    pending: Bytes,
}

impl AsyncRead for Blocks {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pending.is_empty() {
            match ready!(self.rx.poll_recv(cx)) {
                Some(Ok(block)) => self.pending = block,
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = self.pending.len().min(buf.remaining());
        let head = self.pending.split_to(n);
        buf.put_slice(&head);
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::{RangePlan, plan_range};

    #[test]
    fn ranges() {
        use RangePlan::*;
        assert_eq!(plan_range(None, 10), Whole);
        assert_eq!(plan_range(Some("bytes=0-"), 10), Part { start: 0, end: 9 });
        assert_eq!(plan_range(Some("bytes=4-"), 10), Part { start: 4, end: 9 });
        assert_eq!(plan_range(Some("bytes=4-5"), 10), Part { start: 4, end: 5 });
        assert_eq!(
            plan_range(Some("bytes=4-50"), 10),
            Part { start: 4, end: 9 }
        );
        assert_eq!(plan_range(Some("bytes=-3"), 10), Part { start: 7, end: 9 });
        assert_eq!(plan_range(Some("bytes=-30"), 10), Part { start: 0, end: 9 });
        assert_eq!(plan_range(Some("bytes=9-"), 10), Part { start: 9, end: 9 });
        assert_eq!(plan_range(Some("bytes=10-"), 10), Unsatisfiable);
        assert_eq!(plan_range(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(plan_range(Some("bytes=-0"), 10), Unsatisfiable);
        // Ignored: the whole file.
        assert_eq!(plan_range(Some("bytes=0-1,4-5"), 10), Whole);
        assert_eq!(plan_range(Some("bytes=5-4"), 10), Whole);
        assert_eq!(plan_range(Some("bytes=x-"), 10), Whole);
        assert_eq!(plan_range(Some("items=0-"), 10), Whole);
        assert_eq!(plan_range(Some("bytes=4"), 10), Whole);
    }
}
