//! `dtrace -l` and `-e`: the host's probes listed as DTrace lists them,
//! programs checked against them with DTrace's messages (running programs
//! is `dtrace_run.rs`).

mod common;

use std::process::Command;

fn dtrace(args: &[&str]) -> (i32, String, String) {
    common::require(&[]);
    let out = Command::new(env!("CARGO_BIN_EXE_dtrace"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn probes_are_listed_with_dtrace_s_columns_and_filters() {
    let (code, out, err) = dtrace(&["-l"]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("   ID   PROVIDER            MODULE                          FUNCTION NAME")
    );
    assert_eq!(
        lines.next(),
        Some("    1     dtrace                                                     BEGIN")
    );
    assert!(
        out.contains("    syscall           vmlinux                            openat entry\n")
    );

    let (code, out, _) = dtrace(&["-l", "-n", "syscall::openat:*"]);
    assert_eq!(code, 0);
    let names: Vec<&str> = out
        .lines()
        .skip(1)
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(names, ["entry", "return"]);
    let (code, out, _) = dtrace(&["-l", "-P", "sched"]);
    assert_eq!(code, 0);
    assert!(out.lines().skip(1).all(|l| l.contains(" sched ")), "{out}");
    assert!(out.contains(" on-cpu\n"), "{out}");

    let (code, _, err) = dtrace(&["-l", "-n", "syscall::nope:entry"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "dtrace: invalid probe specifier syscall::nope:entry: probe description \
         syscall::nope:entry does not match any probes\n"
    );
    let (code, _, err) = dtrace(&["-l", "-n", "fbt::vfs_read:entry"]);
    assert_eq!(code, 1);
    assert!(err.contains("needs kprobes or fentry"), "{err}");
}

#[test]
fn programs_are_checked_with_dtrace_s_messages() {
    let (code, _, err) = dtrace(&[
        "-e",
        "-n",
        "syscall::openat:entry { printf(\"%s %s\\n\", execname, copyinstr(arg1)); }",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        "dtrace: description 'syscall::openat:entry ' matched 1 probe\n"
    );
    let (code, _, err) = dtrace(&[
        "-e",
        "-q",
        "-n",
        "syscall:::entry /zonename == \"web01\"/ { @[execname] = count(); }",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.d");
    std::fs::write(&script, "BEGIN\n{\n  x = 1 +;\n}\n").unwrap();
    let (code, _, err) = dtrace(&["-e", "-s", script.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "dtrace: failed to compile script {}: line 3, column 10: syntax error near \";\"\n",
            script.display()
        )
    );

    // DTrace's wording: the -n text up to its actions, the description
    // in four fields, a script's line; -Z lets a description match nothing.
    let (code, _, err) = dtrace(&["-e", "-n", "syscall::openat:entry"]);
    assert_eq!(
        (code, err.as_str()),
        (
            0,
            "dtrace: description 'syscall::openat:entry' matched 1 probe\n"
        )
    );
    let (code, _, err) = dtrace(&["-e", "-n", "nosuch { }"]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        "dtrace: invalid probe specifier nosuch { }: probe description :::nosuch does not match any probes\n"
    );
    let missing = dir.path().join("missing.d");
    std::fs::write(&missing, "BEGIN {}\nsyscall::nope:entry\n{ }\n").unwrap();
    let (code, _, err) = dtrace(&["-e", "-s", missing.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "dtrace: failed to compile script {}: line 2: probe description \
             syscall::nope:entry does not match any probes\n",
            missing.display()
        )
    );
    let (code, _, err) = dtrace(&["-e", "-Z", "-n", "syscall::nope:entry"]);
    assert_eq!(
        (code, err.as_str()),
        (
            0,
            "dtrace: description 'syscall::nope:entry' matched 0 probes\n"
        )
    );
    let (code, _, err) = dtrace(&[
        "-e",
        "-n",
        "tick-10s { exit(0); }",
        "-n",
        "profile-4001 { }",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        err,
        "dtrace: description 'tick-10s ' matched 1 probe\n\
         dtrace: description 'profile-4001 ' matched 1 probe\n"
    );
}
