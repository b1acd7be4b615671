//! The guest's metadata tools: `mdata-get <key>`, `mdata-put <key>
//! [<value>]`, `mdata-list` and `mdata-delete <key>` (reference 4.5).
//!
//! They run inside zones, linked statically into each, so they depend on
//! the protocol codec (`basalt-metadata`) and std and nothing else: no
//! logging, no argument parser. Each binary is a call to [`main`].
//!
//! | module | owns |
//! | --- | --- |
//! | [`connect`] | which socket, the environment overrides, connecting |
//! | [`client`] | one connection: negotiation, V1 and V2 requests, timeouts |
//! | [`tool`] | arguments, retries, the messages and exit codes |
//!
//! The tools ask for V2 and fall back to V1 if the service declines (then
//! PUT and DELETE are refused). An unreachable service is retried every
//! second, for ever unless `MDATA_RETRY_SECONDS` bounds it; `MDATA_SOCKET`
//! names the socket instead of the usual places (see [`connect`]).
//!
//! Exit codes: 0 done, 1 no such key (`mdata-list`: no keys), 2 failed, 3
//! wrong arguments.
//!
//! This crate never serves the protocol and never touches the host: it is
//! a client and nothing more.

#![forbid(unsafe_code)]

pub mod client;
pub mod connect;
pub mod tool;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

pub use tool::{Input, Outcome, Service, Tool};

/// A tool's whole run: reads the command line and environment, talks to
/// the service, prints, and gives the exit code.
pub fn main(tool: Tool) -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let outcome = match connect::Settings::from_env() {
        Ok(settings) => {
            let sockets = settings.sockets.clone();
            let mut connect = || connect::connect(&sockets);
            let mut service = Service {
                connect: &mut connect,
                retry_for: settings.retry_for,
                retry_every: settings.retry_every,
                timeouts: settings.timeouts,
            };
            let stdin = std::io::stdin();
            let mut lock = stdin.lock();
            let input = if stdin.is_terminal() {
                Input::Terminal
            } else {
                Input::Reader(&mut lock)
            };
            tool::run(tool, &args, input, &mut service)
        }
        Err(why) => Outcome {
            code: tool::EXIT_ERROR,
            stdout: Vec::new(),
            stderr: format!("ERROR: could not initialise protocol: {why}"),
        },
    };
    print(&outcome);
    ExitCode::from(outcome.code)
}

/// Prints an outcome; a closed stdout or stderr (a pipe whose reader went
/// away) is not worth another message.
fn print(outcome: &Outcome) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&outcome.stdout).and_then(|()| out.flush());
    if !outcome.stderr.is_empty() {
        let _ = writeln!(std::io::stderr().lock(), "{}", outcome.stderr);
    }
}
