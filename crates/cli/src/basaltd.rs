//! `basaltd`, the node daemon: at start-up it adopts the zones whose
//! supervisors still run, cleans what a crash left, and — once per host
//! boot — boots every instance with `autoboot` set; then it stays, reaping
//! the supervisors it started, until SIGTERM or SIGINT. Zones keep running
//! when it stops: each has its own supervisor. vmadm never needs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitCode, Stdio};

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
    let mut images = serve_images(&node).unwrap_or_else(|e| {
        tracing::error!(error = %e, "not serving images");
        None
    });
    loop {
        match mask.wait() {
            Ok(Signal::SIGCHLD) => reap(&mut images),
            Ok(Signal::SIGTERM | Signal::SIGINT) => {
                tracing::info!("stopping; zones keep running");
                if let Some(mut server) = images.take() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(server.id() as i32),
                        Signal::SIGTERM,
                    );
                    let _ = server.wait();
                }
                return ExitCode::SUCCESS;
            }
            _ => {}
        }
    }
}

/// The image server, when `/usbkey/config` has `imgapi_listen=ADDR:PORT`
/// (and `imgapi_publish=true` to accept published images): `imgadm serve`
/// installed beside basaltd, as a child process — basaltd reaps every
/// child it has, so the server's own children (the pool's commands) must
/// not be basaltd's. It is stopped when basaltd stops.
fn serve_images(node: &Node) -> Result<Option<Child>, String> {
    let Some(listen) = node.config().get("imgapi_listen") else {
        return Ok(None);
    };
    let imgadm = std::env::current_exe()
        .map_err(|e| format!("cannot find basaltd's own binary: {e}"))?
        .with_file_name("imgadm");
    let mut cmd = Command::new(&imgadm);
    cmd.args(["serve", "--listen", listen]);
    if node.config().get("imgapi_publish") == Some("true") {
        cmd.arg("--allow-publish");
    }
    let mut child = cmd
        .env(
            crate::imgadm::SERVE_PARENT_ENV,
            std::process::id().to_string(),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!(
                "cannot run {} (installed beside basaltd): {e}",
                imgadm.display()
            )
        })?;
    let mut line = String::new();
    let _ = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
    match line.trim().strip_prefix(crate::imgadm::SERVING) {
        Some(url) => {
            println!("basaltd: serving images on {url}");
            Ok(Some(child))
        }
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(format!("imgadm serve --listen {listen} did not start"))
        }
    }
}

/// Reaps the supervisors basaltd started that have ended, and says so
/// when the image server was one of them.
fn reap(images: &mut Option<Child>) {
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
        let server = images.as_ref().map(|c| c.id() as i32);
        if status.pid().map(|p| p.as_raw()) == server && server.is_some() {
            tracing::error!(?status, "the image server ended: not serving images");
            *images = None;
        }
    }
}
