//! A server the image tests and the import benchmark start (`imgadm
//! serve`): it says `Serving images on <url>` first, and is stopped with
//! SIGTERM, then waited for, when dropped.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};

pub struct Served {
    child: Child,
    /// Where it serves.
    pub url: String,
}

impl Served {
    /// Starts `cmd` and reads the URL from its first line.
    pub fn start(mut cmd: Command) -> Served {
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(url) = line.trim().strip_prefix("Serving images on ") else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server said {line:?}");
        };
        Served {
            url: url.to_owned(),
            child,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.child.wait();
    }
}
