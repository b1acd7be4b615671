//! The IMGAPI endpoints a node serves, so that one node is another's
//! image source (`imgadm sources -a http://<node>:<port>`).
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `GET /ping` | `{"ping": "pong", "version": ..., "imgapi": true}` |
//! | `GET /images` | the catalog's manifests, filtered and paged (module `list`) |
//! | `GET /images/:uuid` | one manifest, or 404 `ResourceNotFound` |
//! | `GET /images/:uuid/file` | the file, whole or from a byte (module `files`) |
//! | `POST /images/:uuid?action=import\|activate`, `PUT /images/:uuid/file`, `DELETE /images/:uuid` | publishing, when enabled (module `publish`); 403 `NotAuthorized` otherwise |
//!
//! Anything else is a 404 `ResourceNotFound` (405 `MethodNotAllowed` for
//! a known path), always as IMGAPI's `{"code", "message"}` JSON.
//!
//! What is offered comes from a [`Catalog`], whose calls block (the node
//! may have to make a file first): they run on tokio's blocking threads.
//! The server runs on its own tokio runtime with two workers, started by
//! [`serve`] (blocking) or [`spawn`] (a background thread, stopped with
//! [`ServerHandle::shutdown`]).

mod files;
mod list;
mod publish;
mod reply;

use std::collections::HashSet;
use std::future::IntoFuture;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, RawQuery, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::urlenc;
use reply::{ApiError, is_uuid, json_response};

/// What a node offers through its IMGAPI. The calls block; the server
/// runs them on blocking threads.
pub trait Catalog: Send + Sync + 'static {
    /// Every image the node offers (manifests).
    fn images(&self) -> Result<Vec<Value>, CatalogError>;
    /// One image's manifest, `None` when unknown.
    fn image(&self, uuid: &str) -> Result<Option<Value>, CatalogError>;
    /// The path and size of one image's file, `None` when unknown. The
    /// node may have to make the file first: this can take time.
    fn file(&self, uuid: &str) -> Result<Option<(PathBuf, u64)>, CatalogError>;
    /// Installs a published image: its manifest (`state: active`,
    /// `files[0]` the uploaded file's sha1, size and compression) and the
    /// uploaded file, whose size and sha1 the server already checked. The
    /// file is the server's: the catalog copies or moves it. Returns the
    /// manifest now served.
    fn publish(&self, manifest: Value, file: &Path) -> Result<Value, CatalogError>;
}

/// A [`Catalog`] failure, answered as IMGAPI's `{"code", "message"}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CatalogError {
    /// The HTTP status answered.
    pub status: u16,
    /// The IMGAPI error code (`InternalError`, `ValidationFailed`, ...).
    pub code: String,
    /// What failed.
    pub message: String,
}

impl CatalogError {
    /// An error with its status and code.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        CatalogError {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// A 500 `InternalError`.
    pub fn internal(message: impl Into<String>) -> Self {
        CatalogError::new(500, "InternalError", message)
    }

    /// A 422 `ValidationFailed`: a published manifest the node refuses.
    pub fn invalid(message: impl Into<String>) -> Self {
        CatalogError::new(422, "ValidationFailed", message)
    }
}

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Accept publishing (import, add file, activate, delete).
    pub publish: bool,
    /// Where uploads are staged until activated (created if missing).
    pub upload_dir: PathBuf,
}

/// The state every handler shares.
pub(crate) struct AppState {
    pub catalog: Arc<dyn Catalog>,
    pub options: ServerOptions,
    /// Images with a publish request in progress.
    pub busy: Mutex<HashSet<String>>,
}

/// How long in-flight requests may finish after a shutdown.
const GRACE: Duration = Duration::from_secs(10);

/// Serves `catalog` on `listener` until an error; blocks. Builds its own
/// multi-thread tokio runtime (two workers).
pub fn serve(
    listener: TcpListener,
    catalog: Arc<dyn Catalog>,
    options: ServerOptions,
) -> io::Result<()> {
    run(listener, catalog, options, None)
}

/// A server running on a background thread.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets in-flight requests finish (10 s at most) and
    /// waits for the server thread; returns how the server ended.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop.take().map(|s| s.send(()));
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the IMGAPI server thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        // Dropping the sender stops the server; the thread is not waited for.
        self.stop.take();
    }
}

/// Serves `catalog` on `listener` from a background thread.
pub fn spawn(
    listener: TcpListener,
    catalog: Arc<dyn Catalog>,
    options: ServerOptions,
) -> io::Result<ServerHandle> {
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("imgapi-server".into())
        .spawn(move || run(listener, catalog, options, Some(rx)))?;
    Ok(ServerHandle {
        addr,
        stop: Some(tx),
        thread: Some(thread),
    })
}

fn run(
    listener: TcpListener,
    catalog: Arc<dyn Catalog>,
    options: ServerOptions,
    stop: Option<oneshot::Receiver<()>>,
) -> io::Result<()> {
    if options.publish {
        std::fs::create_dir_all(&options.upload_dir)?;
    }
    listener.set_nonblocking(true)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("imgapi")
        .enable_all()
        .build()?;
    let state = Arc::new(AppState {
        catalog,
        options,
        busy: Mutex::new(HashSet::new()),
    });
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tracing::info!(addr = %listener.local_addr()?, "IMGAPI server listening");
        let listener = listener.tap_io(|tcp| {
            // Small JSON answers must not wait for Nagle.
            let _ = tcp.set_nodelay(true);
        });
        let app = router(state);
        let Some(stop) = stop else {
            return axum::serve(listener, app).await;
        };
        let (stopping_tx, stopping_rx) = oneshot::channel::<()>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.await;
            let _ = stopping_tx.send(());
        });
        tokio::select! {
            r = server.into_future() => r,
            _ = async {
                let _ = stopping_rx.await;
                tokio::time::sleep(GRACE).await;
            } => Ok(()),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/ping", get(ping))
        .route("/images", get(list_images))
        .route(
            "/images/{uuid}",
            get(get_image)
                .post(publish::image_action)
                .delete(publish::delete_image),
        )
        .route(
            "/images/{uuid}/file",
            get(files::get_file).put(publish::put_file),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(log_request))
        .with_state(state)
}

/// Runs a blocking call (a catalog's) on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("a catalog call failed: {e}")))
}

async fn log_request(req: Request, next: Next) -> Response {
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let started = Instant::now();
    let resp = next.run(req).await;
    tracing::debug!(
        %method,
        %uri,
        status = resp.status().as_u16(),
        ms = started.elapsed().as_millis() as u64,
        "IMGAPI request"
    );
    resp
}

async fn ping() -> Response {
    json_response(
        StatusCode::OK,
        &json!({"ping": "pong", "version": env!("CARGO_PKG_VERSION"), "imgapi": true}),
    )
}

async fn list_images(
    State(st): State<Arc<AppState>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = urlenc::parse_query(query.as_deref().unwrap_or(""));
    let q = list::ListQuery::parse(&pairs).map_err(|e| ApiError::invalid(e.0))?;
    let catalog = st.catalog.clone();
    let page = blocking(move || {
        let images = catalog.images()?;
        list::select(images, &q).map_err(|e| ApiError::invalid(e.0))
    })
    .await??;
    Ok(json_response(StatusCode::OK, &Value::Array(page)))
}

async fn get_image(
    State(st): State<Arc<AppState>>,
    UrlPath(uuid): UrlPath<String>,
) -> Result<Response, ApiError> {
    if !is_uuid(&uuid) {
        return Err(ApiError::no_image(&uuid));
    }
    let catalog = st.catalog.clone();
    let u = uuid.clone();
    let manifest = blocking(move || catalog.image(&u))
        .await??
        .ok_or_else(|| ApiError::no_image(&uuid))?;
    Ok(json_response(StatusCode::OK, &manifest))
}

async fn not_found(uri: Uri) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        format!("{} does not exist", uri.path()),
    )
    .into_response()
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
    .into_response()
}
