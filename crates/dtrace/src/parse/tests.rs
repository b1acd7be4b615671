//! Unit tests of the front end, construct by construct: lexing, probe
//! descriptions, precedence, statements, declarations, macros, errors and
//! their positions, and the depth limits.

use super::*;

fn env() -> MacroEnv {
    MacroEnv::new("t.d", ["5", "bash", "-3", "/tmp/x y", "libc.so.6"]).with_target(4242)
}

fn script(src: &str) -> Program {
    parse_script(src, &env()).unwrap_or_else(|e| panic!("{}", e.render("t.d", src)))
}

/// The single expression statement of `BEGIN { src; }`, printed.
fn ex(src: &str) -> String {
    let p = script(&format!("BEGIN {{ {src}; }}"));
    match &p.clauses[0].body[..] {
        [Stmt::Expr(e)] => e.to_string(),
        other => panic!("expected one expression, got {other:?}"),
    }
}

/// The error for a script, rendered, and its position.
fn fail(src: &str) -> (String, (usize, usize)) {
    let e = parse_script(src, &env()).expect_err("should not parse");
    (e.to_string(), e.line_col(src))
}

fn probe_fields(p: &ProbeSpec) -> [&str; 4] {
    [&p.provider, &p.module, &p.function, &p.name]
}

#[test]
fn probe_descriptions_lex_as_one_unit() {
    let p = script(
        "syscall::open*:entry, profile-997,\n pid$target:libc.so.6:malloc:entry,\
         fbt::foo:, proc:::exec-success, syscall::[rw]ead?:return\n{ }",
    );
    let probes = &p.clauses[0].probes;
    assert_eq!(probes.len(), 6);
    assert_eq!(probe_fields(&probes[0]), ["syscall", "", "open*", "entry"]);
    assert_eq!(probe_fields(&probes[1]), ["", "", "", "profile-997"]);
    assert_eq!(
        probe_fields(&probes[2]),
        ["pid4242", "libc.so.6", "malloc", "entry"]
    );
    assert_eq!(probes[2].raw, "pid$target:libc.so.6:malloc:entry");
    assert_eq!(probe_fields(&probes[3]), ["fbt", "", "foo", ""]);
    assert_eq!(probe_fields(&probes[4]), ["proc", "", "", "exec-success"]);
    assert_eq!(
        probe_fields(&probes[5]),
        ["syscall", "", "[rw]ead?", "return"]
    );
    let src = "BEGIN/x/{}";
    let p = script(src);
    assert_eq!(p.clauses[0].probes[0].span, Span::new(0, 5));
    assert!(p.clauses[0].predicate.is_some());
}

#[test]
fn descriptions_end_at_comments_predicates_and_braces() {
    let p = script("tick-1s/*c*/{ } syscall:::entry// c\n{ } a:::b/1/{ }");
    let names: Vec<_> = p.clauses.iter().map(|c| c.probes[0].raw.as_str()).collect();
    assert_eq!(names, ["tick-1s", "syscall:::entry", "a:::b"]);
}

#[test]
fn predicate_slash_versus_division() {
    let p = script("BEGIN /a / b > 1/ { x = a / 2; } END /x/ /* c */ { }");
    assert_eq!(
        p.clauses[0].predicate.as_ref().unwrap().to_string(),
        "((a / b) > 1)"
    );
    assert_eq!(p.clauses[0].body[0].to_string(), "(x = (a / 2));\n");
    assert_eq!(p.clauses[1].predicate.as_ref().unwrap().to_string(), "x");
}

#[test]
fn precedence_and_associativity() {
    assert_eq!(ex("a + b * c - d"), "((a + (b * c)) - d)");
    assert_eq!(ex("a || b ^^ c && d"), "(a || (b ^^ (c && d)))");
    assert_eq!(ex("a | b ^ c & d == e"), "(a | (b ^ (c & (d == e))))");
    assert_eq!(ex("a < b == c >= d"), "((a < b) == (c >= d))");
    assert_eq!(ex("a << 2 + 1"), "(a << (2 + 1))");
    assert_eq!(ex("a - b - c"), "((a - b) - c)");
    assert_eq!(ex("a = b += c"), "(a = (b += c))");
    assert_eq!(ex("a ? b : c ? d : e"), "(a ? b : (c ? d : e))");
    assert_eq!(ex("x = a > 0 ? a : -a"), "(x = ((a > 0) ? a : (-a)))");
    assert_eq!(ex("a = 1, b = 2"), "((a = 1) , (b = 2))");
    assert_eq!(ex("!a && ~b"), "((!a) && (~b))");
    assert_eq!(ex("-x++"), "(-(x++))");
    assert_eq!(ex("*p->q"), "(*p->q)");
    assert_eq!(ex("&a[1]"), "(&a[1])");
    assert_eq!(ex("++self->n"), "(++self->n)");
    assert_eq!(ex("a-->b"), "((a--) > b)");
    assert_eq!(ex("x <<= 2"), "(x <<= 2)");
    assert_eq!(ex("x >>= y & 1"), "(x >>= (y & 1))");
    for op in [
        "=", "+=", "-=", "*=", "/=", "%=", "&=", "^=", "|=", "<<=", ">>=",
    ] {
        assert_eq!(ex(&format!("x {op} 1")), format!("(x {op} 1)"));
    }
}

#[test]
fn variables_aggregations_calls_and_members() {
    assert_eq!(ex("@[execname] = count()"), "(@[execname] = count())");
    assert_eq!(
        ex("@a[pid, probefunc] = sum(arg0)"),
        "(@a[pid, probefunc] = sum(arg0))"
    );
    assert_eq!(ex("@ = quantize(arg0)"), "(@ = quantize(arg0))");
    assert_eq!(ex("self->ts = timestamp"), "(self->ts = timestamp)");
    assert_eq!(ex("this->x = args[0]"), "(this->x = args[0])");
    assert_eq!(ex("self->a[1, \"k\"]"), "self->a[1, \"k\"]");
    assert_eq!(ex("curthread->t_procp.p_pid"), "curthread->t_procp.p_pid");
    assert_eq!(ex("self->string"), "self->string");
    assert_eq!(ex("x.int"), "x.int");
    assert_eq!(
        ex("printf(\"%d %s\\n\", pid, execname)"),
        "printf(\"%d %s\\n\", pid, execname)"
    );
    assert_eq!(ex("exit(0)"), "exit(0)");
    assert_eq!(ex("stringof(x)"), "stringof(x)");
    assert_eq!(ex("stringof x"), "stringof(x)");
    assert_eq!(ex("lquantize(x, 0, 100, 10)"), "lquantize(x, 0, 100, 10)");
    assert_eq!(ex("`max_pfn"), "`max_pfn");
    let p = script("BEGIN { @[1] = count(); }");
    let Stmt::Expr(e) = &p.clauses[0].body[0] else {
        panic!()
    };
    let ExprKind::Assign { lhs, .. } = &e.kind else {
        panic!()
    };
    let ExprKind::Index { base, keys } = &lhs.kind else {
        panic!()
    };
    assert_eq!(base.kind, ExprKind::Agg(String::new()));
    assert_eq!(keys.len(), 1);
}

#[test]
fn casts_sizeof_and_types() {
    assert_eq!(ex("(int)x"), "((int)x)");
    assert_eq!(
        ex("(unsigned long long)x + 1"),
        "(((unsigned long long)x) + 1)"
    );
    assert_eq!(ex("(char *)arg0"), "((char *)arg0)");
    assert_eq!(ex("(const char **)arg1"), "((char **)arg1)");
    assert_eq!(ex("(uint64_t)arg0"), "((uint64_t)arg0)");
    assert_eq!(ex("(string)arg0"), "((string)arg0)");
    assert_eq!(
        ex("(struct task_struct *)curthread"),
        "((struct task_struct *)curthread)"
    );
    assert_eq!(ex("(x)"), "x");
    assert_eq!(ex("(x) + 1"), "(x + 1)");
    assert_eq!(ex("sizeof (int)"), "sizeof (int)");
    assert_eq!(ex("sizeof(x)"), "(sizeof x)");
    assert_eq!(ex("sizeof x + 1"), "((sizeof x) + 1)");
    assert_eq!(ex("-(int)-x"), "(-((int)(-x)))");
}

#[test]
fn literals() {
    assert_eq!(
        ex("x = 0x1F + 017 + 10ul + 'a' + '\\n'"),
        "(x = ((((0x1f + 0xf) + 10ul) + 97) + 10))"
    );
    assert_eq!(ex("'ab'"), "24930");
    assert_eq!(
        ex("\"tab\\there \\\"q\\\" \\x41\\101\\0\""),
        "\"tab\\there \\\"q\\\" AA\\000\""
    );
    let p = script("BEGIN { x = \"\\xff\"; }");
    let Stmt::Expr(e) = &p.clauses[0].body[0] else {
        panic!()
    };
    let ExprKind::Assign { rhs, .. } = &e.kind else {
        panic!()
    };
    assert_eq!(rhs.kind, ExprKind::Str(vec![0xff]));
}

#[test]
fn statements_and_blocks() {
    let p = script("BEGIN { ; a = 1;; b = 2 }");
    assert_eq!(p.clauses[0].body.len(), 2);
    let p = script("BEGIN { }");
    assert!(p.clauses[0].body.is_empty());
    let p = script("BEGIN { if (x > 1) { y = 1; } else if (x) z = 2; else { w = 3; } trace(y) }");
    assert_eq!(
        p.clauses[0].to_string(),
        "BEGIN\n{\n\tif ((x > 1)) {\n\t\t(y = 1);\n\t} else {\n\t\tif (x) {\n\t\t\t(z = 2);\n\t\t} else {\n\t\t\t(w = 3);\n\t\t}\n\t}\n\ttrace(y);\n}\n"
    );
    assert_eq!(
        fail("BEGIN { a = 1 b = 2; }"),
        ("syntax error near \"b\"".into(), (1, 15))
    );
}

#[test]
fn pragmas_interpreter_line_and_declarations() {
    let src = "#!/usr/sbin/dtrace -s\n#pragma D option quiet\n  #pragma D option bufsize=16m\n\
               #pragma D depends_on module unix\n# 12 \"x.d\"\n\
               self int ts;\nthis string s;\nint a[string, int], b;\nuint64_t *p;\n\
               BEGIN { }";
    let p = script(src);
    assert_eq!(
        p.pragmas.iter().map(|p| p.kind.clone()).collect::<Vec<_>>(),
        vec![
            PragmaKind::Option {
                name: "quiet".into(),
                value: None
            },
            PragmaKind::Option {
                name: "bufsize".into(),
                value: Some("16m".into())
            },
            PragmaKind::Other {
                words: vec![
                    "D".into(),
                    "depends_on".into(),
                    "module".into(),
                    "unix".into()
                ]
            },
        ]
    );
    let decls: Vec<String> = p.decls.iter().map(ToString::to_string).collect();
    assert_eq!(
        decls,
        [
            "self int ts;",
            "this string s;",
            "int a[string, int];",
            "int b;",
            "uint64_t * p;"
        ]
    );
    assert_eq!(p.clauses.len(), 1);
    assert_eq!(
        fail("#define X 1\nBEGIN { }"),
        ("invalid control directive: #define".into(), (1, 1))
    );
    assert_eq!(
        fail("#pragma D option\nBEGIN { }").0,
        "#pragma D option requires an option name"
    );
    assert_eq!(fail("BEGIN { x = 1 # 2; }").0, "syntax error near \"#\"");
    assert!(fail("typedef int foo_t;").0.contains("not supported"));
}

#[test]
fn macro_arguments() {
    assert_eq!(ex("x = $1 + $3"), "(x = (5 + (-3)))");
    assert_eq!(ex("x = $2"), "(x = bash)");
    assert_eq!(ex("x = $$2"), "(x = \"bash\")");
    assert_eq!(ex("x = $4"), "(x = \"/tmp/x y\")");
    assert_eq!(ex("x = $$1"), "(x = \"5\")");
    assert_eq!(ex("x = $0"), "(x = \"t.d\")");
    assert_eq!(ex("x = $target"), "(x = 4242)");
    assert_eq!(ex("x = $$target"), "(x = \"4242\")");
    let p = script("pid$target:$5::entry, syscall::$2:entry { }");
    assert_eq!(
        probe_fields(&p.clauses[0].probes[0]),
        ["pid4242", "libc.so.6", "", "entry"]
    );
    assert_eq!(
        probe_fields(&p.clauses[0].probes[1]),
        ["syscall", "", "bash", "entry"]
    );
    assert_eq!(
        fail("BEGIN {\n  x = $9;\n}"),
        ("macro argument $9 is not defined".into(), (2, 7))
    );
    assert_eq!(
        fail("BEGIN { x = $$7; }").0,
        "macro argument $$7 is not defined"
    );
    assert_eq!(
        fail("BEGIN { x = $nope; }").0,
        "macro variable $nope is not defined"
    );
    let lenient = MacroEnv::new("t.d", Vec::<String>::new()).with_default_args(true);
    let p = parse_script("BEGIN { x = $1; y = $$2; }", &lenient).unwrap();
    assert_eq!(p.clauses[0].body[0].to_string(), "(x = 0);\n");
    assert_eq!(p.clauses[0].body[1].to_string(), "(y = \"\");\n");
}

#[test]
fn bare_descriptions_only_with_n() {
    let e = MacroEnv::default();
    let p = parse_probe_arg("BEGIN", &e).unwrap();
    assert_eq!(p.clauses[0].probes[0].name, "BEGIN");
    let p = parse_probe_arg("syscall::read:entry, syscall::write:entry", &e).unwrap();
    assert_eq!(p.clauses[0].probes.len(), 2);
    assert!(p.clauses[0].body.is_empty());
    let err = parse_script("BEGIN", &e).unwrap_err();
    assert_eq!(
        err.to_string(),
        "expected predicate and/or actions following probe description"
    );
    let err = parse_probe_arg("BEGIN /x/", &e).unwrap_err();
    assert_eq!(err.to_string(), "syntax error near end of input");
    let d = parse_description(" syscall ", FieldLevel::Provider, &e).unwrap();
    assert_eq!((d.provider.as_str(), d.span), ("syscall", Span::new(1, 8)));
}

#[test]
fn syntax_errors_point_at_the_token() {
    assert_eq!(
        fail("BEGIN\n{\n\tx = ;\n}"),
        ("syntax error near \";\"".into(), (3, 6))
    );
    assert_eq!(
        fail("BEGIN { x = 1 }\n}"),
        ("syntax error near \"}\"".into(), (2, 1))
    );
    assert_eq!(
        fail("BEGIN { x = 1;"),
        ("syntax error near end of input".into(), (1, 15))
    );
    assert_eq!(
        fail("BEGIN { x = (1 + ; }"),
        ("syntax error near \";\"".into(), (1, 18))
    );
    assert_eq!(
        fail("BEGIN { x = 1 + 2 = 3; }"),
        ("syntax error near \"=\"".into(), (1, 19))
    );
    assert_eq!(
        fail("BEGIN { a[1](1); }"),
        ("syntax error near \"(\"".into(), (1, 13))
    );
    assert_eq!(fail("BEGIN { x = a[1; }").0, "syntax error near \";\"");
    assert_eq!(
        fail("BEGIN /(x > 1/ { }"),
        ("closing ) expected in predicate before /".into(), (1, 14))
    );
    assert_eq!(
        fail("BEGIN /a[x/ { }").0,
        "closing ] expected in predicate before /"
    );
    assert_eq!(
        fail("BEGIN { x = 1.5; }"),
        ("floating-point constants are not permitted".into(), (1, 13))
    );
    assert_eq!(
        fail("BEGIN { x = 09; }").0,
        "constant 09 contains invalid digit 9"
    );
    assert_eq!(
        fail("BEGIN { x = 99999999999999999999; }").0,
        "constant 99999999999999999999 results in integer overflow"
    );
    assert_eq!(
        fail("BEGIN { x = \"ab\ncd\"; }").0,
        "newline encountered in string literal"
    );
    assert_eq!(fail("BEGIN { x = \"ab; }").0, "syntax error near \"\"\"");
    assert_eq!(fail("BEGIN { x = ''; }").0, "empty character constant");
    assert_eq!(
        fail("BEGIN { x = '123456789'; }").0,
        "character constant is too long"
    );
    assert_eq!(
        fail("BEGIN { /* x"),
        ("end-of-file encountered before matching */".into(), (1, 9))
    );
    assert_eq!(
        fail("BEGIN { /* /* */ }").0,
        "/* encountered inside a comment"
    );
    assert_eq!(
        fail("BEGIN { x = é; }"),
        ("syntax error near \"é\"".into(), (1, 13))
    );
    assert_eq!(
        fail("a:b:c:d:e { }").0,
        "invalid probe description \"a:b:c:d:e\": Overspecified probe description"
    );
    assert_eq!(fail("BEGIN { self = 1; }").0, "syntax error near \"=\"");
    assert_eq!(fail("{ }").0, "syntax error near \"{\"");
    assert_eq!(fail("BEGIN { } ;").0, "syntax error near \";\"");
    assert_eq!(fail("BEGIN END { }").0, "syntax error near \"END\"");
    assert_eq!(
        fail("BEGIN { x = offsetof(a, b); }").0,
        "offsetof is not supported"
    );
    assert_eq!(
        fail("123 { }").0,
        "a probe given by its numeric id is not supported"
    );
}

#[test]
fn rendering_for_scripts_and_n() {
    let src = "BEGIN\n{\n  printf(\"%d\\n\", 1) trace(2);\n}\n";
    let e = parse_script(src, &env()).unwrap_err();
    assert_eq!(
        e.render("/tmp/t.d", src),
        "dtrace: failed to compile script /tmp/t.d: line 3, column 21: syntax error near \"trace\""
    );
    let n = "syscall:::entry { @[execname] = count() }}";
    let e = parse_probe_arg(n, &env()).unwrap_err();
    assert_eq!(
        e.render_n(n),
        "dtrace: invalid probe specifier syscall:::entry { @[execname] = count() }}: \
         column 42: syntax error near \"}\""
    );
}

fn depth_error(src: &str) {
    let e = parse_script(src, &env()).expect_err("too deep");
    assert_eq!(
        e.kind,
        ParseErrorKind::TooDeep { limit: MAX_DEPTH },
        "{src:.40}"
    );
}

#[test]
fn nesting_is_bounded() {
    let n = 100_000;
    let wrap = |inner: String| format!("BEGIN {{ x = {inner}; }}");
    depth_error(&wrap(format!("{}1{}", "(".repeat(n), ")".repeat(n))));
    depth_error(&wrap(format!("{}1", "-".repeat(n))));
    depth_error(&wrap(format!("{}1", "!".repeat(n))));
    depth_error(&wrap(format!("{}1", "(int)".repeat(n))));
    depth_error(&wrap(format!("{}1", "sizeof ".repeat(n))));
    depth_error(&wrap("1 + ".repeat(n) + "1"));
    depth_error(&wrap("a = ".repeat(n) + "1"));
    depth_error(&wrap("a ? b : ".repeat(n) + "c"));
    depth_error(&wrap(format!("{}1{}", "f(".repeat(n), ")".repeat(n))));
    depth_error(&wrap(format!("a{}", "[1]".repeat(n))));
    depth_error(&wrap(format!("a{}", "->b".repeat(n))));
    depth_error(&wrap(format!("a{}", "++".repeat(n))));
    depth_error(&format!("BEGIN {{ {} }}", "if (1) ".repeat(n)));
    // Just inside the limit still parses.
    let ok = wrap(format!("{}1{}", "(".repeat(50), ")".repeat(50)));
    script(&ok);
    script(&wrap("1 + ".repeat(200) + "1"));
}

#[test]
fn printed_programs_parse_to_the_same_tree() {
    let src = "BEGIN, syscall::read:entry /pid == $target && (x ^^ y)/ {\n\
               self->ts = timestamp; @a[execname, probefunc] = quantize((int)arg0 * 2);\n\
               this->s = strjoin(\"a\\\"\", copyinstr(arg1)); x = !a ? -b : sizeof (char *);\n\
               if (x) { y++; } else { --y; } }";
    let once = script(src).to_string();
    let twice = script(&once).to_string();
    assert_eq!(once, twice);
}
