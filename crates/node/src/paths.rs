//! Every path basalt uses, derived from one root.
//!
//! With `BASALT_ROOT` unset the root is `/` and the paths are SmartOS's own
//! (`/zones/...`, `/etc/zones/...`, `/var/imgadm/...`, `/var/zonecontrol/...`,
//! `/usbkey/config`). `BASALT_ROOT=/x` moves every one of them under `/x`, so
//! that tests and benchmarks run isolated side by side.

use std::path::{Path, PathBuf};

use basalt_model::VmUuid;

/// The environment variable that relocates every path basalt uses.
pub const ROOT_ENV: &str = "BASALT_ROOT";

/// The node's paths, all under one root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    root: PathBuf,
}

impl Paths {
    /// Paths under `root` (`/` for SmartOS's own layout).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Paths under `$BASALT_ROOT` (made absolute), or `/` when it is unset
    /// or empty.
    pub fn from_env() -> Self {
        match std::env::var_os(ROOT_ENV) {
            Some(root) if !root.is_empty() => {
                let root = PathBuf::from(root);
                Self::new(std::path::absolute(&root).unwrap_or(root))
            }
            _ => Self::new("/"),
        }
    }

    /// The root every other path hangs from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn under(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// `/zones`: where the pool is mounted and zone datasets live.
    pub fn zones(&self) -> PathBuf {
        self.under("zones")
    }

    /// `/zones/<uuid>`: an instance's zonepath.
    pub fn zonepath(&self, uuid: &VmUuid) -> PathBuf {
        self.zones().join(uuid.as_str())
    }

    /// `/etc/zones`: one configuration file per instance (SmartOS keeps its
    /// zone configurations here, on the pool's `zones/config` dataset).
    pub fn zone_configs(&self) -> PathBuf {
        self.under("etc/zones")
    }

    /// `/etc/zones/<uuid>.json`: the stored configuration of one instance.
    pub fn zone_config(&self, uuid: &VmUuid) -> PathBuf {
        self.zone_configs().join(format!("{uuid}.json"))
    }

    /// `/etc/zones/<uuid>.lock`: the lock that serialises changes to one
    /// instance across processes.
    pub fn zone_lock(&self, uuid: &VmUuid) -> PathBuf {
        self.zone_configs().join(format!("{uuid}.lock"))
    }

    /// `/usbkey/config`: the node's configuration (SmartOS's key=value file).
    pub fn node_config(&self) -> PathBuf {
        self.under("usbkey/config")
    }

    /// `/var/imgadm`: the image database.
    pub fn imgadm(&self) -> PathBuf {
        self.under("var/imgadm")
    }

    /// `/var/imgadm/images`: one record per installed image,
    /// `<pool>-<uuid>.json`.
    pub fn image_records(&self) -> PathBuf {
        self.imgadm().join("images")
    }

    /// `/var/imgadm/files`: the file of each installed image, kept so that
    /// the node can serve it to other nodes (`<uuid>.file`).
    pub fn image_files(&self) -> PathBuf {
        self.imgadm().join("files")
    }

    /// `/var/imgadm/uploads`: images published to this node, until they
    /// are activated.
    pub fn image_uploads(&self) -> PathBuf {
        self.imgadm().join("uploads")
    }

    /// `/var/imgadm/downloads`: image files being downloaded
    /// (`<uuid>.file`), where an interrupted download is resumed from.
    /// SmartOS uses `/var/tmp/.imgadm-downloads`; a directory anyone may
    /// create is no place for files root writes.
    pub fn image_downloads(&self) -> PathBuf {
        self.imgadm().join("downloads")
    }

    /// `/var/run/img.<uuid>.import.lock`: serialises installs of one image.
    pub fn image_lock(&self, uuid: &str) -> PathBuf {
        self.under("var/run")
            .join(format!("img.{uuid}.import.lock"))
    }

    /// `/var/zonecontrol/<zonename>`: the host side of a zone's control
    /// sockets (metadata).
    pub fn zonecontrol(&self, zonename: &str) -> PathBuf {
        self.under("var/zonecontrol").join(zonename)
    }

    /// `/var/log/vm/logs`: one log file per vmadm invocation.
    pub fn vm_logs(&self) -> PathBuf {
        self.under("var/log/vm/logs")
    }

    /// `/var/basalt`: basalt's own state on the host (the embedded pool
    /// file, locks).
    pub fn state_dir(&self) -> PathBuf {
        self.under("var/basalt")
    }

    /// The directory of zones' runtime records, console sockets and
    /// supervisor logs.
    pub fn zone_run_dir(&self) -> PathBuf {
        self.state_dir().join("run")
    }

    /// basaltd's record of the host boot whose autoboot it has done: in
    /// /run, which a host reboot empties.
    pub fn autoboot_marker(&self) -> PathBuf {
        self.under("run/basalt/autoboot")
    }

    /// A zone's runtime record, kept by its supervisor.
    pub fn zone_runtime(&self, uuid: &VmUuid) -> PathBuf {
        self.zone_run_dir().join(format!("{uuid}.json"))
    }

    /// A running zone's console socket (`vmadm console`).
    pub fn zone_console(&self, uuid: &VmUuid) -> PathBuf {
        self.zone_run_dir().join(format!("{uuid}.console"))
    }

    /// What a zone's console printed (the last MiB or so).
    pub fn zone_console_log(&self, uuid: &VmUuid) -> PathBuf {
        self.zone_run_dir().join(format!("{uuid}.console.log"))
    }

    /// A zone supervisor's log.
    pub fn zone_supervisor_log(&self, uuid: &VmUuid) -> PathBuf {
        self.zone_run_dir().join(format!("{uuid}.log"))
    }

    /// `/var/basalt/<pool>.btrfs`: the embedded default's pool file.
    pub fn pool_file(&self, pool: &str) -> PathBuf {
        self.state_dir().join(format!("{pool}.btrfs"))
    }

    /// `/var/basalt/<pool>.lock`: serialises making the pool available.
    pub fn pool_lock(&self, pool: &str) -> PathBuf {
        self.state_dir().join(format!("{pool}.lock"))
    }

    /// `/tmp/.sysinfo.json`: sysinfo's cache.
    pub fn sysinfo_cache(&self) -> PathBuf {
        self.under("tmp/.sysinfo.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uuid() -> VmUuid {
        "54f1cc77-68f1-42ab-acac-5c4f64f5d6e0".parse().unwrap()
    }

    #[test]
    fn default_root_gives_smartos_paths() {
        let p = Paths::new("/");
        assert_eq!(p.zones(), Path::new("/zones"));
        assert_eq!(
            p.zone_config(&uuid()),
            Path::new("/etc/zones/54f1cc77-68f1-42ab-acac-5c4f64f5d6e0.json")
        );
        assert_eq!(p.imgadm(), Path::new("/var/imgadm"));
        assert_eq!(p.zonecontrol("z1"), Path::new("/var/zonecontrol/z1"));
        assert_eq!(p.node_config(), Path::new("/usbkey/config"));
        assert_eq!(p.sysinfo_cache(), Path::new("/tmp/.sysinfo.json"));
    }

    #[test]
    fn every_path_moves_under_a_root() {
        let p = Paths::new("/x");
        for path in [
            p.zones(),
            p.zonepath(&uuid()),
            p.zone_configs(),
            p.zone_config(&uuid()),
            p.zone_lock(&uuid()),
            p.node_config(),
            p.imgadm(),
            p.zonecontrol("z"),
            p.vm_logs(),
            p.sysinfo_cache(),
            p.pool_file("zones"),
            p.pool_lock("zones"),
        ] {
            assert!(
                path.starts_with("/x/"),
                "{} is not under /x",
                path.display()
            );
        }
    }
}
