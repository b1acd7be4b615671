//! Running the host's storage tools. Commands are built as plain data by
//! pure functions (tested without running anything), then run here; a
//! failure reports the argv, the exit status and stderr.

use std::fmt;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};

/// A command to run: program and arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    /// The program.
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
}

impl Cmd {
    /// A command running `program` with `args`.
    pub fn new<I, S>(program: &str, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            program: program.to_owned(),
            args: args.into_iter().map(Into::into).collect(),
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program)?;
        for a in &self.args {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// A command that could not run or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The program could not be started (not installed?).
    #[error("failed to run {cmd}: {source}")]
    Spawn {
        cmd: Cmd,
        #[source]
        source: std::io::Error,
    },
    /// It exited unsuccessfully.
    #[error("{cmd} failed ({status}): {stderr}")]
    Failed {
        cmd: Cmd,
        status: String,
        stderr: String,
    },
    /// Its standard streams failed.
    #[error("failed to exchange data with {cmd}: {source}")]
    Io {
        cmd: Cmd,
        #[source]
        source: std::io::Error,
    },
}

impl ExecError {
    /// The command's stderr, when it ran and failed.
    pub fn stderr(&self) -> &str {
        match self {
            ExecError::Failed { stderr, .. } => stderr,
            _ => "",
        }
    }
}

fn check(cmd: &Cmd, status: std::process::ExitStatus, stderr: Vec<u8>) -> Result<(), ExecError> {
    if status.success() {
        return Ok(());
    }
    Err(ExecError::Failed {
        cmd: cmd.clone(),
        status: status.to_string(),
        stderr: String::from_utf8_lossy(&stderr).trim().to_owned(),
    })
}

/// Starts `cmd` with `stdin`, its stdout and stderr piped.
fn spawn(cmd: &Cmd, stdin: Stdio) -> Result<Child, ExecError> {
    Command::new(&cmd.program)
        .args(&cmd.args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ExecError::Spawn {
            cmd: cmd.clone(),
            source,
        })
}

/// Runs `cmd` and returns its stdout.
pub fn run(cmd: &Cmd) -> Result<String, ExecError> {
    tracing::debug!(%cmd, "run");
    let out = spawn(cmd, Stdio::null())?
        .wait_with_output()
        .map_err(|source| ExecError::Io {
            cmd: cmd.clone(),
            source,
        })?;
    check(cmd, out.status, out.stderr)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `cmd` with its stdout copied into `sink`.
pub fn run_to(cmd: &Cmd, sink: &mut dyn Write) -> Result<(), ExecError> {
    tracing::debug!(%cmd, "run, streaming stdout");
    let io = |source| ExecError::Io {
        cmd: cmd.clone(),
        source,
    };
    let mut child = spawn(cmd, Stdio::null())?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| io(std::io::ErrorKind::BrokenPipe.into()))?;
    let mut stderr = child
        .stderr
        .take()
        .ok_or_else(|| io(std::io::ErrorKind::BrokenPipe.into()))?;
    let errs = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let copied = std::io::copy(&mut stdout, sink);
    drop(stdout);
    let status = child.wait().map_err(io)?;
    let err_bytes = errs.join().unwrap_or_default();
    check(cmd, status, err_bytes)?;
    copied.map(|_| ()).map_err(io)
}

/// Runs `cmd` with `source` copied into its stdin.
pub fn run_from(cmd: &Cmd, source: &mut dyn Read) -> Result<String, ExecError> {
    tracing::debug!(%cmd, "run, streaming stdin");
    let io = |e| ExecError::Io {
        cmd: cmd.clone(),
        source: e,
    };
    let mut child = spawn(cmd, Stdio::piped())?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| io(std::io::ErrorKind::BrokenPipe.into()))?;
    let copied = std::io::copy(source, &mut stdin);
    drop(stdin);
    let out = child.wait_with_output().map_err(io)?;
    check(cmd, out.status, out.stderr)?;
    copied.map_err(io)?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_name_argv_status_and_stderr() {
        let cmd = Cmd::new("sh", ["-c", "echo oops >&2; exit 3"]);
        let err = run(&cmd).unwrap_err();
        assert_eq!(
            err.to_string(),
            "sh -c echo oops >&2; exit 3 failed (exit status: 3): oops"
        );
        assert_eq!(err.stderr(), "oops");
        let missing = run(&Cmd::new("/nonexistent/tool", ["x"])).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("failed to run /nonexistent/tool x: ")
        );
    }

    #[test]
    fn streams_both_ways() {
        let mut out = Vec::new();
        run_to(&Cmd::new("printf", ["abc"]), &mut out).unwrap();
        assert_eq!(out, b"abc");
        let echoed = run_from(&Cmd::new("cat", Vec::<String>::new()), &mut &b"xyz"[..]).unwrap();
        assert_eq!(echoed, "xyz");
    }
}
