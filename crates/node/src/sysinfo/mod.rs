//! `sysinfo`: the node's identity and hardware as one JSON object, cached.
//!
//! The work is split by concept:
//!
//! - [`procfs`] and [`sysfs`]: pure parsers of the text the kernel shows
//!   under /proc and /sys, tested on text captured from a build machine;
//! - [`gather`]: reads the host (under a prefix, so a test can point it at
//!   a fixture tree) into plain [`HostFacts`], and persists the node's UUID;
//! - [`assemble`]: turns the facts into SmartOS's keys, order and types;
//! - [`flat`]: the `-p` rendering, whose naming rule its module documents.
//!
//! The object is cached at [`Paths::sysinfo_cache`]: [`cached_or_refresh`]
//! answers from the cache when there is one, [`refresh`] gathers anew and
//! replaces it atomically.
//!
//! Where basalt differs from SmartOS, by necessity:
//!
//! - `Live Image` is [`LIVE_IMAGE`]: the stamp the platform build passes in
//!   `BASALT_BUILD_STAMP` at compile time (SmartOS's `YYYYMMDDTHHMMSSZ`
//!   form), else basalt's version, so that a developer build says honestly
//!   what it is rather than inventing a date.
//! - `System Type` is `Linux`; `VM Capable`, `Bhyve Capable` and `HVM API`
//!   all mean "/dev/kvm exists" (basalt runs both kvm and bhyve brands
//!   under QEMU), and `Bhyve Max Vcpus` is then the CPU count.
//! - `Setup` is `"true"` once the node configuration holds anything beyond
//!   the `server_uuid` that sysinfo itself records there.
//! - Only `Zpool` (`zones`) is reported of the pool.

pub mod assemble;
pub mod facts;
pub mod flat;
pub mod gather;
pub mod procfs;
pub mod sysfs;

use std::io;
use std::path::PathBuf;

use serde_json::{Map, Value};

pub use assemble::assemble;
pub use facts::HostFacts;
pub use flat::to_parsable;
pub use gather::{Host, gather};

use crate::config::ConfigError;
use crate::fsutil;
use crate::paths::Paths;

/// sysinfo's object, keys in SmartOS's order.
pub type Sysinfo = Map<String, Value>;

/// The platform stamp reported as `Live Image` (and copied by vmadm into
/// `platform_buildstamp`).
pub const LIVE_IMAGE: &str = match option_env!("BASALT_BUILD_STAMP") {
    Some(stamp) => stamp,
    None => env!("CARGO_PKG_VERSION"),
};

/// A failure to gather, cache or read the node's sysinfo.
#[derive(Debug, thiserror::Error)]
pub enum SysinfoError {
    /// A host file sysinfo needs could not be read.
    #[error("failed to read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A host file does not say what sysinfo needs.
    #[error("failed to parse {path}: {what}")]
    Parse { path: PathBuf, what: &'static str },
    /// getifaddrs(3) failed.
    #[error("failed to list the interfaces' addresses")]
    Addresses(#[source] nix::Error),
    /// The kernel gave no randomness for a new node UUID.
    #[error("failed to draw a random node UUID")]
    Random(#[source] io::Error),
    /// The node configuration could not be read or updated.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The cache exists but could not be read.
    #[error("failed to read sysinfo cache {path}")]
    ReadCache {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The cache could not be written.
    #[error("failed to write sysinfo cache {path}")]
    WriteCache {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The cached object, or a freshly gathered one (then cached) when there is
/// no cache or it does not hold a JSON object.
pub fn cached_or_refresh(paths: &Paths, host: &Host) -> Result<Sysinfo, SysinfoError> {
    match read_cache(paths)? {
        Some(info) => Ok(info),
        None => refresh(paths, host),
    }
}

/// Gathers the host anew and replaces the cache.
pub fn refresh(paths: &Paths, host: &Host) -> Result<Sysinfo, SysinfoError> {
    let info = assemble(&gather(host, paths, LIVE_IMAGE)?);
    let path = paths.sysinfo_cache();
    fsutil::write_atomic(&path, to_json(&info).as_bytes(), 0o644)
        .map_err(|source| SysinfoError::WriteCache { path, source })?;
    Ok(info)
}

fn read_cache(paths: &Paths) -> Result<Option<Sysinfo>, SysinfoError> {
    let path = paths.sysinfo_cache();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SysinfoError::ReadCache { path, source }),
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(info)) => Ok(Some(info)),
        _ => {
            tracing::warn!(path = %path.display(), "sysinfo cache is not a JSON object; regathering");
            Ok(None)
        }
    }
}

/// The object as sysinfo prints it: JSON indented by two spaces, with a
/// trailing newline.
pub fn to_json(info: &Sysinfo) -> String {
    let mut text = serde_json::to_string_pretty(info).expect("a JSON map always serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_image_is_the_version_unless_the_build_stamps_it() {
        match option_env!("BASALT_BUILD_STAMP") {
            Some(stamp) => assert_eq!(LIVE_IMAGE, stamp),
            None => assert_eq!(LIVE_IMAGE, env!("CARGO_PKG_VERSION")),
        }
    }

    #[test]
    fn json_is_indented_by_two_with_a_newline() {
        let info: Sysinfo = serde_json::from_str(r#"{"b": "1", "a": {"x": [true]}}"#).unwrap();
        assert_eq!(
            to_json(&info),
            "{\n  \"b\": \"1\",\n  \"a\": {\n    \"x\": [\n      true\n    ]\n  }\n}\n"
        );
    }

    #[test]
    fn a_cache_is_read_back_and_a_broken_one_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        assert_eq!(read_cache(&paths).unwrap(), None);
        fsutil::write_atomic(&paths.sysinfo_cache(), b"{\"UUID\": \"x\"}\n", 0o644).unwrap();
        let info = read_cache(&paths).unwrap().unwrap();
        assert_eq!(info["UUID"], "x");
        fsutil::write_atomic(&paths.sysinfo_cache(), b"{\"UUID\": ", 0o644).unwrap();
        assert_eq!(read_cache(&paths).unwrap(), None);
        fsutil::write_atomic(&paths.sysinfo_cache(), b"[]", 0o644).unwrap();
        assert_eq!(read_cache(&paths).unwrap(), None);
    }
}
