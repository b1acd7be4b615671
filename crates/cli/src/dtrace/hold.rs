//! `dtrace -c CMD`: the command made a process before its probes are
//! enabled, and let go once they are.
//!
//! dtrace starts itself again as a holder (`BASALT_DTRACE_HOLD=<fifo>`
//! in its environment) with the command's executable already found: the
//! holder prepares the exec, then waits in a read of a FIFO in a private
//! directory. dtrace reads its pid for `$target`, waits until it sits in
//! that read, attaches, and writes one byte; the holder then does nothing
//! but `execve`, keeping its pid, so what is traced of it is the read's
//! return and the exec. The holder dies with dtrace (parent-death signal,
//! checked against a dtrace that died before it was set), so a dtrace that
//! fails or is killed leaves no command behind, as DTrace kills a process
//! it created.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::stat::Mode;

/// The variable that makes `dtrace` a holder: the FIFO's path.
const HOLD_ENV: &str = "BASALT_DTRACE_HOLD";
/// dtrace's pid, for the holder to check it still has that parent.
const PARENT_ENV: &str = "BASALT_DTRACE_PARENT";

/// A command waiting to run.
pub struct Held {
    child: Child,
    dir: PathBuf,
    fifo: PathBuf,
    /// Set once it has ended and been reaped.
    status: Option<ExitStatus>,
}

/// The executable a command's first word names: a path, or found in
/// `PATH`; `None` when there is no such executable file.
pub fn command_path(word: &str) -> Option<PathBuf> {
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if word.contains('/') {
        let p = PathBuf::from(word);
        return executable(&p).then_some(p);
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(word))
        .find(|p| executable(p))
}

impl Held {
    /// Starts the holder for `cmd` (split at white space, as DTrace does).
    pub fn spawn(cmd: &str) -> Result<Held, String> {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let Some(first) = words.first() else {
            return Err("failed to create process: no command given".into());
        };
        let exe = command_path(first)
            .ok_or_else(|| format!("failed to execute {first}: No such file or directory"))?;
        let template = std::env::temp_dir().join("dtrace-XXXXXX");
        let dir = nix::unistd::mkdtemp(&template)
            .map_err(|e| format!("failed to create {}: {e}", template.display()))?;
        let fifo = dir.join("go");
        let made = nix::unistd::mkfifo(&fifo, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(|e| format!("failed to create {}: {e}", fifo.display()));
        let spawned = made.and_then(|()| {
            Command::new("/proc/self/exe")
                .env(HOLD_ENV, &fifo)
                .env(PARENT_ENV, std::process::id().to_string())
                .arg(&exe)
                .args(&words)
                .spawn()
                .map_err(|e| format!("failed to create process '{first}': {e}"))
        });
        match spawned {
            Ok(child) => Ok(Held {
                child,
                dir,
                fifo,
                status: None,
            }),
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
    /// FIFO: blocked in read(2) (call 0 on x86-64, as `/proc/PID/syscall`
    /// shows it) on the descriptor that is the FIFO.
    pub fn wait_ready(&mut self) -> Result<(), String> {
        let until = Instant::now() + Duration::from_secs(10);
        let pid = self.child.id();
        let fifo = std::fs::canonicalize(&self.fifo).unwrap_or_else(|_| self.fifo.clone());
        loop {
            let now = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
            let mut fields = now.split_whitespace();
            if fields.next() == Some("0")
                && let Some(fd) = fields
                    .next()
                    .and_then(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16).ok())
                && std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).is_ok_and(|p| p == fifo)
            {
                return Ok(());
            }
            if self.exited().is_some() {
                return Err("failed to create process: its holder ended before it ran".into());
            }
            if Instant::now() >= until {
                return Err("failed to create process: its holder was not ready in 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Lets the command run: one byte to the holder. A holder that has
    /// already ended (killed while it waited) is a command that ended.
    pub fn release(&mut self) -> Result<(), String> {
        if self.exited().is_some() {
            return Ok(());
        }
        let sent = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(&self.fifo)
            .and_then(|mut f| f.write_all(b"1"));
        let _ = std::fs::remove_dir_all(&self.dir);
        match sent {
            Ok(()) => Ok(()),
            Err(_) if self.exited().is_some() => Ok(()),
            Err(e) => Err(format!("failed to start the command: {e}")),
        }
    }

    /// The command's status once it has ended. A child already reaped by
    /// someone else (SIGCHLD ignored) has ended too.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            match self.child.try_wait() {
                Ok(s) => self.status = s,
                Err(_) => self.status = Some(ExitStatus::default()),
            }
        }
        self.status
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
    // A dtrace that died before the signal was set is no longer the parent.
    let parent = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    if parent != Some(nix::unistd::getppid().as_raw()) {
        std::process::exit(1);
    }
    // Everything the exec needs is made before the wait.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let Some((exe, argv)) = args.split_first() else {
        std::process::exit(127);
    };
    let cstr = |b: &[u8]| CString::new(b).unwrap_or_default();
    let path = cstr(exe.as_bytes());
    let argv: Vec<CString> = argv.iter().map(|a| cstr(a.as_bytes())).collect();
    let envp: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != HOLD_ENV && k != PARENT_ENV)
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstr(&kv)
        })
        .collect();
    // Read and written, so that the open does not wait for dtrace and the
    // read is what waits.
    let mut go = [0u8; 1];
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
    {
        Ok(f) => f,
        Err(_) => std::process::exit(1),
    };
    if !matches!(f.read(&mut go), Ok(1)) {
        std::process::exit(1);
    }
    // Closed by the exec itself (close-on-exec), not by a call of ours.
    std::mem::forget(f);
    let e = nix::unistd::execve(&path, &argv, &envp).unwrap_err();
    eprintln!("dtrace: failed to execute {}: {e}", exe.to_string_lossy());
    std::process::exit(127);
}
