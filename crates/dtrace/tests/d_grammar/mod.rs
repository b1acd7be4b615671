//! The grammar random D programs are drawn from for `compile_verifier`:
//! what the compiler supports, and now and then what it must refuse.
//! Variables keep one type each (`gi` an integer, `gs` a string, `ai[int]`
//! of integers …) so that most programs are well typed; [`BAD`]
//! statements break that on purpose.

use proptest::prelude::*;

type S = BoxedStrategy<String>;

/// How a program with declarations starts: it is parsed as a script.
pub const SCRIPT: &str = "/* script */";

fn pick(items: &'static [&'static str]) -> S {
    prop::sample::select(items).prop_map(String::from).boxed()
}

const INT_LEAVES: &[&str] = &[
    "0",
    "1",
    "-1",
    "7",
    "077",
    "0x7fffffff",
    "0x80000000",
    "4294967296",
    "0xffffffffffffffff",
    "9223372036854775807",
    "10ul",
    "3ll",
    "'a'",
    "pid",
    "tid",
    "uid",
    "gid",
    "cpu",
    "id",
    "errno",
    "timestamp",
    "walltimestamp",
    "arg0",
    "arg1",
    "arg2",
    "arg5",
    "arg9",
    "rand()",
    "gi",
    "gj",
    "self->ti",
    "this->ci",
    "sizeof(int)",
    "sizeof(char)",
    "sizeof(string)",
];

const STR_LEAVES: &[&str] = &[
    "\"\"",
    "\"a\"",
    "\"openat\"",
    "\"hello, world\"",
    "\"tab\\there\\n\"",
    "\"\\\"quoted\\\"\"",
    "\"nul\\0after\"",
    "\"a string that is rather longer than sixteen bytes\"",
    "execname",
    "zonename",
    "probeprov",
    "probemod",
    "probefunc",
    "probename",
    "gs",
    "self->ts",
    "this->cs",
];

const CASTS: &[&str] = &[
    "char",
    "unsigned char",
    "short",
    "unsigned short",
    "int",
    "unsigned",
    "uint32_t",
    "long",
    "uint64_t",
    "int64_t",
    "size_t",
    "char *",
    "void *",
];

const ARITH: &[&str] = &[
    "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "<", "<=", ">", ">=", "==", "!=", "&&",
    "||", "^^",
];

const STR_CMP: &[&str] = &["==", "!=", "<", "<=", ">", ">="];

const ASSIGN_OPS: &[&str] = &[
    "=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=",
];

/// Integer lvalues, keyed ones with their keys filled in by `lvalue`.
const INT_VARS: &[&str] = &["gi", "gj", "self->ti", "this->ci", "ai[#I]", "am[#S, #I]"];
const STR_VARS: &[&str] = &["gs", "self->ts", "this->cs", "astr[#I]"];

/// Fills `#I` and `#S` holes in order with the given expressions.
fn fill(template: &str, ints: &[String], strs: &[String]) -> String {
    let (mut i, mut s) = (ints.iter(), strs.iter());
    let mut out = String::new();
    let mut rest = template;
    while let Some(at) = rest.find('#') {
        out.push_str(&rest[..at]);
        let hole = &rest[at..at + 2];
        let with = match hole {
            "#I" => i.next(),
            "#S" => s.next(),
            _ => None,
        };
        out.push_str(with.map_or("0", String::as_str));
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}

/// A template with up to three integer and two string holes.
fn template(t: S, int: &S, string: &S) -> S {
    (
        t,
        prop::collection::vec(int.clone(), 3),
        prop::collection::vec(string.clone(), 2),
    )
        .prop_map(|(t, i, s)| fill(&t, &i, &s))
        .boxed()
}

/// `args[N]`: an integer or a string depending on the probe.
fn args_leaf() -> S {
    (0u32..10).prop_map(|n| format!("args[{n}]")).boxed()
}

/// Integer expressions, `depth` levels deep.
fn int_expr(depth: u32) -> S {
    let leaf = prop_oneof![
        36 => pick(INT_LEAVES),
        12 => any::<i32>().prop_map(|v| v.to_string()),
        1 => args_leaf(),
    ]
    .boxed();
    if depth == 0 {
        return leaf;
    }
    let i = int_expr(depth - 1);
    let s = str_expr(depth - 1);
    let cond = prop_oneof![3 => i.clone(), 1 => s.clone()].boxed();
    prop_oneof![
        4 => leaf,
        5 => (i.clone(), pick(ARITH), i.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        2 => (s.clone(), pick(STR_CMP), s.clone()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        1 => (pick(&["-", "~", "!", "+"]), i.clone()).prop_map(|(op, a)| format!("{op}({a})")),
        1 => s.clone().prop_map(|a| format!("!{a}")),
        1 => (s.clone(), pick(&["&&", "||"]), cond.clone())
            .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        2 => (pick(CASTS), i.clone()).prop_map(|(t, a)| format!("(({t}){a})")),
        2 => (cond.clone(), i.clone(), i.clone())
            .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
        1 => s.clone().prop_map(|a| format!("strlen({a})")),
        1 => i.clone().prop_map(|a| format!("sizeof({a})")),
        1 => s.clone().prop_map(|a| format!("sizeof({a})")),
        2 => (lvalue(INT_VARS, &i, &s), pick(ASSIGN_OPS), i.clone())
            .prop_map(|(v, op, a)| format!("({v} {op} {a})")),
        1 => (lvalue(INT_VARS, &i, &s), pick(&["++", "--"]), any::<bool>())
            .prop_map(|(v, op, pre)| if pre { format!("{op}{v}") } else { format!("{v}{op}") }),
        2 => template(pick(&["ai[#I]", "am[#S, #I]"]), &i, &s),
        1 => (i.clone(), i.clone()).prop_map(|(a, b)| format!("({a}, {b})")),
    ]
    .boxed()
}

/// String expressions, `depth` levels deep.
fn str_expr(depth: u32) -> S {
    let leaf = prop_oneof![40 => pick(STR_LEAVES), 1 => args_leaf()].boxed();
    if depth == 0 {
        return leaf;
    }
    let i = int_expr(depth - 1);
    let s = str_expr(depth - 1);
    let cond = prop_oneof![3 => i.clone(), 1 => s.clone()].boxed();
    prop_oneof![
        5 => leaf,
        2 => i.clone().prop_map(|a| format!("copyinstr({a})")),
        1 => (i.clone(), 0u32..300).prop_map(|(a, n)| format!("copyinstr({a}, {n})")),
        1 => s.clone().prop_map(|a| format!("stringof({a})")),
        1 => i.clone().prop_map(|a| format!("stringof({a})")),
        1 => (i.clone(), s.clone()).prop_map(|(a, b)| format!("({a}, {b})")),
        2 => (s.clone(), s.clone()).prop_map(|(a, b)| format!("strjoin({a}, {b})")),
        2 => (cond, s.clone(), s.clone()).prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
        1 => i.clone().prop_map(|a| format!("astr[{a}]")),
        1 => (lvalue(STR_VARS, &i, &s), s.clone()).prop_map(|(v, a)| format!("({v} = {a})")),
    ]
    .boxed()
}

fn lvalue(vars: &'static [&'static str], int: &S, string: &S) -> S {
    template(pick(vars), int, string)
}

/// One aggregation: its name, keys and function, fixed per name.
const AGGS: &[&str] = &[
    "@c[#S] = count()",
    "@ = count()",
    "@s[#I, #S] = sum(#I)",
    "@a = avg(#I)",
    "@mn[#I] = min(#I)",
    "@mx = max(#I)",
    "@sd[#S] = stddev(#I)",
    "@q[#I] = quantize(#I)",
    "@qw = quantize(#I, #I)",
    "@l1 = lquantize(#I, 0, 100, 10)",
    "@l2[#S] = lquantize(#I, -5, 5)",
    "@l3 = lquantize(#I, 0, 1000, 7, #I)",
    "@ll[#S, #I] = llquantize(#I, 10, 0, 6, 20)",
    "@k[stack()] = count()",
    "@u[ustack(), #S] = count()",
];

const AGG_NAMES: &[&str] = &[
    "@c", "@", "@s", "@a", "@mn", "@mx", "@sd", "@q", "@qw", "@l1", "@l2", "@l3", "@ll", "@k", "@u",
];

/// Conversions by the kind of value they take.
const INT_CONVS: &[&str] = &[
    "%d", "%i", "%u", "%x", "%X", "%o", "%c", "%lld", "%5d", "%-3d", "%p", "%hd", "%lu",
];
const STR_CONVS: &[&str] = &["%s", "%S", "%-10s", "%.3s", "%20s"];

/// `printf` with a well-typed format: text, then 0 to 4 conversions.
fn printf(int: &S, string: &S) -> S {
    let arg = prop_oneof![
        3 => (pick(INT_CONVS), int.clone()).prop_map(|(c, a)| (c, a)),
        2 => (pick(STR_CONVS), string.clone()).prop_map(|(c, a)| (c, a)),
        1 => pick(&["stack()", "ustack()"]).prop_map(|a| ("%k".to_owned(), a)),
        1 => (int.clone(), int.clone()).prop_map(|(w, a)| ("%*d".to_owned(), format!("{w}, {a}"))),
    ];
    prop::collection::vec(arg, 0..=4)
        .prop_map(|args| {
            let convs: Vec<&str> = args.iter().map(|(c, _)| c.as_str()).collect();
            let mut s = format!("printf(\"fmt%% {}\\n\"", convs.join(" "));
            for (_, a) in &args {
                s.push_str(", ");
                s.push_str(a);
            }
            s.push(')');
            s
        })
        .boxed()
}

/// Statements that must be refused with a D-level error (or, for a few,
/// may be accepted): the holes are well typed, the template is not.
const BAD: &[&str] = &[
    "gi = #S",
    "gs = #I",
    "trace(#I + #S)",
    "printf(\"%d\\n\", #S)",
    "printf(\"%s\\n\", #I)",
    "printf(\"%d %d\\n\", #I)",
    "printf(\"%q\\n\", #I)",
    "printf(gs)",
    "@c[#I] = count()",
    "@c[#S, #S] = count()",
    "@c = sum(#I)",
    "@c[#S] = count(#I)",
    "@q[#I] = quantize(#S)",
    "@l1 = lquantize(#I, #I, 10)",
    "@l1 = lquantize(#I, 100, 0, 10)",
    "@ll[#S, #I] = llquantize(#I, 1, 0, 6, 20)",
    "@x = nosuch(#I)",
    "@x = #I",
    "@x += count()",
    "ai[#S] = #I",
    "ai[#I, #I] = #I",
    "gi[#I] = #I",
    "trace(ai)",
    "astr[#I] = #I",
    "nosuch = unknown + #I",
    "trace(strlen(#I))",
    "trace(copyinstr(#S))",
    "trace(copyinstr(#I, #I))",
    "trace((int)#S)",
    "trace((struct foo)#I)",
    "trace(stack() == stack())",
    "trace(stack() + 1)",
    "trace(-#S)",
    "trace(#S * #S)",
    "trace(#I ? #I : #S)",
    "trace(#S ? #S : #I)",
    "trace(args[#I])",
    "trace(args[12])",
    "trace(args)",
    "trace(@c)",
    "trace(count())",
    "trace(printf(\"x\"))",
    "trace(*#I)",
    "trace(&gi)",
    "trace(curthread)",
    "trace(curpsinfo->pr_psargs)",
    "trace(execname[#I])",
    "gs++",
    "gs += #S",
    "gi = stack()",
    "ai[stack()] = #I",
    "trace((#I, stack()) + 1)",
    "self->ts = stack()",
    "this->ci = ustack()",
    "printa(@nosuch)",
    "printa(#I)",
    "clear(#I)",
    "normalize(@c)",
    "trunc(@c, #S)",
    "exit(#S)",
    "exit()",
    "trace()",
    "raise(9)",
    "system(\"ls\")",
    "speculate(1)",
    "pid = #I",
    "arg0 = #I",
    "args[0] = #I",
];

/// Statements at the compiler's limits: long chains of temporaries,
/// printf with many values, nested joins and string choices, long
/// literals, deep `if`s, reads through reads.
fn stress(int: &S, string: &S) -> S {
    let chain = (
        prop::collection::vec(int.clone(), 40..66),
        pick(&["+", "-", "*", "&", "<"]),
    )
        .prop_map(|(xs, op)| {
            let mut out = String::new();
            for x in &xs[..xs.len() - 1] {
                out.push_str(&format!("({x} {op} "));
            }
            out.push_str(&xs[xs.len() - 1]);
            out.push_str(&")".repeat(xs.len() - 1));
            format!("trace({out});")
        });
    let many = prop::collection::vec(int.clone(), 30..70).prop_map(|xs| {
        format!(
            "printf(\"{}\\n\", {});",
            "%d ".repeat(xs.len()),
            xs.join(", ")
        )
    });
    let nested = |f: &'static str| {
        (string.clone(), prop::collection::vec(string.clone(), 2..9)).prop_map(
            move |(first, xs)| {
                xs.iter().fold(first, |acc, x| match f {
                    "strjoin" => format!("strjoin({acc}, {x})"),
                    _ => format!("(strlen({x}) ? {acc} : {x})"),
                })
            },
        )
    };
    let joins = (
        nested("strjoin"),
        pick(&[
            "trace(#);",
            "gs = #;",
            "@c[#] = count();",
            "trace(# == gs);",
        ]),
    )
        .prop_map(|(e, t)| t.replace('#', &e));
    let choices = (
        nested("?:"),
        pick(&["trace(#);", "self->ts = #;", "trace(strlen(#));"]),
    )
        .prop_map(|(e, t)| t.replace('#', &e));
    let literal = (
        1usize..3000,
        pick(&["trace(\"#\");", "gs = \"#\";", "trace(gs != \"#\");"]),
    )
        .prop_map(|(n, t)| t.replace('#', &"x".repeat(n)));
    let ifs = (2usize..12, int.clone(), string.clone()).prop_map(|(n, c, x)| {
        format!(
            "{} trace({x}); {}",
            format!("if ({c}) {{ ").repeat(n),
            "} ".repeat(n)
        )
    });
    let reads = (1usize..12, int.clone())
        .prop_map(|(n, k)| format!("trace({}{k}{});", "ai[".repeat(n), "]".repeat(n)));
    prop_oneof![chain, many, joins, choices, literal, ifs, reads].boxed()
}

/// One statement, `depth` levels of `if` deep.
fn stmt(depth: u32) -> S {
    let i = int_expr(2);
    let s = str_expr(2);
    let key_i = int_expr(1);
    let key_s = str_expr(1);
    let simple = prop_oneof![
        6 => (lvalue(INT_VARS, &key_i, &key_s), pick(ASSIGN_OPS), i.clone())
            .prop_map(|(v, op, a)| format!("{v} {op} {a};")),
        4 => (lvalue(STR_VARS, &key_i, &key_s), s.clone()).prop_map(|(v, a)| format!("{v} = {a};")),
        1 => lvalue(INT_VARS, &key_i, &key_s).prop_map(|v| format!("{v}++;")),
        1 => pick(&["self->ti = 0;", "ai[1] = 0;", "self->ts = \"\";"]),
        6 => template(pick(AGGS), &i, &key_s).prop_map(|a| format!("{a};")),
        2 => i.clone().prop_map(|a| format!("trace({a});")),
        2 => s.clone().prop_map(|a| format!("trace({a});")),
        1 => pick(&["trace(stack());", "stack();", "ustack();", "trace(ustack());"]),
        4 => printf(&i, &s).prop_map(|p| format!("{p};")),
        1 => (pick(AGG_NAMES), pick(&["printa(#A);", "printa(\"%@d\\n\", #A);",
            "printa(\"%s %d %@d\\n\", #A);", "clear(#A);", "trunc(#A);", "denormalize(#A);"]))
            .prop_map(|(a, t)| t.replace("#A", &a)),
        1 => (pick(AGG_NAMES), pick(&["trunc", "normalize"]), i.clone())
            .prop_map(|(a, f, n)| format!("{f}({a}, {n});")),
        1 => i.clone().prop_map(|a| format!("exit({a});")),
        1 => template(pick(BAD), &key_i, &key_s).prop_map(|b| format!("{b};")),
        1 => stress(&key_i, &key_s),
    ]
    .boxed();
    if depth == 0 {
        return simple;
    }
    let inner = stmt(depth - 1);
    let cond = prop_oneof![3 => int_expr(2), 1 => str_expr(1)];
    prop_oneof![
        8 => simple,
        1 => (cond, prop::collection::vec(inner.clone(), 1..3), prop::collection::vec(inner, 0..3))
            .prop_map(|(c, t, e)| {
                let mut out = format!("if ({c}) {{ {} }}", t.join(" "));
                if !e.is_empty() {
                    out.push_str(&format!(" else {{ {} }}", e.join(" ")));
                }
                out
            }),
    ]
    .boxed()
}

const PROBES: &[&str] = &[
    "BEGIN",
    "BEGIN",
    "BEGIN",
    "END",
    "ERROR",
    "syscall::openat:entry",
    "syscall::openat:entry",
    "syscall::openat:return",
    "syscall::read:return",
    "sched:::on-cpu",
    "sched:::wakeup",
    "proc:::exec-success",
    "proc:::exit",
    "proc:::signal-send",
    "io:::start",
    "profile-997",
    "tick-1000",
];

fn clause() -> S {
    let probes = prop::collection::vec(pick(PROBES), 1..3).prop_map(|mut p| {
        p.dedup();
        p.join(", ")
    });
    let predicate = prop::option::weighted(0.3, prop_oneof![3 => int_expr(2), 1 => str_expr(1)]);
    (probes, predicate, prop::collection::vec(stmt(1), 0..6))
        .prop_map(|(p, pred, body)| {
            let pred = pred.map(|e| format!(" /{e}/")).unwrap_or_default();
            format!("{p}{pred} {{ {} }}", body.join(" "))
        })
        .boxed()
}

/// Declarations a script may start with, consistent with the names'
/// types, and one that is not.
const DECLS: &[&str] = &[
    "int gi;",
    "uint64_t gj;",
    "string gs;",
    "self int ti;",
    "this string cs;",
    "long ai[int];",
    "int am[string, int];",
    "string astr[long];",
    "char gi;",
    "string gi;",
];

/// A clause that gives every variable its type before any other clause
/// reads it (BEGIN's program is typed first).
const INIT: &str = "BEGIN { gi = 0; gj = 0; gs = \"\"; ai[0] = 0; am[\"\", 0] = 0; \
    astr[0] = \"\"; self->ti = 0; self->ts = \"\"; this->ci = 0; this->cs = \"\"; }";

/// A program, the string size it is compiled with.
pub fn program() -> impl Strategy<Value = (String, u32)> {
    let decls = prop::option::weighted(0.15, prop::collection::vec(pick(DECLS), 1..4));
    let strsize = prop_oneof![
        6 => Just(256u32),
        1 => prop::sample::select(vec![1u32, 8, 13, 32, 100, 512, 1024, 2048, 4096]),
    ];
    let init = prop::bool::weighted(0.85);
    let clauses = prop::collection::vec(clause(), 1..4);
    (decls, init, clauses, strsize).prop_map(|(decls, init, mut clauses, size)| {
        if init {
            clauses.insert(0, INIT.to_owned());
        }
        let body = clauses.join("\n");
        let src = match decls {
            Some(d) => format!("{SCRIPT}\n{}\n{body}", d.join("\n")),
            None => body,
        };
        (src, size)
    })
}
