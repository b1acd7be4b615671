//! vmadm's lifecycle commands: start, stop, reboot, kill, console.

use std::os::unix::net::UnixStream;

use basalt_node::instances::Node;
use basalt_node::zones::{StartOutcome, StopOutcome};

use super::{Failure, Outcome, uuid_arg};
use crate::output::message;

/// Splits flags (`-F`, `-t N`...) from the one positional argument.
fn split<'a>(
    args: &'a [String],
    with_value: &[&str],
) -> (Vec<(&'a str, Option<&'a str>)>, Vec<String>) {
    let mut flags = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if with_value.contains(&a) {
            flags.push((a, args.get(i + 1).map(String::as_str)));
            i += 2;
            continue;
        }
        if a.starts_with('-') && a.len() > 1 {
            flags.push((a, None));
        } else {
            rest.push(args[i].clone());
        }
        i += 1;
    }
    (flags, rest)
}

/// `vmadm start <uuid>`.
pub fn start(node: &Node, args: &[String]) -> Outcome {
    let (flags, rest) = split(args, &[]);
    let uuid = uuid_arg(&rest, "start")?;
    if let Some((f, _)) = flags.first() {
        return Err(Failure::Usage(format!("Invalid argument to start: {f}")));
    }
    if let Some(extra) = rest.get(1) {
        return Err(Failure::Usage(format!(
            "Invalid argument to start: {extra}"
        )));
    }
    match node
        .start(&uuid)
        .map_err(|e| Failure::Operation(format!("Unable to start VM {uuid}: {e}")))?
    {
        StartOutcome::Started => message(&format!("Successfully started VM {uuid}")),
        StartOutcome::AlreadyRunning => message(&format!("VM {uuid} is already 'running'")),
    }
    Ok(())
}

/// `vmadm stop <uuid> [-F] [-t secs]`.
pub fn stop(node: &Node, args: &[String]) -> Outcome {
    let (flags, rest) = split(args, &["-t"]);
    let uuid = uuid_arg(&rest, "stop")?;
    let mut force = false;
    for (f, _) in flags {
        match f {
            "-F" => force = true,
            "-t" => {
                return Err(Failure::Operation(
                    "Timeout option is only supported for bhyve, KVM and docker containers.".into(),
                ));
            }
            other => return Err(Failure::Usage(format!("Unexpected args: [\"{other}\"]"))),
        }
    }
    match node.stop(&uuid, force).map_err(Failure::op)? {
        StopOutcome::Stopped => message(&format!("Successfully completed stop for VM {uuid}")),
        StopOutcome::NotRunning(state) => message(&format!(
            "VM {uuid} is already not 'running' (currently: {state})"
        )),
    }
    Ok(())
}

/// `vmadm reboot <uuid> [-F]`.
pub fn reboot(node: &Node, args: &[String]) -> Outcome {
    let (flags, rest) = split(args, &[]);
    let uuid = uuid_arg(&rest, "reboot")?;
    let mut force = false;
    for (f, _) in flags {
        match f {
            "-F" => force = true,
            other => return Err(Failure::Usage(format!("Unexpected args: [\"{other}\"]"))),
        }
    }
    node.reboot(&uuid, force).map_err(Failure::op)?;
    message(&format!("Successfully completed reboot for VM {uuid}"));
    Ok(())
}

/// A signal by name (`TERM`, `SIGTERM`, `term`) or number.
fn signal_number(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    format!("SIG{name}")
        .parse::<nix::sys::signal::Signal>()
        .ok()
        .map(|s| s as i32)
}

/// `vmadm kill [-s SIG | -SIG] <uuid>`.
pub fn kill(node: &Node, args: &[String]) -> Outcome {
    let (flags, rest) = split(args, &["-s"]);
    let mut sig = "SIGTERM".to_owned();
    for (f, v) in flags {
        sig = match (f, v) {
            ("-s", Some(v)) => v.to_owned(),
            (f, None) if f != "-s" => f[1..].to_owned(),
            _ => return Err(Failure::Usage("Invalid or missing argument UUID".into())),
        };
    }
    let uuid = uuid_arg(&rest, "kill")
        .map_err(|_| Failure::Usage("Invalid or missing argument UUID".into()))?;
    let signo =
        signal_number(&sig).ok_or_else(|| Failure::Operation(format!("Invalid signal: {sig}")))?;
    node.kill(&uuid, signo).map_err(Failure::op)?;
    message(&format!(
        "Sent signal \"{sig}\" to init process for VM {uuid}"
    ));
    Ok(())
}

/// The console's escape: Ctrl-] ends the session.
const ESCAPE: u8 = 0x1d;

/// `vmadm console <uuid>`: the zone's console until Ctrl-].
pub fn console(node: &Node, args: &[String]) -> Outcome {
    let uuid = uuid_arg(args, "console")?;
    let id = uuid
        .parse()
        .map_err(|_| Failure::Usage("Invalid or missing UUID for console".into()))?;
    node.get(&uuid).map_err(Failure::op)?;
    let sock = node.paths().zone_console(&id);
    let stream = UnixStream::connect(&sock)
        .map_err(|_| Failure::Operation(format!("VM {uuid} is not running")))?;
    // zlogin -C's words, which SmartOS's `vmadm console` prints.
    message(&format!("[Connected to zone '{uuid}' console]"));
    crate::relay::relay(&stream, Some(ESCAPE));
    message(&format!("\n[Connection to zone '{uuid}' console closed]"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(signal_number("TERM"), Some(15));
        assert_eq!(signal_number("SIGKILL"), Some(9));
        assert_eq!(signal_number("hup"), Some(1));
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("NOPE"), None);
        assert_eq!(signal_number("0"), None);
    }

    #[test]
    fn flags_and_the_uuid_in_any_order() {
        let args: Vec<String> = ["-F", "u", "-t", "5"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (flags, rest) = split(&args, &["-t"]);
        assert_eq!(flags, [("-F", None), ("-t", Some("5"))]);
        assert_eq!(rest, ["u"]);
    }
}
