//! Cargo's target directory, where the tests and benchmarks cache their
//! images (shared by both through `#[path]`).

use std::path::{Path, PathBuf};

/// `CARGO_TARGET_DIR`, else the directory above this target's temporary
/// directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_TARGET_TMPDIR"))
                .parent()
                .unwrap()
                .to_owned()
        })
}
