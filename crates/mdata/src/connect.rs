//! Finding the metadata socket and connecting to it (reference 4.1).
//!
//! Inside a zone the service listens on the first of [`SOCKETS`] that
//! exists. Two environment variables change that, for tests and for
//! scripts that would rather fail than wait:
//!
//! - `MDATA_SOCKET` ([`SOCKET_ENV`]): the socket's path, used instead of
//!   the list;
//! - `MDATA_RETRY_SECONDS` ([`RETRY_ENV`]): how long to keep retrying an
//!   unreachable service, in whole seconds (`0`: try once). Unset, the
//!   tools wait as long as it takes, as SmartOS's do, so that provisioning
//!   scripts may start before the service.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use crate::client::Timeouts;

/// Where the service listens, in order of preference: lx zones, other
/// zones, the legacy SDC 6 path.
pub const SOCKETS: [&str; 3] = [
    "/native/.zonecontrol/metadata.sock",
    "/.zonecontrol/metadata.sock",
    "/var/run/smartdc/metadata.sock",
];

/// The variable naming the socket to use instead of [`SOCKETS`].
pub const SOCKET_ENV: &str = "MDATA_SOCKET";

/// The variable bounding how long the tools retry, in seconds.
pub const RETRY_ENV: &str = "MDATA_RETRY_SECONDS";

/// How often an unreachable service is retried.
pub const RETRY_EVERY: Duration = Duration::from_secs(1);

/// How the tools reach the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The sockets to look for, the first that exists being used.
    pub sockets: Vec<PathBuf>,
    /// How long to retry: `None` for ever.
    pub retry_for: Option<Duration>,
    /// The pause between tries.
    pub retry_every: Duration,
    /// How long answers may take.
    pub timeouts: Timeouts,
}

impl Settings {
    /// The settings for the values of [`SOCKET_ENV`] and [`RETRY_ENV`].
    pub fn from_vars(
        socket: Option<OsString>,
        retry: Option<OsString>,
    ) -> Result<Settings, String> {
        let sockets = match socket.filter(|s| !s.is_empty()) {
            Some(path) => vec![PathBuf::from(path)],
            None => SOCKETS.iter().map(PathBuf::from).collect(),
        };
        let retry_for = match retry {
            None => None,
            Some(text) => {
                let secs = text.to_str().and_then(|t| t.trim().parse::<u64>().ok());
                match secs {
                    Some(secs) => Some(Duration::from_secs(secs)),
                    None => {
                        return Err(format!(
                            "{RETRY_ENV} must be a whole number of seconds, not {text:?}"
                        ));
                    }
                }
            }
        };
        Ok(Settings {
            sockets,
            retry_for,
            retry_every: RETRY_EVERY,
            timeouts: Timeouts::default(),
        })
    }

    /// The settings this process's environment asks for.
    pub fn from_env() -> Result<Settings, String> {
        Settings::from_vars(std::env::var_os(SOCKET_ENV), std::env::var_os(RETRY_ENV))
    }
}

/// Why no connection was made.
#[derive(Debug)]
pub enum ConnectError {
    /// None of the sockets exists (yet).
    NoSocket(Vec<PathBuf>),
    /// The socket exists but nobody answers (yet).
    Unreachable(PathBuf, io::Error),
    /// The socket cannot be used: retrying will not help.
    Failed(PathBuf, io::Error),
}

impl ConnectError {
    /// Whether the service may come: a missing socket, or one nobody
    /// listens on.
    pub fn is_transient(&self) -> bool {
        !matches!(self, ConnectError::Failed(..))
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::NoSocket(paths) => {
                f.write_str("no metadata socket at ")?;
                let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                f.write_str(&names.join(", "))
            }
            ConnectError::Unreachable(path, e) | ConnectError::Failed(path, e) => {
                write!(f, "failed to connect to {}: {e}", path.display())
            }
        }
    }
}

/// Connects to the first of `sockets` that exists.
pub fn connect(sockets: &[PathBuf]) -> Result<UnixStream, ConnectError> {
    let Some(path) = sockets.iter().find(|p| p.exists()) else {
        return Err(ConnectError::NoSocket(sockets.to_vec()));
    };
    UnixStream::connect(path).map_err(|e| {
        let transient = matches!(
            e.kind(),
            io::ErrorKind::NotFound
                | io::ErrorKind::ConnectionRefused
                | io::ErrorKind::WouldBlock
                | io::ErrorKind::Interrupted
                | io::ErrorKind::ResourceBusy
        );
        if transient {
            ConnectError::Unreachable(path.clone(), e)
        } else {
            ConnectError::Failed(path.clone(), e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_sockets_and_unbounded_retries() {
        let s = Settings::from_vars(None, None).unwrap();
        assert_eq!(
            s.sockets,
            SOCKETS.iter().map(PathBuf::from).collect::<Vec<_>>()
        );
        assert_eq!(s.retry_for, None);
        assert_eq!(s.retry_every, Duration::from_secs(1));
        assert_eq!(s.timeouts.v2, Duration::from_secs(45));
    }

    #[test]
    fn overrides() {
        let s = Settings::from_vars(Some("/tmp/x.sock".into()), Some(" 3".into())).unwrap();
        assert_eq!(s.sockets, [PathBuf::from("/tmp/x.sock")]);
        assert_eq!(s.retry_for, Some(Duration::from_secs(3)));
        let empty = Settings::from_vars(Some("".into()), None).unwrap();
        assert_eq!(empty.sockets.len(), 3);
        let bad = Settings::from_vars(None, Some("soon".into())).unwrap_err();
        assert_eq!(
            bad,
            "MDATA_RETRY_SECONDS must be a whole number of seconds, not \"soon\""
        );
    }

    #[test]
    fn a_missing_socket_is_waited_for() {
        let paths = [PathBuf::from("/nonexistent/a.sock")];
        let e = connect(&paths).unwrap_err();
        assert!(e.is_transient());
        assert_eq!(e.to_string(), "no metadata socket at /nonexistent/a.sock");
    }
}
