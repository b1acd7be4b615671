//! Untrusted D source through the parser and then the compiler: every
//! program that parses is compiled with all its clauses at BEGIN and at a
//! syscall entry made by hand (`syscall::openat:entry`, its record as the
//! kernel lays it out), with the default options and with an odd string
//! size. Compiling gives an object or a D-level error whose span is in the
//! source; it never panics or overflows the stack. Any panic is a bug.

#![no_main]

use basalt_dtrace::compile::{self, Ctx, Options, Site, TpKind};
use basalt_dtrace::parse::{MacroEnv, Program, parse_probe_arg, parse_script};
use basalt_dtrace::probes::format::Field;
use basalt_dtrace::probes::{Attach, Probe};
use libfuzzer_sys::fuzz_target;

fn probe(provider: &str, function: &str, name: &str, attach: Attach) -> Probe {
    Probe {
        id: 1,
        provider: provider.into(),
        module: String::new(),
        function: function.into(),
        name: name.into(),
        attach,
    }
}

fn field(name: &str, ty: &str, offset: u32, size: u32, signed: bool) -> Field {
    Field {
        name: name.into(),
        ty: ty.into(),
        offset,
        size,
        signed,
    }
}

/// BEGIN and `syscall::openat:entry`, each running every clause.
fn sites(program: &Program) -> Vec<Site> {
    let clauses: Vec<usize> = (0..program.clauses.len()).collect();
    let begin = Site {
        probe: probe("dtrace", "", "BEGIN", Attach::Dtrace),
        ctx: Ctx::Dtrace,
        clauses: clauses.clone(),
    };
    let openat = Site {
        probe: probe(
            "syscall",
            "openat",
            "entry",
            Attach::Tracepoint {
                category: "syscalls".into(),
                name: "sys_enter_openat".into(),
            },
        ),
        ctx: Ctx::Tracepoint {
            fields: vec![
                field("__syscall_nr", "int", 8, 4, true),
                field("dfd", "int", 16, 8, false),
                field("filename", "const char *", 24, 8, false),
                field("flags", "int", 32, 8, false),
                field("mode", "umode_t", 40, 8, false),
            ],
            skip: 1,
            kind: TpKind::SyscallEntry,
        },
        clauses,
    };
    vec![begin, openat]
}

fn compile_all(program: &Program, text: &str) {
    for strsize in [256, 13] {
        let opts = Options {
            strsize,
            ..Options::default()
        };
        if let Err(e) = compile::compile(program, sites(program), &opts) {
            assert!(
                e.span.start <= e.span.end && e.span.end <= text.len(),
                "error {:?} has a span outside the source",
                e.message
            );
            let _ = e.render("fuzz.d", text);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = MacroEnv::new("fuzz.d", ["1", "bash", "a b"]).with_target(7);
    if let Ok(p) = parse_script(&text, &env) {
        compile_all(&p, &text);
    }
    if let Ok(p) = parse_probe_arg(&text, &env) {
        compile_all(&p, &text);
    }
});
