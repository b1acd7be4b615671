//! `basaltd`, the node daemon: at start-up it adopts the zones whose
//! supervisors still run, cleans what a crash left, and — once per host
//! boot — boots every instance with `autoboot` set; then it stays, reaping
//! the supervisors it started, until SIGTERM or SIGINT. Zones keep running
//! when it stops: each has its own supervisor. vmadm never needs it.

use std::process::ExitCode;

use basalt_node::instances::Node;
use basalt_node::paths::Paths;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};

/// Runs the daemon.
pub fn main() -> ExitCode {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGCHLD,
        Signal::SIGHUP,
    ] {
        mask.add(s);
    }
    if let Err(e) = mask.thread_block() {
        eprintln!("basaltd: cannot block signals: {e}");
        return ExitCode::FAILURE;
    }
    let node = match Node::open(Paths::from_env()) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("basaltd: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = node.pool() {
        eprintln!("basaltd: the pool is not available: {e}");
        return ExitCode::FAILURE;
    }
    match node.startup() {
        Ok(report) => {
            for u in &report.adopted {
                tracing::info!(vm_uuid = %u, "adopted a running zone");
            }
            for u in &report.cleaned {
                tracing::warn!(vm_uuid = %u, "its supervisor was gone: cleaned up");
            }
            for u in &report.booted {
                tracing::info!(vm_uuid = %u, "booted (autoboot)");
            }
            for (u, e) in &report.failed {
                tracing::error!(vm_uuid = %u, error = %e, "could not recover or boot");
            }
            println!(
                "basaltd: ready ({} adopted, {} cleaned, {} booted, {} failed)",
                report.adopted.len(),
                report.cleaned.len(),
                report.booted.len(),
                report.failed.len()
            );
        }
        Err(e) => {
            eprintln!("basaltd: start-up failed: {e}");
            return ExitCode::FAILURE;
        }
    }
    // Zones matter more than serving images: a listen address that is
    // not up yet is reported, and basaltd carries on.
    let _images = serve_images(&node).unwrap_or_else(|e| {
        tracing::error!(error = %e, "not serving images");
        None
    });
    loop {
        match mask.wait() {
            Ok(Signal::SIGCHLD) => reap(),
            Ok(Signal::SIGTERM | Signal::SIGINT) => {
                tracing::info!("stopping; zones keep running");
                return ExitCode::SUCCESS;
            }
            _ => {}
        }
    }
}

/// The image server, when `/usbkey/config` has `imgapi_listen=ADDR:PORT`
/// (and `imgapi_publish=true` to accept published images): the same
/// server as `imgadm serve`, stopped when basaltd stops.
fn serve_images(node: &Node) -> Result<Option<basalt_imgapi::ServerHandle>, String> {
    let Some(listen) = node.config().get("imgapi_listen") else {
        return Ok(None);
    };
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| format!("cannot serve images on {listen}: {e}"))?;
    let options = basalt_imgapi::ServerOptions {
        publish: node.config().get("imgapi_publish") == Some("true"),
        upload_dir: node.paths().image_uploads(),
    };
    let catalog = std::sync::Arc::new(basalt_node::images::catalog::NodeCatalog::new(
        node.paths().clone(),
    ));
    let server = basalt_imgapi::server::spawn(listener, catalog, options)
        .map_err(|e| format!("the image server could not start: {e}"))?;
    println!("basaltd: serving images on http://{}", server.local_addr());
    Ok(Some(server))
}

/// Reaps the supervisors basaltd started that have ended.
fn reap() {
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}
