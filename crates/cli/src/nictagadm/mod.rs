//! `nictagadm`: the node's nic tags, kept in `/usbkey/config`, with
//! SmartOS's subcommands, options, messages and exit codes: a failure is
//! `Error: <message>` on stderr and exit 1, a wrong command line is the
//! message and the usage on stderr and exit 2. `-v` (before the
//! subcommand or among its options) prints what is done, as `+ ` lines on
//! stderr.

mod render;

use std::process::ExitCode;

use basalt_node::config::NodeConfig;
use basalt_node::nictags::{self, NewTag, NicTagError};
use basalt_node::paths::Paths;
use basalt_node::sysinfo::{self, Host};

use crate::getopt::{self, GetoptError, Parsed};
use crate::output::{Status, message, stdout};

const USAGE: &str = "\
Usage: nictagadm [-v] <subcommand> [options] <args...>

Subcommands:
    add [-v] [-l] [-p prop=value,...] <name> [mac]
    delete [-v] [-f] <name>
    exists [-lv] <name> [name1]...
    list [-v] [-l | -L] [-p] [-d delim]
    update [-v] [-p prop=value,...] <name> [mac]
    vms [-v] <name>

Properties (-p): mac (a MAC address of a link of this host), mtu (1500-9000).
-h, -? or help print this help.";

/// Why a subcommand did not succeed.
enum Failure {
    /// The command line is wrong: the message, then the usage; exit 2.
    Usage(String),
    /// The operation failed: `Error: <message>`; exit 1.
    Error(String),
    /// The answer is no, already said on stderr; exit 1.
    No,
}

impl From<NicTagError> for Failure {
    fn from(e: NicTagError) -> Failure {
        Failure::Error(one_line(&e))
    }
}

impl From<basalt_node::config::ConfigError> for Failure {
    fn from(e: basalt_node::config::ConfigError) -> Failure {
        Failure::Error(one_line(&e))
    }
}

type Outcome = Result<(), Failure>;

/// The error and its causes on one line, each cause once.
fn one_line(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// What every subcommand is given.
struct Context {
    paths: Paths,
    verbose: bool,
}

impl Context {
    fn say(&self, what: &str) {
        if self.verbose {
            message(&format!("+ {what}"));
        }
    }
}

/// Runs nictagadm with the process's arguments.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut verbose = false;
    let mut rest = args.as_slice();
    while let Some(opts) = rest
        .first()
        .and_then(|a| a.strip_prefix('-'))
        .filter(|o| !o.is_empty())
    {
        if opts == "-help" || opts.contains(['h', '?']) {
            stdout(&format!("{USAGE}\n"));
            return Status::Success.into();
        }
        if let Some(bad) = opts.chars().find(|c| *c != 'v') {
            return finish("", Err(Failure::Usage(format!("invalid option: {bad}"))));
        }
        verbose = true;
        rest = &rest[1..];
    }
    let Some((cmd, args)) = rest.split_first() else {
        return finish("", Err(Failure::Usage("no subcommand given".into())));
    };
    let paths = Paths::from_env();
    crate::log::init(&paths, &format!("nictagadm-{cmd}"));
    let mut ctx = Context { paths, verbose };
    finish(cmd, run(&mut ctx, cmd, args))
}

fn finish(cmd: &str, outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(()) => Status::Success.into(),
        Err(Failure::Usage(m)) => {
            message(&m);
            message(USAGE);
            Status::Usage.into()
        }
        Err(Failure::Error(m)) => {
            tracing::error!(command = %cmd, error = %m, "failed");
            message(&format!("Error: {m}"));
            Status::Failure.into()
        }
        Err(Failure::No) => Status::Failure.into(),
    }
}

fn run(ctx: &mut Context, cmd: &str, args: &[String]) -> Outcome {
    match cmd {
        "add" => add(ctx, args),
        "delete" => delete(ctx, args),
        "exists" => exists(ctx, args),
        "list" => list(ctx, args),
        "update" => update(ctx, args),
        "vms" => vms(ctx, args),
        "help" => {
            stdout(&format!("{USAGE}\n"));
            Ok(())
        }
        other => Err(Failure::Error(format!("unknown command {other}"))),
    }
}

/// Parses a subcommand's options; `-v` is every subcommand's.
fn parse(
    ctx: &mut Context,
    args: &[String],
    flags: &str,
    with_value: &str,
) -> Result<Parsed, Failure> {
    let p = getopt::parse(args, &format!("v{flags}"), with_value).map_err(|e| {
        Failure::Usage(match e {
            GetoptError::MissingValue(c) => format!("missing required argument -- {c}"),
            GetoptError::Unknown(c) => format!("invalid option: {c}"),
        })
    })?;
    ctx.verbose |= p.has('v');
    Ok(p)
}

/// The operands `<name> [mac]` (`max` of them at most).
fn operands(p: &Parsed, max: usize) -> Result<(&str, Option<&str>), Failure> {
    match p.operands.as_slice() {
        [] => Err(Failure::Usage("missing nic tag name".into())),
        ops if ops.len() > max => Err(Failure::Usage("too many arguments".into())),
        [name, rest @ ..] => Ok((name, rest.first().map(String::as_str))),
    }
}

/// The `-p prop=value,...` properties: `mac` and `mtu`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Props {
    mac: Option<String>,
    mtu: Option<String>,
}

fn props(p: &Parsed) -> Result<Props, Failure> {
    let mut props = Props::default();
    for list in p.values.iter().filter(|(c, _)| *c == 'p').map(|(_, v)| v) {
        for prop in list.split(',') {
            let invalid = || Failure::Error(format!("invalid property: {prop}"));
            let (key, value) = prop.split_once('=').ok_or_else(invalid)?;
            let slot = match key {
                "mac" => &mut props.mac,
                "mtu" => &mut props.mtu,
                _ => return Err(invalid()),
            };
            if value.is_empty() {
                return Err(invalid());
            }
            *slot = Some(value.to_owned());
        }
    }
    Ok(props)
}

/// The MAC given as the last operand or as `-p mac=`, not both.
fn one_mac<'a>(operand: Option<&'a str>, props: &'a Props) -> Result<Option<&'a str>, Failure> {
    match (operand, props.mac.as_deref()) {
        (Some(_), Some(_)) => Err(Failure::Error("mac address specified twice".into())),
        (a, b) => Ok(a.or(b)),
    }
}

fn add(ctx: &mut Context, args: &[String]) -> Outcome {
    let p = parse(ctx, args, "l", "p")?;
    let props = props(&p)?;
    let (name, operand) = operands(&p, 2)?;
    let mac = one_mac(operand, &props)?;
    let local = p.has('l');
    let new = match (mac, local) {
        (None, false) => {
            return Err(Failure::Error(
                "create non-local tag, but no mac address specified".into(),
            ));
        }
        (Some(_), true) => {
            return Err(Failure::Error(
                "create local tag, but mac address specified".into(),
            ));
        }
        (None, true) if props.mtu.is_some() => {
            return Err(Failure::Error(
                "Cannot specify MTU for local nic tag".into(),
            ));
        }
        (None, true) => NewTag::Etherstub,
        (Some(mac), false) => NewTag::Physical {
            mac,
            mtu: props.mtu.as_deref().map(nictags::parse_mtu).transpose()?,
        },
    };
    ctx.say(&format!(
        "adding nic tag {name} to {}",
        ctx.paths.node_config().display()
    ));
    nictags::add(&ctx.paths, name, new)?;
    update_sysinfo(ctx);
    if props.mtu.is_some() {
        mtu_warning();
    }
    Ok(())
}

fn update(ctx: &mut Context, args: &[String]) -> Outcome {
    let p = parse(ctx, args, "l", "p")?;
    let props = props(&p)?;
    let (name, operand) = operands(&p, 2)?;
    if p.has('l') {
        return Err(Failure::Error("cannot update a local tag".into()));
    }
    let mac = one_mac(operand, &props)?;
    let mtu = props.mtu.as_deref().map(nictags::parse_mtu).transpose()?;
    ctx.say(&format!(
        "updating nic tag {name} in {}",
        ctx.paths.node_config().display()
    ));
    nictags::update(&ctx.paths, name, mac, mtu)?;
    update_sysinfo(ctx);
    if mtu.is_some() {
        mtu_warning();
    }
    Ok(())
}

fn mtu_warning() {
    message("MTU changes will not take effect until next reboot");
}

fn delete(ctx: &mut Context, args: &[String]) -> Outcome {
    let p = parse(ctx, args, "f", "")?;
    let (name, _) = operands(&p, 1)?;
    ctx.say(&format!(
        "deleting nic tag {name} from {}",
        ctx.paths.node_config().display()
    ));
    for bridge in nictags::delete(&ctx.paths, name, p.has('f'))? {
        ctx.say(&format!("removed idle bridge {bridge}"));
    }
    update_sysinfo(ctx);
    Ok(())
}

fn exists(ctx: &mut Context, args: &[String]) -> Outcome {
    let p = parse(ctx, args, "l", "")?;
    if p.operands.is_empty() {
        return Err(Failure::Error("tag_exists: no tag specified".into()));
    }
    let config = NodeConfig::load(&ctx.paths.node_config())?;
    let mut all = true;
    for name in &p.operands {
        if !nictags::exists(&config, name) {
            all = false;
            if p.has('l') {
                message(name);
            } else {
                message(&format!("invalid tag: {name}"));
            }
        }
    }
    if all { Ok(()) } else { Err(Failure::No) }
}

fn list(ctx: &mut Context, args: &[String]) -> Outcome {
    let p = parse(ctx, args, "lLp", "d")?;
    if !p.operands.is_empty() {
        return Err(Failure::Usage("too many arguments".into()));
    }
    if p.has('l') && p.has('L') {
        return Err(Failure::Error(
            "Cannot specify both local and non-local options".into(),
        ));
    }
    if p.value('d').is_some() && !p.has('p') {
        return Err(Failure::Error(
            "Delimiter option requires parsable option to be set".into(),
        ));
    }
    let mut rows = nictags::list(&ctx.paths)?;
    let etherstub = |r: &nictags::Listed| r.kind == basalt_node::config::TagKind::Etherstub;
    if p.has('l') {
        rows.retain(etherstub);
    } else if p.has('L') {
        rows.retain(|r| !etherstub(r));
    }
    stdout(&if p.has('p') {
        render::parsable(&rows, p.value('d').unwrap_or(":"))
    } else {
        render::table(&rows)
    });
    Ok(())
}

fn vms(ctx: &mut Context, args: &[String]) -> Outcome {
    let p = parse(ctx, args, "", "")?;
    let (name, _) = operands(&p, 1)?;
    let uuids = nictags::vms(&ctx.paths, name)?;
    stdout(&uuids.iter().map(|u| format!("{u}\n")).collect::<String>());
    Ok(())
}

/// Brings sysinfo's cache up to date after a change (its links list
/// their tags); a node without a cache has nothing to bring up to date.
fn update_sysinfo(ctx: &Context) {
    if !ctx.paths.sysinfo_cache().exists() {
        return;
    }
    ctx.say("updating sysinfo");
    if let Err(e) = sysinfo::refresh(&ctx.paths, &Host::local()) {
        tracing::warn!(error = %one_line(&e), "failed to update sysinfo");
        message("failed to update sysinfo");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Parsed {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        getopt::parse(&args, "vl", "p").unwrap()
    }

    fn error(f: Failure) -> String {
        match f {
            Failure::Error(m) => format!("Error: {m}"),
            Failure::Usage(m) => format!("usage: {m}"),
            Failure::No => "no".into(),
        }
    }

    #[test]
    fn props_take_mac_and_mtu() {
        let p = parsed(&["-p", "mac=2:0:0:0:0:1,mtu=9000", "-p", "mtu=1500", "tag"]);
        assert_eq!(
            props(&p).ok().unwrap(),
            Props {
                mac: Some("2:0:0:0:0:1".into()),
                mtu: Some("1500".into()),
            }
        );
        for bad in ["mtu=", "mtu", "=9000", "speed=10"] {
            let err = props(&parsed(&["-p", bad])).err().map(error).unwrap();
            assert_eq!(err, format!("Error: invalid property: {bad}"));
        }
    }

    #[test]
    fn a_mac_is_given_once() {
        let both = Props {
            mac: Some("2:0:0:0:0:1".into()),
            mtu: None,
        };
        assert_eq!(
            one_mac(Some("2:0:0:0:0:2"), &both)
                .err()
                .map(error)
                .unwrap(),
            "Error: mac address specified twice"
        );
        assert_eq!(one_mac(None, &both).ok().unwrap(), Some("2:0:0:0:0:1"));
        assert_eq!(one_mac(None, &Props::default()).ok().unwrap(), None);
    }

    #[test]
    fn name_then_mac() {
        let p = parsed(&["tag", "mac"]);
        assert_eq!(operands(&p, 2).ok().unwrap(), ("tag", Some("mac")));
        assert_eq!(
            operands(&p, 1).err().map(error).unwrap(),
            "usage: too many arguments"
        );
        assert_eq!(
            operands(&parsed(&["-l"]), 2).err().map(error).unwrap(),
            "usage: missing nic tag name"
        );
    }
}
