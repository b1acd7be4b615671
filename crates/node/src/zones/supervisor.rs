//! The per-zone supervisor (SmartOS's zoneadmd): one small single-threaded
//! process per running zone, started by `vmadm start` (or basaltd) and
//! outliving it. It makes the zone's cgroups, owns the console pty, boots
//! the zone, is the parent of its init (a child subreaper), keeps the
//! runtime record true, and ends the zone:
//!
//! - SIGTERM: a graceful stop — the init's own halt signal (systemd:
//!   SIGRTMIN+4, poweroff; busybox init: SIGUSR2), then SIGKILL after the
//!   stop timeout;
//! - SIGQUIT: a forced stop — SIGKILL to the init, and no boot after it
//!   whatever the zone was doing;
//! - SIGUSR1: a reboot — the init's reboot signal (systemd: SIGINT;
//!   busybox: SIGTERM), and a fresh boot once it has exited; SIGUSR2: a
//!   forced reboot (SIGKILL, then a fresh boot);
//! - the init exiting on its own: the zone stops, its exit recorded —
//!   unless the init rebooted (a reboot(2) in a pid namespace ends its
//!   init with SIGHUP), then the zone boots again.
//!
//! Its standard output is a pipe to whoever started it: one line,
//! `running <pid>` or `error: <why>`, then it is closed.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use basalt_metadata::Session;
use basalt_model::VmUuid;
use basalt_zone::boot::{self, Booted};
use basalt_zone::cgroup::{self, Cgroups, Limits};
use basalt_zone::spec::{CgroupMount, Filesystem, ZoneSpec};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use serde_json::{Map, Value};

use super::runtime::{Phase, ProcId, Record};
use super::spec::{brand_of, zone_spec};
use super::{metadata, network};
use crate::instances::{Node, now_iso};
use crate::paths::Paths;
use crate::store::Store;

/// The supervisor's network helper (`zonenet plumb <uuid> <init pid>`,
/// `zonenet unplumb <index>`), installed beside the supervisor's binary.
pub const NET_HELPER: &str = "zonenet";

/// The supervisor's network work, done by a short-lived helper process:
/// the supervisor's binary carries none of the network code (netlink,
/// nft, tc), so its resident memory stays that of its loop — the pages of
/// a larger binary are mapped in larger windows even where its code never
/// runs.
struct NetHelper<'a> {
    exe: &'a Path,
    paths: &'a Paths,
}

impl NetHelper<'_> {
    fn run(&self, args: &[&str]) -> Result<(), String> {
        // Only the helper installed with this supervisor: never another
        // found on the PATH.
        let helper = self.exe.with_file_name(NET_HELPER);
        let out = std::process::Command::new(&helper)
            .args(args)
            .env(crate::paths::ROOT_ENV, self.paths.root())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .output()
            .map_err(|e| {
                format!(
                    "cannot run the network helper {} (installed beside zoneadmd): {e}",
                    helper.display()
                )
            })?;
        let said = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        match (out.status.success(), said.is_empty()) {
            (true, _) => Ok(()),
            (false, false) => Err(said),
            (false, true) => Err(format!(
                "the network helper {} failed: {}",
                helper.display(),
                out.status
            )),
        }
    }
}

/// `zonenet ...`: what [`NetHelper`] asks, run in the helper process.
/// Returns its exit status.
pub fn net_helper_main(paths: Paths, args: &[String]) -> i32 {
    let result = match args {
        [verb, uuid, pid] if verb == "plumb" => plumb_booting(paths, uuid, pid),
        [verb, index] if verb == "unplumb" => index
            .parse()
            .map_err(|_| format!("not an index: {index}"))
            .and_then(|i| basalt_net::apply::teardown(i).map_err(|e| e.to_string())),
        _ => Err(format!(
            "usage: {NET_HELPER} plumb <uuid> <pid> | unplumb <index>"
        )),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// Plumbs the networks of zone `uuid` whose init is `pid` — a child of
/// the supervisor that started this process, not reaped while it waits,
/// so the pid cannot be another process's.
fn plumb_booting(paths: Paths, uuid: &str, pid: &str) -> Result<(), String> {
    let id: VmUuid = uuid.parse().map_err(|_| format!("not a uuid: {uuid}"))?;
    let pid = pid
        .parse::<i32>()
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| format!("not a pid: {pid}"))?;
    let node = Node::open(paths).map_err(|e| e.to_string())?;
    let vm = node
        .store()
        .read(&id)
        .map_err(|e| e.to_string())?
        .ok_or("the instance's configuration is gone")?;
    let net = node.zone_net(&vm).map_err(|e| e.to_string())?;
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| format!("cannot open the zone's init: {e}"))?;
    network::plumb(&net, pidfd.as_fd())
}

/// The cgroup under which every zone's group lives.
pub const CGROUP_PARENT: &str = "basalt";
/// The cgroup file system's mount point.
pub const CGROUP_MOUNT: &str = "/sys/fs/cgroup";
/// How long a graceful stop may take before the init is killed (SmartOS
/// halts an OS zone after 60 seconds).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// The most console output kept on disk; the log starts over past it.
const CONSOLE_LOG_MAX: u64 = 1 << 20;

/// A console pty: the master (non-blocking, so that a zone that does not
/// read its console never stalls the supervisor), the slave and its path;
/// both close-on-exec — the slave reaches the zone only by being sent.
fn console_pty() -> nix::Result<(OwnedFd, OwnedFd, PathBuf)> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
    )?;
    nix::pty::grantpt(&master)?;
    nix::pty::unlockpt(&master)?;
    let path = PathBuf::from(nix::pty::ptsname_r(&master)?);
    let slave = nix::fcntl::open(
        &path,
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    let master: OwnedFd = master.into();
    Ok((master, slave, path))
}

/// The metadata socket's name in its directory.
pub const METADATA_SOCKET: &str = "metadata.sock";

/// Listens on `<dir>/metadata.sock`: the directory readable by all (the
/// zone's root walks it through its bind), the socket the zone root's
/// alone (and host root's).
fn metadata_listener(
    dir: &Path,
    ids: Option<basalt_zone::spec::IdMap>,
) -> Result<UnixListener, String> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |e: std::io::Error| format!("metadata socket in {}: {e}", dir.display());
    fs::create_dir_all(dir).map_err(fail)?;
    // The directory is host root's own: never one a link put elsewhere.
    let meta = fs::symlink_metadata(dir).map_err(fail)?;
    if !meta.is_dir() || std::os::unix::fs::MetadataExt::uid(&meta) != 0 {
        return Err(fail(std::io::Error::other("not a directory of root's")));
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).map_err(fail)?;
    let path = dir.join(METADATA_SOCKET);
    let _ = fs::remove_file(&path);
    // Made 0600 from the start (the supervisor is single-threaded here, so
    // the process-wide umask is this call's alone).
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(&path);
    nix::sys::stat::umask(old);
    let listener = bound.map_err(fail)?;
    listener.set_nonblocking(true).map_err(fail)?;
    if let Some(ids) = ids {
        let id = Some(nix::unistd::Uid::from_raw(ids.base));
        let gid = Some(nix::unistd::Gid::from_raw(ids.base));
        nix::unistd::chown(&path, id, gid).map_err(|e| fail(e.into()))?;
    }
    Ok(listener)
}

/// The host's cgroups for zones.
pub fn cgroups() -> Result<Cgroups, cgroup::CgroupError> {
    Cgroups::detect(Path::new(CGROUP_MOUNT), CGROUP_PARENT)
}

/// The init's signals for halt and reboot, after what the init is.
fn init_signals(init: &ProcId) -> (i32, i32) {
    let exe = fs::read_link(format!("/proc/{}/exe", init.pid)).unwrap_or_default();
    if exe.to_string_lossy().contains("systemd") {
        (libc::SIGRTMIN() + 4, libc::SIGINT)
    } else {
        (libc::SIGUSR2, libc::SIGTERM)
    }
}

/// Runs the supervisor of instance `uuid` until its zone has stopped.
/// `exe` is this binary (it runs the boot stages); `ready` is where the
/// one readiness line goes. Returns the process's exit status.
pub fn run(paths: &Paths, uuid: &VmUuid, exe: &Path, ready: File) -> i32 {
    let mut ready = Some(ready);
    let mut say = |line: &str| {
        if let Some(mut r) = ready.take() {
            let _ = writeln!(r, "{line}");
        }
    };
    let mut sup = match Supervisor::new(paths, uuid, exe) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "supervisor could not start");
            say(&format!("error: {e}"));
            return 1;
        }
    };
    match sup.boot() {
        Ok(pid) => say(&format!("running {pid}")),
        Err(e) => {
            tracing::error!(error = %e, "boot failed");
            say(&format!("error: {e}"));
            sup.finish(None);
            return 1;
        }
    }
    let status = sup.watch();
    sup.finish(status);
    0
}

struct Supervisor {
    paths: Paths,
    uuid: VmUuid,
    exe: PathBuf,
    vm: Map<String, Value>,
    cgroups: Cgroups,
    signals: SignalFd,
    console: OwnedFd,
    console_tty: OwnedFd,
    console_path: PathBuf,
    listener: UnixListener,
    client: Option<UnixStream>,
    log: Option<File>,
    init: Option<(Booted, ProcId)>,
    record: Record,
    deadline: Option<Instant>,
    rebooting: bool,
    /// A stop was asked for: it wins over any reboot.
    stopping: bool,
    /// The node, for the metadata backend.
    node: Node,
    /// The metadata socket's directory on the host.
    zonecontrol: PathBuf,
    metadata: UnixListener,
    guests: Vec<Guest>,
}

/// One metadata client: its socket, its protocol session and the answers
/// it has not read yet.
struct Guest {
    stream: UnixStream,
    session: Session,
    /// Read, not yet answered (answered a line at a time).
    input: Vec<u8>,
    out: Vec<u8>,
}

/// The most metadata clients at once; more wait in the listen backlog.
const MAX_GUESTS: usize = 512;
/// A client that reads no answers stops being served past this many
/// unread bytes.
const MAX_UNREAD: usize = 1 << 20;
/// What all metadata clients together may hold in the supervisor (input,
/// unfinished lines, answers) before none is read or answered until they
/// drain: a zone cannot make its supervisor grow past this.
const MAX_HELD: usize = 32 << 20;
/// Lines answered for one client per turn of the loop, so that one client
/// cannot keep the supervisor from its signals and the others.
const LINES_PER_TURN: usize = 16;

impl Supervisor {
    fn new(paths: &Paths, uuid: &VmUuid, exe: &Path) -> Result<Supervisor, String> {
        let _ = nix::unistd::setsid();
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| format!("become a subreaper: {e}"))?;
        let mut mask = SigSet::empty();
        for s in [
            Signal::SIGCHLD,
            Signal::SIGTERM,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
            Signal::SIGQUIT,
            Signal::SIGINT,
            Signal::SIGHUP,
            Signal::SIGPIPE,
        ] {
            mask.add(s);
        }
        mask.thread_block()
            .map_err(|e| format!("block signals: {e}"))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| format!("signalfd: {e}"))?;
        let vm = Store::new(paths.clone())
            .read(uuid)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("zoneadm: {uuid}: No such zone configured"))?;
        let cgroups = cgroups().map_err(|e| e.to_string())?;
        let (master, slave, console_path) =
            console_pty().map_err(|e| format!("open a console pty: {e}"))?;
        let sock = paths.zone_console(uuid);
        if let Some(dir) = sock.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let _ = fs::remove_file(&sock);
        let listener =
            UnixListener::bind(&sock).map_err(|e| format!("listen on {}: {e}", sock.display()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("console socket: {e}"))?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(paths.zone_console_log(uuid))
            .ok();
        let node = Node::open(paths.clone()).map_err(|e| e.to_string())?;
        let zonename = vm
            .get("zonename")
            .and_then(Value::as_str)
            .unwrap_or(uuid.as_str())
            .to_owned();
        let zonecontrol = paths.zonecontrol(&zonename);
        let metadata = metadata_listener(&zonecontrol, super::id_map(&vm))?;
        let me = ProcId::current();
        Ok(Supervisor {
            paths: paths.clone(),
            uuid: uuid.clone(),
            exe: exe.to_owned(),
            vm,
            cgroups,
            signals,
            console: master,
            console_tty: slave,
            console_path,
            listener,
            client: None,
            log,
            init: None,
            record: Record {
                phase: Phase::Ready,
                supervisor: me,
                init: None,
                boot_timestamp: None,
                exit_status: None,
                exit_timestamp: None,
                boot_id: super::runtime::boot_id(),
            },
            deadline: None,
            rebooting: false,
            stopping: false,
            node,
            zonecontrol,
            metadata,
            guests: Vec::new(),
        })
    }

    fn save(&self) {
        if let Err(e) = self.record.write(&self.paths.zone_runtime(&self.uuid)) {
            tracing::error!(error = %e, "cannot write the runtime record");
        }
    }

    fn spec(&self) -> Result<ZoneSpec, String> {
        let ids = super::id_map(&self.vm)
            .ok_or_else(|| "the instance has no id range (zone_id_base)".to_owned())?;
        let mounts = if brand_of(&self.vm) == basalt_model::Brand::Lx {
            self.cgroups
                .zone_mounts()
                .into_iter()
                .map(|m| CgroupMount {
                    target: m.target.display().to_string(),
                    fstype: m.fstype.to_owned(),
                    data: m.data,
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut spec = zone_spec(
            &self.paths,
            &self.uuid,
            &self.vm,
            ids,
            Some(self.console_path.clone()),
            mounts,
        )
        .map_err(|e| e.to_string())?;
        spec.filesystems.push(Filesystem {
            fstype: "lofs".into(),
            source: self.zonecontrol.display().to_string(),
            target: metadata::zone_target(brand_of(&self.vm)).into(),
            options: vec!["ro".into()],
        });
        if let Some(tools) = metadata::guest_tools() {
            spec.filesystems.push(Filesystem {
                fstype: "lofs".into(),
                source: tools.display().to_string(),
                target: metadata::GUEST_TOOLS_TARGET.into(),
                options: vec!["ro".into()],
            });
        }
        Ok(spec)
    }

    /// Makes the cgroups and boots the zone; returns the init's pid.
    fn boot(&mut self) -> Result<i32, String> {
        self.record.phase = Phase::Ready;
        self.save();
        let spec = self.spec()?;
        let limits = Limits::from_vm(&self.vm).map_err(|e| e.to_string())?;
        let name = self.uuid.as_str();
        self.cgroups.create(name).map_err(|e| e.to_string())?;
        let settings = cgroup::plan(&limits, self.cgroups.backend());
        let skipped = self
            .cgroups
            .apply(name, &settings)
            .map_err(|e| e.to_string())?;
        for s in skipped {
            tracing::warn!(file = s.file, "not enforced on this host");
        }
        if brand_of(&self.vm) == basalt_model::Brand::Lx {
            self.cgroups
                .delegate(
                    name,
                    nix::unistd::Uid::from_raw(spec.ids.base),
                    nix::unistd::Gid::from_raw(spec.ids.base),
                )
                .map_err(|e| e.to_string())?;
        }
        let networked = network::has_nics(&self.vm);
        let helper = NetHelper {
            exe: &self.exe,
            paths: &self.paths,
        };
        let booted = boot::boot(
            &spec,
            &self.cgroups,
            &self.exe,
            Some(self.console_tty.as_fd()),
            &mut |pid, _| {
                if networked {
                    helper.run(&["plumb", self.uuid.as_str(), &pid.to_string()])
                } else {
                    Ok(())
                }
            },
        )
        .map_err(|e| {
            // Plumbed, then the boot failed: the zone's links must go.
            if networked {
                self.unplumb();
            }
            e.to_string()
        })?;
        let id = ProcId::of(booted.pid).ok_or("the zone's init vanished at once")?;
        let pid = booted.pid;
        self.init = Some((booted, id));
        self.record.phase = Phase::Running;
        self.record.init = Some(id);
        self.record.boot_timestamp = Some(now_iso());
        self.save();
        tracing::info!(pid, "zone running");
        Ok(pid)
    }

    fn signal_init(&self, signo: i32) {
        if let Some((booted, _)) = &self.init
            && let Err(e) = basalt_zone::sys::pidfd_signal(booted.pidfd.as_fd(), signo)
        {
            tracing::warn!(signo, error = %e, "cannot signal the init");
        }
    }

    /// Watches the zone until it has stopped; returns the init's last
    /// exit status.
    fn watch(&mut self) -> Option<i32> {
        loop {
            let timeout = match self.deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    PollTimeout::try_from(left.as_millis().min(60_000) as i32)
                        .unwrap_or(PollTimeout::MAX)
                }
                None => PollTimeout::NONE,
            };
            let mut fds = vec![
                PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.console.as_fd(), PollFlags::POLLIN),
                PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
                PollFd::new(
                    self.metadata.as_fd(),
                    if self.guests.len() < MAX_GUESTS {
                        PollFlags::POLLIN
                    } else {
                        PollFlags::empty()
                    },
                ),
            ];
            let room = self.guest_bytes() < MAX_HELD;
            for g in &self.guests {
                let mut want = PollFlags::empty();
                if g.input.is_empty() && g.out.len() < MAX_UNREAD && room {
                    want |= PollFlags::POLLIN;
                }
                // Writable wakes the loop for answers to send and for
                // input left unanswered last turn.
                if !g.out.is_empty() || (!g.input.is_empty() && room) {
                    want |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(g.stream.as_fd(), want));
            }
            let console_client = self.client.as_ref().map(|c| c.as_fd());
            if let Some(c) = console_client {
                fds.push(PollFd::new(c, PollFlags::POLLIN));
            }
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "poll");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            let ready: Vec<bool> = fds
                .iter()
                .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
                .collect();
            drop(fds);
            // Signals first: no client may keep a stop waiting.
            if ready[0]
                && let Some(status) = self.handle_signals()
            {
                return status;
            }
            if ready[1] {
                self.pump_console();
            }
            if ready[2] {
                self.accept_client();
            }
            let guests = self.guests.len();
            if ready.get(4 + guests).copied().unwrap_or(false) {
                self.pump_client();
            }
            let busy: Vec<usize> = (0..guests).filter(|i| ready[4 + i]).collect();
            self.serve_guests(&busy);
            if ready[3] {
                self.accept_guests();
            }
            if let Some(d) = self.deadline
                && Instant::now() >= d
            {
                tracing::warn!("the init did not stop in time: killing it");
                self.signal_init(libc::SIGKILL);
                self.deadline = None;
            }
        }
    }

    /// Handles pending signals; `Some` once the zone has stopped for good.
    fn handle_signals(&mut self) -> Option<Option<i32>> {
        while let Ok(Some(info)) = self.signals.read_signal() {
            match Signal::try_from(info.ssi_signo as i32) {
                Ok(Signal::SIGTERM | Signal::SIGINT) => self.stop(false),
                Ok(Signal::SIGUSR1) => self.stop(true),
                Ok(Signal::SIGUSR2) if !self.stopping => {
                    self.rebooting = true;
                    self.signal_init(libc::SIGKILL);
                }
                Ok(Signal::SIGQUIT) => {
                    self.stopping = true;
                    self.rebooting = false;
                    self.signal_init(libc::SIGKILL);
                }
                Ok(Signal::SIGCHLD) => {
                    if let Some(done) = self.reap() {
                        return Some(done);
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn stop(&mut self, reboot: bool) {
        if self.stopping {
            return;
        }
        let Some((_, id)) = &self.init else { return };
        let (halt, restart) = init_signals(id);
        self.rebooting = reboot;
        self.stopping = !reboot;
        self.record.phase = Phase::ShuttingDown;
        self.save();
        self.signal_init(if reboot { restart } else { halt });
        self.deadline = Some(Instant::now() + STOP_TIMEOUT);
    }

    /// Reaps exited children; when the init has exited, tears the zone
    /// down and either boots it again or reports it stopped.
    fn reap(&mut self) -> Option<Option<i32>> {
        loop {
            let status = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return None,
                Ok(s) => s,
            };
            let init_pid = self.init.as_ref().map(|(b, _)| b.pid);
            let (pid, code, rebooted) = match status {
                WaitStatus::Exited(pid, code) => (pid.as_raw(), code, false),
                // reboot(2) in a pid namespace ends its init with SIGINT
                // (halt, power off: a clean stop, status 0) or SIGHUP
                // (restart).
                WaitStatus::Signaled(pid, Signal::SIGINT, _) => (pid.as_raw(), 0, false),
                WaitStatus::Signaled(pid, sig, _) => {
                    (pid.as_raw(), 128 + sig as i32, sig == Signal::SIGHUP)
                }
                _ => continue,
            };
            if Some(pid) != init_pid {
                continue;
            }
            tracing::info!(pid, code, "the zone's init exited");
            self.init = None;
            self.deadline = None;
            self.record.init = None;
            self.record.exit_status = Some(code);
            self.record.exit_timestamp = Some(now_iso());
            self.teardown();
            if (rebooted || self.rebooting) && !self.stopping {
                self.rebooting = false;
                match self.reload().and_then(|()| self.boot()) {
                    Ok(_) => continue,
                    Err(e) => tracing::error!(error = %e, "reboot failed"),
                }
            }
            return Some(Some(code));
        }
    }

    /// Reads the configuration again (a reboot picks up changes).
    fn reload(&mut self) -> Result<(), String> {
        self.vm = Store::new(self.paths.clone())
            .read(&self.uuid)
            .map_err(|e| e.to_string())?
            .ok_or("the instance's configuration is gone")?;
        Ok(())
    }

    /// Removes the zone's host links, filters and caps, and its cgroups
    /// once the kernel has ended the processes the init left (its pid
    /// namespace's end kills them all).
    fn teardown(&mut self) {
        // NICs may have been added live: the stored configuration says so
        // when the one the zone booted with does not.
        let stored = Store::new(self.paths.clone())
            .read(&self.uuid)
            .ok()
            .flatten();
        if network::has_nics(&self.vm) || stored.as_ref().is_some_and(network::has_nics) {
            self.unplumb();
        }
        if let Err(e) = self
            .cgroups
            .remove_when_empty(self.uuid.as_str(), Duration::from_secs(5))
        {
            tracing::error!(error = %e, "the zone's cgroups did not empty");
        }
    }

    /// Removes the zone's host links, filters and caps.
    fn unplumb(&self) {
        if let Some(index) = network::instance_index(&self.vm) {
            let helper = NetHelper {
                exe: &self.exe,
                paths: &self.paths,
            };
            if let Err(e) = helper.run(&["unplumb", &index.to_string()]) {
                tracing::error!(error = %e, "cannot remove the zone's network links");
            }
        }
    }

    fn finish(&mut self, status: Option<i32>) {
        if let Some((booted, _)) = self.init.take() {
            let _ = basalt_zone::sys::pidfd_signal(booted.pidfd.as_fd(), libc::SIGKILL);
            let _ = waitpid(nix::unistd::Pid::from_raw(booted.pid), None);
        }
        self.teardown();
        self.record.phase = Phase::Stopped;
        self.record.init = None;
        if status.is_some() {
            self.record.exit_status = status;
        }
        self.save();
        let _ = fs::remove_file(self.paths.zone_console(&self.uuid));
        let _ = fs::remove_file(self.zonecontrol.join(METADATA_SOCKET));
        let _ = fs::remove_dir(&self.zonecontrol);
        tracing::info!("zone stopped");
    }

    fn accept_guests(&mut self) {
        while self.guests.len() < MAX_GUESTS {
            match self.metadata.accept() {
                Ok((stream, _)) => {
                    if stream.set_nonblocking(true).is_ok() {
                        self.guests.push(Guest {
                            stream,
                            session: Session::new(),
                            input: Vec::new(),
                            out: Vec::new(),
                        });
                    }
                }
                Err(_) => return,
            }
        }
    }

    /// Bytes held for all metadata clients: unread answers, unanswered
    /// input, unfinished lines.
    fn guest_bytes(&self) -> usize {
        self.guests
            .iter()
            .map(|g| g.out.len() + g.input.len() + g.session.pending())
            .sum()
    }

    /// Serves the clients at `busy` (indices): reads what one sent when
    /// all it sent before is answered, answers it a line at a time — at
    /// most [`LINES_PER_TURN`] lines, and only while the answers waiting
    /// (its own and everyone's) stay under their bounds, since one short
    /// request may fetch a long value — then writes what it can take.
    /// Drops the ones that hung up.
    fn serve_guests(&mut self, busy: &[usize]) {
        let mut gone = Vec::new();
        let mut held = self.guest_bytes();
        for &i in busy {
            let mut backend = metadata::NodeBackend::new(&self.node, &self.uuid);
            let g = &mut self.guests[i];
            if g.input.is_empty() && g.out.len() < MAX_UNREAD && held < MAX_HELD {
                let mut buf = [0u8; 16 * 1024];
                match g.stream.read(&mut buf) {
                    Ok(0) => {
                        gone.push(i);
                        continue;
                    }
                    Ok(n) => {
                        g.input.extend_from_slice(&buf[..n]);
                        held += n;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => {
                        gone.push(i);
                        continue;
                    }
                }
            }
            if held < MAX_HELD {
                let limit = MAX_UNREAD.min(g.out.len() + (MAX_HELD - held));
                let delta = metadata::answer_lines(
                    &mut g.session,
                    &mut backend,
                    &mut g.input,
                    &mut g.out,
                    limit,
                    LINES_PER_TURN,
                );
                held = held.saturating_add_signed(delta);
            }
            while !g.out.is_empty() {
                match g.stream.write(&g.out) {
                    Ok(n) => {
                        g.out.drain(..n);
                        held = held.saturating_sub(n);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        gone.push(i);
                        break;
                    }
                }
            }
        }
        gone.sort_unstable();
        gone.dedup();
        for i in gone.into_iter().rev() {
            self.guests.swap_remove(i);
        }
    }

    fn pump_console(&mut self) {
        let mut buf = [0u8; 4096];
        let n = match nix::unistd::read(&self.console, &mut buf) {
            Ok(n) if n > 0 => n,
            _ => return,
        };
        if let Some(log) = &mut self.log {
            if log.metadata().map(|m| m.len()).unwrap_or(0) > CONSOLE_LOG_MAX {
                let _ = log.set_len(0);
            }
            let _ = log.write_all(&buf[..n]);
        }
        if let Some(c) = &mut self.client
            && c.write_all(&buf[..n]).is_err()
        {
            self.client = None;
        }
    }

    fn accept_client(&mut self) {
        if let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            // One console user at a time: the newest takes it over.
            self.client = Some(stream);
        }
    }

    fn pump_client(&mut self) {
        let mut buf = [0u8; 1024];
        let Some(c) = &mut self.client else { return };
        match c.read(&mut buf) {
            Ok(n) if n > 0 => {
                let _ = nix::unistd::write(&self.console, &buf[..n]);
            }
            _ => self.client = None,
        }
    }
}
