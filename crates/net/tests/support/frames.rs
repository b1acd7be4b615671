//! Drives `frames.py` (beside this directory): crafted frames sent from,
//! and captured in, a zone's network namespace. Shared by the filter tests
//! of this crate and the zone network tests of the command-line crate.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The script.
pub const FRAMES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../net/tests/frames.py");

/// `frames.py` serving requests in a zone, killed on drop.
pub struct Helper {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    /// Starts `frames.py COMMAND IFACE` under `prefix` (the command that
    /// enters the zone's network namespace).
    pub fn start(prefix: &[String], command: &str, iface: &str) -> Helper {
        let mut child = Command::new(&prefix[0])
            .args(&prefix[1..])
            .args(["python3", FRAMES, command, iface])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("failed to start frames.py (is python3 installed?)");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut helper = Helper {
            child,
            stdin,
            stdout,
        };
        assert_eq!(
            helper.answer(),
            "ready",
            "frames.py {command} did not start"
        );
        helper
    }

    pub fn ask(&mut self, request: &str) -> String {
        writeln!(self.stdin, "{request}").unwrap();
        self.answer()
    }

    fn answer(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "frames.py exited (its error is above)");
        line.trim_end().to_owned()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
