//! Untrusted D source through the parser, as a script and as a `-n`
//! program: it never panics or overflows the stack, every error renders,
//! and a program that parses prints as D that parses to the same program.
//! Any panic is a bug.

#![no_main]

use basalt_dtrace::parse::{MacroEnv, Program, parse_probe_arg, parse_script};
use libfuzzer_sys::fuzz_target;

fn round_trip(p: &Program, env: &MacroEnv) {
    let once = p.to_string();
    let again = parse_script(&once, env).unwrap_or_else(|e| {
        panic!(
            "printed program does not parse: {}\n{once}",
            e.render("printed.d", &once)
        )
    });
    assert_eq!(again.to_string(), once);
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = MacroEnv::new("fuzz.d", ["1", "bash", "a b"]).with_target(7);
    match parse_script(&text, &env) {
        Ok(p) => round_trip(&p, &env),
        Err(e) => {
            let _ = e.render("fuzz.d", &text);
        }
    }
    match parse_probe_arg(&text, &env) {
        Ok(p) => round_trip(&p, &env),
        Err(e) => {
            let _ = e.render_n(&text);
        }
    }
});
