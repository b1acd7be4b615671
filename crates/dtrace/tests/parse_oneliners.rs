//! The classic DTrace one-liners and a longer script through the public
//! parser API, checked against the tree they should give.

use basalt_dtrace::parse::{
    ExprKind, MacroEnv, ParseError, Program, Stmt, parse_probe_arg, parse_script,
};

fn env() -> MacroEnv {
    MacroEnv::new("dtrace", Vec::<String>::new()).with_target(31337)
}

fn n(src: &str) -> Program {
    parse_probe_arg(src, &env()).unwrap_or_else(|e: ParseError| panic!("{}", e.render_n(src)))
}

/// Probe descriptions of every clause as `provider:module:function:name`.
fn probes(p: &Program) -> Vec<String> {
    p.clauses
        .iter()
        .flat_map(|c| &c.probes)
        .map(|d| format!("{}:{}:{}:{}", d.provider, d.module, d.function, d.name))
        .collect()
}

/// Every statement of every clause, printed.
fn body(p: &Program) -> Vec<String> {
    p.clauses
        .iter()
        .flat_map(|c| &c.body)
        .map(|s| s.to_string().trim_end().to_owned())
        .collect()
}

fn predicate(p: &Program, clause: usize) -> String {
    p.clauses[clause]
        .predicate
        .as_ref()
        .expect("a predicate")
        .to_string()
}

#[test]
fn count_syscalls_by_execname() {
    let p = n("syscall:::entry { @[execname] = count(); }");
    assert_eq!(probes(&p), ["syscall:::entry"]);
    assert_eq!(body(&p), ["(@[execname] = count());"]);
}

#[test]
fn openat_paths() {
    let p = n(r#"syscall::openat:entry { printf("%s %s\n", execname, copyinstr(arg1)); }"#);
    assert_eq!(probes(&p), ["syscall::openat:entry"]);
    assert_eq!(
        body(&p),
        [r#"printf("%s %s\n", execname, copyinstr(arg1));"#]
    );
    let Stmt::Expr(e) = &p.clauses[0].body[0] else {
        panic!("an expression")
    };
    let ExprKind::Call { func, args, .. } = &e.kind else {
        panic!("a call")
    };
    assert_eq!(func, "printf");
    assert_eq!(args[0].kind, ExprKind::Str(b"%s %s\n".to_vec()));
}

#[test]
fn quantize_read_sizes() {
    let p = n("syscall::read:return /arg0 > 0/ { @ = quantize(arg0); }");
    assert_eq!(probes(&p), ["syscall::read:return"]);
    assert_eq!(predicate(&p, 0), "(arg0 > 0)");
    assert_eq!(body(&p), ["(@ = quantize(arg0));"]);
}

#[test]
fn on_cpu_time_with_self() {
    let src = "sched:::on-cpu { self->ts = timestamp; }\n\
               sched:::off-cpu /self->ts/ { @[execname] = sum(timestamp - self->ts); self->ts = 0; }";
    let p = n(src);
    assert_eq!(probes(&p), ["sched:::on-cpu", "sched:::off-cpu"]);
    assert_eq!(predicate(&p, 1), "self->ts");
    assert_eq!(
        body(&p),
        [
            "(self->ts = timestamp);",
            "(@[execname] = sum((timestamp - self->ts)));",
            "(self->ts = 0);"
        ]
    );
}

#[test]
fn profile_user_stacks_of_target() {
    let p = n("profile-997 /pid == $target/ { @[ustack()] = count(); }");
    assert_eq!(probes(&p), [":::profile-997"]);
    assert_eq!(predicate(&p, 0), "(pid == 31337)");
    assert_eq!(body(&p), ["(@[ustack()] = count());"]);
}

#[test]
fn malloc_sizes_in_target() {
    let p = n("pid$target::malloc:entry { @ = quantize(arg0); }");
    assert_eq!(probes(&p), ["pid31337::malloc:entry"]);
    assert_eq!(p.clauses[0].probes[0].raw, "pid$target::malloc:entry");
    assert_eq!(body(&p), ["(@ = quantize(arg0));"]);
}

#[test]
fn exec_success_and_zonename() {
    let p = n("proc:::exec-success { trace(execname); }");
    assert_eq!(probes(&p), ["proc:::exec-success"]);
    assert_eq!(body(&p), ["trace(execname);"]);
    let p = n(r#"syscall:::entry /zonename == "web01"/ { @[probefunc] = count(); }"#);
    assert_eq!(predicate(&p, 0), r#"(zonename == "web01")"#);
    assert_eq!(body(&p), ["(@[probefunc] = count());"]);
}

#[test]
fn begin_end_error_and_several_descriptions() {
    let p = n("BEGIN { x = 1; } END { printa(@); } ERROR { exit(1); }");
    assert_eq!(probes(&p), [":::BEGIN", ":::END", ":::ERROR"]);
    let p = n(
        "syscall::read:entry, syscall::write:entry\n/execname != \"sshd\"/ { @[probefunc] = count(); }",
    );
    assert_eq!(probes(&p), ["syscall::read:entry", "syscall::write:entry"]);
    assert_eq!(p.clauses.len(), 1);
    let p = n("BEGIN { exit(0); }");
    assert_eq!(body(&p), ["exit(0);"]);
}

#[test]
fn clause_locals_ternary_and_escapes() {
    let p = n(
        r#"syscall::read:return { this->n = arg0 > 0 ? arg0 : 0; printf("\t%d\\%s\"\n", this->n, "é"); }"#,
    );
    assert_eq!(
        body(&p),
        [
            "(this->n = ((arg0 > 0) ? arg0 : 0));",
            r#"printf("\t%d\\%s\"\n", this->n, "\303\251");"#
        ]
    );
}

#[test]
fn a_longer_script() {
    let src = r#"#!/usr/sbin/dtrace -qs
/*
 * Syscall latency by process, with a summary every second.
 */
#pragma D option quiet
#pragma D option aggsortrev

inline_not_a_keyword = 1;

syscall:::entry
/pid != $pid && execname != "dtrace"/
{
	self->start[probefunc] = vtimestamp;
	this->depth = self->depth++;
}

syscall:::return
/self->start[probefunc]/
{
	@lat[execname, probefunc] = lquantize((vtimestamp - self->start[probefunc]) / 1000, 0, 100, 10);
	@max[execname] = max(vtimestamp - self->start[probefunc]);
	self->start[probefunc] = 0;
	self->depth--;
}

tick-1sec
{
	normalize(@max, 1000);
	printa("%-16s %@d\n", @max);
	trunc(@max, 10);
	clear(@lat);
}

END
{
	printf("%Y\n", walltimestamp);
}
"#;
    let env = env().with_var("pid", 1);
    let e = parse_script(src, &env).err();
    // `inline_not_a_keyword = 1;` at the outer scope is not D: DTrace says
    // syntax error there too.
    let e = e.expect("an outer assignment is an error");
    assert_eq!(
        e.render("lat.d", src),
        "dtrace: failed to compile script lat.d: line 8, column 22: syntax error near \"=\""
    );
    let src = src.replace("inline_not_a_keyword = 1;\n", "");
    let p = parse_script(&src, &env).unwrap_or_else(|e| panic!("{}", e.render("lat.d", &src)));
    assert_eq!(p.pragmas.len(), 2);
    assert_eq!(
        probes(&p),
        [
            "syscall:::entry",
            "syscall:::return",
            ":::tick-1sec",
            ":::END"
        ]
    );
    assert_eq!(
        predicate(&p, 0),
        r#"((pid != 1) && (execname != "dtrace"))"#
    );
    assert_eq!(body(&p).len(), 11);
    assert_eq!(
        body(&p)[2],
        "(@lat[execname, probefunc] = lquantize(((vtimestamp - self->start[probefunc]) / 1000), 0, 100, 10));"
    );
}
