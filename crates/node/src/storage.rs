//! The node's pool: which one (the embedded default, a device or an
//! existing mount, per the node configuration), made available on first
//! use.

use basalt_pool::embedded::{self, PoolSpec, Source};
use basalt_pool::size::parse_size;
use basalt_pool::{Pool, PoolError};

use crate::config::NodeConfig;
use crate::paths::Paths;

/// A failure to make the node's pool available.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// `pool_file_size` is not a size.
    #[error("{path}: pool_file_size {value:?} is not a size (such as 20G)")]
    BadSize { path: String, value: String },
    /// The pool could not be made available.
    #[error(transparent)]
    Pool(#[from] PoolError),
}

/// Where the node's pool lives, from its configuration.
pub fn pool_spec(paths: &Paths, config: &NodeConfig) -> Result<PoolSpec, StorageError> {
    let name = config.pool_name().to_owned();
    let source = if let Some(dev) = config.pool_device() {
        Source::Device(dev.into())
    } else if let Some(dir) = config.pool_mount() {
        Source::Mount(dir.into())
    } else {
        let size = match config.pool_file_size() {
            Some(v) => Some(parse_size(v).ok_or_else(|| StorageError::BadSize {
                path: paths.node_config().display().to_string(),
                value: v.to_owned(),
            })?),
            None => None,
        };
        Source::File {
            path: paths.pool_file(&name),
            size,
        }
    };
    Ok(PoolSpec {
        mountpoint: paths.zones(),
        lock: paths.pool_lock(&name),
        name,
        source,
    })
}

/// The node's pool, mounted (created first if this is its first use).
pub fn pool(paths: &Paths, config: &NodeConfig) -> Result<Pool, StorageError> {
    Ok(embedded::ensure(&pool_spec(paths, config)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn spec(config: &str) -> Result<PoolSpec, StorageError> {
        let config = NodeConfig::parse(config, Path::new("/usbkey/config")).unwrap();
        pool_spec(&Paths::new("/x"), &config)
    }

    #[test]
    fn the_embedded_default_and_configured_sources() {
        let s = spec("").unwrap();
        assert_eq!(s.name, "zones");
        assert_eq!(s.mountpoint, Path::new("/x/zones"));
        assert_eq!(
            s.source,
            Source::File {
                path: "/x/var/basalt/zones.btrfs".into(),
                size: None
            }
        );
        let s = spec("pool_file_size=20G\n").unwrap();
        assert_eq!(
            s.source,
            Source::File {
                path: "/x/var/basalt/zones.btrfs".into(),
                size: Some(20 << 30)
            }
        );
        assert_eq!(
            spec("pool_device=/dev/sdb\n").unwrap().source,
            Source::Device("/dev/sdb".into())
        );
        assert_eq!(
            spec("pool_mount=/mnt/b\n").unwrap().source,
            Source::Mount("/mnt/b".into())
        );
        assert_eq!(
            spec("pool_file_size=lots\n").unwrap_err().to_string(),
            "/x/usbkey/config: pool_file_size \"lots\" is not a size (such as 20G)"
        );
    }
}
