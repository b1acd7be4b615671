//! `imgadm`: SmartOS's image manager, its local side (install, list, get,
//! show, delete, vacuum). Errors are printed as
//! `imgadm <command>: error (<Code>): <message>` (with `-E`, a JSON object
//! follows as the last line of stderr); exit 0 ok, 1 error, 2 usage, 3 image
//! not installed.

mod create;
mod list;
mod remote;

pub use remote::{PARENT_ENV as SERVE_PARENT_ENV, SERVING};
mod sources;

use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

use basalt_node::images::{ImageError, ImageStore, Installed};
use basalt_node::instances::Node;
use basalt_node::paths::Paths;
use serde_json::{Value, json};

use crate::getopt::{self, GetoptError, Parsed};
use crate::output::{message, stdout};

const USAGE: &str = "\
Usage:
    imgadm [<options>] <command> [<args>...]

Options:
    -h, --help      Print this help and exit.
    --version       Print version and exit.
    -v, --verbose   Verbose logging on stderr.
    -E              On error, emit a structured JSON error object as the
                    last line of stderr output.

Commands:
    sources [-j] [-v] [-a <url> [-t imgapi|docker] [-k] [-f]] [-d <url>] [-e] [-c]
    avail [-j] [-H] [-o <field>,...] [-s <field>,...] [<field>=<value> ...]
    show <uuid>
    import [-P <pool>] [-q] [-S <url>] <uuid>
    install [-P <pool>] [-q] -m <manifest> -f <file>
    list [-j] [-H] [-o <field>,...] [-s <field>,...] [<field>=<value> ...]
    get [-P <pool>] [-r] <uuid>
    update [-n] [<uuid> ...]
    delete [-P <pool>] <uuid>
    vacuum [-n] [-f]
    create [-m <manifest>|-] [-o <path>] [-c none|gzip|bzip2|xz|zstd] [-i]
           [-p <imgapi-url>] [-q] <vm-uuid> [<field>=<value> ...]
    publish [-q] -m <manifest> -f <file> <imgapi-url>
    ancestry [-P <pool>] [-j] [-H] [-o <field>,...] <uuid>
    serve [--listen <addr>:<port>] [--allow-publish]";

/// A failure of an imgadm command.
enum Failure {
    Usage(String),
    Image(ImageError),
    Other {
        code: &'static str,
        message: String,
        status: u8,
    },
}

impl From<ImageError> for Failure {
    fn from(e: ImageError) -> Failure {
        Failure::Image(e)
    }
}

type Outcome = Result<(), Failure>;

/// Runs imgadm with the process's arguments.
pub fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut structured = false;
    while let Some(first) = args.first() {
        match first.as_str() {
            "-E" => structured = true,
            "-v" | "--verbose" => {}
            "-h" | "--help" | "help" => {
                stdout(&format!("{USAGE}\n"));
                return ExitCode::SUCCESS;
            }
            "--version" => {
                stdout(&format!("imgadm {}\n", env!("CARGO_PKG_VERSION")));
                return ExitCode::SUCCESS;
            }
            _ => break,
        }
        args.remove(0);
    }
    let Some(cmd) = args.first().cloned() else {
        message(USAGE);
        return ExitCode::from(2);
    };
    crate::log::init(&Paths::from_env(), &format!("imgadm-{cmd}"));
    match run(&cmd, &args[1..]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            message(&format!("imgadm {cmd}: error (Usage): {m}"));
            message(USAGE);
            ExitCode::from(2)
        }
        Err(f) => {
            let (code, msg, status) = match f {
                Failure::Image(e) => (e.code(), e.to_string(), e.exit_status()),
                Failure::Other {
                    code,
                    message,
                    status,
                } => (code, message, status),
                Failure::Usage(_) => unreachable!("handled above"),
            };
            tracing::error!(command = %cmd, code, error = %msg, "failed");
            message(&format!("imgadm {cmd}: error ({code}): {msg}"));
            if structured {
                message(&json!({"code": code, "message": msg}).to_string());
            }
            ExitCode::from(status)
        }
    }
}

fn store() -> Result<ImageStore, Failure> {
    Node::open(Paths::from_env())
        .and_then(|n| n.images())
        .map_err(|e| Failure::Other {
            code: "InternalError",
            message: e.to_string(),
            status: 1,
        })
}

fn run(cmd: &str, args: &[String]) -> Outcome {
    match cmd {
        "install" => install(args),
        "list" => list::list(&store()?, args),
        "get" | "info" => get(args),
        "show" => remote::show(args),
        "sources" => sources::sources(args),
        "avail" | "available" => remote::avail(args),
        "import" => remote::import(args),
        "update" => remote::update(args),
        "publish" => remote::publish(args),
        "serve" => remote::serve(args),
        "create" => create::create(args),
        "delete" | "destroy" => delete(args),
        "vacuum" => vacuum(args),
        "ancestry" => list::ancestry(&store()?, args),
        other => Err(Failure::Usage(format!("unknown command: \"{other}\""))),
    }
}

fn parse(args: &[String], flags: &str, with_value: &str) -> Result<Parsed, Failure> {
    getopt::parse(args, flags, with_value).map_err(|e| {
        Failure::Usage(match e {
            GetoptError::MissingValue(c) => format!("option -{c} requires an argument"),
            GetoptError::Unknown(c) => format!("unknown option: \"-{c}\""),
        })
    })
}

/// An imgadm command's single uuid operand.
trait Uuid {
    fn uuid(&self) -> Result<&str, Failure>;
}

impl Uuid for Parsed {
    fn uuid(&self) -> Result<&str, Failure> {
        match self.operands.as_slice() {
            [u] => Ok(u),
            [] => Err(Failure::Usage("missing UUID argument".into())),
            _ => Err(Failure::Usage(format!(
                "unexpected arguments: {:?}",
                &self.operands[1..]
            ))),
        }
    }
}

/// `-P <pool>` must name the node's pool.
fn check_pool(store: &ImageStore, p: &Parsed) -> Outcome {
    match p.value('P') {
        Some(pool) if pool != store.pool().name() => Err(Failure::Other {
            code: "InvalidArgument",
            message: format!(
                "zpool \"{pool}\" is not this node's pool (\"{}\")",
                store.pool().name()
            ),
            status: 1,
        }),
        _ => Ok(()),
    }
}

/// The value of option `-<c>`, which the command requires (`what` names
/// it in the usage error).
fn required<'a>(p: &'a Parsed, c: char, what: &str) -> Result<&'a str, Failure> {
    p.value(c)
        .ok_or_else(|| Failure::Usage(format!("-{c} <{what}> is required")))
}

fn install(args: &[String]) -> Outcome {
    let p = parse(args, "q", "Pmf")?;
    let manifest = required(&p, 'm', "manifest")?;
    let file = required(&p, 'f', "file")?;
    let store = store()?;
    check_pool(&store, &p)?;
    match store.install(Path::new(manifest), Path::new(file))? {
        Installed::Already(m) => stdout(&format!(
            "Image {} ({}@{}) is already installed, skipping\n",
            m.uuid, m.name, m.version
        )),
        Installed::New(m) => stdout(&format!(
            "Installed image {} ({}@{})\n",
            m.uuid, m.name, m.version
        )),
    }
    Ok(())
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

fn get(args: &[String]) -> Outcome {
    let p = parse(args, "r", "P")?;
    let store = store()?;
    check_pool(&store, &p)?;
    let img = store.get(p.uuid()?)?;
    let mut v = img.record.to_value();
    if p.has('r') {
        let uuid = img.record.manifest.uuid.to_string();
        let snapshot = format!("{}/{uuid}@final", store.pool().name());
        v["children"] = json!({"snapshots": [snapshot], "clones": img.clones});
    }
    stdout(&pretty(&v));
    Ok(())
}

fn delete(args: &[String]) -> Outcome {
    let p = parse(args, "", "P")?;
    let store = store()?;
    check_pool(&store, &p)?;
    let m = store.delete(p.uuid()?)?;
    stdout(&format!(
        "Deleted image {} ({}@{})\n",
        m.uuid, m.name, m.version
    ));
    Ok(())
}

fn vacuum(args: &[String]) -> Outcome {
    let p = parse(args, "nf", "")?;
    let store = store()?;
    let candidates = store.vacuum(true)?;
    let dry = p.has('n');
    if candidates.is_empty() {
        if !dry && p.has('f') {
            // Nothing to ask about, but what killed installs left goes.
            store.vacuum(false)?;
        }
        return Ok(());
    }
    if !dry && !p.has('f') && !confirm(candidates.len()) {
        message("Aborting vacuum");
        return Ok(());
    }
    let done = if dry {
        candidates
    } else {
        store.vacuum(false)?
    };
    let verb = if dry { "Would delete" } else { "Deleted" };
    let text: String = done
        .iter()
        .map(|m| format!("{verb} image {} ({}@{})\n", m.uuid, m.name, m.version))
        .collect();
    stdout(&text);
    Ok(())
}

fn confirm(count: usize) -> bool {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return false;
    }
    message(&format!("Delete {count} unused image(s)? [y/N] "));
    let mut line = String::new();
    let _ = stdin.lock().read_line(&mut line);
    matches!(line.trim(), "y" | "Y" | "yes")
}
