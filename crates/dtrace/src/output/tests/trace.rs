//! The default output, trace(), and the stderr notices.

use super::*;
use crate::output::trace::{self, DropKind};

/// A record as DTrace prints it in testing mode (`%32s ` of the probe,
/// which the suite's expected files show), then `trace()` of `arg`.
fn traced(arg: Arg<'_>) -> String {
    let mut out = format!("{:>32} ", ":BEGIN").into_bytes();
    trace::trace_value(&mut out, &arg);
    trace::record_end(&mut out);
    text(&out)
}

/// test/unittest/actions/trace/tst.int8_t.r, tst.int32_t.r, tst.int64_t.r,
/// tst.uint8_t.r, tst.uint16_t.r, tst.uint64_t.r.
#[test]
fn trace_integers() {
    let begin = "                          :BEGIN ";
    assert_eq!(traced(int(-1, 1)), format!("{begin}  -1\n"));
    assert_eq!(traced(int(-1, 4)), format!("{begin}         -1\n"));
    assert_eq!(traced(int(-1, 8)), format!("{begin}                  -1\n"));
    assert_eq!(traced(uint(255, 1)), format!("{begin} 255\n"));
    assert_eq!(traced(uint(65535, 2)), format!("{begin} 65535\n"));
    assert_eq!(
        traced(uint(u64::MAX, 8)),
        format!("{begin} 18446744073709551615\n")
    );
}

/// test/unittest/actions/trace/tst.str.r and tst.str-empty.r: two spaces,
/// then the string in 33 columns.
#[test]
fn trace_strings() {
    assert_eq!(
        traced(Arg::Str(b"a\0\0\0")),
        "                          :BEGIN   a                                \n"
    );
    assert_eq!(
        traced(Arg::Str(b"")),
        "                          :BEGIN                                    \n"
    );
}

/// test/unittest/aggs/tst.signedkeys.r: trace() with `-q` prints bare
/// values.
#[test]
fn trace_quiet() {
    let mut out = Vec::new();
    for (v, size) in [(-2, 1), (254, 1), (-1, 2), (-2, 4), (-1, 8)] {
        trace::trace_value_quiet(&mut out, &int(v, size));
        trace::trace_value_quiet(&mut out, &Arg::Str(b"\n"));
    }
    trace::trace_value_quiet(&mut out, &uint(u64::MAX, 8));
    assert_eq!(text(&out), "-2\n-2\n-1\n-2\n-1\n18446744073709551615");
}

#[test]
fn header_and_probe_line() {
    let mut out = Vec::new();
    trace::header(&mut out);
    trace::probe_line(&mut out, 3, 1234, "ksys_write", "entry");
    trace::trace_value(&mut out, &int(5, 4));
    trace::record_end(&mut out);
    // `%3d %6d %32s ` of the probe, then ` %10d`.
    let want = format!(
        "CPU     ID                    FUNCTION:NAME\n  3   1234 {}ksys_write:entry  {}5\n",
        " ".repeat(16),
        " ".repeat(9)
    );
    assert_eq!(text(&out), want);
}

#[test]
fn stack_action() {
    let mut out = Vec::new();
    trace::stack(
        &mut out,
        &[
            "vmlinux`do_sys_open+0x1a".to_string(),
            "vmlinux`do_syscall_64+0x5b".to_string(),
        ],
    );
    assert_eq!(
        text(&out),
        "\n              vmlinux`do_sys_open+0x1a\n              vmlinux`do_syscall_64+0x5b\n"
    );
}

/// DTrace's wording (libdtrace/dt_handle.c), and that of
/// test/unittest/aggs/tst.count_notquiet.r's notice.
#[test]
fn notices() {
    assert_eq!(
        trace::drops_message(DropKind::Principal, 1, 0),
        "dtrace: 1 drop on CPU 0"
    );
    assert_eq!(
        trace::drops_message(DropKind::Principal, 3, 2),
        "dtrace: 3 drops on CPU 2"
    );
    assert_eq!(
        trace::drops_message(DropKind::Aggregation, 5, 1),
        "dtrace: 5 aggregation drops on CPU 1"
    );
    assert_eq!(
        trace::drops_message(DropKind::Dynamic, 12, 0),
        "dtrace: 12 dynamic variable drops"
    );
    assert_eq!(
        trace::drops_message(DropKind::DynamicDirty, 1, 0),
        "dtrace: 1 dynamic variable drop with non-empty dirty list"
    );
    assert_eq!(
        trace::drops_message(DropKind::SpeculationUnavailable, 2, 0),
        "dtrace: 2 failed speculations (no speculative buffer available)"
    );
    assert_eq!(
        trace::drops_message(DropKind::DoubleError, 1, 0),
        "dtrace: 1 error in ERROR probe enabling"
    );
    assert_eq!(
        trace::matched_message("script", "test/unittest/aggs/tst.count_notquiet.d", 2),
        "dtrace: script 'test/unittest/aggs/tst.count_notquiet.d' matched 2 probes"
    );
    assert_eq!(
        trace::matched_message("description", "BEGIN", 1),
        "dtrace: description 'BEGIN' matched 1 probe"
    );
    assert_eq!(
        trace::error_message(2, 1, "dtrace:::BEGIN", "invalid address (0x0)", 1, None),
        "dtrace: error on enabled probe ID 2 (ID 1: dtrace:::BEGIN): invalid address (0x0) in action #1"
    );
    assert_eq!(
        trace::error_message(3, 1, "dtrace:::BEGIN", "divide-by-zero", 0, Some(12)),
        "dtrace: error on enabled probe ID 3 (ID 1: dtrace:::BEGIN): divide-by-zero in predicate at DIF offset 12"
    );
}
