//! Writing to the terminal: stdout for data, stderr for messages, and a
//! closed pipe (`vmadm list | head`) ending the program quietly instead of
//! panicking.

use std::io::{self, Write};
use std::process::ExitCode;

/// Writes `text` to stdout; a closed pipe exits at once with status 0.
pub fn stdout(text: &str) {
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush())
        && e.kind() == io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Writes `line` and a newline to stderr.
pub fn message(line: &str) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// An exit status of vmadm: 0 success, 1 failed operation, 2 usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The command did what was asked.
    Success,
    /// The operation failed.
    Failure,
    /// The command line was wrong.
    Usage,
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(match s {
            Status::Success => 0,
            Status::Failure => 1,
            Status::Usage => 2,
        })
    }
}
