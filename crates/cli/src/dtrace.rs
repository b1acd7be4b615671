//! `dtrace`: what works today is listing the host's probes (`-l`, with
//! `-P`, `-m`, `-f`, `-n`) and checking a program (`-e`: parsed, and every
//! probe description matched against the host's probes). Running programs
//! comes with the compiler; until then `dtrace` says so and exits 1.
//!
//! Messages are DTrace's: `dtrace: invalid probe specifier S: probe
//! description S does not match any probes`, `dtrace: failed to compile
//! script F: line N, column C: …`, `dtrace: description 'S' matched N
//! probes`.

use std::process::ExitCode;

use basalt_dtrace::parse::{self, FieldLevel, MacroEnv, ProbeSpec};
use basalt_dtrace::probes::{self, Probe, tracefs};

use crate::getopt::{self, GetoptError};
use crate::output::{message, stdout};

const USAGE: &str = "\
Usage: dtrace [-qevw] [-x opt[=val]] [-o output] [-c cmd] [-p pid]
\t[-s script] [-n probe-description [program]] [-P provider] [-m module]
\t[-f function] [-l] [args ...]

\t-e  exit after compiling the program (parse it, match its probes)
\t-l  list the probes that match the descriptions (all without any)
\t-n  a probe description, with an optional program
\t-P  a provider   -m a module   -f a function   (for -l, or to trace)
\t-q  quiet: no 'matched N probes' line
\t-s  a script file";

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
    let root = tracefs::root().map_err(|e| Failure::Said(e.to_string()))?;
    let tps = tracefs::tracepoints(&root).map_err(|e| Failure::Said(e.to_string()))?;
    let all = probes::catalog(&tps);
    let mut env = MacroEnv::new("dtrace", p.operands.clone());
    if let Some(pid) = p.value('p') {
        let pid = pid
            .parse()
            .map_err(|_| Failure::Said(format!("invalid process id: {pid}")))?;
        env = env.with_target(pid);
    }
    let programs = programs(&items, &env)?;
    let zero_ok = p.has('Z');
    if p.has('l') {
        return list(&all, &programs, zero_ok);
    }
    if items.is_empty() {
        return Err(Failure::Usage("no probes specified".into()));
    }
    let mut matched = 0;
    for (origin, specs) in &programs {
        let mut n = 0;
        for spec in specs {
            n += matching(&all, origin, spec, true, zero_ok)?;
        }
        if !p.has('q') {
            let what = match origin {
                Origin::Arg(text) => format!("description '{}'", crop(text)),
                Origin::Script { file, .. } => format!("script '{file}'"),
            };
            message(&format!(
                "dtrace: {what} matched {n} probe{}",
                if n == 1 { "" } else { "s" }
            ));
        }
        matched += n;
    }
    if p.has('e') {
        return Ok(());
    }
    Err(Failure::Said(format!(
        "{matched} probe(s) matched, but running D programs is not available on this node \
         yet (its compiler is being built): -l lists probes, -e checks a program"
    )))
}

/// Every program of the command line, parsed: its origin and its probe
/// descriptions.
fn programs(items: &[Item], env: &MacroEnv) -> Result<Vec<(Origin, Vec<ProbeSpec>)>, Failure> {
    let specs_of = |program: parse::Program| -> Vec<ProbeSpec> {
        program.clauses.into_iter().flat_map(|c| c.probes).collect()
    };
    items
        .iter()
        .map(|item| match item {
            Item::Description(text, FieldLevel::Name) => {
                let program = parse::parse_probe_arg(text, env)
                    .map_err(|e| Failure::Line(e.render_n(text)))?;
                Ok((Origin::Arg(text.clone()), specs_of(program)))
            }
            Item::Description(text, level) => {
                let spec = parse::parse_description(text, *level, env)
                    .map_err(|e| Failure::Line(e.render_n(text)))?;
                Ok((Origin::Arg(text.clone()), vec![spec]))
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
                Ok((origin, specs_of(program)))
            }
        })
        .collect()
}

/// What DTrace calls an `-n` argument in its messages: the text before
/// the first `{`, `/` or `;`.
fn crop(text: &str) -> &str {
    text.find(['{', '/', ';']).map_or(text, |i| &text[..i])
}

/// `-l`: the probes matching any description, or every probe.
fn list(
    all: &[Probe],
    programs: &[(Origin, Vec<ProbeSpec>)],
    zero_ok: bool,
) -> Result<(), Failure> {
    let mut shown: Vec<&Probe> = Vec::new();
    if programs.is_empty() {
        shown = all.iter().collect();
    }
    for (origin, specs) in programs {
        for spec in specs {
            matching(all, origin, spec, false, zero_ok)?;
            shown.extend(all.iter().filter(|p| matches(p, spec)));
        }
    }
    shown.sort_by_key(|p| p.id);
    shown.dedup_by_key(|p| p.id);
    stdout(&probes::render_list(&shown));
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
        p if p.starts_with("pid") || p.starts_with("usdt") => format!(
            "probe description {described} needs a process to trace (pid and usdt probes \
             come with the compiler)"
        ),
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
