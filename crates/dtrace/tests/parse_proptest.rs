//! Properties of the parser on open-ended input: random bytes and random
//! token soups never make it panic, and generated expressions parse to
//! exactly the tree their full parenthesisation says.

use basalt_dtrace::parse::{MacroEnv, Stmt, parse_probe_arg, parse_script};
use proptest::prelude::*;

fn env() -> MacroEnv {
    MacroEnv::new("p.d", ["1", "x", "a b"]).with_target(7)
}

/// Pieces of D, valid and not, for token soups.
const VOCAB: &[&str] = &[
    "BEGIN",
    "END",
    "syscall:::entry",
    "pid$target::malloc:entry",
    "profile-997",
    "a:b:c:d:e",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "/",
    ",",
    ";",
    ":",
    "?",
    "=",
    "+=",
    "<<=",
    ">>=",
    "->",
    ".",
    "++",
    "--",
    "+",
    "-",
    "*",
    "%",
    "&",
    "&&",
    "|",
    "||",
    "^",
    "^^",
    "!",
    "~",
    "<",
    "<=",
    "==",
    "!=",
    "@",
    "@a",
    "self",
    "this",
    "self->x",
    "this->y",
    "x",
    "arg0",
    "args",
    "count()",
    "printf",
    "\"s\\n\"",
    "'c'",
    "''",
    "0",
    "077",
    "0x1f",
    "10ul",
    "1.5",
    "09",
    "$1",
    "$$2",
    "$9",
    "$target",
    "$nope",
    "sizeof",
    "stringof",
    "(int)",
    "(char *)",
    "int",
    "string",
    "struct",
    "if",
    "else",
    "/*",
    "*/",
    "//",
    "\n",
    "#pragma D option quiet\n",
    "#define\n",
    "#!",
    " ",
    "\t",
    "\"",
    "\\",
    "é",
    "\0",
    "offsetof",
    "typedef",
];

fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(VOCAB), 0..60).prop_map(|v| v.join(" "))
}

/// A fully parenthesised expression, in the printer's own form.
fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(vec!["x", "arg0", "execname", "self->ts", "this->n", "`sym"])
            .prop_map(str::to_owned),
        (0u64..100_000).prop_map(|v| v.to_string()),
        "[a-z %\\\\]{0,6}".prop_map(|s| format!("\"{}\"", s.replace('\\', "\\\\"))),
    ];
    leaf.prop_recursive(6, 64, 4, |inner| {
        let bin = prop::sample::select(vec![
            "*", "/", "%", "+", "-", "<<", ">>", "<", "<=", ">", ">=", "==", "!=", "&", "^", "|",
            "&&", "^^", "||",
        ]);
        let un = prop::sample::select(vec!["-", "+", "!", "~", "*", "&"]);
        let asg = prop::sample::select(vec!["=", "+=", "-=", "<<=", ">>=", "|="]);
        prop_oneof![
            (inner.clone(), bin, inner.clone()).prop_map(|(l, o, r)| format!("({l} {o} {r})")),
            (un, inner.clone()).prop_map(|(o, x)| format!("({o}{x})")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, t, o)| format!("({c} ? {t} : {o})")),
            (asg, inner.clone()).prop_map(|(o, r)| format!("(self->v {o} {r})")),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|a| format!("f({})", a.join(", "))),
            prop::collection::vec(inner.clone(), 1..3)
                .prop_map(|k| format!("@a[{}]", k.join(", "))),
            inner.clone().prop_map(|x| format!("((uint64_t){x})")),
            inner.prop_map(|x| format!("(sizeof {x})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_script(&text, &env());
        let _ = parse_probe_arg(&text, &env());
    }

    #[test]
    fn token_soups_never_panic(s in soup()) {
        for text in [s.clone(), format!("BEGIN {{ {s} }}"), format!("BEGIN /{s}/ {{ }}")] {
            match parse_script(&text, &env()) {
                Err(e) => {
                    // Rendering clamps any span into the source.
                    let _ = e.render("s.d", &text);
                    let _ = e.render_n(&text);
                }
                Ok(p) => {
                    let once = p.to_string();
                    let again = parse_script(&once, &env())
                        .map_err(|e| TestCaseError::fail(e.render("printed.d", &once)))?;
                    prop_assert_eq!(again.to_string(), once);
                }
            }
        }
    }

    #[test]
    fn expressions_parse_to_the_tree_they_spell(e in expr()) {
        let src = format!("BEGIN {{ {e}; }}");
        let p = parse_script(&src, &env())
            .map_err(|err| TestCaseError::fail(err.render("gen.d", &src)))?;
        let [Stmt::Expr(parsed)] = &p.clauses[0].body[..] else {
            return Err(TestCaseError::fail("one statement"));
        };
        prop_assert_eq!(parsed.to_string(), e);
    }

    #[test]
    fn printed_programs_reparse_identically(e in expr(), pred in expr()) {
        let src = format!("syscall::read:entry, BEGIN /{pred}/ {{ {e}; if ({pred}) {{ {e}; }} }}");
        let once = parse_script(&src, &env())
            .map_err(|err| TestCaseError::fail(err.render("gen.d", &src)))?
            .to_string();
        let twice = parse_script(&once, &env())
            .map_err(|err| TestCaseError::fail(err.render("printed.d", &once)))?
            .to_string();
        prop_assert_eq!(once, twice);
    }
}
