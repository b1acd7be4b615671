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
    Said(String),
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
            // The parser's errors are whole lines already.
            if m.starts_with("dtrace: ") {
                message(&m);
            } else {
                message(&format!("dtrace: {m}"));
            }
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
    let env = MacroEnv::new("dtrace", p.operands.clone());
    if p.has('l') {
        return list(&all, &items, &env, p.has('v'));
    }
    if items.is_empty() {
        return Err(Failure::Usage("no probes specified".into()));
    }
    let matched = check(&all, &items, &env, p.has('q'))?;
    if p.has('e') {
        return Ok(());
    }
    Err(Failure::Said(format!(
        "{matched} probe(s) matched, but running D programs is not available on this node \
         yet (its compiler is being built): -l lists probes, -e checks a program"
    )))
}

/// `-l`: the probes matching any description, or every probe.
fn list(all: &[Probe], items: &[Item], env: &MacroEnv, _verbose: bool) -> Result<(), Failure> {
    let mut shown: Vec<&Probe> = Vec::new();
    if items.is_empty() {
        shown = all.iter().collect();
    }
    for item in items {
        let specs = match item {
            Item::Description(text, level) => vec![description(text, *level, env)?],
            Item::Script(file) => script(file, env)?
                .clauses
                .into_iter()
                .flat_map(|c| c.probes)
                .collect(),
        };
        for spec in specs {
            shown.extend(matching(all, &spec, false)?);
        }
    }
    shown.sort_by_key(|p| p.id);
    shown.dedup_by_key(|p| p.id);
    stdout(&probes::render_list(&shown));
    Ok(())
}

/// Parses every program and matches its descriptions; returns how many
/// probes they matched, saying so on stderr unless `quiet`.
fn check(all: &[Probe], items: &[Item], env: &MacroEnv, quiet: bool) -> Result<usize, Failure> {
    let mut total = 0;
    for item in items {
        let (what, program) = match item {
            Item::Description(text, FieldLevel::Name) => {
                let program = parse::parse_probe_arg(text, env)
                    .map_err(|e| Failure::Said(e.render_n(text)))?;
                // DTrace names the descriptions, not the actions.
                let described: Vec<&str> = program
                    .clauses
                    .iter()
                    .flat_map(|c| c.probes.iter().map(|p| p.raw.as_str()))
                    .collect();
                (format!("description '{} '", described.join(", ")), program)
            }
            Item::Description(text, level) => {
                let spec = description(text, *level, env)?;
                let n = matching(all, &spec, true)?.len();
                say(
                    quiet,
                    &format!("description '{text}' matched {n} probe{}", plural(n)),
                );
                total += n;
                continue;
            }
            Item::Script(file) => (format!("script '{file}'"), script(file, env)?),
        };
        let mut n = 0;
        for clause in &program.clauses {
            for spec in &clause.probes {
                n += matching(all, spec, true)?.len();
            }
        }
        say(quiet, &format!("{what} matched {n} probe{}", plural(n)));
        total += n;
    }
    Ok(total)
}

fn say(quiet: bool, line: &str) {
    if !quiet {
        message(&format!("dtrace: {line}"));
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn description(text: &str, level: FieldLevel, env: &MacroEnv) -> Result<ProbeSpec, Failure> {
    parse::parse_description(text, level, env).map_err(|e| Failure::Said(e.render_n(text)))
}

fn script(file: &str, env: &MacroEnv) -> Result<parse::Program, Failure> {
    let source = std::fs::read_to_string(file)
        .map_err(|e| Failure::Said(format!("failed to open {file}: {e}")))?;
    parse::parse_script(&source, env).map_err(|e| Failure::Said(e.render(file, &source)))
}

/// The probes a description matches; none is an error, as in DTrace, and
/// a provider these kernels cannot offer says why. With `dynamic`, a
/// `profile-N` or `tick-N` of any rate counts (made when named, as in
/// DTrace), though `-l` lists only the usual rates.
fn matching<'a>(
    all: &'a [Probe],
    spec: &ProbeSpec,
    dynamic: bool,
) -> Result<Vec<&'a Probe>, Failure> {
    let hits: Vec<&Probe> = all
        .iter()
        .filter(|p| probes::matches(p, &spec.provider, &spec.module, &spec.function, &spec.name))
        .collect();
    if !hits.is_empty() {
        return Ok(hits);
    }
    let clock_provider = matches!(spec.provider.as_str(), "" | "profile");
    if dynamic && clock_provider && probes::clock(&spec.name).is_some() {
        // Stands for the probe made at run time.
        return Ok(all
            .iter()
            .filter(|p| p.provider == "profile")
            .take(1)
            .collect());
    }
    let why = match spec.provider.as_str() {
        "fbt" | "sdt" => format!(
            "the {} provider needs kprobes or fentry, which this kernel does not offer",
            spec.provider
        ),
        p if p.starts_with("pid") || p.starts_with("usdt") => format!(
            "probe description {} needs a process to trace (pid and usdt probes come with the compiler)",
            spec.raw
        ),
        _ => format!("probe description {} does not match any probes", spec.raw),
    };
    Err(Failure::Said(format!(
        "invalid probe specifier {}: {why}",
        spec.raw
    )))
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
