//! What each tool does with its arguments and the service's answer: the
//! messages and exit codes of SmartOS's tools (reference 4.5).

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::thread;
use std::time::{Duration, Instant};

use basalt_metadata::{Command, Response};

use crate::client::{ClientError, Connection, Protocol, ReqIds, Timeouts};
use crate::connect::ConnectError;

/// Exit code: done.
pub const EXIT_OK: u8 = 0;
/// Exit code: no such key (or, for `mdata-list`, no keys).
pub const EXIT_NOT_FOUND: u8 = 1;
/// Exit code: the request failed.
pub const EXIT_ERROR: u8 = 2;
/// Exit code: wrong arguments.
pub const EXIT_USAGE: u8 = 3;

/// SmartOS's refusal of a value typed at a terminal.
pub const INTERACTIVE_STDIN: &str = "ERROR: either specify the metadata value as the second \
     command-line argument, or pipe content to stdin.";

/// One of the four tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Get,
    Put,
    List,
    Delete,
}

impl Tool {
    /// The program's name.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Get => "mdata-get",
            Tool::Put => "mdata-put",
            Tool::List => "mdata-list",
            Tool::Delete => "mdata-delete",
        }
    }

    /// The request's word, as the tool's messages name it.
    fn word(self) -> &'static str {
        match self {
            Tool::Get => "GET",
            Tool::Put => "PUT",
            Tool::List => "KEYS",
            Tool::Delete => "DELETE",
        }
    }
}

/// What a run printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub code: u8,
    pub stdout: Vec<u8>,
    /// Without a final newline; empty: nothing to say.
    pub stderr: String,
}

impl Outcome {
    fn ok(stdout: Vec<u8>) -> Outcome {
        Outcome {
            code: EXIT_OK,
            stdout,
            stderr: String::new(),
        }
    }

    fn fail(code: u8, message: String) -> Outcome {
        Outcome {
            code,
            stdout: Vec::new(),
            stderr: message,
        }
    }
}

/// What the tools read besides their arguments.
pub enum Input<'a> {
    /// Standard input is a terminal: `mdata-put` refuses it.
    Terminal,
    /// Standard input to read a value from.
    Reader(&'a mut dyn Read),
}

/// How a run reaches the service.
pub struct Service<'a> {
    /// Makes a new connection.
    pub connect: &'a mut dyn FnMut() -> Result<UnixStream, ConnectError>,
    /// How long to keep retrying: `None` for ever.
    pub retry_for: Option<Duration>,
    /// The pause between tries.
    pub retry_every: Duration,
    pub timeouts: Timeouts,
}

/// A request as the command line asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Invocation {
    Get(String),
    List,
    Put(String, Option<String>),
    Delete(String),
}

impl Invocation {
    fn key(&self) -> &str {
        match self {
            Invocation::Get(key) | Invocation::Put(key, _) | Invocation::Delete(key) => key,
            Invocation::List => "",
        }
    }
}

/// The invocation for the arguments after the program's name, or the
/// usage error.
fn parse(tool: Tool, args: &[String]) -> Result<Invocation, Outcome> {
    let usage = |rest: &str| {
        let name = tool.name();
        Outcome::fail(EXIT_USAGE, format!("{name}: Usage: {name} {rest}"))
    };
    match (tool, args) {
        (Tool::Get, [key]) => Ok(Invocation::Get(key.clone())),
        (Tool::Delete, [key]) => Ok(Invocation::Delete(key.clone())),
        (Tool::Put, [key]) => Ok(Invocation::Put(key.clone(), None)),
        (Tool::Put, [key, value]) => Ok(Invocation::Put(key.clone(), Some(value.clone()))),
        // SmartOS's mdata-list takes no arguments and ignores any.
        (Tool::List, _) => Ok(Invocation::List),
        (Tool::Put, _) => Err(usage("<keyname> [ <value> ]")),
        (Tool::Get | Tool::Delete, _) => Err(usage("<keyname>")),
    }
}

/// Runs `tool` with `args` (those after the program's name).
pub fn run(tool: Tool, args: &[String], stdin: Input<'_>, service: &mut Service<'_>) -> Outcome {
    let invocation = match parse(tool, args) {
        Ok(invocation) => invocation,
        Err(usage) => return usage,
    };
    let started = Instant::now();
    let mut conn = match establish(service, started) {
        Ok(conn) => conn,
        Err(why) => {
            let message = format!("ERROR: could not initialise protocol: {why}");
            return Outcome::fail(EXIT_ERROR, message);
        }
    };
    if matches!(tool, Tool::Put | Tool::Delete) && conn.protocol() == Protocol::V1 {
        let message = format!("ERROR: host does not support {}", tool.word());
        return Outcome::fail(EXIT_ERROR, message);
    }
    let command = match command(&invocation, stdin) {
        Ok(command) => command,
        Err(outcome) => return outcome,
    };
    match execute(service, &mut conn, &command, started) {
        Ok(response) => render(tool, invocation.key(), response),
        Err(why) => Outcome::fail(
            EXIT_ERROR,
            format!("ERROR: could not execute {}: {why}", tool.word()),
        ),
    }
}

/// The request to send, reading `mdata-put`'s value from `stdin` if the
/// command line has none.
fn command(invocation: &Invocation, stdin: Input<'_>) -> Result<Command, Outcome> {
    Ok(match invocation {
        Invocation::Get(key) => Command::Get(key.clone()),
        Invocation::List => Command::Keys,
        Invocation::Delete(key) => Command::Delete(key.clone()),
        Invocation::Put(key, Some(value)) => Command::Put {
            key: key.clone(),
            value: value.clone(),
        },
        Invocation::Put(key, None) => Command::Put {
            key: key.clone(),
            value: read_value(stdin)?,
        },
    })
}

fn read_value(stdin: Input<'_>) -> Result<String, Outcome> {
    let reader = match stdin {
        Input::Terminal => return Err(Outcome::fail(EXIT_ERROR, INTERACTIVE_STDIN.to_owned())),
        Input::Reader(reader) => reader,
    };
    let mut value = String::new();
    reader
        .read_to_string(&mut value)
        .map_err(|e| Outcome::fail(EXIT_ERROR, format!("ERROR: could not read from stdin: {e}")))?;
    Ok(value)
}

/// A negotiated connection, retrying while the service is unreachable.
fn establish(service: &mut Service<'_>, started: Instant) -> Result<Connection, String> {
    loop {
        let why = match (service.connect)() {
            Ok(stream) => match Connection::negotiate(stream, service.timeouts, ReqIds::new()) {
                Ok(conn) => return Ok(conn),
                Err(e) if e.is_transient() => e.to_string(),
                Err(e) => return Err(e.to_string()),
            },
            Err(e) if e.is_transient() => e.to_string(),
            Err(e) => return Err(e.to_string()),
        };
        pause(service, started).ok_or(why)?;
    }
}

/// The answer to `command`, on a new connection if the last one failed.
fn execute(
    service: &mut Service<'_>,
    conn: &mut Connection,
    command: &Command,
    started: Instant,
) -> Result<Response, String> {
    loop {
        match conn.request(command) {
            Ok(response) => return Ok(response),
            Err(e @ ClientError::Encode(_)) => return Err(e.to_string()),
            Err(e) => pause(service, started).ok_or_else(|| e.to_string())?,
        }
        *conn = establish(service, started)?;
    }
}

/// Waits before the next try; `None` when the time for retrying is up.
fn pause(service: &Service<'_>, started: Instant) -> Option<()> {
    if service
        .retry_for
        .is_some_and(|limit| started.elapsed() + service.retry_every > limit)
    {
        return None;
    }
    thread::sleep(service.retry_every);
    Some(())
}

/// What the tool prints for the service's answer, and its exit code.
fn render(tool: Tool, key: &str, response: Response) -> Outcome {
    let not_found = || match tool {
        Tool::List => Outcome::fail(EXIT_NOT_FOUND, "No metadata".to_owned()),
        _ => Outcome::fail(EXIT_NOT_FOUND, format!("No metadata for '{key}'")),
    };
    let error = |message: &str| {
        let text = match tool {
            Tool::Get => format!("Error getting metadata for key '{key}': {message}"),
            Tool::List => format!("Error getting metadata: {message}"),
            Tool::Put => format!("Error putting metadata for key '{key}': {message}"),
            Tool::Delete => format!("Error deleting metadata key '{key}': {message}"),
        };
        Outcome::fail(EXIT_ERROR, text)
    };
    match response {
        Response::Success(value) => match tool {
            Tool::Get => Outcome::ok(with_newline(value)),
            Tool::List if value.is_empty() => not_found(),
            Tool::List => Outcome::ok(with_newline(value)),
            Tool::Put | Tool::Delete => Outcome::ok(Vec::new()),
        },
        Response::NotFound => not_found(),
        Response::Failure(message) => error(&message),
        Response::InvalidCommand => Outcome::fail(
            EXIT_ERROR,
            format!("ERROR: host does not support {}", tool.word()),
        ),
        Response::V2Ok => error("unexpected answer V2_OK"),
    }
}

/// `value` ending in a newline, unless empty.
fn with_newline(value: String) -> Vec<u8> {
    let mut out = value.into_bytes();
    if out.last().is_some_and(|&b| b != b'\n') {
        out.push(b'\n');
    }
    out
}

#[cfg(test)]
mod tests;
