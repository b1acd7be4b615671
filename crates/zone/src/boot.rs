//! Booting a zone: the supervisor's side and the two stages that run in the
//! zone's namespaces before its init.
//!
//! No process forks itself here: each stage is the supervisor's own binary
//! started again (`--zone-stage1`, `--zone-stage2`), single-threaded, with
//! a socket to the supervisor as its standard input.
//!
//! 1. The supervisor starts stage 1 and puts it in the zone's cgroups.
//! 2. Stage 1 enters the zone's root directory (as host root: the zone's
//!    root user may not be able to walk the host's path to it) and
//!    unshares the user, mount, pid, uts, ipc, net and cgroup namespaces
//!    (the cgroup namespace is rooted at the zone's cgroup; the working
//!    directory moves into the new mount namespace).
//! 3. The supervisor writes its uid and gid maps (zone 0 → the zone's host
//!    range).
//! 4. Stage 1 becomes the zone's root and starts stage 2, which is PID 1 of
//!    the new pid namespace, then exits: stage 2 is re-parented to the
//!    supervisor, a child subreaper, so the supervisor is the parent of the
//!    zone's init.
//! 5. The supervisor prepares what the zone needs from the host in its
//!    namespaces (its network links), through a hook of the caller's.
//! 6. The supervisor clones the zone's root as a detached mount, makes it
//!    idmapped through the zone's user namespace (image files owned by
//!    root on disk are the zone's root's), and sends it, the spec and the
//!    console over the socket.
//! 7. Stage 2 attaches the root, builds the zone's file system
//!    ([`crate::mounts`]), pivots into it, sets the hostname, bounds its
//!    capabilities ([`crate::security`]), installs the seccomp filter and
//!    execs the init with the console as its terminal, in its working
//!    directory, as its user ([`crate::user`], looked up in the zone's own
//!    files). The socket closes on exec; an error is sent as a line before
//!    it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags};
use nix::unistd::{Gid, Uid};

use crate::cgroup::{CgroupError, Cgroups};
use crate::mounts::{self, Step};
use crate::spec::ZoneSpec;

/// The argument that makes the supervisor's binary run stage 1.
pub const STAGE1_ARG: &str = "--zone-stage1";
/// The argument that makes the supervisor's binary run stage 2.
pub const STAGE2_ARG: &str = "--zone-stage2";

/// The argument that makes the supervisor's binary resize a running
/// zone's `/tmp` (`--zone-resize-tmp <uuid> <MiB>`).
pub const RESIZE_TMP_ARG: &str = "--zone-resize-tmp";

/// How long one step of a boot may take before it is abandoned.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// A failure to boot a zone.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// The zone's cgroup could not take the process.
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    /// A step on the supervisor's side failed.
    #[error("failed to {what}: {source}")]
    Io {
        /// The step.
        what: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A stage in the zone failed and said why.
    #[error("zone setup failed: {0}")]
    Stage(String),
    /// The caller's preparation of the zone's namespaces failed.
    #[error("{0}")]
    Prepare(String),
}

/// The caller's work in a new zone's namespaces before its init runs,
/// given the zone's PID 1: its host pid (which stays its own until the
/// caller reaps it) and a pidfd (`setns` on it enters the namespaces).
pub type Prepare<'a> = &'a mut dyn FnMut(i32, BorrowedFd<'_>) -> Result<(), String>;

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> BootError {
    let what = what.into();
    move |source| BootError::Io { what, source }
}

/// A booted zone: its init's pid (on the host) and a pidfd for it.
#[derive(Debug)]
pub struct Booted {
    /// The init's host pid.
    pub pid: i32,
    /// A pidfd of the init, for signals without pid reuse races.
    pub pidfd: OwnedFd,
}

/// Boots a zone whose cgroups exist. `exe` is the supervisor's binary
/// (which runs the stages), `console` the terminal for the init's
/// standard streams and /dev/console; `prepare` runs once the zone's
/// namespaces exist and before anything runs in them. The caller must be a
/// child subreaper so that it becomes the init's parent.
pub fn boot(
    spec: &ZoneSpec,
    cgroups: &Cgroups,
    exe: &Path,
    console: Option<BorrowedFd<'_>>,
    prepare: Prepare<'_>,
) -> Result<Booted, BootError> {
    let (chan, theirs) = UnixStream::pair().map_err(io_err("make the setup socket"))?;
    chan.set_read_timeout(Some(STEP_TIMEOUT))
        .map_err(io_err("set a timeout on the setup socket"))?;
    let mut stage1 = Command::new(exe)
        .arg(STAGE1_ARG)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .spawn()
        .map_err(io_err(format!("start {}", exe.display())))?;
    let result = boot_with(spec, cgroups, &chan, stage1.id() as i32, console, prepare);
    if result.is_err() {
        // Stage 1 may be waiting for a word that will not come.
        let _ = chan.shutdown(std::net::Shutdown::Both);
        let _ = stage1.kill();
    }
    let _ = stage1.wait();
    result
}

fn boot_with(
    spec: &ZoneSpec,
    cgroups: &Cgroups,
    chan: &UnixStream,
    stage1: i32,
    console: Option<BorrowedFd<'_>>,
    prepare: Prepare<'_>,
) -> Result<Booted, BootError> {
    cgroups.attach(&spec.name, stage1 as u32)?;
    send(chan, &format!("unshare {}", spec.root.display()))?;
    expect(chan, "unshared")?;
    for map in ["uid_map", "gid_map"] {
        let path = format!("/proc/{stage1}/{map}");
        std::fs::write(&path, spec.ids.proc_line()).map_err(io_err(format!("write {path}")))?;
    }
    send(chan, "mapped")?;
    let line = expect_prefix(chan, "pid ")?;
    let pid: i32 = line
        .parse()
        .map_err(|_| BootError::Stage(format!("bad pid from stage 1: {line}")))?;
    let pidfd = rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid)
            .ok_or_else(|| BootError::Stage(format!("bad pid {pid}")))?,
        rustix::process::PidfdFlags::empty(),
    )
    .map_err(|e| io_err("open the init's pidfd")(e.into()))?;
    let booted = Booted { pid, pidfd };
    let ready = prepare(pid, booted.pidfd.as_fd())
        .map_err(BootError::Prepare)
        .and_then(|()| hand_over(spec, chan, pid, console));
    match ready {
        Ok(()) => Ok(booted),
        Err(e) => {
            // The zone's PID 1 dies with every process it had.
            let _ =
                rustix::process::pidfd_send_signal(&booted.pidfd, rustix::process::Signal::KILL);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            Err(e)
        }
    }
}

fn hand_over(
    spec: &ZoneSpec,
    chan: &UnixStream,
    pid: i32,
    console: Option<BorrowedFd<'_>>,
) -> Result<(), BootError> {
    let userns = File::open(format!("/proc/{pid}/ns/user"))
        .map_err(io_err("open the zone's user namespace"))?;
    let tree = rustix::mount::open_tree(
        rustix::fs::CWD,
        &spec.root,
        rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
            | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .map_err(|e| io_err(format!("clone the mount of {}", spec.root.display()))(e.into()))?;
    crate::sys::idmap_mount(tree.as_fd(), userns.as_fd()).map_err(io_err(format!(
        "idmap the mount of {}",
        spec.root.display()
    )))?;
    if let Some(tty) = console {
        let (uid, gid) = (spec.ids.base, spec.ids.base + TTY_GID);
        nix::unistd::fchown(tty, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))
            .map_err(|e| io_err("give the console to the zone")(e.into()))?;
    }
    // Every bind's source is cloned here, as host root: the zone's setup
    // resolves nothing on the host by path.
    let mut binds = Vec::new();
    for step in mounts::plan(spec) {
        if let Step::Bind { source, .. } = step {
            let clone = rustix::mount::open_tree(
                rustix::fs::CWD,
                &source,
                rustix::mount::OpenTreeFlags::OPEN_TREE_CLONE
                    | rustix::mount::OpenTreeFlags::OPEN_TREE_CLOEXEC
                    | rustix::mount::OpenTreeFlags::AT_RECURSIVE,
            )
            .map_err(|e| io_err(format!("clone the mount of {}", source.display()))(e.into()))?;
            binds.push(clone);
        }
    }
    let json = serde_json::to_string(spec).expect("a spec serialises");
    send(chan, &json)?;
    let mut fds = vec![tree.as_raw_fd()];
    fds.extend(console.map(|c| c.as_raw_fd()));
    fds.extend(binds.iter().map(AsRawFd::as_raw_fd));
    send_fds(chan, &fds).map_err(io_err("send the root and console to the zone"))?;
    match recv_line(chan).map_err(io_err("wait for the zone's init"))? {
        None => Ok(()),
        Some(line) => Err(BootError::Stage(
            line.strip_prefix("error: ").unwrap_or(&line).to_owned(),
        )),
    }
}

/// The most descriptors one `SCM_RIGHTS` message carries (the kernel's
/// `SCM_MAX_FD`): the root, the console and every bind source of a zone.
const SCM_MAX_FD: usize = 253;

/// The group id of `tty` in the zone (Debian's and busybox's).
const TTY_GID: u32 = 5;

fn send(chan: &UnixStream, line: &str) -> Result<(), BootError> {
    let mut w = chan;
    w.write_all(format!("{line}\n").as_bytes())
        .map_err(io_err("talk to the zone's setup"))
}

fn recv_line(chan: &UnixStream) -> io::Result<Option<String>> {
    read_line(&mut &*chan)
}

/// Reads one line, a byte at a time (so that nothing after it is taken
/// from the stream); `None` at the end of the stream.
pub fn read_line(r: &mut impl Read) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match r.read(&mut byte)? {
            0 if line.is_empty() => return Ok(None),
            0 => break,
            _ if byte[0] == b'\n' => break,
            _ => line.push(byte[0]),
        }
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

fn expect_prefix(chan: &UnixStream, prefix: &str) -> Result<String, BootError> {
    match recv_line(chan).map_err(io_err("wait for the zone's setup"))? {
        Some(line) if line.starts_with(prefix) => Ok(line[prefix.len()..].to_owned()),
        Some(line) => Err(BootError::Stage(
            line.strip_prefix("error: ").unwrap_or(&line).to_owned(),
        )),
        None => Err(BootError::Stage("the zone's setup ended early".into())),
    }
}

fn expect(chan: &UnixStream, word: &str) -> Result<(), BootError> {
    expect_prefix(chan, word).map(drop)
}

fn send_fds(chan: &UnixStream, fds: &[RawFd]) -> io::Result<()> {
    let iov = [io::IoSlice::new(b"F")];
    let cmsg = [ControlMessage::ScmRights(fds)];
    nix::sys::socket::sendmsg::<()>(chan.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)?;
    Ok(())
}

fn recv_fds(chan: &UnixStream, n: usize) -> io::Result<Vec<OwnedFd>> {
    let mut byte = [0u8; 1];
    let mut iov = [io::IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([RawFd; SCM_MAX_FD]);
    let msg = nix::sys::socket::recvmsg::<()>(
        chan.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(received) = c {
            fds.extend(received.into_iter().map(crate::sys::own_received_fd));
        }
    }
    if fds.len() != n {
        return Err(io::Error::other(format!(
            "expected {n} descriptors, got {}",
            fds.len()
        )));
    }
    Ok(fds)
}

/// The socket to the supervisor, from a stage's standard input.
fn stage_channel() -> io::Result<UnixStream> {
    let fd = io::stdin().as_fd().try_clone_to_owned()?;
    Ok(UnixStream::from(fd))
}

/// Runs a stage to its end: reports a failure to the supervisor and
/// returns the process's exit status.
fn run_stage(f: impl FnOnce(&UnixStream) -> Result<(), String>) -> i32 {
    let chan = match stage_channel() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("zone setup: no channel to the supervisor: {e}");
            return 1;
        }
    };
    match f(&chan) {
        Ok(()) => 0,
        Err(e) => {
            let _ = send(&chan, &format!("error: {e}"));
            1
        }
    }
}

fn wait_for_prefix(chan: &UnixStream, prefix: &str) -> Result<String, String> {
    match recv_line(chan) {
        Ok(Some(line)) if line.starts_with(prefix) => Ok(line[prefix.len()..].to_owned()),
        Ok(Some(line)) => Err(format!(
            "expected {prefix:?} from the supervisor, got {line:?}"
        )),
        Ok(None) => Err("the supervisor went away".into()),
        Err(e) => Err(format!("reading from the supervisor: {e}")),
    }
}

fn wait_for(chan: &UnixStream, word: &str) -> Result<(), String> {
    match recv_line(chan) {
        Ok(Some(line)) if line == word => Ok(()),
        Ok(Some(line)) => Err(format!(
            "expected {word:?} from the supervisor, got {line:?}"
        )),
        Ok(None) => Err("the supervisor went away".into()),
        Err(e) => Err(format!("reading from the supervisor: {e}")),
    }
}

fn ctx<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + use<'_, E> {
    move |e| format!("{what}: {e}")
}

/// Stage 1: unshare the namespaces, become the zone's root, start stage 2.
/// Returns the exit status.
pub fn stage1_main() -> i32 {
    run_stage(|chan| {
        let exe = std::env::current_exe().map_err(ctx("find my own binary"))?;
        let root = wait_for_prefix(chan, "unshare ")?;
        // Entered as host root: once the zone's root, this process may not
        // be able to walk the host's path. unshare carries the working
        // directory over into the new mount namespace.
        std::env::set_current_dir(&root).map_err(ctx(&format!("enter {root}")))?;
        nix::sched::unshare(
            CloneFlags::CLONE_NEWUSER
                | CloneFlags::CLONE_NEWNS
                | CloneFlags::CLONE_NEWPID
                | CloneFlags::CLONE_NEWUTS
                | CloneFlags::CLONE_NEWIPC
                | CloneFlags::CLONE_NEWNET
                | CloneFlags::CLONE_NEWCGROUP,
        )
        .map_err(ctx("unshare the zone's namespaces"))?;
        send(chan, "unshared").map_err(|e| e.to_string())?;
        wait_for(chan, "mapped")?;
        let root_gid = Gid::from_raw(0);
        nix::unistd::setresgid(root_gid, root_gid, root_gid)
            .map_err(ctx("become the zone's root group"))?;
        nix::unistd::setgroups(&[]).map_err(ctx("drop supplementary groups"))?;
        let root = Uid::from_raw(0);
        nix::unistd::setresuid(root, root, root).map_err(ctx("become the zone's root"))?;
        let theirs = chan.try_clone().map_err(ctx("share the channel"))?;
        let stage2 = Command::new(&exe)
            .arg(STAGE2_ARG)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .spawn()
            .map_err(ctx("start the zone's first process"))?;
        send(chan, &format!("pid {}", stage2.id())).map_err(|e| e.to_string())
    })
}

/// Stage 2, PID 1 of the zone: build the zone's file system, confine
/// itself and exec the init. Returns only on failure.
pub fn stage2_main() -> i32 {
    run_stage(|chan| {
        let line = recv_line(chan)
            .map_err(ctx("read the zone's spec"))?
            .ok_or("the supervisor went away")?;
        let spec: ZoneSpec = serde_json::from_str(&line).map_err(ctx("parse the zone's spec"))?;
        let plan = mounts::plan(&spec);
        let binds = plan
            .iter()
            .filter(|s| matches!(s, Step::Bind { .. }))
            .count();
        let n = 1 + usize::from(spec.console.is_some()) + binds;
        let mut fds = recv_fds(chan, n)
            .map_err(ctx("receive the root"))?
            .into_iter();
        let tree = fds.next().expect("counted");
        let console = if spec.console.is_some() {
            fds.next()
        } else {
            None
        };
        build_root(&spec, &plan, tree.as_fd(), fds.collect())?;
        drop(tree);
        nix::unistd::sethostname(&spec.hostname).map_err(ctx("set the hostname"))?;
        confine().map_err(|e| e.to_string())?;
        nix::unistd::setsid().map_err(ctx("start a session"))?;
        let stdio = match console {
            Some(tty) => {
                rustix::process::ioctl_tiocsctty(&tty)
                    .map_err(|e| format!("take the console as terminal: {e}"))?;
                tty
            }
            None => OwnedFd::from(File::open("/dev/null").map_err(ctx("open /dev/null"))?),
        };
        exec_init(&spec, stdio)
    })
}

/// Bounds the capabilities and installs the seccomp filter: what the
/// zone's init, and everything it starts, lives under.
pub fn confine() -> Result<(), crate::security::SecurityError> {
    crate::security::bound_capabilities()?;
    crate::security::install_seccomp(&crate::security::seccomp_filter()?)
}

/// Executes the spec's init, in the zone's root (after the pivot: the
/// user is looked up in the zone's own account files, and the working
/// directory made and entered there).
fn exec_init(spec: &ZoneSpec, stdio: OwnedFd) -> Result<(), String> {
    let (program, args) = spec.init.split_first().ok_or("the zone has no init")?;
    let identity = spec
        .user
        .as_deref()
        .map(|u| crate::user::lookup(u, spec.ids.count))
        .transpose()
        .map_err(|e| match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        })?;
    enter_workdir(spec.workdir.as_deref().unwrap_or("/"))?;
    // The init gets the console as 0, 1 and 2, and nothing else.
    crate::sys::cloexec_from(3).map_err(ctx("close the supervisor's descriptors"))?;
    let out = stdio.try_clone().map_err(ctx("share the console"))?;
    let err = stdio.try_clone().map_err(ctx("share the console"))?;
    let mut init = Command::new(program);
    init.args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)));
    if let Some(id) = identity {
        if !spec.env.iter().any(|(k, _)| k == "HOME") {
            init.env("HOME", &id.home);
        }
        become_user(&id)?;
    }
    let e = init
        .stdin(Stdio::from(stdio))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .exec();
    Err(format!("exec {program}: {e}"))
}

/// Becomes `id` for good: its group, no supplementary groups, its user
/// (which drops every capability left).
fn become_user(id: &crate::user::Identity) -> Result<(), String> {
    let gid = Gid::from_raw(id.gid);
    nix::unistd::setgroups(&[]).map_err(ctx("drop supplementary groups"))?;
    nix::unistd::setresgid(gid, gid, gid).map_err(ctx(&format!("become group {gid}")))?;
    let uid = Uid::from_raw(id.uid);
    nix::unistd::setresuid(uid, uid, uid).map_err(ctx(&format!("become user {uid}")))
}

/// Makes (as docker does) and enters the init's working directory, a path
/// inside the zone.
fn enter_workdir(workdir: &str) -> Result<(), String> {
    let dir = Path::new("/").join(workdir);
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::env::set_current_dir(&dir))
        .map_err(|e| format!("enter the working directory {}: {e}", dir.display()))
}

/// Attaches the idmapped root over the working directory (the spec's root
/// directory, entered by stage 1 while it could still walk the host's path
/// to it), applies the mount plan under it and pivots into it.
///
/// The plan is applied chrooted into the zone's root, so that a symbolic
/// link the zone left in its file system resolves inside it, never on the
/// host; the sources of binds come as descriptors (`binds`, in the plan's
/// order). The chroot is left through a descriptor of the host's root, to
/// pivot.
fn build_root(
    spec: &ZoneSpec,
    plan: &[Step],
    tree: BorrowedFd<'_>,
    binds: Vec<OwnedFd>,
) -> Result<(), String> {
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(ctx("make the zone's mounts private"))?;
    let host_root = File::open("/").map_err(ctx("open /"))?;
    rustix::mount::move_mount(
        tree,
        "",
        rustix::fs::CWD,
        ".",
        rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| format!("attach the zone's root at {}: {e}", spec.root.display()))?;
    nix::unistd::fchdir(tree).map_err(ctx("enter the zone's root"))?;
    nix::unistd::chroot(".").map_err(ctx("chroot into the zone's root"))?;
    let mut binds = binds.into_iter();
    for step in plan {
        let bind = match step {
            Step::Bind { .. } => Some(binds.next().ok_or("a bind without its source")?),
            _ => None,
        };
        apply(step, bind).map_err(|e| format!("{step:?}: {e}"))?;
    }
    nix::unistd::fchdir(&host_root).map_err(ctx("return to /"))?;
    nix::unistd::chroot(".").map_err(ctx("leave the chroot"))?;
    nix::unistd::fchdir(tree).map_err(ctx("enter the zone's root"))?;
    nix::unistd::pivot_root(".", ".").map_err(ctx("pivot into the zone's root"))?;
    nix::mount::umount2(".", MntFlags::MNT_DETACH).map_err(ctx("detach the host's file system"))?;
    std::env::set_current_dir("/").map_err(ctx("enter /"))?;
    Ok(())
}

/// A plan's target inside the chroot.
fn target_path(rel: &str) -> PathBuf {
    Path::new("/").join(rel.trim_start_matches('/'))
}

/// Applies one step, chrooted in the zone's root; `bind` is the source of
/// a bind step.
fn apply(step: &Step, bind: Option<OwnedFd>) -> io::Result<()> {
    match step {
        Step::Mount {
            fstype,
            source,
            target,
            flags,
            data,
        } => {
            let path = target_path(target);
            std::fs::create_dir_all(&path)?;
            let data = (!data.is_empty()).then_some(data.as_str());
            nix::mount::mount(
                Some(source.as_str()),
                &path,
                Some(fstype.as_str()),
                *flags,
                data,
            )?;
        }
        Step::Bind {
            target, read_only, ..
        } => {
            let source = bind.ok_or_else(|| io::Error::other("no source"))?;
            let path = target_path(target);
            let is_dir = rustix::fs::fstat(&source)
                .map(|st| {
                    rustix::fs::FileType::from_raw_mode(st.st_mode)
                        == rustix::fs::FileType::Directory
                })
                .map_err(io::Error::from)?;
            if is_dir {
                std::fs::create_dir_all(&path)?;
            } else if !path.exists() {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                File::create(&path)?;
            }
            rustix::mount::move_mount(
                &source,
                "",
                rustix::fs::CWD,
                &path,
                rustix::mount::MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
            )?;
            if *read_only {
                remount_read_only(&path)?;
            }
        }
        Step::ReadOnly { target } => {
            let path = target_path(target);
            if !path.exists() {
                return Ok(());
            }
            nix::mount::mount(
                Some(&path),
                &path,
                None::<&str>,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None::<&str>,
            )?;
            remount_read_only(&path)?;
        }
        Step::Symlink { link, to } => {
            let path = target_path(link);
            match std::os::unix::fs::symlink(to, &path) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                r => r?,
            }
        }
    }
    Ok(())
}

/// Remounts a bind read-only, keeping the flags the kernel locks in a
/// user namespace (nosuid, nodev, noexec, atime) as they are.
fn remount_read_only(path: &Path) -> io::Result<()> {
    use nix::sys::statvfs::FsFlags;
    let have = nix::sys::statvfs::statvfs(path)?.flags();
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (st, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if have.contains(st) {
            flags |= ms;
        }
    }
    nix::mount::mount(None::<&str>, path, None::<&str>, flags, None::<&str>)?;
    Ok(())
}
