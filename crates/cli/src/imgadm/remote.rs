//! The commands that talk to image sources: `avail`, `import`, `show` of
//! an image not installed here, `update`, `publish`, and `serve`, which
//! makes this node a source for others.

use std::io::IsTerminal;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use basalt_image::Manifest;
use basalt_imgapi::client::{Client, ClientOptions};
use basalt_imgapi::server::ServerOptions;
use basalt_node::images::catalog::NodeCatalog;
use basalt_node::images::import::{self, INTERRUPTED, Progress};
use basalt_node::images::sources::Sources;
use basalt_node::images::{ImageError, Installed};
use basalt_node::paths::Paths;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nix::sys::signal::{SigSet, Signal};
use serde_json::{Value, json};

use super::{Failure, Outcome, Uuid, check_pool, parse, store};
use crate::output::{message, stdout};

/// Where `imgadm serve` listens unless told: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9090";

/// Progress as imgadm shows it: messages on stdout, and on a terminal a
/// bar with bytes, rate and time left on stderr.
struct Shown {
    bar: Option<ProgressBar>,
    draw: bool,
}

impl Shown {
    fn new(quiet: bool) -> Shown {
        Shown {
            bar: None,
            draw: !quiet && std::io::stderr().is_terminal(),
        }
    }
}

impl Progress for Shown {
    fn say(&mut self, line: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| stdout(&format!("{line}\n"))),
            None => stdout(&format!("{line}\n")),
        }
    }

    fn begin(&mut self, label: &str, total: u64, done: u64) {
        if !self.draw {
            return;
        }
        let bar = self.bar.take().unwrap_or_else(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} [{bar:30}] {percent:>3}% {bytes:>10}/{total_bytes} {binary_bytes_per_sec:>12} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        bar.set_length(total);
        bar.set_position(done);
        bar.reset_eta();
        bar.set_message(label.to_owned());
        self.bar = Some(bar);
    }

    fn advance(&mut self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    fn end(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
    }
}

/// Turns SIGINT, SIGTERM and SIGHUP into [`INTERRUPTED`], so that an
/// import or a create stops at its next block and removes what it made;
/// a second signal ends the process at once. Called before any other
/// thread starts: they inherit the blocked mask, and only the waiting
/// thread takes the signals.
pub(super) fn catch_interruptions() {
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        if let Ok(first) = set.wait() {
            INTERRUPTED.store(true, Ordering::Relaxed);
            if set.wait().is_ok() {
                std::process::exit(128 + first as i32);
            }
        }
    });
}

fn sources() -> Result<Vec<basalt_node::images::sources::Source>, Failure> {
    Ok(Sources::load(&Paths::from_env())?.list().to_vec())
}

/// `imgadm avail [-j] [-H] [-o fields] [-s fields] [filters]`.
pub fn avail(args: &[String]) -> Outcome {
    let p = parse(args, "jH", "os")?;
    let import::Available { images, failed } = import::available(&sources()?)?;
    let entries = images
        .into_iter()
        .map(|(m, source)| {
            let mut row = super::list::manifest_row(m.clone());
            row.insert("source".into(), json!(source));
            (row, json!({"manifest": m, "source": source}))
        })
        .collect();
    stdout(&super::list::render(
        entries,
        &p,
        super::list::DEFAULT_COLUMNS,
        Some(super::list::DEFAULT_SORT),
    ));
    match failed.into_iter().next() {
        None => Ok(()),
        Some(e) => Err(e.into()),
    }
}

/// `imgadm import [-q] [-P pool] [-S url] <uuid>`, or `imgadm import
/// [-q] [-R reference] <path>` of an OCI image layout or archive.
pub fn import(args: &[String]) -> Outcome {
    let p = parse(args, "q", "PCSR")?;
    let uuid = p.uuid()?;
    let store = store()?;
    check_pool(&store, &p)?;
    if !basalt_model::ids::is_uuid(uuid) && !Path::new(uuid).exists() {
        return Err(Failure::Other {
            code: "InvalidArgument",
            message: format!(
                "\"{uuid}\" is neither an image uuid nor an OCI image layout or archive on \
                 this node (registries are not pulled from: copy the image to a layout first, \
                 as `skopeo copy docker://<repo:tag> oci:<dir>` does)"
            ),
            status: 1,
        });
    }
    if !basalt_model::ids::is_uuid(uuid) {
        catch_interruptions();
        let mut shown = Shown::new(p.has('q'));
        if let Installed::Already(m) =
            store.import_oci(Path::new(uuid), p.value('R'), &mut shown)?
        {
            stdout(&format!(
                "Image {} ({}@{}) is already installed, skipping\n",
                m.uuid, m.name, m.version
            ));
        }
        return Ok(());
    }
    let mut list = sources()?;
    if let Some(url) = p.value('S') {
        list = vec![basalt_node::images::sources::Source::new(
            url,
            basalt_node::images::sources::SourceType::Imgapi,
        )];
    }
    catch_interruptions();
    let mut shown = Shown::new(p.has('q'));
    match store.import(&list, uuid, &mut shown)? {
        Installed::Already(m) => stdout(&format!(
            "Image {} ({}@{}) is already installed, skipping\n",
            m.uuid, m.name, m.version
        )),
        Installed::New(_) => {}
    }
    Ok(())
}

/// `imgadm show <uuid>`: the installed image's manifest, else the first
/// source's.
pub fn show(args: &[String]) -> Outcome {
    let p = parse(args, "", "")?;
    let uuid = p.uuid()?;
    if let Ok(img) = store()?.get(uuid) {
        stdout(&super::pretty(&img.record.manifest.to_value()));
        return Ok(());
    }
    match import::find(&sources()?, uuid, false)? {
        Some(found) => {
            stdout(&super::pretty(&found.manifest.to_value()));
            Ok(())
        }
        None => Err(Failure::Other {
            code: "ImageNotFound",
            message: format!("image \"{uuid}\" was not found"),
            status: 1,
        }),
    }
}

/// `imgadm update [-n] [uuid...]`: installed images' manifests refreshed
/// from the sources that have them (their files stay as installed).
pub fn update(args: &[String]) -> Outcome {
    let p = parse(args, "n", "")?;
    let store = store()?;
    let list = sources()?;
    let (images, _) = store.list()?;
    for img in images {
        let uuid = img.record.manifest.uuid.to_string();
        if !p.operands.is_empty() && !p.operands.contains(&uuid) {
            continue;
        }
        let Some(found) = import::find(&list, &uuid, false)? else {
            continue;
        };
        if found.manifest.to_value() == img.record.manifest.to_value() {
            continue;
        }
        let verb = if p.has('n') {
            "Would update"
        } else {
            "Updated"
        };
        if !p.has('n') {
            store.update_manifest(&found.manifest, &found.source.url)?;
        }
        stdout(&format!(
            "{verb} image {uuid} ({}@{}) from \"{}\"\n",
            found.manifest.name, found.manifest.version, found.source.url
        ));
    }
    Ok(())
}

/// `imgadm publish [-q] -m <manifest> -f <file> <imgapi-url>`.
pub fn publish(args: &[String]) -> Outcome {
    let p = parse(args, "q", "mf")?;
    let manifest = super::required(&p, 'm', "manifest")?;
    let file = super::required(&p, 'f', "file")?;
    let [url] = p.operands.as_slice() else {
        return Err(Failure::Usage(
            "one <imgapi-url> argument is required".into(),
        ));
    };
    publish_to(url, Path::new(manifest), Path::new(file), p.has('q'))
}

/// Uploads an image's manifest and file to the IMGAPI at `url`.
pub fn publish_to(url: &str, manifest: &Path, file: &Path, quiet: bool) -> Outcome {
    let text = std::fs::read_to_string(manifest).map_err(|e| Failure::Other {
        code: "InvalidArgument",
        message: format!("manifest file \"{}\": {e}", manifest.display()),
        status: 1,
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| Failure::Other {
        code: "InvalidManifest",
        message: format!("manifest file \"{}\" is not JSON: {e}", manifest.display()),
        status: 1,
    })?;
    let m = Manifest::from_value(value.clone()).map_err(ImageError::from)?;
    let upload = |e: basalt_imgapi::client::ClientError| Failure::Other {
        code: "Upload",
        message: format!("image {} could not be published to \"{url}\": {e}", m.uuid),
        status: 1,
    };
    let client = Client::new(url, ClientOptions::default()).map_err(upload)?;
    let mut shown = Shown::new(quiet);
    let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    shown.begin(&format!("Upload {}", m.uuid), size, 0);
    let mut sent = 0u64;
    let result = client.publish(&value, file, &mut |n| {
        shown.advance(n.saturating_sub(sent));
        sent = n;
    });
    shown.end();
    result.map_err(upload)?;
    stdout(&format!(
        "Published image {} ({}@{}) to \"{url}\"\n",
        m.uuid, m.name, m.version
    ));
    Ok(())
}

/// What `imgadm serve` says first, before the URL it serves on.
pub const SERVING: &str = "Serving images on ";

/// The variable basaltd sets, to its pid, on the server it runs.
pub const PARENT_ENV: &str = "BASALT_SERVE_PARENT";

/// A server basaltd runs ends with it, even when basaltd is killed: the
/// kernel sends it SIGTERM (a graceful stop) when basaltd goes, and one
/// whose basaltd is already gone does not start.
fn follow_parent() -> Outcome {
    let Some(parent) = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    else {
        return Ok(());
    };
    nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(|e| Failure::Other {
        code: "InternalError",
        message: format!("cannot follow basaltd: {e}"),
        status: 1,
    })?;
    if nix::unistd::getppid().as_raw() != parent {
        return Err(Failure::Other {
            code: "InternalError",
            message: "basaltd, which started this server, is gone".into(),
            status: 1,
        });
    }
    Ok(())
}

/// `imgadm serve [--listen ADDR:PORT] [--allow-publish]`: serves this
/// node's images in the foreground until interrupted.
pub fn serve(args: &[String]) -> Outcome {
    let mut listen = DEFAULT_LISTEN.to_owned();
    let mut publish = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--listen" | "-l" => {
                listen = it
                    .next()
                    .ok_or_else(|| Failure::Usage("--listen needs ADDR:PORT".into()))?
                    .clone();
            }
            s if s.starts_with("--listen=") => listen = s["--listen=".len()..].to_owned(),
            "--allow-publish" => publish = true,
            other => return Err(Failure::Usage(format!("unknown argument: \"{other}\""))),
        }
    }
    let paths = Paths::from_env();
    follow_parent()?;
    // The pool must be there before the first request needs it.
    store()?;
    let listener = TcpListener::bind(&listen).map_err(|e| Failure::Other {
        code: "InvalidArgument",
        message: format!("cannot listen on {listen}: {e}"),
        status: 1,
    })?;
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or(listen);
    let options = ServerOptions {
        publish,
        upload_dir: paths.image_uploads(),
    };
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM] {
        set.add(s);
    }
    let _ = set.thread_block();
    let server = basalt_imgapi::server::spawn(listener, Arc::new(NodeCatalog::new(paths)), options)
        .map_err(|e| Failure::Other {
            code: "InternalError",
            message: format!("the image server could not start: {e}"),
            status: 1,
        })?;
    stdout(&format!("{SERVING}http://{addr}\n"));
    let _ = set.wait();
    message("imgadm serve: stopping");
    server.shutdown().map_err(|e| Failure::Other {
        code: "InternalError",
        message: format!("the image server did not stop cleanly: {e}"),
        status: 1,
    })
}
