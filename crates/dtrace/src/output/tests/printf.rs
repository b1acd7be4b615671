//! printf(): parsing, argument checks and rendering.

use super::*;
use crate::output::walltime::LocalTime;

/// test/unittest/printf/tst.basics.r (all but `%a`, a kernel symbol):
/// `i = (int)'a'`, cast as the test casts it.
#[test]
fn basics() {
    let i = int(97, 4);
    let short = int(97, 2);
    let ushort = uint(97, 2);
    let long = int(97, 8);
    let ulong = uint(97, 8);
    let uint_ = uint(97, 4);
    let cases: &[(&str, Arg<'_>, &str)] = &[
        ("%%c = %c\n", i, "%c = a\n"),
        ("%%d = %d\n", i, "%d = 97\n"),
        ("%%hd = %hd\n", short, "%hd = 97\n"),
        ("%%hi = %hi\n", short, "%hi = 97\n"),
        ("%%ho = %ho\n", ushort, "%ho = 141\n"),
        ("%%hu = %hu\n", ushort, "%hu = 97\n"),
        ("%%hx = %hx\n", ushort, "%hx = 61\n"),
        ("%%hX = %hX\n", ushort, "%hX = 61\n"),
        ("%%i = %i\n", i, "%i = 97\n"),
        ("%%lc = %lc\n", i, "%lc = a\n"),
        ("%%ld = %ld\n", long, "%ld = 97\n"),
        ("%%li = %li\n", long, "%li = 97\n"),
        ("%%lo = %lo\n", ulong, "%lo = 141\n"),
        ("%%lu = %lu\n", ulong, "%lu = 97\n"),
        ("%%lx = %lx\n", ulong, "%lx = 61\n"),
        ("%%lX = %lX\n", ulong, "%lX = 61\n"),
        ("%%o = %o\n", uint_, "%o = 141\n"),
        ("%%p = %p\n", ulong, "%p = 61\n"),
        ("%%s = %s\n", Arg::Str(b"hello"), "%s = hello\n"),
        ("%%u = %u\n", uint_, "%u = 97\n"),
        ("%%x = %x\n", uint_, "%x = 61\n"),
        ("%%X = %X\n", uint_, "%X = 61\n"),
    ];
    for (fmt, arg, want) in cases {
        assert_eq!(pf(fmt, &[*arg]), *want, "{fmt}");
    }
}

/// test/unittest/printf/tst.flags.r; the suite rewrites `0x123` to
/// `{ptr}`.
#[test]
fn flags() {
    let x = int(0x123, 4);
    let d = int(123, 4);
    let out = [
        pf("\n", &[]),
        pf("# %#8x\n", &[x]),
        pf("0 %08x\n", &[x]),
        pf("- %-8x\n", &[x]),
        pf("+ %+8d\n", &[d]),
        pf("  % 8d\n", &[d]),
    ]
    .concat();
    assert_eq!(
        out,
        "\n#    0x123\n0 00000123\n- 123     \n+     +123\n       123\n"
    );
}

/// test/unittest/printf/tst.widths1.r: `%?d` is 16 wide.
#[test]
fn question_mark_width() {
    let mut out = String::from("\n");
    for x in 0..6 {
        out += &pf("%?d\n", &[int(x, 4)]);
    }
    assert_eq!(
        out,
        "\n               0\n               1\n               2\n               3\n               4\n               5\n"
    );
}

/// test/unittest/printf/tst.ints.d (no expected file is stored; these are
/// the C library's results for the same casts): each value is extended
/// from its own size, and `%d` of an unsigned value prints unsigned.
#[test]
fn ints_extend_from_their_size() {
    let v = 0x1234567890abcdef_u64;
    let signed = [
        int(v as i8 as i64, 1),
        int(v as i16 as i64, 2),
        int(v as i32 as i64, 4),
        int(v as i64, 8),
    ];
    let unsigned = [
        uint(v as u8 as u64, 1),
        uint(v as u16 as u64, 2),
        uint(v as u32 as u64, 4),
        uint(v, 8),
    ];
    let all = |conv: &str, args: &[Arg<'_>]| -> Vec<String> {
        args.iter().map(|a| pf(conv, &[*a])).collect()
    };
    assert_eq!(
        all("%d", &signed),
        ["-17", "-12817", "-1867788817", "1311768467294899695"]
    );
    assert_eq!(
        all("%d", &unsigned),
        ["239", "52719", "2427178479", "1311768467294899695"]
    );
    assert_eq!(
        all("%u", &signed),
        ["239", "52719", "2427178479", "1311768467294899695"]
    );
    assert_eq!(
        all("%u", &unsigned),
        ["239", "52719", "2427178479", "1311768467294899695"]
    );
    assert_eq!(
        all("%x", &unsigned),
        ["ef", "cdef", "90abcdef", "1234567890abcdef"]
    );
    assert_eq!(
        all("%x", &signed),
        ["ef", "cdef", "90abcdef", "1234567890abcdef"]
    );
    assert_eq!(
        all("%o", &unsigned),
        ["357", "146757", "22052746757", "110642547422052746757"]
    );
    assert_eq!(
        all("%o", &signed),
        ["357", "146757", "22052746757", "110642547422052746757"]
    );
    let ptrs = [
        uint(0x12345678, 8),
        uint(0x90abcdef, 8),
        uint(0x67890abc, 8),
    ];
    assert_eq!(all("%p", &ptrs), ["12345678", "90abcdef", "67890abc"]);
}

/// A length modifier never narrows: the argument's size decides.
#[test]
fn modifiers_do_not_narrow() {
    assert_eq!(pf("%hx", &[uint(0x12345, 4)]), "12345");
    assert_eq!(pf("%hd", &[int(-100_000, 4)]), "-100000");
    assert_eq!(pf("%lld", &[int(-3, 1)]), "-3");
}

/// test/unittest/printf/tst.wide.sh and tst.wide-bug30404549.r: a
/// 10,000,000-column field prints whole.
#[test]
fn very_wide_fields() {
    let w = pf("%10000000d", &[int(1, 4)]);
    assert_eq!(w.len(), 10_000_000);
    assert!(w.ends_with(" 1") && w.starts_with("    "));
    let p = pf("%.10000000d", &[int(1, 4)]);
    assert_eq!(p.len(), 10_000_000);
    assert!(p.ends_with("01") && p.starts_with("0000"));
    // Larger ones are capped rather than allocated.
    let capped = pf("%99999999999999999999d", &[int(1, 4)]);
    assert_eq!(capped.len(), MAX_FIELD);
    let dynamic = pf("%*d", &[int(i64::from(i32::MIN), 4), int(1, 4)]);
    assert_eq!(dynamic.len(), MAX_FIELD);
}

/// `*` widths and precisions come before the value; a negative width
/// means `-`; a precision of 0 (or less) is dropped, as DTrace drops it.
#[test]
fn dynamic_width_and_precision() {
    assert_eq!(pf("[%*d]", &[int(5, 4), int(42, 4)]), "[   42]");
    assert_eq!(pf("[%*d]", &[int(-5, 4), int(42, 4)]), "[42   ]");
    assert_eq!(pf("[%.*s]", &[int(3, 4), Arg::Str(b"abcdef")]), "[abc]");
    assert_eq!(
        pf("[%*.*s]", &[int(6, 4), int(2, 4), Arg::Str(b"abcdef")]),
        "[    ab]"
    );
    assert_eq!(pf("[%.0s]", &[Arg::Str(b"abc")]), "[abc]");
    assert_eq!(pf("[%.*d]", &[int(0, 4), int(0, 4)]), "[0]");
    assert_eq!(pf("[%.0f]", &[int(2, 4)]), "[2.000000]");
}

/// DTrace keeps the later of `-` and `0`.
#[test]
fn later_of_minus_and_zero_wins() {
    assert_eq!(pf("[%-05d]", &[int(7, 4)]), "[00007]");
    assert_eq!(pf("[%0-5d]", &[int(7, 4)]), "[7    ]");
}

#[test]
fn strings_escapes_and_chars() {
    assert_eq!(
        pf("[%10s][%-10s]", &[Arg::Str(b"abc"), Arg::Str(b"abc")]),
        "[       abc][abc       ]"
    );
    // Bytes after the first NUL are not the string.
    assert_eq!(pf("%s", &[Arg::Str(b"ab\0cd")]), "ab");
    assert_eq!(
        pf("%S", &[Arg::Str(b"a\tb\"c\\\x1b\xff")]),
        "a\\tb\\\"c\\\\\\033\\377"
    );
    // %S escapes the string record: its terminating NUL too.
    assert_eq!(pf("%S", &[Arg::Str(b"hi\n\0\0\0")]), "hi\\n\\0");
    assert_eq!(
        pf("%C%C%C", &[int(65, 1), int(10, 1), int(0, 1)]),
        "A\\n\\0"
    );
    assert_eq!(pf("[%3c]", &[int(i64::from(b'z'), 1)]), "[  z]");
    assert_eq!(pf("100%%", &[]), "100%");
}

#[test]
fn floating_point_from_integers() {
    assert_eq!(
        pf("%f %e %g", &[int(3, 4), int(3, 4), int(3, 4)]),
        "3.000000 3.000000e+00 3"
    );
    assert_eq!(
        pf(
            "%.2e|%G|%g",
            &[int(-123456, 8), int(1 << 40, 8), int(100000, 8)]
        ),
        "-1.23e+05|1.09951E+12|100000"
    );
    assert_eq!(
        pf(
            "%g|%#g|%+08.1f",
            &[int(1_000_000, 8), int(5, 4), int(-5, 4)]
        ),
        "1e+06|5.00000|-00005.0"
    );
    assert_eq!(
        pf("%f", &[uint(u64::MAX, 8)]),
        "18446744073709551616.000000"
    );
}

#[test]
fn addresses_print_as_hex() {
    assert_eq!(
        pf(
            "%a|%20A|",
            &[uint(0xffffffff81000000, 8), uint(0x401000, 8)]
        ),
        "0xffffffff81000000|            0x401000|"
    );
}

struct Cet;
impl LocalTime for Cet {
    fn at(&self, _: i64) -> (i64, String) {
        (3600, "CET".to_string())
    }
}

/// `%Y` is ctime(3) rearranged (the day padded with a space); `%T`
/// strftime's `%a, %d %b %G %T %Z`, whose `%G` is the ISO week-based year.
#[test]
fn wall_clock_times() {
    let t = uint(1_795_801_615_000_000_000, 8); // 2026-11-27 17:46:55 UTC
    assert_eq!(pf("%Y", &[t]), "2026 Nov 27 17:46:55");
    assert_eq!(pf("%T", &[t]), "Fri, 27 Nov 2026 17:46:55 UTC");
    let f = Format::parse(b"%Y|%T").unwrap();
    let mut out = Vec::new();
    f.render_local(&mut out, &[t, t], &Cet);
    assert_eq!(
        text(&out),
        "2026 Nov 27 18:46:55|Fri, 27 Nov 2026 18:46:55 CET"
    );
    assert_eq!(
        pf("%Y", &[uint(123_787_200_000_000_000, 8)]),
        "1973 Dec  3 17:20:00"
    );
    assert_eq!(pf("%Y", &[uint(0, 8)]), "1970 Jan  1 00:00:00");
    // 2027-01-01 is in ISO week 53 of 2026.
    assert_eq!(
        pf("%T", &[uint(1_798_761_600_000_000_000, 8)]),
        "Fri, 01 Jan 2026 00:00:00 UTC"
    );
}

#[test]
fn stacks() {
    let frames = [
        "vmlinux`ksys_write+0x5".to_string(),
        "vmlinux`do_syscall_64+0x3b".to_string(),
    ];
    assert_eq!(
        pf("%k|", &[Arg::Stack(&frames)]),
        "\nvmlinux`ksys_write+0x5\nvmlinux`do_syscall_64+0x3b\n|"
    );
    // With `-` the width indents the frames.
    assert_eq!(
        pf("%-4k", &[Arg::Stack(&frames[..1])]),
        "\n    vmlinux`ksys_write+0x5\n"
    );
    assert_eq!(
        pf("%30k", &[Arg::Stack(&frames[..1])]),
        "\n        vmlinux`ksys_write+0x5\n"
    );
}

/// test/unittest/printf/err.D_SYNTAX.badconv1.r, badconv2.r, badconv3.r.
#[test]
fn bad_conversions() {
    let e = |f: &str| Format::parse(f.as_bytes()).unwrap_err().to_string();
    assert_eq!(
        e("%3$d"),
        "format conversion #1 uses unsupported positional format (%n$)"
    );
    assert_eq!(
        e("%3"),
        "format conversion #1 name expected before end of format string"
    );
    assert_eq!(e("%Z"), "format conversion #1 is undefined: %Z");
    assert_eq!(e("%d %q"), "format conversion #2 is undefined: %q");
    assert_eq!(e("%hhd"), "format conversion #1 is undefined: %hhd");
    assert_eq!(
        e("%5%"),
        "format conversion #1 cannot be combined with other format flags: %%"
    );
    assert_eq!(
        e("%**d"),
        "format conversion #1 has more than one '*' specified for the output width"
    );
    assert_eq!(
        e("%.*.*d"),
        "format conversion #1 has more than one '.' specified"
    );
    assert_eq!(
        e("%%%"),
        "format conversion #2 name expected before end of format string"
    );
    // A NUL ends the format, as in C.
    assert_eq!(pf("ab\0%Z", &[]), "ab");
}

/// test/unittest/printf/err.D_PRINTF_DYN_PROTO.nowidth.r,
/// err.D_PRINTF_ARG_EXTRA.toomany.r, err.D_PRINTF_ARG_PROTO.novalue.r,
/// err.D_PRINTF_AGG_CONV.aggfmt.r.
#[test]
fn argument_checks() {
    let check = |f: &str, n: usize| {
        Format::parse(f.as_bytes())
            .unwrap()
            .check_args("printf", n, false)
    };
    assert_eq!(
        check("%s %*d\n", 1).unwrap_err().0,
        "printf( ) prototype mismatch: conversion #2 (%d) is missing a corresponding \"*\" argument"
    );
    assert_eq!(
        check("x = %d y = %d\n", 3).unwrap_err().0,
        "printf( ) prototype mismatch: only 2 arguments required by this format string"
    );
    assert_eq!(
        check("%s", 0).unwrap_err().0,
        "printf( ) prototype mismatch: conversion #1 (%s) is missing a corresponding value argument"
    );
    assert_eq!(
        check("hello %@d", 1).unwrap_err().0,
        "%@ conversion requires an aggregation and is not for use with printf( )"
    );
    assert_eq!(
        check("", 0).unwrap_err().0,
        "printf( ) format string is empty"
    );
    assert!(check("%d%% %*.*s\n", 4).is_ok());
    let printa = Format::parse(b"%s %@d\n").unwrap();
    assert!(printa.check_args("printa", 2, true).is_ok());
    assert!(printa.has_agg_value());
}

#[test]
fn argument_list() {
    let f = Format::parse(b"%% %-*.*s %llx %@u %k").unwrap();
    let got: Vec<(usize, &str, char, ArgKind, ArgRole)> = f
        .args()
        .iter()
        .map(|c| (c.index_in_format, c.name, c.conv, c.kind, c.role))
        .collect();
    assert_eq!(
        got,
        [
            (1, "s", 's', ArgKind::Int, ArgRole::Width),
            (1, "s", 's', ArgKind::Int, ArgRole::Precision),
            (1, "s", 's', ArgKind::Str, ArgRole::Value),
            (2, "llx", 'x', ArgKind::Int, ArgRole::Value),
            (4, "k", 'k', ArgKind::Stack, ArgRole::Value),
        ]
    );
}

/// Rendering never panics: missing arguments print nothing, arguments of
/// the wrong kind print as best they can.
#[test]
fn mismatched_arguments() {
    assert_eq!(pf("a%db%sc", &[]), "abc");
    assert_eq!(
        pf("%d|%s|%Y", &[Arg::Str(b"x"), int(-5, 4), Arg::Str(b"y")]),
        "x|-5|y"
    );
    assert_eq!(pf("%d", &[int(7, 3)]), "7");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn arg() -> impl Strategy<Value = (u8, i64, Vec<u8>)> {
        (
            0u8..3,
            -100i64..100,
            proptest::collection::vec(any::<u8>(), 0..6),
        )
    }

    proptest! {
        /// Any format either parses or is refused, and a parsed one renders
        /// with any arguments without panicking.
        #[test]
        fn parse_and_render(
            fmt in proptest::collection::vec(
                proptest::sample::select(b"%-+ #0'*.?@$hlLw15dioxXucsSpaAeEfgGkYTC\0ab".to_vec()),
                0..7,
            ),
            raw in proptest::collection::vec(arg(), 0..4),
            size in proptest::sample::select(vec![0u8, 1, 2, 3, 4, 8, 16]),
        ) {
            let frames = vec!["f".to_string()];
            let args: Vec<Arg<'_>> = raw
                .iter()
                .map(|(k, v, s)| match k {
                    0 => Arg::Int { value: *v as u64, signed: *v < 0, size },
                    1 => Arg::Str(s),
                    _ => Arg::Stack(&frames),
                })
                .collect();
            if let Ok(f) = Format::parse(&fmt) {
                let mut out = Vec::new();
                f.render(&mut out, &args);
                let _ = f.check_args("printf", args.len(), false);
                let _ = f.args();
            }
        }
    }
}
