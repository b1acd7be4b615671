//! Making a pool available: with no configuration, a sparse file under the
//! node's data root, created on first use and loop-mounted (again after a
//! host reboot, by the first command that needs it); or a block device or
//! partition (formatted only if it holds no filesystem at all), or an
//! existing btrfs mount, named in the node's configuration. Creation is
//! all or nothing: a pool file appears under its final name only once it
//! holds a filesystem.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::btrfs::{self, parse_mountinfo};
use crate::error::PoolError;
use crate::exec::{Cmd, run};
use crate::pool::Pool;

/// The smallest pool file basalt creates.
pub const MIN_FILE_SIZE: u64 = 1 << 30;

/// Where a pool lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A pool file; `size` (bytes) when it has to be created, else a
    /// default of half the free space of its filesystem.
    File {
        /// The file.
        path: PathBuf,
        /// Its size when created.
        size: Option<u64>,
    },
    /// A block device or partition.
    Device(PathBuf),
    /// A directory where a btrfs filesystem is already mounted.
    Mount(PathBuf),
}

/// A pool to make available.
#[derive(Debug, Clone)]
pub struct PoolSpec {
    /// Its name (`zones`).
    pub name: String,
    /// Where it is to be mounted (`/zones`).
    pub mountpoint: PathBuf,
    /// Where it lives.
    pub source: Source,
    /// A lock file serialising concurrent first uses.
    pub lock: PathBuf,
}

fn unavailable(spec: &PoolSpec, reason: impl Into<String>) -> PoolError {
    PoolError::Unavailable {
        name: spec.name.clone(),
        reason: reason.into(),
    }
}

/// The btrfs filesystem mounted at `mountpoint`, if any.
fn mounted(mountpoint: &Path) -> Option<btrfs::MountEntry> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text)
        .into_iter()
        .rfind(|m| Path::new(&m.mountpoint) == mountpoint && m.fstype == "btrfs")
}

/// Whether a btrfs filesystem is mounted at `mountpoint`.
pub fn is_mounted(mountpoint: &Path) -> bool {
    mounted(mountpoint).is_some()
}

fn hardened(m: &btrfs::MountEntry) -> bool {
    let have: Vec<&str> = m.options.split(',').collect();
    btrfs::HOST_FLAGS.iter().all(|f| have.contains(f))
}

/// Gives a pool mounted without them (by an older basalt, or by hand) the
/// host flags.
fn harden(spec: &PoolSpec) -> Result<(), PoolError> {
    if mounted(&spec.mountpoint).is_none_or(|m| hardened(&m)) {
        return Ok(());
    }
    run(&btrfs::remount_host_flags(&spec.mountpoint))
        .map(|_| ())
        .map_err(|e| {
            unavailable(
                spec,
                format!("cannot make the pool nosuid,nodev: {}", e.stderr()),
            )
        })
}

/// Makes the pool available and returns it: already mounted, mounted from
/// its source, or created there first.
pub fn ensure(spec: &PoolSpec) -> Result<Pool, PoolError> {
    if mounted(&spec.mountpoint).is_some_and(|m| hardened(&m)) {
        return Ok(Pool::at(&spec.name, &spec.mountpoint));
    }
    let _lock = crate::pool::lock_file(&spec.lock)?;
    if is_mounted(&spec.mountpoint) {
        harden(spec)?;
        return Ok(Pool::at(&spec.name, &spec.mountpoint));
    }
    fs::create_dir_all(&spec.mountpoint).map_err(|e| {
        unavailable(
            spec,
            format!("cannot create {}: {e}", spec.mountpoint.display()),
        )
    })?;
    match &spec.source {
        Source::File { path, size } => attach_file(spec, path, *size)?,
        Source::Device(dev) => attach_device(spec, dev)?,
        Source::Mount(dir) => attach_mount(spec, dir)?,
    }
    if let Err(e) = run(&btrfs::quota_enable(&spec.mountpoint)) {
        let _ = run(&btrfs::umount(&spec.mountpoint));
        return Err(unavailable(
            spec,
            format!("cannot enable quotas: {}", e.stderr()),
        ));
    }
    tracing::info!(pool = %spec.name, mountpoint = %spec.mountpoint.display(), "pool attached");
    Ok(Pool::at(&spec.name, &spec.mountpoint))
}

/// Unmounts the pool (its loop device, if any, is released).
pub fn detach(spec: &PoolSpec) -> Result<(), PoolError> {
    if is_mounted(&spec.mountpoint) {
        run(&btrfs::umount(&spec.mountpoint))?;
    }
    Ok(())
}

fn mount(spec: &PoolSpec, source: &Path, loop_file: bool, what: &str) -> Result<(), PoolError> {
    run(&btrfs::mount(source, &spec.mountpoint, loop_file))
        .map(|_| ())
        .map_err(|e| {
            unavailable(
                spec,
                format!(
                    "{what} {} could not be mounted (damaged?): {}",
                    source.display(),
                    e.stderr()
                ),
            )
        })
}

fn attach_file(spec: &PoolSpec, path: &Path, size: Option<u64>) -> Result<(), PoolError> {
    if !path.exists() {
        create_file(spec, path, size)?;
    }
    mount(spec, path, true, "pool file")
}

/// The default size of a new pool file: half the free space where it goes,
/// at least [`MIN_FILE_SIZE`].
pub fn default_size(dir: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    let free = st.blocks_available() * st.fragment_size();
    (free >= MIN_FILE_SIZE).then(|| (free / 2).max(MIN_FILE_SIZE))
}

fn create_file(spec: &PoolSpec, path: &Path, size: Option<u64>) -> Result<(), PoolError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir)
        .map_err(|e| unavailable(spec, format!("cannot create {}: {e}", dir.display())))?;
    let size = match size {
        Some(s) => s,
        None => default_size(dir).ok_or_else(|| {
            unavailable(
                spec,
                format!(
                    "less than 1 GiB free in {} for the pool file",
                    dir.display()
                ),
            )
        })?,
    };
    let partial = path.with_extension("partial");
    let result = (|| {
        let f = File::create(&partial).map_err(PoolError::io("create", &partial))?;
        f.set_len(size).map_err(PoolError::io("size", &partial))?;
        drop(f);
        run(&btrfs::mkfs(&partial, &spec.name))?;
        fs::rename(&partial, path).map_err(PoolError::io("rename", &partial))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    tracing::info!(file = %path.display(), size, "pool file created");
    result
}

fn attach_device(spec: &PoolSpec, dev: &Path) -> Result<(), PoolError> {
    if !dev.exists() {
        return Err(unavailable(
            spec,
            format!("pool device {} does not exist", dev.display()),
        ));
    }
    let probe = Cmd::new(
        "blkid",
        [
            "-o".into(),
            "value".into(),
            "-s".into(),
            "TYPE".into(),
            dev.display().to_string(),
        ],
    );
    let fstype = match run(&probe) {
        Ok(t) => t.trim().to_owned(),
        Err(e) if matches!(&e, crate::exec::ExecError::Failed { status, .. } if status.ends_with(" 2")) => {
            String::new()
        }
        Err(e) => return Err(e.into()),
    };
    match fstype.as_str() {
        "btrfs" => {}
        "" => {
            run(&btrfs::mkfs(dev, &spec.name))?;
        }
        other => {
            return Err(unavailable(
                spec,
                format!(
                    "{} holds a {other} filesystem; refusing to overwrite it",
                    dev.display()
                ),
            ));
        }
    }
    mount(spec, dev, false, "pool device")
}

fn attach_mount(spec: &PoolSpec, dir: &Path) -> Result<(), PoolError> {
    if !is_mounted(dir) {
        return Err(unavailable(
            spec,
            format!("{} is not a btrfs mount", dir.display()),
        ));
    }
    let bind = Cmd::new(
        "mount",
        [
            "--bind".into(),
            dir.display().to_string(),
            spec.mountpoint.display().to_string(),
        ],
    );
    run(&bind)
        .map(|_| ())
        .map_err(|e| unavailable(spec, e.to_string()))?;
    harden(spec)
}
