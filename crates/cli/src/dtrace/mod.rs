//! `dtrace`: listing the host's probes (`-l`, with `-P`, `-m`, `-f`,
//! `-n`), checking a program (`-e`: parsed, matched and compiled), and
//! running it (`trace`), with `-c` holding its command until the probes
//! are in place (`hold`).
//!
//! Messages are DTrace's: `dtrace: invalid probe specifier S: probe
//! description S does not match any probes`, `dtrace: failed to compile
//! script F: line N, column C: …`, `dtrace: description 'S' matched N
//! probes`.

use std::process::ExitCode;

use basalt_dtrace::parse::{self, FieldLevel, MacroEnv, ProbeSpec};
use basalt_dtrace::probes::{self, Probe, tracefs};

use crate::getopt::{self, GetoptError};

mod hold;
mod trace;

use crate::output::{message, stdout};
pub use hold::hold_if_asked;

const USAGE: &str = "\
Usage: dtrace [-qeZw] [-x opt[=val]] [-o output] [-c cmd] [-p pid]
\t[-s script] [-n probe-description [program]] [-P provider] [-m module]
\t[-f function] [-l] [args ...]

\t-c  run a command, $target its pid; end when it ends
\t-e  exit after compiling the program
\t-l  list the probes that match the descriptions (all without any)
\t-n  a probe description, with an optional program
\t-o  append the output to a file
\t-p  trace a process, $target its pid; end when it ends
\t-P  a provider   -m a module   -f a function   (for -l, or to trace)
\t-q  quiet: only what the program prints
\t-s  a script file
\t-w  allow destructive actions
\t-x  set an option (strsize, bufsize, switchrate, quiet, ...)
\t-Z  allow descriptions that match no probes";

/// What went wrong, as dtrace prints it (its exit status is 1, usage 2).
enum Failure {
    Usage(String),
    /// Said after `dtrace: `.
    Said(String),
    /// A whole line already (the parser renders its errors as DTrace
    /// does, prefix included).
    Line(String),
}

/// Runs dtrace with the process's arguments.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            message(&format!("dtrace: {m}\n{USAGE}"));
            ExitCode::from(2)
        }
        Err(Failure::Said(m)) => {
            message(&format!("dtrace: {m}"));
            ExitCode::FAILURE
        }
        Err(Failure::Line(m)) => {
            message(&m);
            ExitCode::FAILURE
        }
    }
}

/// What the command line asks for: descriptions in order, with the level
/// their rightmost field is at, or programs.
enum Item {
    Description(String, FieldLevel),
    Script(String),
}

/// Where a program's descriptions came from, for messages.
enum Origin {
    /// The text of `-n`, `-P`, `-m` or `-f`.
    Arg(String),
    /// A `-s` script and its source.
    Script { file: String, source: String },
}

fn run(args: &[String]) -> Result<(), Failure> {
    let p = getopt::parse(args, "qelvwZF", "nsPmfxocpiC").map_err(|e| {
        Failure::Usage(match e {
            GetoptError::MissingValue(c) => format!("option requires an argument -- '{c}'"),
            GetoptError::Unknown(c) => format!("illegal option -- {c}"),
        })
    })?;
    let items: Vec<Item> = p
        .values
        .iter()
        .filter_map(|(c, v)| {
            let level = match c {
                'P' => FieldLevel::Provider,
                'm' => FieldLevel::Module,
                'f' => FieldLevel::Function,
                'n' => FieldLevel::Name,
                's' => return Some(Item::Script(v.clone())),
                _ => return None,
            };
            Some(Item::Description(v.clone(), level))
        })
        .collect();
    if !is_root() {
        return Err(Failure::Said(
            "failed to initialize dtrace: DTrace requires additional privileges".into(),
        ));
    }
    // Before any thread is made, so that all of them leave the signals to
    // the one that waits for them.
    let stop = trace::catch_signals();
    // The loader is made while the program is read and compiled.
    let loader = std::thread::spawn(basalt_dtrace::bpf::load::Loader::quick);
    let mut env = MacroEnv::new("dtrace", p.operands.clone());
    // `-c`: the command is started now, held before its exec, so that
    // `$target` is its pid and its probes are in place when it runs.
    let held = match p.value('c') {
        Some(cmd) if !p.has('l') && !p.has('e') => {
            let mut h = hold::Held::spawn(cmd).map_err(Failure::Said)?;
            h.wait_ready().map_err(Failure::Said)?;
            env = env.with_target(h.pid());
            Some(h)
        }
        _ => None,
    };
    if let Some(pid) = p.value('p') {
        let pid: u32 = pid
            .parse()
            .map_err(|_| Failure::Said(format!("invalid process id: {pid}")))?;
        if !trace::alive(pid) {
            return Err(Failure::Said(format!(
                "failed to grab pid {pid}: No such process"
            )));
        }
        env = env.with_target(pid);
    }
    let programs = programs(&items, &env)?;
    let root = tracefs::root().map_err(|e| Failure::Said(e.to_string()))?;
    // Read only when a description could name a tracepoint's probe.
    let listing_all = p.has('l') && programs.is_empty();
    let wanted = listing_all
        || programs
            .iter()
            .flat_map(|(_, program)| specs(program))
            .any(|s| probes::wants_tracepoints(&s.provider, &s.name));
    let tps = if wanted {
        tracefs::tracepoints(&root).map_err(|e| Failure::Said(e.to_string()))?
    } else {
        Vec::new()
    };
    let mut all = probes::catalog(&tps);
    trace::add_named_probes(&mut all, &programs, held.as_ref(), p.value('c'))?;
    let zero_ok = p.has('Z');
    if p.has('l') {
        return list(
            &all,
            &programs,
            zero_ok,
            p.has('v').then_some(root.as_path()),
        );
    }
    if items.is_empty() {
        return Err(Failure::Usage("no probes specified".into()));
    }
    trace::run(&p, &root, all, programs, held, loader, stop)
}

/// `dtrace: description 'S' matched N probes` (or `script 'F'`).
fn matched_line(origin: &Origin, n: usize) -> String {
    let what = match origin {
        Origin::Arg(text) => format!("description '{}'", crop(text)),
        Origin::Script { file, .. } => format!("script '{file}'"),
    };
    format!(
        "dtrace: {what} matched {n} probe{}",
        if n == 1 { "" } else { "s" }
    )
}

/// Every program of the command line, parsed: its origin and its probe
/// descriptions.
fn programs(items: &[Item], env: &MacroEnv) -> Result<Vec<(Origin, parse::Program)>, Failure> {
    items
        .iter()
        .map(|item| match item {
            Item::Description(text, FieldLevel::Name) => {
                let program = parse::parse_probe_arg(text, env)
                    .map_err(|e| Failure::Line(e.render_n(text)))?;
                Ok((Origin::Arg(text.clone()), program))
            }
            Item::Description(text, level) => {
                let spec = parse::parse_description(text, *level, env)
                    .map_err(|e| Failure::Line(e.render_n(text)))?;
                let span = spec.span;
                let clause = parse::Clause {
                    probes: vec![spec],
                    predicate: None,
                    body: Vec::new(),
                    span,
                };
                let program = parse::Program {
                    clauses: vec![clause],
                    ..parse::Program::default()
                };
                Ok((Origin::Arg(text.clone()), program))
            }
            Item::Script(file) => {
                let source = std::fs::read_to_string(file)
                    .map_err(|e| Failure::Said(format!("failed to open {file}: {e}")))?;
                let program = parse::parse_script(&source, env)
                    .map_err(|e| Failure::Line(e.render(file, &source)))?;
                let origin = Origin::Script {
                    file: file.clone(),
                    source,
                };
                Ok((origin, program))
            }
        })
        .collect()
}

/// Every probe description of a program, in order.
fn specs(program: &parse::Program) -> impl Iterator<Item = &ProbeSpec> {
    program.clauses.iter().flat_map(|c| &c.probes)
}

/// What DTrace calls an `-n` argument in its messages: the text before
/// the first `{`, `/` or `;`.
fn crop(text: &str) -> &str {
    text.find(['{', '/', ';']).map_or(text, |i| &text[..i])
}

/// `-l`: the probes matching any description, or every probe.
fn list(
    all: &[Probe],
    programs: &[(Origin, parse::Program)],
    zero_ok: bool,
    verbose: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let mut shown: Vec<&Probe> = Vec::new();
    if programs.is_empty() {
        shown = all.iter().collect();
    }
    for (origin, program) in programs {
        for spec in specs(program) {
            matching(all, origin, spec, false, zero_ok)?;
            shown.extend(all.iter().filter(|p| matches(p, spec)));
        }
    }
    shown.sort_by_key(|p| p.id);
    shown.dedup_by_key(|p| p.id);
    match verbose {
        None => stdout(&probes::render_list(&shown)),
        // `-v`: the argument types come from the tracepoints' records.
        Some(root) => stdout(&probes::render_list_verbose(&shown, |p| match &p.attach {
            probes::Attach::Tracepoint { category, name } => {
                tracefs::format_of(root, category, name)
                    .map(|f| probes::tracepoint_arg_types(category, name, &f.fields))
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        })),
    }
    Ok(())
}

fn matches(p: &Probe, spec: &ProbeSpec) -> bool {
    probes::matches(p, &spec.provider, &spec.module, &spec.function, &spec.name)
}

/// How many probes a description matches. None is an error, as in DTrace
/// (unless `zero_ok`, `-Z`), and a provider these kernels cannot offer
/// says why. With `dynamic`, a `profile-N` or `tick-N` of any rate or
/// period counts as one (made when named), though `-l` lists only the
/// usual ones.
fn matching(
    all: &[Probe],
    origin: &Origin,
    spec: &ProbeSpec,
    dynamic: bool,
    zero_ok: bool,
) -> Result<usize, Failure> {
    let n = all.iter().filter(|p| matches(p, spec)).count();
    if n > 0 {
        return Ok(n);
    }
    let clock_provider = matches!(spec.provider.as_str(), "" | "profile");
    if dynamic && clock_provider && probes::clock(&spec.name).is_some() {
        return Ok(1);
    }
    if zero_ok {
        return Ok(0);
    }
    let described = format!(
        "{}:{}:{}:{}",
        spec.provider, spec.module, spec.function, spec.name
    );
    let why = match spec.provider.as_str() {
        "fbt" | "sdt" => format!(
            "the {} provider needs kprobes or fentry, which this kernel does not offer",
            spec.provider
        ),
        p if p.starts_with("usdt") => {
            format!("probe description {described}: usdt probes are not available yet")
        }
        _ => format!("probe description {described} does not match any probes"),
    };
    Err(Failure::Said(match origin {
        Origin::Arg(text) => format!("invalid probe specifier {text}: {why}"),
        Origin::Script { file, source } => {
            let (line, _) = parse::line_col(source, spec.span.start);
            format!("failed to compile script {file}: line {line}: {why}")
        }
    }))
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
