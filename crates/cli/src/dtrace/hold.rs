//! `dtrace -c CMD`: the command made a process before its probes are
//! enabled, and let go once they are.
//!
//! dtrace starts itself again as a holder (`BASALT_DTRACE_HOLD=<fifo>`
//! in its environment): the holder waits on a FIFO in a private directory,
//! then execs the command, keeping its pid. dtrace reads that pid for
//! `$target`, attaches, and writes one byte to the FIFO. The holder dies
//! with dtrace (parent-death signal), so a dtrace that fails or is killed
//! leaves no command behind, as DTrace kills a process it created.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::stat::Mode;

/// The variable that makes `dtrace` a holder.
const HOLD_ENV: &str = "BASALT_DTRACE_HOLD";

/// A command waiting to run.
pub struct Held {
    child: Child,
    dir: PathBuf,
    fifo: PathBuf,
}

impl Held {
    /// Starts the holder for `cmd` (split at white space, as DTrace does).
    pub fn spawn(cmd: &str) -> Result<Held, String> {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        if words.is_empty() {
            return Err("failed to create process: no command given".into());
        }
        let dir = std::env::temp_dir().join(format!("dtrace-{}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| format!("failed to create {}: {e}", dir.display()))?;
        let fifo = dir.join("go");
        let made = nix::unistd::mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| format!("failed to create {}: {e}", fifo.display()));
        let spawned = made.and_then(|()| {
            Command::new("/proc/self/exe")
                .env(HOLD_ENV, &fifo)
                .args(&words)
                .spawn()
                .map_err(|e| format!("failed to create process '{}': {e}", words[0]))
        });
        match spawned {
            Ok(child) => Ok(Held { child, dir, fifo }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (up to ten seconds) until the holder sits in its read of the
    /// FIFO, so that nothing it does before the command runs is traced
    /// but that read's return and the exec.
    pub fn wait_ready(&mut self) -> Result<(), String> {
        let until = Instant::now() + Duration::from_secs(10);
        let file = format!("/proc/{}/syscall", self.child.id());
        loop {
            // `/proc/PID/syscall` names the call a blocked task is in: 0
            // is read(2) on x86-64.
            let now = std::fs::read_to_string(&file).unwrap_or_default();
            if now.split_whitespace().next() == Some("0") {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the command's holder ended before it ran: {status}"
                ));
            }
            if Instant::now() >= until {
                return Err("the command's holder did not get ready in 10 seconds".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Lets the command run: one byte to the holder.
    pub fn release(&mut self) -> Result<(), String> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(&self.fifo)
            .map_err(|e| format!("failed to start the command: {e}"))?;
        f.write_all(b"1")
            .map_err(|e| format!("failed to start the command: {e}"))?;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }

    /// The command's status once it has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// In a holder, waits for the go and execs the command; never returns
/// there. Elsewhere returns at once.
pub fn hold_if_asked() {
    let Some(fifo) = std::env::var_os(HOLD_ENV) else {
        return;
    };
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        std::process::exit(127);
    };
    let mut command = Command::new(cmd);
    command.args(rest).env_remove(HOLD_ENV);
    // Opened for reading and writing, so that the open does not wait for
    // dtrace and the read is what waits: dtrace traces nothing of this
    // process until then.
    let mut go = [0u8; 1];
    let got = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .and_then(|mut f| f.read(&mut go));
    if !matches!(got, Ok(1)) {
        std::process::exit(1);
    }
    let e = command.exec();
    eprintln!("dtrace: failed to execute {cmd}: {e}");
    std::process::exit(127);
}
