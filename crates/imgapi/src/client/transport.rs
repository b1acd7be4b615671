//! The HTTP side of the client: the source URL split into base and
//! channel, the agent and its timeouts, the headers every call carries,
//! retries, and reading answers (JSON, errors, a download's body).

use std::io::{self, Read};
use std::time::Duration;

use serde_json::Value;
use ureq::http::Response;
use ureq::{Body, RequestBuilder};

use super::error::parse_error_body;
use super::{Client, ClientError, ClientOptions, Download};
use crate::urlenc;

/// The largest JSON answer read (a page of 1000 manifests is a few MiB).
const JSON_LIMIT: u64 = 64 << 20;
/// The largest error body read.
const ERROR_LIMIT: u64 = 64 << 10;

/// Splits a source URL into its base (no query, no trailing `/`) and the
/// channel its query names. Other query parameters are dropped, as
/// SmartOS's client drops them.
pub(crate) fn split_url(url: &str) -> Result<(String, Option<String>), ClientError> {
    let bad = |reason| ClientError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let trimmed = url.trim();
    let no_fragment = trimmed.split('#').next().unwrap_or_default();
    let (base, query) = match no_fragment.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (no_fragment, None),
    };
    let lower = base.to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &base[7..]
    } else if lower.starts_with("https://") {
        &base[8..]
    } else {
        return Err(bad("it must start with http:// or https://"));
    };
    if rest.split('/').next().unwrap_or_default().is_empty() {
        return Err(bad("it names no host"));
    }
    let channel = query
        .map(urlenc::parse_query)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, v)| k == "channel" && !v.is_empty())
        .map(|(_, v)| v);
    Ok((base.trim_end_matches('/').to_string(), channel))
}

/// The agent every call of one client goes through (it keeps the
/// connections alive between calls).
pub(crate) fn agent(o: &ClientOptions) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(o.insecure)
        .build();
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(o.user_agent.as_str())
        .timeout_connect(Some(o.connect_timeout))
        .timeout_per_read(Some(o.stall_timeout))
        .timeout_per_write(Some(o.stall_timeout))
        .tls_config(tls)
        .build();
    ureq::Agent::new_with_config(config)
}

impl Client {
    /// The URL of an endpoint (`path` starts with `/`).
    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub(crate) fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Adds what every call carries: `Accept-Version`, the request id,
    /// the query, and the channel (unless the query names one).
    pub(crate) fn prepare<B>(
        &self,
        mut rb: RequestBuilder<B>,
        query: &[(String, String)],
    ) -> RequestBuilder<B> {
        rb = rb.header("Accept-Version", "~2");
        if let Some(id) = &self.options.request_id {
            rb = rb.header("x-request-id", id);
        }
        for (k, v) in query {
            rb = rb.query(k, v);
        }
        if let Some(ch) = &self.channel
            && !query.iter().any(|(k, _)| k == "channel")
        {
            rb = rb.query("channel", ch);
        }
        rb
    }

    /// Runs an idempotent call up to `attempts` times while it fails in a
    /// way that can pass (see [`ClientError::is_transient`]).
    pub(crate) fn retrying<T>(
        &self,
        url: &str,
        mut call: impl FnMut() -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let attempts = self.options.attempts.max(1);
        let mut wait = self.options.retry_backoff;
        let mut attempt = 1;
        loop {
            match call() {
                Err(e) if e.is_transient() && attempt < attempts => {
                    tracing::debug!(%url, attempt, error = %e, "retrying");
                    std::thread::sleep(wait);
                    wait = wait.saturating_mul(2);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

/// Passes a success through; reads an error status's body into
/// [`ClientError::Rest`].
pub(crate) fn check_status(url: &str, resp: Response<Body>) -> Result<Response<Body>, ClientError> {
    let status = resp.status().as_u16();
    if status < 400 {
        return Ok(resp);
    }
    // A body that cannot be read still leaves the status to report.
    let body = resp
        .into_body()
        .with_config()
        .limit(ERROR_LIMIT)
        .read_to_vec()
        .unwrap_or_default();
    let (code, message) = parse_error_body(status, &body);
    Err(ClientError::Rest {
        url: url.to_string(),
        status,
        code,
        message,
    })
}

/// Reads a JSON answer.
pub(crate) fn read_json(url: &str, resp: Response<Body>) -> Result<Value, ClientError> {
    let body = resp
        .into_body()
        .with_config()
        .limit(JSON_LIMIT)
        .read_to_vec()
        .map_err(|e| ClientError::transport(url, e))?;
    serde_json::from_slice(&body)
        .map_err(|e| ClientError::invalid(url, format!("the answer is not JSON ({e})")))
}

/// Turns the answer to a file request into a [`Download`].
pub(crate) fn download(
    url: &str,
    resp: Response<Body>,
    offset: u64,
    stall: Duration,
) -> Result<Download, ClientError> {
    let resumed = resp.status().as_u16() == 206;
    if resumed {
        let range = resp
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if content_range_start(range) != Some(offset) {
            return Err(ClientError::invalid(
                url,
                format!("asked for bytes {offset}- but got range \"{range}\""),
            ));
        }
    }
    let content_length = resp.body().content_length();
    Ok(Download {
        reader: Box::new(BodyRead {
            url: url.to_string(),
            stall,
            inner: resp.into_body().into_reader(),
        }),
        content_length,
        resumed,
    })
}

/// The first byte of a `Content-Range: bytes N-M/T` header.
pub(crate) fn content_range_start(v: &str) -> Option<u64> {
    let range = v.trim().strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

/// A download's body, whose errors say which URL stalled or broke.
struct BodyRead {
    url: String,
    stall: Duration,
    inner: ureq::BodyReader<'static>,
}

impl Read for BodyRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let timed_out = e.kind() == io::ErrorKind::TimedOut
                || e.get_ref()
                    .and_then(|inner| inner.downcast_ref::<ureq::Error>())
                    .is_some_and(|u| matches!(u, ureq::Error::Timeout(_)));
            if timed_out {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no data from {} for {} s",
                        self.url,
                        self.stall.as_secs_f64().round()
                    ),
                )
            } else {
                io::Error::new(e.kind(), format!("failed to read {}: {e}", self.url))
            }
        })
    }
}
