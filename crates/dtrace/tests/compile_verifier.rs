//! Host test (root): random D programs, drawn from a grammar of what the
//! compiler supports (and, now and then, of what it must refuse:
//! [`d_grammar`]), go through the parser, the compiler and the running
//! kernel's verifier. Parsing and compiling never panic; a program the
//! compiler accepts is accepted by the kernel: a D-level error is the only
//! way to say no.
//!
//! The probes are real: dtrace's BEGIN, END and ERROR, syscall entries and
//! returns, sched, proc and io probes, profile and tick, their contexts
//! read from tracefs. Each accepted program is loaded and attached as
//! `dtrace` does, BEGIN fired once, then everything detached when its
//! session drops. Programs that once failed stay here as regressions, and
//! the branch-free comparisons the fixes brought are checked against C.
//!
//! The cases are drawn from a fixed seed; `PROPTEST_RNG_SEED=N` and
//! `PROPTEST_CASES=N` explore others.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

mod d_grammar;

use basalt_dtrace::bpf::load::{LoadError, Loader};
use basalt_dtrace::compile::{self, CompileError, Options};
use basalt_dtrace::parse::{MacroEnv, parse_probe_arg, parse_script};
use basalt_dtrace::probes::{self, Probe, tracefs};
use basalt_dtrace::run::{Consumer, RunError, Session, resolve};
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

/// Cases of the random test unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 128;
/// The seed unless `PROPTEST_RNG_SEED` says otherwise.
const SEED: u64 = 0x0d_1a_6e_5e_ed;

// -------------------------------------------------------------------
// The host: its probes, and one loader for every case.

struct Host {
    root: PathBuf,
    catalog: Vec<Probe>,
    loader: RefCell<Loader>,
}

impl Host {
    fn new() -> Host {
        assert!(
            is_root(),
            "this test loads BPF programs and reads tracefs: run it as root"
        );
        let root = tracefs::root().expect("tracefs is mounted or mountable");
        let tps = tracefs::tracepoints(&root).expect("tracefs lists its tracepoints");
        let catalog = probes::catalog(&tps);
        Host {
            root,
            catalog,
            loader: RefCell::new(Loader::new()),
        }
    }

    /// Parses, compiles and loads `src`: `Ok(None)` when it ran,
    /// `Ok(Some(message))` when the compiler refused it with a D-level
    /// error, `Err` when any stage failed otherwise.
    fn check(&self, src: &str, opts: &Options) -> Result<Option<String>, String> {
        let env = MacroEnv::new("dtrace", Vec::<String>::new());
        let parsed = if src.starts_with(d_grammar::SCRIPT) {
            parse_script(src, &env)
        } else {
            parse_probe_arg(src, &env)
        };
        let program = parsed.map_err(|e| format!("does not parse: {}", e.render_n(src)))?;
        let sites = resolve::sites(&program, &self.catalog, &self.root, false)
            .map_err(|e| format!("probes do not resolve: {e}"))?;
        let compiled = match compile::compile(&program, sites, opts) {
            Ok(c) => c,
            Err(CompileError { message, span, .. }) => {
                if span.end > src.len() || span.start > span.end {
                    return Err(format!("error {message:?} has a span outside the source"));
                }
                return Ok(Some(message));
            }
        };
        let mut loader = self.loader.borrow_mut();
        let session = Session::start(compiled, &mut loader).map_err(|e| describe(&e))?;
        session
            .fire("BEGIN", &[])
            .map_err(|e| format!("firing BEGIN failed: {}", describe(&e)))?;
        Ok(None)
    }
}

/// A run error with its causes, and the tail of the verifier's log.
fn describe(e: &RunError) -> String {
    let mut out = e.to_string();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(c) = cause {
        out.push_str(&format!(": {c}"));
        cause = c.source();
    }
    if let RunError::Load {
        source: LoadError::Rejected { log, .. },
        ..
    } = e
    {
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        out.push_str(&format!("\nthe verifier's log ends:\n{tail}"));
    }
    out
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .is_some_and(|euid| euid == "0")
}

fn options(strsize: u32) -> Options {
    Options {
        strsize,
        ..Options::default()
    }
}

// -------------------------------------------------------------------
// The tests.

#[test]
fn generated_programs_are_refused_by_the_compiler_or_accepted_by_the_verifier() {
    let host = Host::new();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let seed = std::env::var("PROPTEST_RNG_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEED);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 300,
        ..Config::default()
    };
    let ran = Cell::new(0u32);
    let refused = RefCell::new(BTreeMap::<String, u32>::new());
    let start = Instant::now();
    let result = TestRunner::new(config).run(&d_grammar::program(), |(src, strsize)| {
        match host.check(&src, &options(strsize)) {
            Ok(None) => ran.set(ran.get() + 1),
            Ok(Some(message)) => *refused.borrow_mut().entry(kind(&message)).or_default() += 1,
            Err(why) => {
                return Err(TestCaseError::fail(format!(
                    "strsize {strsize}, program:\n{src}\n{why}"
                )));
            }
        }
        Ok(())
    });
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, (src, strsize))) => {
            panic!("seed {seed}, smallest failing program (strsize {strsize}):\n{src}\n\n{why}")
        }
        Err(e) => panic!("seed {seed}: {e}"),
    }
    let refused = refused.into_inner();
    eprintln!(
        "{} programs in {:.1?}: {} loaded, {} refused by the compiler",
        ran.get() + refused.values().sum::<u32>(),
        start.elapsed(),
        ran.get(),
        refused.values().sum::<u32>()
    );
    for (kind, n) in &refused {
        eprintln!("  {n:4} {kind}");
    }
    // A generator whose programs the compiler always refuses tests nothing.
    assert!(
        ran.get() * 4 >= cases,
        "only {} of {cases} programs compiled: the generator has drifted from the compiler",
        ran.get()
    );
}

/// A compiler's message without what varies (names, types, numbers).
fn kind(message: &str) -> String {
    let first = message.split([':', '\n']).next().unwrap_or_default();
    first.chars().filter(|c| !c.is_ascii_digit()).collect()
}

/// What BEGIN prints when `src` (all of it at BEGIN) runs once.
fn run_begin(host: &Host, src: &str) -> String {
    let env = MacroEnv::new("dtrace", Vec::<String>::new());
    let program = parse_probe_arg(src, &env).unwrap_or_else(|e| panic!("{}", e.render_n(src)));
    let sites = resolve::sites(&program, &host.catalog, &host.root, false).unwrap();
    let compiled = compile::compile(&program, sites, &Options::default())
        .unwrap_or_else(|e| panic!("{}", e.render_n(src)));
    let aggs = compiled.syms.aggs.len();
    let mut session = Session::start(compiled, &mut host.loader.borrow_mut())
        .unwrap_or_else(|e| panic!("{src}\n{}", describe(&e)));
    session.fire("BEGIN", &[]).unwrap();
    let mut out = Vec::new();
    let mut consumer = Consumer::new(&mut out, true, aggs);
    session.drain(&mut consumer).unwrap();
    drop(consumer);
    String::from_utf8(out).unwrap()
}

/// Comparisons and logical operators give 0 or 1 without branching (so
/// that the verifier's work stays linear): they must still give what C
/// gives, signed and unsigned, at the edges of 64 bits, and strings
/// compare as `strcmp` does up to their NULs.
#[test]
fn comparisons_compute_what_c_computes() {
    let host = Host::new();
    let values: [i64; 9] = [
        0,
        1,
        -1,
        2,
        i64::MIN,
        i64::MAX,
        0x8000_0000,
        0xffff_ffff,
        -2,
    ];
    for &x in &values {
        let mut src = String::from("BEGIN {");
        let mut want = String::new();
        for &y in &values {
            let (sx, sy) = (
                format!("(int64_t){}", x as u64),
                format!("(int64_t){}", y as u64),
            );
            let (ux, uy) = (
                format!("(uint64_t){}", x as u64),
                format!("(uint64_t){}", y as u64),
            );
            let mut exprs = Vec::new();
            for (a, b) in [(&sx, &sy), (&ux, &uy)] {
                for op in ["<", "<=", ">", ">=", "==", "!="] {
                    exprs.push(format!("({a} {op} {b})"));
                }
            }
            for op in ["&&", "||", "^^"] {
                exprs.push(format!("({sx} {op} {sy})"));
            }
            exprs.push(format!("!{sx}"));
            let (u, v) = (x as u64, y as u64);
            let got = [
                x < y,
                x <= y,
                x > y,
                x >= y,
                x == y,
                x != y,
                u < v,
                u <= v,
                u > v,
                u >= v,
                u == v,
                u != v,
                x != 0 && y != 0,
                x != 0 || y != 0,
                (x != 0) != (y != 0),
                x == 0,
            ];
            src.push_str(&format!(
                " printf(\"{}\\n\", {});",
                vec!["%d"; exprs.len()].join(" "),
                exprs.join(", ")
            ));
            let bits: Vec<&str> = got.iter().map(|&b| if b { "1" } else { "0" }).collect();
            want.push_str(&bits.join(" "));
            want.push('\n');
        }
        src.push_str(" }");
        assert_eq!(run_begin(&host, &src), want, "{src}");
    }
    let strings = [
        "",
        "a",
        "ab",
        "b",
        "abc",
        "a string longer than sixteen bytes",
    ];
    let mut src = String::from("BEGIN {");
    let mut want = String::new();
    for x in strings {
        for y in strings {
            let ops = ["<", "<=", ">", ">=", "==", "!="];
            let exprs: Vec<String> = ops
                .iter()
                .map(|op| format!("(\"{x}\" {op} \"{y}\")"))
                .collect();
            src.push_str(&format!(
                " printf(\"%d %d %d %d %d %d\\n\", {});",
                exprs.join(", ")
            ));
            let got = [x < y, x <= y, x > y, x >= y, x == y, x != y];
            let bits: Vec<&str> = got.iter().map(|&b| if b { "1" } else { "0" }).collect();
            want.push_str(&bits.join(" "));
            want.push('\n');
        }
    }
    src.push_str(" }");
    assert_eq!(run_begin(&host, &src), want, "{src}");
}

/// `@ = lquantize(TERM * 1 + TERM * 2 + … + TERM * 2^(n-1))`: if each
/// term is a constant that differs with the path taken to it, the sum
/// takes 2^n values, and the bucket's tests would have the verifier follow
/// each.
fn weighted(init: &str, term: &str, n: u32) -> String {
    let terms: Vec<String> = (0..n)
        .map(|i| format!("({term} * {})", 1u64 << i))
        .collect();
    format!(
        "BEGIN {{ {init} }} BEGIN {{ @ = lquantize({}, 0, 100, 1); }}",
        terms.join(" + ")
    )
}

/// Programs the compiler once turned into code the verifier refused, with
/// the string size that showed it: each must now load (or be refused with
/// a D-level error).
fn regressions() -> Vec<(String, u32)> {
    let owned = |v: &[(&str, u32)]| -> Vec<(String, u32)> {
        v.iter().map(|&(p, n)| (p.to_owned(), n)).collect()
    };
    let mut out = owned(&[
        // A string `? :` and a `__data_loc` string were as long as strsize,
        // not a multiple of 8: the padding written after them overran the
        // scratch area.
        ("BEGIN { astr[1] = (pid ? \"a\" : \"b\"); }", 100),
        ("proc:::exec-success { astr[1] = args[0]; }", 100),
        // Every byte compared or scanned left the verifier a branch to
        // come back to, past its 8192.
        (
            "BEGIN { gs = \"a\"; trace(strlen(gs) + strlen(gs) + strlen(gs) + strlen(gs)); }",
            2048,
        ),
        (
            "BEGIN { gs = \"a\"; trace(gs == gs); trace(gs == gs); }",
            2048,
        ),
        (
            "BEGIN { gs = \"a\"; gs = strjoin(gs, gs); gs = strjoin(gs, gs); \
             gs = strjoin(gs, gs); gs = strjoin(gs, gs); gs = strjoin(gs, gs); }",
            2048,
        ),
        // Each length strlen() can return was followed to the end, times
        // the other's: a million instructions.
        (
            "BEGIN { gs = \"\"; @ll = llquantize(strlen(gs) + strlen(gs), 10, 0, 6, 20); }",
            256,
        ),
        // The same for the length strjoin() copies its second string at.
        (
            "BEGIN { gs = \"\"; self->ts = \"\"; this->cs = \"\"; }
             syscall::openat:return { @ll[strjoin(self->ts, this->cs), 077] = \
             llquantize(pid, 10, 0, 6, 20); \
             self->ts = (arg2 ? copyinstr(id) : copyinstr(0x80000000)); }",
            4096,
        ),
    ]);
    // Comparisons, `? :` and string comparisons that branched to set
    // their value.
    for (init, term) in [
        ("gi = 0; gj = 0;", "(gi < gj)"),
        ("gi = 0;", "(gi ? 1 : 0)"),
        ("gs = \"\";", "(gs == \"a\")"),
    ] {
        out.push((weighted(init, term, 16), 256));
    }
    out
}

#[test]
fn programs_that_once_failed_load_or_are_refused() {
    let host = Host::new();
    let mut failures = Vec::new();
    for (src, strsize) in regressions() {
        if let Err(why) = host.check(&src, &options(strsize)) {
            failures.push(format!("strsize {strsize}, program:\n{src}\n{why}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
