//! What the benchmarks share: running host commands, the target
//! directory, and a relocated root's pool mount.

#![allow(dead_code)]

pub mod image;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Whether `tool` is a file on the PATH.
pub fn on_path(tool: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(tool).is_file())
}

/// The tools of `tools` that are not on the PATH.
pub fn missing(tools: &[&'static str]) -> Vec<&'static str> {
    tools.iter().copied().filter(|t| !on_path(t)).collect()
}

/// Runs `argv` to completion; panics with its stderr when it fails.
pub fn sh(argv: &[&str]) -> String {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", argv[0]));
    assert!(
        out.status.success(),
        "{argv:?}: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A path as the `&str` an argument vector wants.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[path = "../../tests/support/target.rs"]
mod target;

pub use target::target_dir;

/// Whether something is mounted at `pool`.
pub fn mounted(pool: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| Path::new(m) == pool)
}

/// Unmounts `pool`, retrying while a command that just ended keeps it
/// busy; what is left, if it stays mounted (then unmounted lazily).
pub fn unmount(pool: &Path) -> Option<String> {
    for _ in 0..20 {
        if !mounted(pool) {
            return None;
        }
        let unmounted = Command::new("umount")
            .arg(pool)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    if !mounted(pool) {
        return None;
    }
    let _ = Command::new("umount").arg("-l").arg(pool).status();
    Some(format!("{} still mounted", pool.display()))
}
