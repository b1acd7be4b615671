//! The blocking IMGAPI client `imgadm` uses for its `imgapi` sources.
//!
//! It speaks as SmartOS's client does (`sdc-clients/lib/imgapi.js`):
//! `Accept-Version: ~2`, the source URL's `?channel=` carried to every
//! call, `GET /images` paged with `limit=1000` and `marker=<last uuid>`,
//! and `imgadm publish`'s import → add file → activate, the image deleted
//! again when a later step fails.
//!
//! Retries: the idempotent calls (ping, list, get, opening a download)
//! are tried three times on a connection failure or a 5xx, with a short
//! backoff; a 4xx is an answer and never retried. Publishing is never
//! retried: a step that failed is undone instead.
//!
//! Timeouts: connecting has its own limit; after that the only limit is
//! a *stall* timeout — no byte in either direction for that long — which
//! ureq applies to every transport read and write (`timeout_per_read`,
//! `timeout_per_write`). Its whole-body limit (`timeout_recv_body`) is
//! not used: an image file is gigabytes, and only silence is a failure.
//! The wait for the response headers is a read too, so a server that
//! takes longer than the stall timeout to start a file (it may have to
//! make it first) fails that attempt; the retries give it three times
//! as long. Activating a published image, which the server installs
//! before it answers, has its own longer limit.

mod error;
mod paging;
mod publish;
mod transport;

#[cfg(test)]
mod tests;

use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

pub use error::{ClientError, TransportKind};

use crate::urlenc;
use transport::{check_status, read_json, split_url};

/// How a [`Client`] connects.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Accept any TLS certificate (`IMGADM_INSECURE=1`, or the source's
    /// `insecure`).
    pub insecure: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Sent as `x-request-id` when set (`REQ_ID`).
    pub request_id: Option<String>,
    /// The limit on making the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// The limit on a silence: no byte received (or sent) for that long.
    pub stall_timeout: Duration,
    /// The limit on the activation of a published image, which the
    /// server answers only once it has installed the image.
    pub activate_timeout: Duration,
    /// How many times an idempotent call is tried.
    pub attempts: u32,
    /// The wait before the second try; it doubles for each further one.
    pub retry_backoff: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            user_agent: concat!("basalt-imgapi/", env!("CARGO_PKG_VERSION")).to_string(),
            request_id: None,
            connect_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(120),
            activate_timeout: Duration::from_secs(3600),
            attempts: 3,
            retry_backoff: Duration::from_millis(250),
        }
    }
}

/// A client of one IMGAPI server (one `imgadm` source).
#[derive(Debug)]
pub struct Client {
    agent: ureq::Agent,
    /// The URL without its query and trailing `/`.
    base: String,
    channel: Option<String>,
    options: ClientOptions,
}

/// An image file being downloaded.
pub struct Download {
    /// The body: the file from the requested offset (when `resumed`) or
    /// from its start. A read fails with `TimedOut` after a stall.
    pub reader: Box<dyn Read + Send>,
    /// The length of the body, when the server said it.
    pub content_length: Option<u64>,
    /// The server honoured the range (206): the body starts at the
    /// requested offset. False when it sent the whole file (200).
    pub resumed: bool,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("content_length", &self.content_length)
            .field("resumed", &self.resumed)
            .finish_non_exhaustive()
    }
}

impl Read for Download {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl Client {
    /// A client of the IMGAPI at `url`, which may carry `?channel=<name>`
    /// (then sent with every call) and a base path.
    pub fn new(url: &str, options: ClientOptions) -> Result<Client, ClientError> {
        let (base, channel) = split_url(url)?;
        Ok(Client {
            agent: transport::agent(&options),
            base,
            channel,
            options,
        })
    }

    /// The server's URL, without the channel.
    pub fn url(&self) -> &str {
        &self.base
    }

    /// The channel every call names, if any.
    pub fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// `GET /ping`: the server's pong, which must say `"imgapi": true`.
    pub fn ping(&self) -> Result<Value, ClientError> {
        let url = self.endpoint("/ping");
        let pong = self.retrying(&url, || {
            let rb = self.prepare(self.agent.get(&url), &[]);
            let resp = rb.call().map_err(|e| ClientError::transport(&url, e))?;
            if resp.status().as_u16() == 404 {
                return Err(ClientError::NotImgapi { url: url.clone() });
            }
            read_json(&url, check_status(&url, resp)?)
        });
        match pong {
            Ok(v) if v.get("imgapi") == Some(&Value::Bool(true)) => Ok(v),
            Ok(_) | Err(ClientError::Invalid { .. }) => Err(ClientError::NotImgapi { url }),
            Err(e) => Err(e),
        }
    }

    /// `GET /images` with `query` (IMGAPI's filters). Without a `limit` in
    /// the query every image is listed, page after page; with one, that
    /// one page.
    pub fn list(&self, query: &[(String, String)]) -> Result<Vec<Value>, ClientError> {
        if query.iter().any(|(k, _)| k == "limit") {
            return self.list_page(query);
        }
        let start = query
            .iter()
            .find(|(k, _)| k == "marker")
            .map(|(_, v)| v.clone());
        let rest: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k != "marker")
            .cloned()
            .collect();
        paging::list_all(start, |marker| {
            let mut q = rest.clone();
            if let Some(m) = marker {
                q.push(("marker".into(), m.to_string()));
            }
            q.push(("limit".into(), paging::PAGE.to_string()));
            self.list_page(&q)
        })
    }

    fn list_page(&self, query: &[(String, String)]) -> Result<Vec<Value>, ClientError> {
        let url = self.endpoint("/images");
        let v = self.retrying(&url, || {
            let rb = self.prepare(self.agent.get(&url), query);
            let resp = rb.call().map_err(|e| ClientError::transport(&url, e))?;
            read_json(&url, check_status(&url, resp)?)
        })?;
        match v {
            Value::Array(items) if items.iter().all(Value::is_object) => Ok(items),
            _ => Err(ClientError::invalid(
                &url,
                "the image list is not an array of manifests",
            )),
        }
    }

    /// `GET /images/:uuid`: one manifest. An unknown image is
    /// `Rest { status: 404, code: "ResourceNotFound", .. }`.
    pub fn get(&self, uuid: &str) -> Result<Value, ClientError> {
        let url = self.endpoint(&format!("/images/{}", urlenc::encode_segment(uuid)));
        let v = self.retrying(&url, || {
            let rb = self.prepare(self.agent.get(&url), &[]);
            let resp = rb.call().map_err(|e| ClientError::transport(&url, e))?;
            read_json(&url, check_status(&url, resp)?)
        })?;
        if !v.is_object() {
            return Err(ClientError::invalid(
                &url,
                "the manifest is not a JSON object",
            ));
        }
        Ok(v)
    }

    /// `GET /images/:uuid/file`, from byte `offset` (`Range: bytes=N-`)
    /// when it is not 0. Only opening the download is retried; a body cut
    /// short is for the caller to resume.
    pub fn file(&self, uuid: &str, offset: u64) -> Result<Download, ClientError> {
        let url = self.endpoint(&format!("/images/{}/file", urlenc::encode_segment(uuid)));
        let resp = self.retrying(&url, || {
            let mut rb = self.prepare(self.agent.get(&url), &[]);
            // The bytes as stored: a transparently decoded body would
            // neither match the manifest's size nor resume.
            rb = rb.header("Accept-Encoding", "identity");
            if offset > 0 {
                rb = rb.header("Range", format!("bytes={offset}-"));
            }
            let resp = rb.call().map_err(|e| ClientError::transport(&url, e))?;
            check_status(&url, resp)
        })?;
        transport::download(&url, resp, offset, self.options.stall_timeout)
    }

    /// Publishes an image as `imgadm publish` does: `POST
    /// /images/:uuid?action=import` with the manifest (keeping its uuid
    /// and `published_at`), `PUT /images/:uuid/file` with the file, `POST
    /// /images/:uuid?action=activate`. When the file or the activation
    /// fails, the imported image is deleted again (best effort) and the
    /// error returned. `on_progress` is told the bytes of the file sent
    /// so far. Returns the activated manifest.
    pub fn publish(
        &self,
        manifest: &Value,
        file: &Path,
        on_progress: &mut dyn FnMut(u64),
    ) -> Result<Value, ClientError> {
        publish::publish(self, manifest, file, on_progress)
    }
}
