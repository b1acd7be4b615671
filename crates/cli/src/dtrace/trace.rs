//! Running D programs: options, the probes made on demand (profile and
//! tick rates, pid probes), compiling, then the session from BEGIN to the
//! aggregations printed at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use basalt_dtrace::bpf::load::{self, LoadError, Loader};
use basalt_dtrace::compile::{self, CompileError, Options};
use basalt_dtrace::parse::{self, PragmaKind, ProbeSpec};
use basalt_dtrace::probes::elfsym::{self, ElfFunctions, ProcMaps};
use basalt_dtrace::probes::{self, Attach, Probe};
use basalt_dtrace::run::{Consumer, RunError, Session, resolve, zones};

use basalt_node::instances::Node;
use basalt_node::paths::Paths;

use super::hold::Held;
use super::{Failure, Origin, crop, matched_line, matching, specs};
use crate::getopt::Parsed;
use crate::output::message;

/// What the options (`-x`, `#pragma D option`, `-q`, `-w`) set.
struct Settings {
    compile: Options,
    quiet: bool,
    /// How often records are read when none wake the consumer.
    switch: Duration,
}

/// A size as DTrace's options take it: `4m`, `512k`, `1g`, bytes.
fn size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1u64 << 10),
        'm' | 'M' => (&v[..v.len() - 1], 1 << 20),
        'g' | 'G' => (&v[..v.len() - 1], 1 << 30),
        _ => (v, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// A rate as `switchrate` takes it: `10hz`, `100ms`, `1s`, or a number of
/// hertz.
fn rate(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Some(n) = v.strip_suffix("hz") {
        let hz: u64 = n.parse().ok()?;
        return (hz > 0).then(|| Duration::from_nanos(1_000_000_000 / hz));
    }
    if let Some(n) = v.strip_suffix("ms") {
        return Some(Duration::from_millis(n.parse().ok()?));
    }
    if let Some(n) = v.strip_suffix('s') {
        return Some(Duration::from_secs(n.parse().ok()?));
    }
    let hz: u64 = v.parse().ok()?;
    (hz > 0).then(|| Duration::from_nanos(1_000_000_000 / hz))
}

impl Settings {
    fn new(p: &Parsed) -> Self {
        Settings {
            compile: Options {
                destructive: p.has('w'),
                ..Options::default()
            },
            quiet: p.has('q'),
            switch: Duration::from_millis(100),
        }
    }

    /// Sets one option; DTrace's message when it is not one.
    fn set(&mut self, name: &str, value: Option<&str>) -> Result<(), String> {
        let bad = || format!("failed to set -x {name}: Invalid value for specified option");
        let v = value.unwrap_or("");
        let clamp32 = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        match name {
            "quiet" => self.quiet = true,
            "destructive" => self.compile.destructive = true,
            "strsize" => {
                let n = size(v).filter(|n| (1..=4096).contains(n)).ok_or_else(bad)?;
                self.compile.strsize = n as u32;
            }
            "bufsize" => {
                let n = size(v).filter(|&n| n >= 4096).ok_or_else(bad)?;
                self.compile.bufsize = clamp32(n.next_power_of_two().min(1 << 30));
            }
            "dynvarsize" => {
                // Bytes in DTrace; here entries of 64 bytes or more each.
                let n = size(v).ok_or_else(bad)?;
                self.compile.dynvars = clamp32((n / 64).clamp(64, 1 << 22));
            }
            "aggsize" => {
                let n = size(v).ok_or_else(bad)?;
                self.compile.aggs = clamp32((n / 64).clamp(64, 1 << 22));
            }
            "stackframes" | "ustackframes" => {
                let n = size(v).filter(|n| (1..=127).contains(n)).ok_or_else(bad)?;
                self.compile.frames = n as u32;
            }
            "switchrate" => self.switch = rate(v).ok_or_else(bad)?.min(Duration::from_secs(1)),
            // Accepted, with nothing to change here: aggregations are read
            // when printed, buffers are one ring, specs as DTrace's.
            "aggrate" | "cleanrate" | "statusrate" | "bufpolicy" | "bufresize" | "nspec"
            | "specsize" | "flowindent" | "rawbytes" | "zdefs" | "defaultargs" | "aggsortkey"
            | "aggsortrev" | "aggsortpos" | "aggsortkeypos" | "jstackframes" | "jstackstrsize"
            | "cpu" | "grabanon" | "evaltime" => {}
            _ => return Err(format!("failed to set -x {name}: Invalid option name")),
        }
        Ok(())
    }
}

/// Every program's clauses as one program, and which origin each clause
/// came from.
fn merge(programs: &[(Origin, parse::Program)]) -> (parse::Program, Vec<usize>) {
    let mut all = parse::Program::default();
    let mut origin_of = Vec::new();
    for (i, (_, p)) in programs.iter().enumerate() {
        all.pragmas.extend(p.pragmas.iter().cloned());
        all.decls.extend(p.decls.iter().cloned());
        for c in &p.clauses {
            all.clauses.push(c.clone());
            origin_of.push(i);
        }
    }
    (all, origin_of)
}

fn render(e: &CompileError, origin: &Origin) -> Failure {
    Failure::Line(match origin {
        Origin::Arg(text) => e.render_n(text),
        Origin::Script { file, source } => e.render(file, source),
    })
}

/// Runs the programs, or with `-e` only compiles them.
pub(super) fn run(
    p: &Parsed,
    tracefs_root: &Path,
    catalog: Vec<Probe>,
    programs: Vec<(Origin, parse::Program)>,
    mut held: Option<Held>,
    loader: std::thread::JoinHandle<Loader>,
    stop: Arc<AtomicBool>,
) -> Result<(), Failure> {
    let mut settings = Settings::new(p);
    for (_, program) in &programs {
        for pragma in &program.pragmas {
            if let PragmaKind::Option { name, value } = &pragma.kind {
                settings
                    .set(name, value.as_deref())
                    .map_err(Failure::Said)?;
            }
        }
    }
    for x in p.values.iter().filter(|(c, _)| *c == 'x').map(|(_, v)| v) {
        let (name, value) = match x.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (x.as_str(), None),
        };
        settings.set(name, value).map_err(Failure::Said)?;
    }

    let zero_ok = p.has('Z');
    let mut counts = Vec::new();
    for (origin, program) in &programs {
        let mut n = 0;
        for spec in specs(program) {
            n += matching(&catalog, origin, spec, false, zero_ok)?;
        }
        counts.push(n);
    }

    // The kernel's task layout, read only for programs that need it.
    let sources: Vec<String> = programs
        .iter()
        .map(|(o, _)| match o {
            Origin::Arg(text) => text.clone(),
            Origin::Script { source, .. } => source.clone(),
        })
        .collect();
    if sources.iter().any(|s| compile::needs_task_offsets(s)) {
        match basalt_dtrace::btf::read_kernel_task_offsets() {
            Ok(t) => settings.compile.task = Some(t),
            Err(e) => message(&format!(
                "dtrace: ppid and vtimestamp are not available: {e}"
            )),
        }
    }
    let (program, origin_of) = merge(&programs);
    let sites = resolve::sites(&program, &catalog, tracefs_root, zero_ok).map_err(|e| match e {
        resolve::ResolveError::NoMatch { clause, .. } => {
            let origin = &programs[origin_of[clause]].0;
            Failure::Said(format!("{}: {e}", origin_text(origin)))
        }
        other => Failure::Said(other.to_string()),
    })?;
    let compiled = compile::compile(&program, sites, &settings.compile).map_err(|e| {
        let origin = e.clause.map(|c| &programs[origin_of[c]].0);
        match origin {
            Some(o) => render(&e, o),
            None => Failure::Said(e.message.clone()),
        }
    })?;
    if !settings.quiet {
        for ((origin, _), n) in programs.iter().zip(&counts) {
            message(&matched_line(origin, *n));
        }
    }
    if p.has('e') {
        return Ok(());
    }

    let mut loader = loader
        .join()
        .map_err(|_| Failure::Said("failed to prepare the BPF loader".into()))?;
    let origins = compiled.origins.clone();
    let mut session = Session::start(compiled, &mut loader)
        .map_err(|e| enable_failure(e, &origins, &programs, &origin_of))?;
    session
        .set_walltime()
        .map_err(|e| Failure::Said(e.to_string()))?;
    let unified = zones::unified_root();
    let mut zone_ids = Vec::new();
    refresh_zones(&mut session, unified.as_deref(), &mut zone_ids)?;

    let mut file;
    let mut stdout;
    let out: &mut dyn Write = match p.value('o') {
        Some(path) => {
            file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| Failure::Said(format!("failed to open output file '{path}': {e}")))?;
            &mut file
        }
        None => {
            stdout = std::io::stdout().lock();
            &mut stdout
        }
    };
    let aggs = session.compiled.syms.aggs.len();
    let mut consumer = Consumer::new(out, settings.quiet, aggs);
    let said = |e: RunError| Failure::Said(e.to_string());

    session.fire("BEGIN", &[]).map_err(said)?;
    session.drain(&mut consumer).map_err(said)?;
    if let Some(h) = held.as_mut() {
        h.release().map_err(Failure::Said)?;
    }
    let mut last_zones = Instant::now();
    let target = held
        .as_ref()
        .map(|h| h.pid())
        .or_else(|| p.value('p').and_then(|v| v.parse().ok()));
    while consumer.exit.is_none() && !stop.load(Ordering::Relaxed) {
        if let Some(pid) = target {
            consumer.watch_process(pid);
        }
        if let Some(h) = held.as_mut()
            && h.exited().is_some()
        {
            break;
        }
        if let Some(pid) = p.value('p').and_then(|v| v.parse::<u32>().ok())
            && !alive(pid)
        {
            break;
        }
        session.poll(&mut consumer, settings.switch).map_err(said)?;
        consumer.report_drops(&session).map_err(said)?;
        if last_zones.elapsed() >= Duration::from_secs(1) {
            refresh_zones(&mut session, unified.as_deref(), &mut zone_ids)?;
            last_zones = Instant::now();
        }
    }
    // Stopped in the kernel first, so that END and the output come at
    // once; the probes are detached after.
    session.stop().map_err(said)?;
    session.drain(&mut consumer).map_err(said)?;
    session.fire("END", &[]).map_err(said)?;
    session.drain(&mut consumer).map_err(said)?;
    consumer.print_remaining(&session).map_err(said)?;
    consumer.report_drops(&session).map_err(said)?;
    let status = consumer.exit.unwrap_or(0);
    drop(held);
    session.stop_tracing();
    drop(session);
    if status != 0 {
        std::process::exit(status);
    }
    Ok(())
}

/// Whether a process is there and has not ended (a zombie has ended).
pub(super) fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    !matches!(state, Some("Z" | "X" | "x") | None)
}

/// The zones map kept current: zones started since are added.
fn refresh_zones(
    session: &mut Session,
    unified: Option<&Path>,
    known: &mut Vec<u64>,
) -> Result<(), Failure> {
    let Some(root) = unified else {
        return Ok(());
    };
    let new: Vec<(u64, String)> = zones::zone_cgroups(root)
        .into_iter()
        .filter(|(id, _)| !known.contains(id))
        .collect();
    if new.is_empty() {
        return Ok(());
    }
    let node = Node::open(Paths::from_env()).ok();
    let mut fresh = Vec::with_capacity(new.len());
    for (id, uuid) in new {
        // A zone whose configuration could not be read is named by its
        // uuid for now, and asked about again at the next refresh.
        match node.as_ref().and_then(|n| zonename(n, &uuid)) {
            Some(name) => {
                known.push(id);
                fresh.push((id, name));
            }
            None => fresh.push((id, uuid)),
        }
    }
    session
        .set_zones(&fresh)
        .map_err(|e| Failure::Said(e.to_string()))
}

/// A zone's `zonename`, as its configuration has it.
fn zonename(node: &Node, uuid: &str) -> Option<String> {
    let vm = node.get_without_snapshots(uuid).ok()?;
    vm.get("zonename")?.as_str().map(str::to_owned)
}

/// Turns SIGINT and SIGTERM into the flag it returns: the run ends as when
/// `exit()` is called (END fires, aggregations print); a second signal ends
/// dtrace at once. Signals are blocked in this thread, before any other is
/// made (they inherit the mask), and taken by a waiting one.
pub(super) fn catch_signals() -> Arc<AtomicBool> {
    use nix::sys::signal::{SigSet, Signal};
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    if set.thread_block().is_err() {
        return stop;
    }
    std::thread::spawn(move || {
        if let Ok(first) = set.wait() {
            flag.store(true, Ordering::Relaxed);
            if set.wait().is_ok() {
                std::process::exit(128 + first as i32);
            }
        }
    });
    stop
}

/// A probe that could not be enabled. A program the verifier refused is
/// reported as a compile error at the D construct behind the instruction
/// it refused, when that is known, with the tail of its log below.
fn enable_failure(
    e: RunError,
    origins: &compile::Origins,
    programs: &[(Origin, parse::Program)],
    origin_of: &[usize],
) -> Failure {
    match e {
        RunError::Load {
            probe,
            program,
            source: LoadError::Rejected { log, .. },
        } => {
            let mut message =
                format!("failed to enable '{probe}': the kernel's verifier rejected the program");
            if let Some(reason) = load::rejection_reason(&log) {
                message.push_str(&format!(": {reason}"));
            }
            // The instruction refused and why are in the last lines of its log.
            let tail: Vec<&str> = log.lines().rev().take(6).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            let tail = tail.join("\n");
            let at = load::rejected_insn(&log).and_then(|i| origins.origin_of(&program, i));
            let source = at.and_then(|(clause, span)| {
                let origin = &programs.get(*origin_of.get(clause)?)?.0;
                Some((origin, span, clause))
            });
            match source {
                Some((origin, span, clause)) => {
                    let e = CompileError {
                        message,
                        span,
                        clause: Some(clause),
                    };
                    let line = match origin {
                        Origin::Arg(text) => e.render_n(text),
                        Origin::Script { file, source } => e.render(file, source),
                    };
                    Failure::Line(format!("{line}\n{tail}"))
                }
                None => Failure::Said(format!("{message}\n{tail}")),
            }
        }
        other => {
            let mut msg = other.to_string();
            let mut src = std::error::Error::source(&other);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            Failure::Said(msg)
        }
    }
}

fn origin_text(origin: &Origin) -> String {
    match origin {
        Origin::Arg(text) => format!("invalid probe specifier {text}"),
        Origin::Script { file, .. } => format!("failed to compile script {file}"),
    }
}

fn specifier(origin: &Origin, spec: &ProbeSpec, why: &str) -> String {
    match origin {
        Origin::Arg(text) => format!("invalid probe specifier {}: {why}", crop(text)),
        Origin::Script { file, source } => {
            let (line, _) = parse::line_col(source, spec.span.start);
            format!("failed to compile script {file}: line {line}: {why}")
        }
    }
}

/// Adds the probes the programs' descriptions make when named: clocks of
/// any rate, pid and USDT probes of the target.
pub(super) fn add_named_probes(
    catalog: &mut Vec<Probe>,
    programs: &[(Origin, parse::Program)],
    held: Option<&Held>,
    command: Option<&str>,
) -> Result<(), Failure> {
    let held_exe = held.and_then(|_| {
        let first = command
            .unwrap_or("")
            .split_whitespace()
            .next()
            .unwrap_or("");
        super::hold::command_path(first)
    });
    for (origin, program) in programs {
        for spec in specs(program) {
            add_dynamic(catalog, spec, held.map(|h| h.pid()), &held_exe)
                .map_err(|why| Failure::Said(specifier(origin, spec, &why)))?;
        }
    }
    Ok(())
}

/// Adds the probes a description makes when named: `profile-N`/`tick-N`
/// of any rate, and `pidN` probes on a process's functions.
fn add_dynamic(
    catalog: &mut Vec<Probe>,
    spec: &ProbeSpec,
    held: Option<u32>,
    held_exe: &Option<PathBuf>,
) -> Result<(), String> {
    let next_id = |c: &Vec<Probe>| c.iter().map(|p| p.id).max().unwrap_or(0) + 1;
    if matches!(spec.provider.as_str(), "" | "profile")
        && let Some((period_ns, every_cpu)) = probes::clock(&spec.name)
        && !catalog
            .iter()
            .any(|p| p.provider == "profile" && p.name == spec.name)
    {
        let id = next_id(catalog);
        catalog.push(Probe {
            id,
            provider: "profile".into(),
            module: String::new(),
            function: String::new(),
            name: spec.name.clone(),
            attach: Attach::Clock {
                period_ns,
                every_cpu,
            },
        });
        return Ok(());
    }
    // `pidN` or a USDT provider qualified by a process (`pythonN`).
    let digits = spec.provider.len()
        - spec
            .provider
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .len();
    let (prefix, number) = spec.provider.split_at(spec.provider.len() - digits);
    let Ok(pid) = number.parse::<u32>() else {
        return Ok(());
    };
    if prefix != "pid" {
        return add_usdt(catalog, spec, prefix, pid, held, held_exe);
    }
    let functions = if Some(pid) == held {
        // The command has not exec'd yet: its executable is the one named,
        // its libraries the system's, as this process maps them.
        held_functions(held_exe.as_deref(), &spec.module, &spec.function)?
    } else {
        elfsym::pid_functions(pid, &spec.module, &spec.function).map_err(|e| e.to_string())?
    };
    let names: Vec<(&str, Option<u64>, bool)> = match spec.name.as_str() {
        "" | "*" => vec![("entry", None, false), ("return", None, true)],
        "entry" => vec![("entry", None, false)],
        "return" => vec![("return", None, true)],
        off => match u64::from_str_radix(off, 16) {
            Ok(o) => vec![(off, Some(o), false)],
            Err(_) => {
                return Err(format!(
                    "probe description {}: pid probes are entry, return or an offset in hex",
                    spec.raw
                ));
            }
        },
    };
    let provider = format!("pid{pid}");
    for (path, f) in functions {
        let module = if Some(path.as_path()) == held_exe.as_deref() && Some(pid) == held {
            "a.out".to_owned()
        } else {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        for &(name, off, ret) in &names {
            if let Some(o) = off
                && f.size > 0
                && o >= f.size
            {
                continue;
            }
            if catalog.iter().any(|p| {
                p.provider == provider
                    && p.module == module
                    && p.function == f.name
                    && p.name == name
            }) {
                continue;
            }
            let id = next_id(catalog);
            catalog.push(Probe {
                id,
                provider: provider.clone(),
                module: module.clone(),
                function: f.name.clone(),
                name: name.into(),
                attach: Attach::Uprobe {
                    path: path.clone(),
                    offset: f.file_offset + off.unwrap_or(0),
                    ret,
                    pid: Some(pid),
                    usdt: None,
                },
            });
        }
    }
    Ok(())
}

/// Functions of a command held before its exec: its executable (module
/// `a.out` or its name) and the shared libraries it needs.
fn held_functions(
    exe: Option<&Path>,
    module: &str,
    function: &str,
) -> Result<Vec<(PathBuf, elfsym::Function)>, String> {
    let files = held_modules(exe);
    let mut out = Vec::new();
    for path in files {
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_exe = Some(path.as_path()) == exe;
        let module_ok =
            module.is_empty() || probes::glob(module, &base) || (is_exe && module == "a.out");
        if !module_ok {
            continue;
        }
        let Ok(elf) = ElfFunctions::read(&path) else {
            continue;
        };
        for f in elf.functions() {
            if function.is_empty() || probes::glob(function, &f.name) {
                out.push((path.clone(), f.clone()));
            }
        }
    }
    Ok(out)
}

/// The files a held command will map: its executable and the libraries it
/// needs.
fn held_modules(exe: Option<&Path>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = exe.map(Path::to_path_buf).into_iter().collect();
    if let Some(exe) = exe {
        files.extend(elfsym::needed_libraries(exe));
    }
    files
}

/// USDT probes (`.note.stapsdt`) of provider `provider` in process `pid`'s
/// executable and libraries: `provider<pid>:module:function:name`, the
/// function the one containing the probe, `__` in the note's name written
/// `-` as DTrace writes it.
fn add_usdt(
    catalog: &mut Vec<Probe>,
    spec: &ProbeSpec,
    provider: &str,
    pid: u32,
    held: Option<u32>,
    held_exe: &Option<PathBuf>,
) -> Result<(), String> {
    let files = if Some(pid) == held {
        held_modules(held_exe.as_deref())
    } else {
        ProcMaps::read(pid)
            .map_err(|e| format!("failed to read process {pid}'s mappings: {e}"))?
            .modules()
    };
    let full = format!("{provider}{pid}");
    for path in files {
        let module = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !spec.module.is_empty() && !probes::glob(&spec.module, &module) {
            continue;
        }
        let Ok(notes) = elfsym::usdt_probes(&path) else {
            continue;
        };
        let notes: Vec<_> = notes
            .into_iter()
            .filter(|n| probes::glob(provider, &n.provider))
            .collect();
        if notes.is_empty() {
            continue;
        }
        let symbols = ElfFunctions::read(&path).ok();
        for note in notes {
            let name = note.name.replace("__", "-");
            let function = symbols
                .as_ref()
                .and_then(|s| s.symbolize(note.pc))
                .map(|(f, _)| f.name.clone())
                .unwrap_or_default();
            let wanted = (spec.name.is_empty() || probes::glob(&spec.name, &name))
                && (spec.function.is_empty() || probes::glob(&spec.function, &function));
            if !wanted {
                continue;
            }
            let id = catalog.iter().map(|p| p.id).max().unwrap_or(0) + 1;
            catalog.push(Probe {
                id,
                provider: full.clone(),
                module: module.clone(),
                function,
                name,
                attach: Attach::Uprobe {
                    path: path.clone(),
                    offset: note.file_offset,
                    ret: false,
                    pid: Some(pid),
                    usdt: Some(note.args.clone()),
                },
            });
        }
    }
    Ok(())
}
