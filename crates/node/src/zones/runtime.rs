//! What is true of a zone while its supervisor lives: one JSON record per
//! instance at `/var/basalt/run/<uuid>.json`, written atomically by the
//! supervisor alone. A record is believed only while the supervisor it
//! names is alive — the same pid *and* the same start time, so a reused
//! pid after a crash or a host reboot is never taken for it.

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fsutil::write_atomic;

/// A process, identified past pid reuse by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcId {
    /// The host pid.
    pub pid: i32,
    /// Its start time, clock ticks after boot (`/proc/<pid>/stat` field 22).
    pub start: u64,
}

impl ProcId {
    /// The process `pid` as it is now, if it exists.
    pub fn of(pid: i32) -> Option<ProcId> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Some(ProcId {
            pid,
            start: start_time(&stat)?,
        })
    }

    /// This process.
    pub fn current() -> ProcId {
        ProcId::of(std::process::id() as i32).expect("/proc shows this process")
    }

    /// Whether the process still exists (and is not a zombie).
    pub fn alive(&self) -> bool {
        let Ok(stat) = fs::read_to_string(format!("/proc/{}/stat", self.pid)) else {
            return false;
        };
        start_time(&stat) == Some(self.start) && process_state(&stat) != Some('Z')
    }
}

/// Field 22 of a `/proc/<pid>/stat` line (the command may hold spaces and
/// parentheses: fields are counted after its last `)`).
fn start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn process_state(stat: &str) -> Option<char> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().next()?.chars().next()
}

/// Where a zone is in its life, as its supervisor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Booting (namespaces, mounts) or rebooting.
    Ready,
    /// The init runs.
    Running,
    /// A stop was asked for; the init is shutting down.
    ShuttingDown,
    /// The init has exited and the zone is torn down.
    Stopped,
}

/// A zone's runtime record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The phase.
    pub phase: Phase,
    /// The supervisor.
    pub supervisor: ProcId,
    /// The zone's init, while it runs.
    pub init: Option<ProcId>,
    /// When the init last started (ISO-8601).
    pub boot_timestamp: Option<String>,
    /// How the last init ended: its exit status (128 + signal if killed).
    pub exit_status: Option<i32>,
    /// When it ended.
    pub exit_timestamp: Option<String>,
    /// The host boot the record was written in (the kernel's boot id): pids
    /// and start times repeat across boots.
    #[serde(default)]
    pub boot_id: String,
}

/// The kernel's id of the current host boot.
pub fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

impl Record {
    /// Reads a record; `None` when there is none.
    pub fn read(path: &Path) -> io::Result<Option<Record>> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the record atomically.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let json = serde_json::to_vec_pretty(self).expect("a record serialises");
        write_atomic(path, &json, 0o644)
    }

    /// Whether the supervisor that wrote this record still runs: the same
    /// host boot, pid and start time.
    pub fn live(&self) -> bool {
        self.boot_id == boot_id() && self.supervisor.alive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_counted_after_the_last_parenthesis() {
        let stat =
            "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(start_time(stat), Some(987654));
        assert_eq!(process_state(stat), Some('S'));
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = ProcId::current();
        assert!(me.alive());
        assert!(
            !ProcId {
                start: me.start + 1,
                ..me
            }
            .alive()
        );
    }

    #[test]
    fn a_record_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/z.json");
        assert_eq!(Record::read(&path).unwrap(), None);
        let r = Record {
            phase: Phase::Running,
            supervisor: ProcId::current(),
            init: None,
            boot_timestamp: Some("2026-01-01T00:00:00.000Z".into()),
            exit_status: None,
            exit_timestamp: None,
            boot_id: boot_id(),
        };
        r.write(&path).unwrap();
        assert_eq!(Record::read(&path).unwrap(), Some(r.clone()));
        assert!(r.live());
        let other_boot = Record {
            boot_id: "00000000-0000-0000-0000-000000000000".into(),
            ..r.clone()
        };
        assert!(!other_boot.live(), "a record of another host boot is stale");
        fs::write(&path, "{").unwrap();
        assert!(
            Record::read(&path)
                .unwrap_err()
                .to_string()
                .contains("z.json")
        );
    }
}
