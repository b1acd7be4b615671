//! vmadm's lifecycle verbs on zones: start, stop, reboot, kill — each
//! under the instance's lock, talking to the zone's supervisor through
//! signals and its runtime record.

use std::fs::{self, OpenOptions};
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use basalt_model::VmUuid;
use basalt_zone::cgroup::{self, Limits};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde_json::{Map, Value, json};

use super::runtime::{Phase, ProcId, Record};
use super::supervisor::STOP_TIMEOUT;
use crate::instances::{Node, NodeError};

/// The environment variable naming the supervisor binary (else
/// `zoneadmd` beside the running binary, else on PATH).
pub const SUPERVISOR_ENV: &str = "BASALT_ZONEADMD";

/// How long a supervisor may take to report a zone running (or why not).
const READY_TIMEOUT_MS: i32 = 120_000;

/// What `vmadm start` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// The zone is now running.
    Started,
    /// It already was.
    AlreadyRunning,
}

/// What `vmadm stop` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// The zone has stopped.
    Stopped,
    /// It was not running; its state.
    NotRunning(String),
}

fn supervisor_exe() -> PathBuf {
    if let Some(p) = std::env::var_os(SUPERVISOR_ENV) {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .map(|e| e.with_file_name("zoneadmd"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("zoneadmd"))
}

/// A pidfd of the process `p` if it is still that process (opened first,
/// then checked: the pidfd pins it).
pub(crate) fn pidfd(p: &ProcId) -> Option<OwnedFd> {
    let pid = rustix::process::Pid::from_raw(p.pid)?;
    let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()?;
    // The pidfd pins the process: check it is still the one recorded.
    p.alive().then_some(fd)
}

/// Waits until the process behind `fd` has exited, up to `limit`.
fn wait_exit(fd: &OwnedFd, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let ms =
            PollTimeout::try_from(left.as_millis().min(10_000) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(n) if n > 0 => return true,
            _ => {}
        }
    }
}

impl Node {
    /// The runtime record of an instance whose supervisor is alive.
    pub fn live_record(&self, uuid: &VmUuid) -> Option<Record> {
        Record::read(&self.paths().zone_runtime(uuid))
            .ok()
            .flatten()
            .filter(Record::live)
    }

    /// The live record once a boot in progress has ended (a zone between
    /// its supervisor's start and its init's exec is `ready`): what a
    /// live change must act on.
    fn booted_record(&self, uuid: &VmUuid) -> Option<Record> {
        let deadline = Instant::now() + Duration::from_millis(READY_TIMEOUT_MS as u64);
        loop {
            match self.live_record(uuid) {
                Some(r) if r.phase == Phase::Ready && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                r => return r,
            }
        }
    }

    /// The last runtime record, alive or not (for the last exit).
    pub fn last_record(&self, uuid: &VmUuid) -> Option<Record> {
        Record::read(&self.paths().zone_runtime(uuid))
            .ok()
            .flatten()
    }

    /// Boots an installed zone (`vmadm start`); sets `autoboot`.
    pub fn start(&self, uuid: &str) -> Result<StartOutcome, NodeError> {
        let (id, lock, mut stored) = self.locked(uuid)?;
        if let Some(r) = self.live_record(&id)
            && r.phase != Phase::Stopped
        {
            return Ok(StartOutcome::AlreadyRunning);
        }
        let brand = super::spec::brand_of(&stored);
        if !brand.is_os() {
            return Err(NodeError::Lifecycle(format!(
                "the {brand} brand cannot run on this node yet"
            )));
        }
        let state = self.state_of(&stored);
        if state != "stopped" {
            return Err(NodeError::Lifecycle(format!(
                "Cannot start vm from state \"{state}\", must be \"stopped\"."
            )));
        }
        // After a host reboot the pool is mounted by the first command that
        // needs it: this one, when basaltd does not run.
        self.pool()?;
        if stored.get("autoboot") != Some(&Value::Bool(true)) {
            stored.insert("autoboot".into(), json!(true));
            self.store().write(&id, &stored, &lock)?;
        }
        self.spawn_supervisor(&id)?;
        Ok(StartOutcome::Started)
    }

    /// Starts the zone's supervisor and waits for it to report the zone
    /// running (or why not).
    pub(crate) fn spawn_supervisor(&self, id: &VmUuid) -> Result<(), NodeError> {
        let paths = self.paths();
        let run = paths.zone_run_dir();
        fs::create_dir_all(&run)
            .map_err(|e| NodeError::Lifecycle(format!("{}: {e}", run.display())))?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(paths.zone_supervisor_log(id))
            .map_err(|e| NodeError::Lifecycle(format!("supervisor log: {e}")))?;
        let exe = supervisor_exe();
        let mut child = Command::new(&exe)
            .arg(id.as_str())
            .env(crate::paths::ROOT_ENV, paths.root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| NodeError::Lifecycle(format!("cannot run {}: {e}", exe.display())))?;
        let mut out = child.stdout.take().expect("stdout is piped");
        // A boot's steps time out on their own; this only guards against a
        // supervisor that hangs.
        let mut fds = [PollFd::new(out.as_fd(), PollFlags::POLLIN)];
        let answered = poll(
            &mut fds,
            PollTimeout::try_from(READY_TIMEOUT_MS).unwrap_or(PollTimeout::MAX),
        );
        if !matches!(answered, Ok(n) if n > 0) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(NodeError::Lifecycle(format!(
                "the zone supervisor did not answer (see {})",
                paths.zone_supervisor_log(id).display()
            )));
        }
        let line = basalt_zone::boot::read_line(&mut out)
            .map_err(|e| NodeError::Lifecycle(format!("zone supervisor: {e}")))?
            .unwrap_or_default();
        if line.starts_with("running ") {
            return Ok(());
        }
        let _ = child.wait();
        let why = line.strip_prefix("error: ").unwrap_or(&line);
        Err(NodeError::Lifecycle(if why.is_empty() {
            format!(
                "the zone supervisor ended without booting the zone (see {})",
                paths.zone_supervisor_log(id).display()
            )
        } else {
            why.to_owned()
        }))
    }

    /// Stops a zone (`vmadm stop`): gracefully, or at once with `force`;
    /// clears `autoboot`.
    pub fn stop(&self, uuid: &str, force: bool) -> Result<StopOutcome, NodeError> {
        let (id, lock, mut stored) = self.locked(uuid)?;
        let Some(record) = self.live_record(&id).filter(|r| r.phase != Phase::Stopped) else {
            return Ok(StopOutcome::NotRunning(self.state_of(&stored)));
        };
        if stored.get("autoboot") != Some(&Value::Bool(false)) {
            stored.insert("autoboot".into(), json!(false));
            self.store().write(&id, &stored, &lock)?;
        }
        self.halt(&record, force)?;
        Ok(StopOutcome::Stopped)
    }

    /// Ends a zone through its supervisor and waits for the supervisor to
    /// finish.
    pub(crate) fn halt(&self, record: &Record, force: bool) -> Result<(), NodeError> {
        let Some(sup) = pidfd(&record.supervisor) else {
            return Ok(());
        };
        // SIGQUIT: the supervisor kills the init and does not boot again,
        // whatever the zone was doing (booting, rebooting).
        let signo = if force { libc::SIGQUIT } else { libc::SIGTERM };
        basalt_zone::sys::pidfd_signal(sup.as_fd(), signo)
            .map_err(|e| NodeError::Lifecycle(format!("cannot signal the zone: {e}")))?;
        if !wait_exit(&sup, STOP_TIMEOUT + Duration::from_secs(30)) {
            return Err(NodeError::Lifecycle(
                "the zone did not stop in time".to_owned(),
            ));
        }
        Ok(())
    }

    /// Reboots a running zone (`vmadm reboot`), gracefully or at once with
    /// `force`, and waits for its new init.
    pub fn reboot(&self, uuid: &str, force: bool) -> Result<(), NodeError> {
        let (id, _lock, stored) = self.locked(uuid)?;
        let record = self
            .live_record(&id)
            .filter(|r| r.phase == Phase::Running)
            .ok_or_else(|| {
                NodeError::Lifecycle(format!(
                    "Cannot reboot vm from state \"{}\", must be \"running\".",
                    self.state_of(&stored)
                ))
            })?;
        let sup = pidfd(&record.supervisor)
            .ok_or_else(|| NodeError::Lifecycle("the zone's supervisor is gone".into()))?;
        let signo = if force { libc::SIGUSR2 } else { libc::SIGUSR1 };
        basalt_zone::sys::pidfd_signal(sup.as_fd(), signo)
            .map_err(|e| NodeError::Lifecycle(format!("cannot signal the zone: {e}")))?;
        let deadline = Instant::now() + STOP_TIMEOUT + Duration::from_secs(30);
        while Instant::now() < deadline {
            match self.live_record(&id) {
                Some(r) if r.phase == Phase::Running && r.init != record.init => return Ok(()),
                Some(_) => std::thread::sleep(Duration::from_millis(20)),
                None => {
                    return Err(NodeError::Lifecycle(
                        "the zone stopped instead of rebooting".into(),
                    ));
                }
            }
        }
        Err(NodeError::Lifecycle(
            "the zone did not reboot in time".into(),
        ))
    }

    /// Makes an update's resource changes take effect at once: the
    /// cgroup limits of a running zone (in an order the kernel accepts),
    /// its NICs and routes, and the dataset's quota. The rest applies at
    /// the next boot.
    pub(crate) fn apply_live(
        &self,
        id: &VmUuid,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
    ) -> Result<(), NodeError> {
        let fail = |e: &dyn std::fmt::Display| NodeError::Lifecycle(e.to_string());
        if self
            .live_record(id)
            .is_some_and(|r| r.phase == Phase::Running)
            && let (Ok(before), Ok(after)) = (Limits::from_vm(old), Limits::from_vm(new))
            && before != after
        {
            let cgroups = super::supervisor::cgroups().map_err(|e| fail(&e))?;
            let settings = cgroup::plan_update(&before, &after, cgroups.backend());
            cgroups
                .apply(id.as_str(), &settings)
                .map_err(|e| fail(&e))?;
        }
        let tmpfs = |vm: &Map<String, Value>| vm.get("tmpfs").and_then(Value::as_u64).unwrap_or(0);
        if tmpfs(old) != tmpfs(new)
            && tmpfs(old) > 0
            && tmpfs(new) > 0
            && self
                .live_record(id)
                .is_some_and(|r| r.phase == Phase::Running)
        {
            // The zone's own mount: changed from inside its namespaces.
            let out = Command::new(supervisor_exe())
                .args([basalt_zone::boot::RESIZE_TMP_ARG, id.as_str()])
                .arg(tmpfs(new).to_string())
                .env(crate::paths::ROOT_ENV, self.paths().root())
                .stdin(Stdio::null())
                .output()
                .map_err(|e| fail(&e))?;
            if !out.status.success() {
                return Err(NodeError::Lifecycle(
                    String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                ));
            }
        }
        let networks =
            |vm: &Map<String, Value>| (vm.get("nics").cloned(), vm.get("routes").cloned());
        if networks(old) != networks(new)
            && let Some(init) = self
                .booted_record(id)
                .filter(|r| r.phase == Phase::Running)
                .and_then(|r| r.init)
                .and_then(|i| pidfd(&i))
        {
            // A zone that booted meanwhile may have read either
            // configuration: the plan from the old one to the new one
            // converges from both.
            let (before, after) = (self.zone_net(old)?, self.zone_net(new)?);
            super::network::replumb(&before, &after, init.as_fd()).map_err(NodeError::Lifecycle)?;
        }
        let quota = |vm: &Map<String, Value>| vm.get("quota").and_then(Value::as_u64).unwrap_or(0);
        if quota(old) != quota(new) {
            let pool = self.pool()?;
            let name = format!("{}/{id}", pool.name());
            if pool.exists(&name) {
                let dataset = basalt_pool::DatasetName::parse(&name).map_err(|e| fail(&e))?;
                let q = quota(new);
                pool.set_quota(&dataset, (q > 0).then_some(q << 30))?;
            }
        }
        Ok(())
    }

    /// Sends a signal to a zone's init (`vmadm kill`).
    pub fn kill(&self, uuid: &str, signo: i32) -> Result<(), NodeError> {
        let id = crate::instances::parse_uuid(uuid)?;
        if self.store().read(&id)?.is_none() {
            return Err(NodeError::NotFound(uuid.to_owned()));
        }
        let init = self
            .live_record(&id)
            .and_then(|r| r.init)
            .and_then(|i| pidfd(&i))
            .ok_or_else(|| {
                NodeError::Lifecycle(format!("Cannot find running init PID for VM {uuid}"))
            })?;
        basalt_zone::sys::pidfd_signal(init.as_fd(), signo)
            .map_err(|e| NodeError::Lifecycle(format!("cannot signal the zone's init: {e}")))
    }
}
