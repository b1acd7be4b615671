//! What basaltd does when it starts (SmartOS's autoboot after a host
//! boot): zones whose supervisors still run are adopted as they are; what a
//! crash left (a runtime record that says running with its supervisor
//! gone, an orphaned init, cgroups, host links) is cleaned up; and, once
//! per host boot, every stopped instance with `autoboot` set is booted.
//! The networks of adopted zones are brought back to their configuration
//! (bridges, ports, filters and caps made again if something removed them).

use std::fs;
use std::time::Duration;

use basalt_model::VmUuid;
use serde_json::{Map, Value};

use super::runtime::{Phase, boot_id};
use crate::instances::{Node, NodeError, now_iso};

/// What start-up found and did, instance by instance.
#[derive(Debug, Default)]
pub struct Startup {
    /// Zones whose supervisors still run.
    pub adopted: Vec<String>,
    /// Zones whose supervisor was gone: leftovers removed, now stopped.
    pub cleaned: Vec<String>,
    /// Zones booted because of `autoboot`.
    pub booted: Vec<String>,
    /// Zones that could not be cleaned or booted, and why.
    pub failed: Vec<(String, String)>,
    /// Whether this was the first start-up since the host booted.
    pub first_since_boot: bool,
}

impl Node {
    /// Adopts, cleans up and autoboots the node's zones (basaltd's start).
    pub fn startup(&self) -> Result<Startup, NodeError> {
        let mut report = Startup::default();
        let marker = self.paths().autoboot_marker();
        let boot = boot_id();
        report.first_since_boot = fs::read_to_string(&marker)
            .map(|s| s.trim() != boot)
            .unwrap_or(true);
        let mut ids = Vec::new();
        for entry in self.store().list()? {
            let Ok(vm) = entry else { continue };
            let Some(uuid) = vm.get("uuid").and_then(Value::as_str) else {
                continue;
            };
            let Ok(id) = uuid.parse::<VmUuid>() else {
                continue;
            };
            ids.push((id, vm));
        }
        for (id, vm) in ids {
            let autoboot = vm.get("autoboot") == Some(&Value::Bool(true));
            match self.recover(&id, &vm) {
                Ok(Recovered::Running) => {
                    report.adopted.push(id.to_string());
                    continue;
                }
                Ok(Recovered::Cleaned) => report.cleaned.push(id.to_string()),
                Ok(Recovered::Stopped) => {}
                Err(e) => {
                    report.failed.push((id.to_string(), e.to_string()));
                    continue;
                }
            }
            if autoboot && report.first_since_boot {
                match self.start(id.as_str()) {
                    Ok(_) => report.booted.push(id.to_string()),
                    Err(e) => report.failed.push((id.to_string(), e.to_string())),
                }
            }
        }
        if let Some(dir) = marker.parent() {
            let _ = fs::create_dir_all(dir);
        }
        crate::fsutil::write_atomic(&marker, boot.as_bytes(), 0o644)
            .map_err(|e| NodeError::Lifecycle(format!("{}: {e}", marker.display())))?;
        Ok(report)
    }

    /// Brings an instance's runtime state back to the truth.
    fn recover(&self, id: &VmUuid, vm: &Map<String, Value>) -> Result<Recovered, NodeError> {
        let path = self.paths().zone_runtime(id);
        let _lock = self.store().lock(id)?;
        let Some(mut record) = self.last_record(id) else {
            return Ok(Recovered::Stopped);
        };
        if record.phase == Phase::Stopped {
            return Ok(Recovered::Stopped);
        }
        if record.live() {
            // Adopted whatever comes of its networks: the zone runs on.
            if let Some(init) = record.init.as_ref().and_then(super::lifecycle::pidfd) {
                let converged = self.zone_net(vm).and_then(|net| {
                    super::network::converge(&net, std::os::fd::AsFd::as_fd(&init))
                        .map_err(NodeError::Lifecycle)
                });
                if let Err(e) = converged {
                    tracing::error!(uuid = %id, error = %e, "cannot bring the zone's networks back");
                }
            }
            return Ok(Recovered::Running);
        }
        // The supervisor is gone while its zone was up. An init that
        // outlived it has no one to watch it: end it (the kernel ends its
        // whole pid namespace with it), then remove the zone's cgroups.
        if let Some(init) = record.init.as_ref().filter(|_| record.boot_id == boot_id())
            && let Some(fd) = super::lifecycle::pidfd(init)
        {
            let _ = basalt_zone::sys::pidfd_signal(std::os::fd::AsFd::as_fd(&fd), libc::SIGKILL);
        }
        if let Ok(cgroups) = super::supervisor::cgroups() {
            cgroups
                .remove_when_empty(id.as_str(), Duration::from_secs(5))
                .map_err(|e| NodeError::Lifecycle(e.to_string()))?;
        }
        super::network::unplumb_vm(&[vm]);
        let _ = fs::remove_file(self.paths().zone_console(id));
        record.phase = Phase::Stopped;
        record.init = None;
        if record.exit_timestamp.is_none() {
            record.exit_timestamp = Some(now_iso());
        }
        record
            .write(&path)
            .map_err(|e| NodeError::Lifecycle(format!("{}: {e}", path.display())))?;
        Ok(Recovered::Cleaned)
    }
}

enum Recovered {
    Running,
    Stopped,
    Cleaned,
}
