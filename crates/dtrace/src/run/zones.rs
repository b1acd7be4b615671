//! The zones running now, as `zonename` sees them in the kernel: each
//! zone's cgroup `basalt/<uuid>` in the unified hierarchy, whose inode
//! number is the id `bpf_get_current_ancestor_cgroup_id(2)` returns for
//! any task in it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the unified hierarchy is mounted: beside the v1 ones on a hybrid
/// host, or at the root on a v2 host.
pub fn unified_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.controllers").exists())
}

/// Each zone's cgroup id and directory name (its uuid).
pub fn zone_cgroups(root: &Path) -> Vec<(u64, String)> {
    let Ok(dir) = std::fs::read_dir(root.join("basalt")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let md = e.metadata().ok()?;
            md.is_dir()
                .then(|| (md.ino(), e.file_name().to_string_lossy().into_owned()))
        })
        .collect()
}
