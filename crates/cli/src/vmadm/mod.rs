//! `vmadm`: SmartOS's instance manager. The command line, messages, streams
//! and exit codes follow SmartOS's (success messages on stderr so stdout
//! stays clean for JSON; 0 success, 1 failed operation, 2 usage error).

mod commands;
mod lifecycle;
mod list;
mod payload;
mod snapshot;

use std::process::ExitCode;

use basalt_node::instances::Node;
use basalt_node::paths::{Paths, ROOT_ENV};

use crate::output::{Status, message, stdout};

/// A failure of a vmadm command: a usage error (message, usage, exit 2) or
/// a failed operation (message, exit 1).
#[derive(Debug)]
pub enum Failure {
    /// The command line is wrong.
    Usage(String),
    /// The operation failed; the message is printed as it is.
    Operation(String),
}

impl Failure {
    fn op(e: impl std::fmt::Display) -> Failure {
        Failure::Operation(e.to_string())
    }
}

/// The result of a command.
pub type Outcome = Result<(), Failure>;

const COMMANDS: &str = "\
console <uuid>
create [-f <filename>]
create-snapshot <uuid> <snapname>
delete <uuid>
delete-snapshot <uuid> <snapname>
get <uuid>
kill [-s SIGNAL|-SIGNAL] <uuid>
list [-p] [-H] [-o field,...] [-s field,...] [field=value ...]
lookup [-j|-1] [-o field,...] [field=value ...]
reboot <uuid> [-F]
rollback-snapshot <uuid> <snapname>
start <uuid>
stop <uuid> [-F]
update <uuid> [-f <filename>]
 -or- update <uuid> property=value [property=value ...]
validate create [-f <filename>]
validate update <brand> [-f <filename>]

Not available on this node yet: events, info, install, receive, reprovision,
send, sysrq.";

fn usage(argv0: &str) -> String {
    format!("Usage: {argv0} <command> [options]\n\n{COMMANDS}")
}

const NOT_YET: &[&str] = &[
    "events",
    "info",
    "install",
    "receive",
    "recv",
    "reprovision",
    "send",
    "sysrq",
];

/// Runs vmadm with the process's arguments.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    run(&args).into()
}

fn run(args: &[String]) -> Status {
    let argv0 = args.first().map_or("vmadm", String::as_str);
    let Some(command) = args.get(1) else {
        message(&usage(argv0));
        return Status::Usage;
    };
    if matches!(command.as_str(), "-h" | "-?" | "--help" | "help") {
        stdout(&format!("{}\n", usage(argv0)));
        return Status::Success;
    }
    let rest: Vec<String> = args[2..]
        .iter()
        .filter(|a| !matches!(a.as_str(), "-d" | "--debug" | "-v" | "--verbose"))
        .cloned()
        .collect();
    if let Err(reason) = check_privilege() {
        message(&format!("FATAL: cannot run because: {reason}"));
        return Status::Usage;
    }
    let paths = Paths::from_env();
    crate::log::init(&paths, command);
    tracing::debug!(?args, "vmadm invoked");
    let outcome = Node::open(paths)
        .map_err(Failure::op)
        .and_then(|node| dispatch(&node, command, &rest));
    match outcome {
        Ok(()) => Status::Success,
        Err(Failure::Operation(msg)) => {
            tracing::error!(command = %command, error = %msg, "command failed");
            message(&msg);
            Status::Failure
        }
        Err(Failure::Usage(msg)) => {
            message(&msg);
            message(&usage(argv0));
            Status::Usage
        }
    }
}

fn dispatch(node: &Node, command: &str, args: &[String]) -> Outcome {
    match command {
        "create" => commands::create(node, args),
        "get" | "json" => commands::get(node, args),
        "update" => commands::update(node, args),
        "delete" | "destroy" => commands::delete(node, args),
        "create-snapshot" => snapshot::run(node, snapshot::Verb::Create, args),
        "delete-snapshot" => snapshot::run(node, snapshot::Verb::Delete, args),
        "rollback-snapshot" => snapshot::run(node, snapshot::Verb::Rollback, args),
        "validate" => commands::validate(node, args),
        "list" => list::list(node, args),
        "lookup" => list::lookup(node, args),
        "start" | "boot" => lifecycle::start(node, args),
        "stop" | "halt" => lifecycle::stop(node, args),
        "reboot" => lifecycle::reboot(node, args),
        "kill" => lifecycle::kill(node, args),
        "console" => lifecycle::console(node, args),
        c if NOT_YET.contains(&c) => Err(Failure::Operation(format!(
            "vmadm {c} is not available on this node yet: instances are stored but not installed or run"
        ))),
        c => Err(Failure::Usage(format!("Invalid command: \"{c}\"."))),
    }
}

/// vmadm must run as root on the host. With a relocated root (tests,
/// benchmarks) it touches only files under that root, and any user may run
/// it.
fn check_privilege() -> Result<(), String> {
    let relocated = std::env::var_os(ROOT_ENV).is_some_and(|r| !r.is_empty());
    if relocated || nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err("must be run as root".into())
    }
}

/// vmadm's check of a uuid argument: 36 characters with dashes in the
/// right places (the node says whether such an instance exists).
fn uuid_arg(args: &[String], command: &str) -> Result<String, Failure> {
    let bad = || Failure::Usage(format!("Invalid or missing UUID for {command}"));
    let u = args.first().ok_or_else(bad)?;
    let b = u.as_bytes();
    let shaped = b.len() == 36 && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-');
    if shaped { Ok(u.clone()) } else { Err(bad()) }
}
