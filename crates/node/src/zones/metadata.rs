//! The metadata service of one zone, as its supervisor runs it: a unix
//! socket at `/var/zonecontrol/<zonename>/metadata.sock` on the host (the
//! directory is bound read-only into the zone at `/.zonecontrol`, or
//! `/native/.zonecontrol` for lx), and the node's backend behind the
//! protocol's sessions. Reads see the instance's configuration as it is at
//! that moment (an update is seen at once); PUT and DELETE are vmadm
//! updates of `customer_metadata` (or `internal_metadata`), stored
//! atomically.

use std::time::Duration;

use basalt_metadata::{Backend, Failure, Lookup, Routing};
use basalt_model::VmUuid;
use serde_json::{Map, Value, json};

use crate::instances::Node;

/// The most a guest may keep in its `customer_metadata` (the stored JSON of
/// that object): writes past it are refused, so a zone cannot fill the
/// host's disk through its configuration.
pub const MAX_GUEST_METADATA: usize = 4 << 20;

/// Where the host keeps the guest tools (`mdata-get`, `mdata-put`,
/// `mdata-list`, `mdata-delete`, statically linked) that every zone gets
/// read-only; `BASALT_ZONE_TOOLS` names another directory.
pub const GUEST_TOOLS: &str = "/usr/local/lib/basalt/zone-tools";
/// The environment variable naming the guest tools' directory.
pub const GUEST_TOOLS_ENV: &str = "BASALT_ZONE_TOOLS";
/// Where a zone sees them (as in SmartOS's lx zones, for every brand; it is
/// on the init's and zlogin's PATH).
pub const GUEST_TOOLS_TARGET: &str = "/native/usr/sbin";

/// The guest tools' directory, if the host has one.
pub fn guest_tools() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os(GUEST_TOOLS_ENV)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| GUEST_TOOLS.into());
    dir.is_dir().then_some(dir)
}

/// Where the zone sees the directory of its metadata socket.
pub fn zone_target(brand: basalt_model::Brand) -> &'static str {
    if brand == basalt_model::Brand::Lx {
        "/native/.zonecontrol"
    } else {
        "/.zonecontrol"
    }
}

/// The node's keys of one instance.
pub struct NodeBackend<'a> {
    node: &'a Node,
    uuid: &'a VmUuid,
}

impl<'a> NodeBackend<'a> {
    /// The backend of instance `uuid`.
    pub fn new(node: &'a Node, uuid: &'a VmUuid) -> NodeBackend<'a> {
        NodeBackend { node, uuid }
    }

    fn vm(&self) -> Result<Map<String, Value>, Failure> {
        self.node
            .get_without_snapshots(self.uuid.as_str())
            .map_err(|e| Failure::Failed(e.to_string()))
    }

    fn update(&self, payload: Value) -> Result<(), Failure> {
        let payload = payload.as_object().cloned().unwrap_or_default();
        // Never waiting for the lock: a vmadm holding it may be waiting for
        // this very supervisor, whose one thread must stay free.
        match self.node.try_update_metadata(self.uuid.as_str(), payload) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Failure::Failed(
                "the instance is busy; try again".to_owned(),
            )),
            Err(e) => Err(Failure::Failed(e.to_string())),
        }
    }
}

impl Backend for NodeBackend<'_> {
    fn get(&mut self, key: &str) -> Lookup {
        match self.vm() {
            Ok(vm) => Routing::new(&vm).get(key),
            Err(e) => Lookup::Failed(e),
        }
    }

    fn keys(&mut self) -> Result<Vec<String>, Failure> {
        Ok(Routing::new(&self.vm()?).keys())
    }

    fn put(&mut self, key: &str, value: &str) -> Result<(), Failure> {
        let vm = self.vm()?;
        let section = Routing::new(&vm).write(key)?;
        let held = vm
            .get(section.property())
            .map_or(0, |m| m.to_string().len());
        if held + key.len() + value.len() > MAX_GUEST_METADATA {
            return Err(Failure::Refused(format!(
                "{} is full ({} bytes at most)",
                section.property(),
                MAX_GUEST_METADATA
            )));
        }
        self.update(json!({ section.set_key(): { key: value } }))
    }

    fn delete(&mut self, key: &str) -> Result<(), Failure> {
        let section = Routing::new(&self.vm()?).write(key)?;
        self.update(json!({ section.remove_key(): [key] }))
    }

    fn observe(&mut self, event: basalt_metadata::server::Event) {
        tracing::debug!(?event, "metadata");
    }
}

/// How long [`serve_tty`] waits in one poll before it looks at its stop
/// flag again, and how long it rests while no guest has the device open.
const TTY_TICK: Duration = Duration::from_millis(100);
/// A guest that reads no answers stops being read past this many unread
/// bytes.
const TTY_MAX_UNREAD: usize = 1 << 20;

/// Serves the metadata protocol over a character device, from its host
/// side: the master of a pty now, a VM's second serial port later. One
/// session at a time, as a serial line carries one guest.
///
/// What a tty does is taken in its stride: the guest's blank lines are
/// the protocol's resets (the session answers them); a pty master reads
/// EIO while no slave is open (the guest closed the port and has not
/// opened it again), which forgets the half-read line and the unread
/// answers and waits for the next guest. A tty is put in raw mode first,
/// so nothing the service writes is echoed back to it as a request.
///
/// Returns when `stop` is set (looked at every 100 ms), when the device
/// hangs up for good (a read of 0 bytes, as from a socket), or on an
/// error a tty does not explain.
/// Answers what `input` holds a line at a time into `out`, stopping after
/// `max_lines` lines or once `out` holds `max_out` bytes (one short request
/// may fetch a long value, so input is answered only as answers drain).
/// Returns the change in bytes held (answers added less input consumed).
pub fn answer_lines(
    session: &mut basalt_metadata::Session,
    backend: &mut dyn Backend,
    input: &mut Vec<u8>,
    out: &mut Vec<u8>,
    max_out: usize,
    max_lines: usize,
) -> isize {
    let mut delta = 0isize;
    let mut lines = 0;
    while !input.is_empty() && lines < max_lines && out.len() < max_out {
        let end = input
            .iter()
            .position(|b| *b == b'\n')
            .map_or(input.len(), |p| p + 1);
        let answer = session.feed(backend, &input[..end]);
        input.drain(..end);
        delta += answer.len() as isize - end as isize;
        out.extend(answer);
        lines += 1;
    }
    delta
}

pub fn serve_tty(
    fd: std::os::fd::OwnedFd,
    backend: &mut dyn Backend,
    stop: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    use std::sync::atomic::Ordering;

    let flags = OFlag::from_bits_retain(fcntl(&fd, FcntlArg::F_GETFL)?);
    fcntl(&fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    // On a pty master this sets the slave's modes; a socket is no tty.
    if let Ok(mut modes) = nix::sys::termios::tcgetattr(&fd) {
        nix::sys::termios::cfmakeraw(&mut modes);
        let _ = nix::sys::termios::tcsetattr(&fd, nix::sys::termios::SetArg::TCSANOW, &modes);
    }
    let tick = PollTimeout::try_from(TTY_TICK.as_millis() as i32).unwrap_or(PollTimeout::MAX);
    let mut session = basalt_metadata::Session::new();
    let mut out: Vec<u8> = Vec::new();
    let mut input: Vec<u8> = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    // Whether the last read said no guest has the device open.
    let mut absent = false;
    while !stop.load(Ordering::Relaxed) {
        if absent {
            // A pty master polls as hung up while no slave is open: rest
            // instead of spinning, then try again.
            std::thread::sleep(TTY_TICK);
        }
        answer_lines(
            &mut session,
            backend,
            &mut input,
            &mut out,
            TTY_MAX_UNREAD,
            usize::MAX,
        );
        let mut want = PollFlags::empty();
        if input.is_empty() && out.len() < TTY_MAX_UNREAD {
            want |= PollFlags::POLLIN;
        }
        if !out.is_empty() {
            want |= PollFlags::POLLOUT;
        }
        let mut fds = [PollFd::new(fd.as_fd(), want)];
        match poll(&mut fds, tick) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let revents = fds[0].revents().unwrap_or(PollFlags::empty());
        if revents.contains(PollFlags::POLLNVAL) {
            return Err(Errno::EBADF.into());
        }
        let hangup = revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR);
        if want.contains(PollFlags::POLLIN) && (revents.contains(PollFlags::POLLIN) || hangup) {
            match nix::unistd::read(&fd, &mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    absent = false;
                    // Answered at the top of the next turn.
                    input.extend_from_slice(&buf[..n]);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(Errno::EIO) => {
                    if !absent {
                        tracing::debug!("metadata tty: the guest closed it");
                    }
                    absent = true;
                    session = basalt_metadata::Session::new();
                    out.clear();
                    input.clear();
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
        while !out.is_empty() {
            match nix::unistd::write(&fd, &out) {
                Ok(n) => {
                    out.drain(..n);
                }
                Err(Errno::EAGAIN | Errno::EINTR) => break,
                Err(Errno::EIO) => {
                    absent = true;
                    out.clear();
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    use basalt_metadata::codec::{decode_frame, encode_v2};
    use basalt_metadata::{Command, MemoryBackend, ReqId, Response};
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::sys::termios;

    use super::*;

    /// The guest's end of a serial line: the slave of a pty, raw.
    struct Guest {
        fd: OwnedFd,
        pending: Vec<u8>,
    }

    impl Guest {
        fn open(path: &std::path::Path) -> Guest {
            let fd: OwnedFd = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(libc::O_NOCTTY)
                .open(path)
                .unwrap()
                .into();
            Guest::raw(fd)
        }

        fn raw(fd: OwnedFd) -> Guest {
            let mut modes = termios::tcgetattr(&fd).unwrap();
            termios::cfmakeraw(&mut modes);
            termios::tcsetattr(&fd, termios::SetArg::TCSANOW, &modes).unwrap();
            Guest {
                fd,
                pending: Vec::new(),
            }
        }

        fn send(&self, bytes: &[u8]) {
            let mut rest = bytes;
            while !rest.is_empty() {
                let n = nix::unistd::write(&self.fd, rest).unwrap();
                rest = &rest[n..];
            }
        }

        /// The next line (without `\n`), or `None` after `wait` of silence.
        fn line(&mut self, wait: Duration) -> Option<String> {
            let deadline = Instant::now() + wait;
            loop {
                if let Some(at) = self.pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = self.pending.drain(..=at).collect();
                    return Some(String::from_utf8_lossy(&line[..at]).into_owned());
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
                let ms = PollTimeout::try_from(left.as_millis() as i32).unwrap();
                if poll(&mut fds, ms).unwrap() == 0 {
                    continue;
                }
                let mut buf = [0u8; 4096];
                let n = nix::unistd::read(&self.fd, &mut buf).unwrap();
                self.pending.extend_from_slice(&buf[..n]);
            }
        }

        /// What the guest does first: drain, reset, negotiate.
        fn start(&mut self) {
            while self.line(Duration::from_millis(100)).is_some() {}
            self.pending.clear();
            self.send(b"\n");
            assert_eq!(self.line(WAIT).as_deref(), Some("invalid command"));
            self.send(b"NEGOTIATE V2\n");
            assert_eq!(self.line(WAIT).as_deref(), Some("V2_OK"));
        }

        fn ask(&mut self, n: u32, command: Command) -> Response {
            let reqid = ReqId::from_u32(n);
            self.send(&encode_v2(&reqid, &command).unwrap());
            let line = self.line(WAIT).expect("an answer");
            decode_frame(line.as_bytes(), &reqid).unwrap()
        }
    }

    const WAIT: Duration = Duration::from_secs(5);

    fn backend() -> MemoryBackend {
        let vm = json!({
            "uuid": "6f4e1c1a-2b9e-4d3c-9a55-0c6a1d8e7b21",
            "hostname": "serial",
            "customer_metadata": { "user-script": "#!/bin/sh\ntrue\n" },
        });
        MemoryBackend::new(vm.as_object().cloned().unwrap())
    }

    /// Serves `master` with `backend` on a thread until `stop`; the
    /// thread gives the backend back.
    fn serve(
        master: OwnedFd,
        mut backend: MemoryBackend,
        stop: Arc<AtomicBool>,
    ) -> std::thread::JoinHandle<(std::io::Result<()>, MemoryBackend)> {
        std::thread::spawn(move || {
            let done = serve_tty(master, &mut backend, &stop);
            (done, backend)
        })
    }

    #[test]
    fn a_guest_on_a_pty_resets_negotiates_gets_and_puts() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let server = serve(pty.master, backend(), stop.clone());
        let mut guest = Guest::raw(pty.slave);
        guest.start();
        assert_eq!(
            guest.ask(1, Command::Get("sdc:hostname".into())),
            Response::Success("serial".into())
        );
        assert_eq!(
            guest.ask(2, Command::Get("user-script".into())),
            Response::Success("#!/bin/sh\ntrue\n".into())
        );
        assert_eq!(
            guest.ask(3, Command::Get("nope".into())),
            Response::NotFound
        );
        assert_eq!(
            guest.ask(
                4,
                Command::Put {
                    key: "written".into(),
                    value: "over the wire".into()
                }
            ),
            Response::Success("OK".into())
        );
        // A blank line in the middle is a reset, answered as such.
        guest.send(b"\n");
        assert_eq!(guest.line(WAIT).as_deref(), Some("invalid command"));
        assert_eq!(
            guest.ask(5, Command::Get("written".into())),
            Response::Success("over the wire".into())
        );
        stop.store(true, Ordering::Relaxed);
        let (done, backend) = server.join().unwrap();
        done.unwrap();
        assert_eq!(
            backend.vm["customer_metadata"]["written"],
            json!("over the wire")
        );
    }

    #[test]
    fn the_guest_closing_and_reopening_the_port_is_served_again() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let path = nix::unistd::ttyname(&pty.slave).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let server = serve(pty.master, backend(), stop.clone());
        let mut guest = Guest::raw(pty.slave);
        guest.start();
        // Half a request, then the port is closed: the master reads EIO.
        guest.send(b"V2 12 ");
        drop(guest);
        std::thread::sleep(Duration::from_millis(350));
        assert!(!server.is_finished(), "the service outlives the guest");
        let mut guest = Guest::open(&path);
        guest.start();
        assert_eq!(
            guest.ask(7, Command::Get("sdc:uuid".into())),
            Response::Success("6f4e1c1a-2b9e-4d3c-9a55-0c6a1d8e7b21".into())
        );
        drop(guest);
        stop.store(true, Ordering::Relaxed);
        let (done, _) = server.join().unwrap();
        done.unwrap();
    }

    #[test]
    fn a_guest_that_never_reads_is_not_buffered_without_bound() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let mut vm = backend();
        vm.vm.insert(
            "customer_metadata".into(),
            json!({ "big": "x".repeat(64 * 1024) }),
        );
        let server = serve(pty.master, vm, stop.clone());
        let guest = Guest::raw(pty.slave);
        // Ask for the big value over and over without reading: the
        // service stops reading and the guest's writes stop being taken.
        nix::fcntl::fcntl(
            &guest.fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .unwrap();
        let ask = b"GET big\n";
        let mut sent = 0usize;
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            match nix::unistd::write(&guest.fd, ask) {
                Ok(n) => sent += n,
                Err(nix::errno::Errno::EAGAIN) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => panic!("{e}"),
            }
        }
        // Taken: what the service holds (about 1 MiB of answers, 16 of
        // them) and what the pty's buffers hold. Unbounded, 3 s of asking
        // would queue gigabytes of answers.
        assert!(sent < 256 * 1024, "{sent} bytes taken");
        stop.store(true, Ordering::Relaxed);
        let (done, _) = server.join().unwrap();
        done.unwrap();
    }
}
