//! Finding tracefs, mounting it when the host has not, and reading the
//! tracepoints it lists.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::format::{self, Format};

/// Where tracefs is mounted on current kernels.
const TRACEFS: &str = "/sys/kernel/tracing";
/// Where older setups have it, under debugfs.
const DEBUGFS_TRACING: &str = "/sys/kernel/debug/tracing";

/// Why the host's tracepoints could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TracefsError {
    /// tracefs is not mounted and mounting it failed.
    #[error("tracefs is not mounted at {TRACEFS} and mounting it failed: {0}")]
    Mount(String),
    /// A file of tracefs could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A format file was not understood.
    #[error("{}: {source}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: format::FormatError,
    },
}

/// tracefs's root, mounting it at `/sys/kernel/tracing` when neither it
/// nor debugfs's copy is there (as root; `mount(8)` does it, so the crate
/// stays free of `unsafe`).
pub fn root() -> Result<PathBuf, TracefsError> {
    for dir in [TRACEFS, DEBUGFS_TRACING] {
        if Path::new(dir).join("events").is_dir() {
            return Ok(dir.into());
        }
    }
    let out = Command::new("mount")
        .args(["-t", "tracefs", "nodev", TRACEFS])
        .output()
        .map_err(|e| TracefsError::Mount(e.to_string()))?;
    if !out.status.success() || !Path::new(TRACEFS).join("events").is_dir() {
        return Err(TracefsError::Mount(
            String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        ));
    }
    Ok(TRACEFS.into())
}

/// Every tracepoint under `root`, as `(category, name)`.
pub fn tracepoints(root: &Path) -> Result<Vec<(String, String)>, TracefsError> {
    let events = root.join("events");
    let read = |p: &Path| {
        fs::read_dir(p).map_err(|source| TracefsError::Read {
            path: p.to_owned(),
            source,
        })
    };
    let mut out = Vec::new();
    for category in read(&events)?.flatten() {
        if !category.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let cat = category.file_name().to_string_lossy().into_owned();
        for tp in read(&category.path())?.flatten() {
            if tp.path().join("format").is_file() {
                out.push((cat.clone(), tp.file_name().to_string_lossy().into_owned()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The record layout of tracepoint `category:name`.
pub fn format_of(root: &Path, category: &str, name: &str) -> Result<Format, TracefsError> {
    let path = root.join("events").join(category).join(name).join("format");
    let text = fs::read_to_string(&path).map_err(|source| TracefsError::Read {
        path: path.clone(),
        source,
    })?;
    format::parse(&text).map_err(|source| TracefsError::Format { path, source })
}
