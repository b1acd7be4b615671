//! What a call to an IMGAPI can fail with, and how a failure is read off
//! the wire: the server's `{"code", "message"}` body, or the transport
//! error sorted into the few kinds a user can act on.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A failed call to an IMGAPI server. Every message names the URL.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The source URL cannot be used.
    #[error("invalid IMGAPI URL \"{url}\": {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status} {code}: {message}")]
    Rest {
        /// The URL called (without its query).
        url: String,
        /// The HTTP status.
        status: u16,
        /// The IMGAPI error code (`ResourceNotFound`, ...), or the status's
        /// name when the body was not IMGAPI's JSON.
        code: String,
        /// The server's message, or the start of its body.
        message: String,
    },
    /// The server could not be reached, or the exchange broke off.
    #[error("failed to reach {url}: {kind}{}", detail(*.kind, .source))]
    Transport {
        /// The URL called (without its query).
        url: String,
        /// What went wrong, in the terms a user acts on.
        kind: TransportKind,
        /// The error of the HTTP library.
        #[source]
        source: ureq::Error,
    },
    /// The server's answer is not what an IMGAPI sends (bad JSON, ...).
    #[error("invalid answer from {url}: {reason}")]
    Invalid {
        /// The URL called (without its query).
        url: String,
        /// What is wrong with the answer.
        reason: String,
    },
    /// The server answers, but its `/ping` does not say `"imgapi": true`.
    #[error("{url} is not an IMGAPI server")]
    NotImgapi {
        /// The ping URL.
        url: String,
    },
    /// The manifest given to publish lacks what publishing needs.
    #[error("cannot publish this manifest: {reason}")]
    BadManifest {
        /// What is missing.
        reason: String,
    },
    /// A local file (the image file being published) could not be read.
    #[error("failed to read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error of the read.
        #[source]
        source: io::Error,
    },
}

impl ClientError {
    /// The server said the thing asked for does not exist (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Rest { status: 404, .. })
    }

    /// The HTTP status the server answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Rest { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The IMGAPI error code the server answered with, if it answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Rest { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether trying the same idempotent call again may succeed: the
    /// server was busy or failing (5xx), or the network failed in a way
    /// that can pass. A 4xx, a TLS failure or an unknown host will not.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Rest { status, .. } => *status >= 500,
            ClientError::Transport { kind, .. } => kind.is_transient(),
            _ => false,
        }
    }

    pub(crate) fn transport(url: &str, source: ureq::Error) -> ClientError {
        ClientError::Transport {
            url: url.to_string(),
            kind: TransportKind::of(&source),
            source,
        }
    }

    pub(crate) fn invalid(url: &str, reason: impl Into<String>) -> ClientError {
        ClientError::Invalid {
            url: url.to_string(),
            reason: reason.into(),
        }
    }
}

/// The library's own words, where the kind alone does not say what to do
/// (which certificate check failed, what broke).
fn detail(kind: TransportKind, source: &ureq::Error) -> String {
    match kind {
        TransportKind::Tls | TransportKind::Broken | TransportKind::Protocol => {
            format!(" ({source})")
        }
        _ => String::new(),
    }
}

/// How a transport failed, in the terms a user acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Nothing listens at the address.
    Refused,
    /// The connection could not be made (unreachable network, ...).
    Connect,
    /// The host name does not resolve.
    Dns,
    /// The TLS handshake failed (an unverifiable certificate, ...).
    Tls,
    /// A timeout passed: connecting, or no byte for the stall timeout.
    Timeout,
    /// The connection broke during the exchange.
    Broken,
    /// The exchange was not valid HTTP, or the request could not be made.
    Protocol,
}

impl TransportKind {
    /// Sorts an error of the HTTP library.
    pub fn of(e: &ureq::Error) -> TransportKind {
        match e {
            ureq::Error::Io(io) => match io.kind() {
                io::ErrorKind::ConnectionRefused => TransportKind::Refused,
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => TransportKind::Timeout,
                io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                    TransportKind::Connect
                }
                // What rustls refuses in a handshake (a certificate it
                // cannot verify) comes wrapped as invalid data.
                io::ErrorKind::InvalidData => TransportKind::Tls,
                _ => TransportKind::Broken,
            },
            ureq::Error::Timeout(_) => TransportKind::Timeout,
            ureq::Error::HostNotFound => TransportKind::Dns,
            ureq::Error::ConnectionFailed => TransportKind::Connect,
            ureq::Error::Tls(_)
            | ureq::Error::Rustls(_)
            | ureq::Error::Pem(_)
            | ureq::Error::TlsRequired => TransportKind::Tls,
            _ => TransportKind::Protocol,
        }
    }

    /// Whether the failure can pass by itself (worth a retry).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            TransportKind::Refused
                | TransportKind::Connect
                | TransportKind::Timeout
                | TransportKind::Broken
        )
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Refused => "connection refused",
            TransportKind::Connect => "connection failed",
            TransportKind::Dns => "host not found",
            TransportKind::Tls => "TLS handshake failed",
            TransportKind::Timeout => "timed out",
            TransportKind::Broken => "connection broken",
            TransportKind::Protocol => "invalid HTTP exchange",
        })
    }
}

/// The longest part of a non-JSON error body kept in a message.
const SNIPPET: usize = 200;

/// Reads an error body: IMGAPI's `{"code": ..., "message": ...}`, or, for
/// anything else, the status's name and the start of the body.
pub(crate) fn parse_error_body(status: u16, body: &[u8]) -> (String, String) {
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_slice(body) {
        let code = o.get("code").and_then(|v| v.as_str());
        let message = o.get("message").and_then(|v| v.as_str());
        if code.is_some() || message.is_some() {
            return (
                code.map_or_else(|| status_name(status), str::to_string),
                message.unwrap_or_default().to_string(),
            );
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let message = if text.is_empty() {
        status_reason(status).to_string()
    } else {
        let mut end = text.len().min(SNIPPET);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let cut = if end < text.len() { "..." } else { "" };
        format!("{}{cut}", &text[..end])
    };
    (status_name(status), message)
}

fn status_reason(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown Status")
}

/// The status's reason phrase as a code, as restify names its errors:
/// 503 → `ServiceUnavailable`.
fn status_name(status: u16) -> String {
    status_reason(status)
        .split(|c: char| !c.is_ascii_alphanumeric())
        .collect()
}
