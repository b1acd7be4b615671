//! The terminal relay of `zlogin` (to a pty in the zone) and `vmadm
//! console` (to the zone's console socket): the caller's terminal in raw
//! mode, bytes both ways until the other side ends — or, for the console,
//! until the user types the escape byte.

use std::io::{self, Write};
use std::os::fd::AsFd;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::termios;

/// Relays between the caller's standard input/output and `peer` until
/// `peer` ends (end of file, or EIO from a pty whose other side is all
/// closed) or `escape` is typed. The terminal's mode is restored after.
pub fn relay(peer: &impl AsFd, escape: Option<u8>) {
    let stdin = io::stdin();
    let saved = termios::tcgetattr(&stdin).ok();
    if let Some(t) = &saved {
        let mut raw = t.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, &raw);
    }
    pump(peer, escape);
    if let Some(t) = &saved {
        let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, t);
    }
}

fn pump(peer: &impl AsFd, escape: Option<u8>) {
    let stdin = io::stdin();
    let mut stdout = io::stdout();
    let mut buf = [0u8; 4096];
    let mut stdin_open = true;
    loop {
        let mut fds = vec![PollFd::new(peer.as_fd(), PollFlags::POLLIN)];
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready = |f: Option<&PollFd>| f.and_then(PollFd::revents).is_some_and(|r| !r.is_empty());
        let (from_peer, from_user) = (ready(fds.first()), ready(fds.get(1)));
        drop(fds);
        if from_peer {
            match nix::unistd::read(peer, &mut buf) {
                Ok(n) if n > 0 => {
                    let _ = stdout.write_all(&buf[..n]).and_then(|()| stdout.flush());
                }
                _ => return,
            }
        }
        if from_user {
            match nix::unistd::read(stdin.as_fd(), &mut buf) {
                Ok(n) if n > 0 => {
                    let data = &buf[..n];
                    let end = escape.and_then(|e| data.iter().position(|b| *b == e));
                    let _ = nix::unistd::write(peer, &data[..end.unwrap_or(n)]);
                    if end.is_some() {
                        return;
                    }
                }
                _ if escape.is_some() => return,
                _ => stdin_open = false,
            }
        }
    }
}
