//! `zlogin [-t] <uuid> [command ...]`: runs a command, or a login shell,
//! as root inside a running zone — in all of its namespaces and its
//! cgroups, confined as its init is — and exits with the command's status
//! (128 + n when a signal n ended it). A shell on a terminal, or `-t`, gets
//! a pseudo-terminal of the zone's own devpts.

use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode, Stdio};

use basalt_node::instances::Node;
use basalt_node::paths::Paths;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

const USAGE: &str = "usage: zlogin [-t] <uuid> [command [arg ...]]";

/// Runs zlogin with the process's arguments.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(msg) => {
            eprintln!("zlogin: {msg}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &[String]) -> Result<u8, String> {
    let mut args = args;
    let mut want_tty = false;
    if args.first().map(String::as_str) == Some("-t") {
        want_tty = true;
        args = &args[1..];
    }
    let Some((zone, command)) = args.split_first() else {
        eprintln!("{USAGE}");
        return Ok(2);
    };
    let node = Node::open(Paths::from_env()).map_err(|e| e.to_string())?;
    let target = node.login_target(zone).map_err(|e| e.to_string())?;
    let tty = want_tty || (command.is_empty() && io::stdin().is_terminal());
    target.join().map_err(|e| e.to_string())?;

    let mut cmd = if command.is_empty() {
        let mut c = Command::new("/bin/sh");
        c.arg("-l");
        c
    } else {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg(command.join(" "));
        c
    };
    cmd.env_clear()
        .env("PATH", basalt_node::zones::spec::ZONE_PATH)
        .env("HOME", "/root")
        .env("USER", "root")
        .env("LOGNAME", "root")
        .env("SHELL", "/bin/sh")
        .env(
            "TERM",
            std::env::var("TERM").unwrap_or_else(|_| "vt100".into()),
        )
        .current_dir("/");
    // Nothing of the caller's reaches the zone but bytes: no descriptor of
    // its terminal (a zone could push input into it), nothing it left open.
    basalt_zone::sys::cloexec_from(3).map_err(|e| format!("cannot close descriptors: {e}"))?;
    let status = if tty {
        run_on_pty(&mut cmd)?
    } else {
        run_on_pipes(&mut cmd)?
    };
    Ok(match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(s)) => (128 + s) as u8,
        _ => 1,
    })
}

/// Runs `cmd` in a session of its own with pipes for its standard streams,
/// copying the caller's input to it and its output back. One thread, a
/// poll loop: a process in another pid namespace than its children's may
/// not start threads.
fn run_on_pipes(cmd: &mut Command) -> Result<std::process::ExitStatus, String> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    basalt_zone::sys::in_new_session(cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run the command in the zone: {e}"))?;
    let mut input = child.stdin.take();
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let stdin = io::stdin();
    let mut buf = [0u8; 8192];
    while out.is_some() || err.is_some() {
        let mut which = Vec::new();
        let mut polled = Vec::new();
        if let Some(o) = &out {
            which.push(1);
            polled.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
        }
        if let Some(e) = &err {
            which.push(2);
            polled.push(PollFd::new(e.as_fd(), PollFlags::POLLIN));
        }
        if input.is_some() {
            which.push(0);
            polled.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut polled, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<i32> = which
            .iter()
            .zip(&polled)
            .filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty()))
            .map(|(w, _)| *w)
            .collect();
        drop(polled);
        for which in ready {
            let n = match which {
                0 => nix::unistd::read(stdin.as_fd(), &mut buf).unwrap_or(0),
                1 => out.as_mut().map_or(0, |o| o.read(&mut buf).unwrap_or(0)),
                _ => err.as_mut().map_or(0, |e| e.read(&mut buf).unwrap_or(0)),
            };
            match (which, n) {
                (0, 0) => input = None,
                (0, n) => {
                    if input
                        .as_mut()
                        .is_some_and(|i| i.write_all(&buf[..n]).is_err())
                    {
                        input = None;
                    }
                }
                (1, 0) => out = None,
                (1, n) => {
                    let mut o = io::stdout().lock();
                    let _ = o.write_all(&buf[..n]).and_then(|()| o.flush());
                }
                (_, 0) => err = None,
                (_, n) => {
                    let _ = io::stderr().lock().write_all(&buf[..n]);
                }
            }
        }
    }
    drop(input);
    child.wait().map_err(|e| e.to_string())
}

/// Runs `cmd` on a new pty of the zone's devpts, relaying the caller's
/// terminal (in raw mode) to it until the command ends.
fn run_on_pty(cmd: &mut Command) -> Result<std::process::ExitStatus, String> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| format!("no pty in the zone: {e}"))?;
    nix::pty::grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
    nix::pty::unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
    let name = nix::pty::ptsname_r(&master).map_err(|e| format!("ptsname: {e}"))?;
    let slave: OwnedFd = std::fs::File::options()
        .read(true)
        .write(true)
        .open(&name)
        .map_err(|e| format!("{name}: {e}"))?
        .into();
    let stdin = io::stdin();
    if let Ok(size) = rustix::termios::tcgetwinsize(&stdin) {
        let _ = rustix::termios::tcsetwinsize(&slave, size);
    }
    let out = slave.try_clone().map_err(|e| e.to_string())?;
    let err = slave.try_clone().map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::from(slave))
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    basalt_zone::sys::with_controlling_terminal(cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run the command in the zone: {e}"))?;
    // The parent's copies of the slave are in `cmd`: drop them so that the
    // master sees the end when the command's side closes.
    drop(std::mem::replace(cmd, Command::new("/")));

    crate::relay::relay(&master, None);
    child.wait().map_err(|e| e.to_string())
}
