//! `pooladm`: the pool with ZFS's verbs, flags and output. Named apart from
//! OpenZFS's `zfs` and `zpool` so the two never collide on one host.

mod table;

use std::io::IsTerminal;
use std::process::ExitCode;

use basalt_node::instances::Node;
use basalt_node::paths::Paths;
use basalt_pool::size::parse_size;
use basalt_pool::{DatasetName, Kind, Pool, SnapshotName};

use crate::getopt::{self, GetoptError, Parsed};
use crate::output::{Status, message, stdout};
use table::Prop;

const USAGE: &str = "\
usage: pooladm <command> [options]

  list [-H] [-p] [-r] [-o prop[,...]] [-t filesystem|volume|snapshot|all[,...]] [name...]
  create [-V size] <filesystem|volume>
  destroy [-r] [-R] <filesystem|volume|snapshot>
  snapshot <filesystem|volume>@<snap>
  clone <snapshot> <filesystem|volume>
  rollback [-r] <snapshot>
  get [-H] [-p] <prop[,...]|all> <name>
  set quota=<size|none> <filesystem|volume>
  send [-i <snapshot>] <snapshot>        (stream to stdout)
  receive [-F] <filesystem|volume>       (stream from stdin)

properties: name type creation used avail refer mountpoint origin quota volsize";

enum Failure {
    Usage(String),
    Operation(String),
}

type Outcome = Result<(), Failure>;

fn op(e: impl std::fmt::Display) -> Failure {
    Failure::Operation(e.to_string())
}

/// Runs pooladm with the process's arguments.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        message(USAGE);
        return Status::Usage.into();
    };
    if matches!(cmd.as_str(), "-h" | "-?" | "--help" | "help") {
        stdout(&format!("{USAGE}\n"));
        return Status::Success.into();
    }
    crate::log::init(&Paths::from_env(), &format!("pooladm-{cmd}"));
    let outcome = Node::open(Paths::from_env())
        .and_then(|n| n.pool())
        .map_err(op)
        .and_then(|pool| dispatch(&pool, cmd, &args[1..]));
    match outcome {
        Ok(()) => Status::Success.into(),
        Err(Failure::Operation(m)) => {
            message(&m);
            Status::Failure.into()
        }
        Err(Failure::Usage(m)) => {
            message(&m);
            message(USAGE);
            Status::Usage.into()
        }
    }
}

fn dispatch(pool: &Pool, cmd: &str, args: &[String]) -> Outcome {
    match cmd {
        "list" => list(pool, args),
        "create" => create(pool, args),
        "destroy" => destroy(pool, args),
        "snapshot" | "snap" => snapshot(pool, args),
        "clone" => clone(pool, args),
        "rollback" => rollback(pool, args),
        "get" => get(pool, args),
        "set" => set(pool, args),
        "send" => send(pool, args),
        "receive" | "recv" => receive(pool, args),
        other => Err(Failure::Usage(format!("unrecognized command '{other}'"))),
    }
}

fn parse(args: &[String], flags: &str, with_value: &str) -> Result<Parsed, Failure> {
    getopt::parse(args, flags, with_value).map_err(|e| {
        Failure::Usage(match e {
            GetoptError::MissingValue(c) => format!("missing argument for '-{c}' option"),
            GetoptError::Unknown(c) => format!("invalid option '{c}'"),
        })
    })
}

/// A pooladm command's single operand.
trait One {
    fn one(&self, what: &str) -> Result<&str, Failure>;
}

impl One for Parsed {
    fn one(&self, what: &str) -> Result<&str, Failure> {
        match self.operands.as_slice() {
            [x] => Ok(x),
            [] => Err(Failure::Usage(format!("missing {what} argument"))),
            _ => Err(Failure::Usage("too many arguments".into())),
        }
    }
}

fn dataset(s: &str) -> Result<DatasetName, Failure> {
    DatasetName::parse(s).map_err(op)
}

fn snap(s: &str) -> Result<SnapshotName, Failure> {
    SnapshotName::parse(s).map_err(op)
}

fn props(spec: &str) -> Result<Vec<Prop>, Failure> {
    spec.split(',')
        .map(|p| Prop::parse(p).ok_or_else(|| Failure::Usage(format!("invalid property '{p}'"))))
        .collect()
}

fn list(pool: &Pool, args: &[String]) -> Outcome {
    let p = parse(args, "Hpr", "ot")?;
    let columns = props(p.value('o').unwrap_or("name,used,avail,refer,mountpoint"))?;
    let types = p.value('t').unwrap_or("filesystem,volume");
    if let Some(bad) = types
        .split(',')
        .find(|t| !matches!(*t, "all" | "filesystem" | "volume" | "snapshot" | "snap"))
    {
        return Err(Failure::Usage(format!("invalid type '{bad}'")));
    }
    let wanted = |k: Kind| {
        types
            .split(',')
            .any(|t| t == "all" || t == k.as_str() || (t == "snap" && k == Kind::Snapshot))
    };
    let all = pool.list().map_err(op)?;
    for name in &p.operands {
        if !all.iter().any(|d| &d.name == name) {
            return Err(Failure::Operation(format!(
                "cannot open '{name}': dataset does not exist"
            )));
        }
    }
    // Without -t, a dataset named on the command line is listed whatever
    // its type (`list zones/a@s`), as ZFS does.
    let explicit_types = p.value('t').is_some();
    let selected: Vec<_> = all
        .into_iter()
        .filter(|d| wanted(d.kind) || (!explicit_types && p.operands.contains(&d.name)))
        .filter(|d| {
            p.operands.is_empty()
                || p.operands.iter().any(|n| {
                    &d.name == n
                        || (p.has('r')
                            && (d.name.starts_with(&format!("{n}/"))
                                || d.name.starts_with(&format!("{n}@"))))
                })
        })
        .collect();
    stdout(&table::datasets(
        &columns,
        &selected,
        p.has('H'),
        p.has('p'),
    ));
    Ok(())
}

fn create(pool: &Pool, args: &[String]) -> Outcome {
    let p = parse(args, "", "V")?;
    let name = dataset(p.one("filesystem")?)?;
    let volsize = match p.value('V') {
        Some(v) => Some(
            parse_size(v).ok_or_else(|| Failure::Operation(format!("bad volume size '{v}'")))?,
        ),
        None => None,
    };
    pool.create(&name, volsize).map_err(op)
}

fn destroy(pool: &Pool, args: &[String]) -> Outcome {
    let p = parse(args, "rR", "")?;
    pool.destroy(p.one("dataset")?, p.has('r'), p.has('R'))
        .map_err(op)
}

fn snapshot(pool: &Pool, args: &[String]) -> Outcome {
    let p = parse(args, "", "")?;
    pool.snapshot(&snap(p.one("snapshot")?)?).map_err(op)
}

fn clone(pool: &Pool, args: &[String]) -> Outcome {
    let p = parse(args, "", "")?;
    let [s, t] = p.operands.as_slice() else {
        return Err(Failure::Usage("clone takes a snapshot and a target".into()));
    };
    pool.clone_snapshot(&snap(s)?, &dataset(t)?).map_err(op)
}

fn rollback(pool: &Pool, args: &[String]) -> Outcome {
    let p = parse(args, "r", "")?;
    pool.rollback(&snap(p.one("snapshot")?)?, p.has('r'))
        .map_err(op)
}

fn get(pool: &Pool, args: &[String]) -> Outcome {
    let p = parse(args, "Hp", "")?;
    let [spec, name] = p.operands.as_slice() else {
        return Err(Failure::Usage("get takes properties and a dataset".into()));
    };
    let wanted = if spec == "all" {
        Prop::ALL.to_vec()
    } else {
        props(spec)?
    };
    let d = pool.get(name).map_err(op)?;
    let rows: Vec<Vec<String>> = wanted
        .iter()
        .map(|prop| {
            vec![
                d.name.clone(),
                prop.name().to_owned(),
                prop.value(&d, p.has('p')),
                "-".to_owned(),
            ]
        })
        .collect();
    stdout(&table::render(
        &["NAME", "PROPERTY", "VALUE", "SOURCE"],
        &[false; 4],
        &rows,
        p.has('H'),
    ));
    Ok(())
}

fn set(pool: &Pool, args: &[String]) -> Outcome {
    let p = parse(args, "", "")?;
    let [assignment, name] = p.operands.as_slice() else {
        return Err(Failure::Usage(
            "set takes property=value and a dataset".into(),
        ));
    };
    let (prop, value) = assignment
        .split_once('=')
        .ok_or_else(|| Failure::Usage(format!("missing '=' for property '{assignment}'")))?;
    if prop != "quota" {
        return Err(Failure::Operation(format!(
            "cannot set property for '{name}': '{prop}' is read-only or unknown"
        )));
    }
    let bytes = match value {
        "none" | "0" => None,
        v => Some(
            parse_size(v).ok_or_else(|| Failure::Operation(format!("bad quota value '{v}'")))?,
        ),
    };
    pool.set_quota(&dataset(name)?, bytes).map_err(op)
}

fn send(pool: &Pool, args: &[String]) -> Outcome {
    let p = parse(args, "", "i")?;
    let s = snap(p.one("snapshot")?)?;
    if std::io::stdout().is_terminal() {
        return Err(Failure::Operation(
            "Error: Stream can not be written to a terminal.\nYou must redirect standard output."
                .into(),
        ));
    }
    let from = match p.value('i') {
        Some(f) if f.starts_with('@') => Some(s.dataset().snapshot(&f[1..]).map_err(op)?),
        Some(f) => Some(snap(f)?),
        None => None,
    };
    let mut out = std::io::stdout().lock();
    pool.send(&s, from.as_ref(), &mut out).map_err(op)
}

fn receive(pool: &Pool, args: &[String]) -> Outcome {
    let p = parse(args, "F", "")?;
    let target = dataset(p.one("filesystem")?)?;
    if std::io::stdin().is_terminal() {
        return Err(Failure::Operation("Error: Backup stream can not be read from a terminal.\nYou must redirect standard input.".into()));
    }
    let mut input = std::io::stdin().lock();
    pool.receive(&target, &mut input, p.has('F'))
        .map(|_| ())
        .map_err(op)
}
