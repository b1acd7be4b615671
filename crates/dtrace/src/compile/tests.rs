//! The compiler on programs for sites made by hand: types settle, errors
//! name the construct, and every one-liner assembles.

use super::*;
use crate::parse::{MacroEnv, parse_probe_arg};
use crate::probes::Probe;
use crate::probes::format::Field;

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

/// `syscall::openat:entry`'s record as its format file gives it.
fn openat_entry() -> Ctx {
    Ctx::Tracepoint {
        fields: vec![
            field("__syscall_nr", "int", 8, 4, true),
            field("dfd", "int", 16, 8, false),
            field("filename", "const char *", 24, 8, false),
            field("flags", "int", 32, 8, false),
            field("mode", "umode_t", 40, 8, false),
        ],
        skip: 1,
        kind: TpKind::SyscallEntry,
    }
}

/// Compiles `source` with every clause at one site (BEGIN, or openat's
/// entry for a program naming syscalls).
fn build(source: &str) -> Result<Compiled, CompileError> {
    let program =
        parse_probe_arg(source, &MacroEnv::new("dtrace", Vec::<String>::new())).expect("parses");
    let clauses: Vec<usize> = (0..program.clauses.len()).collect();
    let site = if source.contains("syscall") {
        Site {
            probe: probe(
                "syscall",
                "openat",
                "entry",
                Attach::Tracepoint {
                    category: "syscalls".into(),
                    name: "sys_enter_openat".into(),
                },
            ),
            ctx: openat_entry(),
            clauses,
        }
    } else {
        Site {
            probe: probe("dtrace", "", "BEGIN", Attach::Dtrace),
            ctx: Ctx::Dtrace,
            clauses,
        }
    };
    compile(&program, vec![site], &Options::default())
}

#[test]
fn the_one_liners_compile() {
    for src in [
        "syscall::openat:entry { @[execname] = count(); }",
        "syscall::openat:entry { printf(\"%s %s\\n\", execname, copyinstr(arg1)); }",
        "syscall::openat:entry { @ = quantize(arg2); @l = lquantize(arg2, 0, 100, 10); }",
        "syscall::openat:entry /zonename == \"web01\"/ { @[zonename, execname] = sum(arg2); }",
        "syscall::openat:entry { self->ts = timestamp; } syscall::openat:entry /self->ts/ { @t[pid] = avg(timestamp - self->ts); self->ts = 0; }",
        "BEGIN { x = 1; s = \"a\"; s = strjoin(s, \"bc\"); n = strlen(s); a[s, x] = n; trace(a[s, 1]); exit(0); }",
        "BEGIN { this->v = 10 / 3 % 2; printf(\"%d %d\\n\", this->v, -7 / 2); }",
        "BEGIN { @m = min(-3); @M = max(4); @s = stddev(2); @c[probefunc, probename] = count(); }",
        "syscall::openat:entry { @[args[1] == 0 ? \"none\" : \"some\"] = count(); }",
    ] {
        if let Err(e) = build(src) {
            panic!("{src}: {e}");
        }
    }
}

#[test]
fn variables_take_the_type_of_their_first_assignment() {
    let c = build("BEGIN { s = execname; s = copyinstr(0); n = 1; self->t = timestamp; }").unwrap();
    // A string widens to the longest assigned; integers keep their type.
    assert_eq!(c.syms.globals["s"].ty, Ty::Str { len: 256 });
    assert!(matches!(c.syms.globals["n"].ty, Ty::Int { .. }));
    assert_eq!(c.syms.thread["t"].ty, Ty::U64);
    // An aggregation's string key is as long as what is stored in it.
    let c = build("syscall::openat:entry { @[execname] = count(); }").unwrap();
    assert_eq!(c.syms.aggs[0].keys, [Ty::Str { len: 16 }]);
}

#[test]
fn errors_name_what_is_wrong_and_where() {
    let e = build("BEGIN { x = nosuch + 1; }").unwrap_err();
    assert_eq!(e.message, "failed to resolve nosuch: Unknown variable name");
    assert_eq!(e.span.start, 12);
    let e = build("BEGIN { @a = count(); @a = sum(1); }").unwrap_err();
    assert_eq!(e.message, "@a: aggregation redefined");
    let e = build("BEGIN { x = 1; x = \"s\"; }").unwrap_err();
    assert!(e.message.contains("incompatible types"), "{}", e.message);
    let e = build("BEGIN { printf(\"%d\\n\", \"s\"); }").unwrap_err();
    assert!(e.message.contains("printf( ) argument #2"), "{}", e.message);
    let e = build("BEGIN { printf(\"%d %d\\n\", 1); }").unwrap_err();
    assert_eq!(
        e.message,
        "printf( ) prototype mismatch: conversion #2 (%d) is missing a corresponding value argument"
    );
    let e = build("BEGIN { raise(9); }").unwrap_err();
    assert!(
        e.message.contains("destructive actions not allowed"),
        "{}",
        e.message
    );
    let e = build("BEGIN { @ = lquantize(1, 10, 0, 1); }").unwrap_err();
    assert!(!e.message.is_empty());
}

#[test]
fn records_describe_what_each_action_sends() {
    let c =
        build("syscall::openat:entry { printf(\"%s %d\\n\", execname, pid); exit(0); }").unwrap();
    assert_eq!(c.records.len(), 2);
    assert_eq!(c.records[0].fields, [Ty::Str { len: 16 }, Ty::I32]);
    assert!(matches!(c.records[0].action, Action::Printf(_)));
    assert_eq!(c.records[1].action, Action::Exit);
    assert_eq!(c.records[1].action_no, 2);
}

#[test]
fn llquantize_parameters_are_checked_before_any_narrowing() {
    // 65546 is 10 in 16 bits: it must be refused, not taken for 10.
    let e = build("BEGIN { @ = llquantize(1, 65546, 0, 6, 20); }").unwrap_err();
    assert!(e.message.contains("argument #1"), "{}", e.message);
    let e = build("BEGIN { @ = llquantize(1, 10, 65536, 65536, 20); }").unwrap_err();
    assert!(e.message.contains("argument #2"), "{}", e.message);
    build("BEGIN { @ = llquantize(1, 10, 0, 6, 20); }").unwrap();
}
