//! Printing aggregations: keys, values, order, printa() formats.

use super::*;

const HEADER: &str = "\n           value  ------------- Distribution ------------- count    \n";

fn key_int(v: i64, size: u8) -> KeyPart<'static> {
    KeyPart::Int {
        value: v as u64,
        signed: true,
        size,
    }
}

fn entry<'a>(key: Vec<KeyPart<'a>>, value: Vec<i64>) -> Entry<'a> {
    Entry { key, value }
}

/// `printa(fmt, @a)` as text.
fn printa_fmt(fmt: &str, kind: &AggKind, entries: &mut [Entry<'_>]) -> String {
    let f = Format::parse(fmt.as_bytes()).unwrap();
    let mut out = Vec::new();
    printa(&mut out, &f, kind, entries);
    text(&out)
}

/// `printa(@a)` as text.
fn printa_default(kind: &AggKind, entries: &mut [Entry<'_>]) -> String {
    let mut out = Vec::new();
    print_aggregation(&mut out, kind, entries);
    text(&out)
}

/// A stddev() value over `xs`: count, sum, and the 128-bit sum of squares.
fn sd(xs: &[i64]) -> Vec<i64> {
    let sq: u128 = xs
        .iter()
        .map(|&x| u128::from(x.unsigned_abs()).pow(2))
        .sum();
    vec![
        xs.len() as i64,
        xs.iter().sum(),
        sq as u64 as i64,
        (sq >> 64) as u64 as i64,
    ]
}

/// test/unittest/printa/tst.basics.r (@a to @g).
#[test]
fn printa_formats_every_kind() {
    let mut out = String::new();
    let mut one = |fmt: &str, kind: AggKind, value: Vec<i64>| {
        out += &printa_fmt(fmt, &kind, &mut [entry(vec![], value)]);
    };
    one("@a = %@u\n", AggKind::Avg, vec![1, 1]);
    one("@b = %@u\n", AggKind::Count, vec![1]);
    let lq = lquantize(1, 10, 1).unwrap();
    one("@c = %@d\n", lq, fill(&lq, &[(1, 1)]));
    one("@d = %@u\n", AggKind::Max, vec![1, 1]);
    one("@e = %@u\n", AggKind::Min, vec![1, 1]);
    one("@f = %@u\n", AggKind::Sum, vec![1]);
    one(
        "@g = %@d\n",
        AggKind::Quantize,
        fill(&AggKind::Quantize, &[(1, 1)]),
    );
    let bar = "@".repeat(40);
    let blank = " ".repeat(41);
    let want = format!(
        "@a = 1\n@b = 1\n@c = {HEADER}             < 1 |{blank}0        \n               1 |{bar} 1        \n               2 |{blank}0        \n\n\
         @d = 1\n@e = 1\n@f = 1\n@g = {HEADER}               0 |{blank}0        \n               1 |{bar} 1        \n               2 |{blank}0        \n\n"
    );
    assert_eq!(out, want);
}

/// test/unittest/aggs/tst.stddev2.r: printa("%9@x\n") of twelve
/// standard deviations, the last ones past 64 bits of squares.
#[test]
fn stddev_in_128_bits() {
    let pairs: [(i64, i64); 12] = [
        (0, 0),
        (0x10, 0x20),
        (0x100, 0x200),
        (0x1000, 0x2000),
        (0x10000, 0x20000),
        (0x100000, 0x200000),
        (0x1000000, 0x2000000),
        (0x10000000, 0x20000000),
        (0x20000000, 0x40000000),
        (0x40000000, 0x80000000),
        (0x80000000, 0x100000000),
        (0x100000000, 0x200000000),
    ];
    let mut out = String::new();
    for (a, b) in pairs {
        out += &printa_fmt(
            "%9@x\n",
            &AggKind::Stddev,
            &mut [entry(vec![], sd(&[a, b]))],
        );
    }
    assert_eq!(
        out,
        "        0\n        8\n       80\n      800\n     8000\n    80000\n   800000\n  8000000\n 10000000\n 20000000\n 40000000\n 80000000\n"
    );
    // The default layout: ` %16llu`.
    let got = printa_default(
        &AggKind::Stddev,
        &mut [entry(vec![], sd(&[2, 4, 4, 4, 5, 5, 7, 9]))],
    );
    assert_eq!(got, "\n                2\n");
}

/// test/unittest/aggs/tst.max_neg.r, tst.min.r, tst.empty.r,
/// tst.count_notquiet.r: an unkeyed value at the end of a run (a newline,
/// then ` %16lld`).
#[test]
fn unkeyed_values() {
    assert_eq!(
        printa_one(&AggKind::Max, vec![1, -100]),
        "\n             -100\n"
    );
    assert_eq!(
        printa_one(&AggKind::Min, vec![1, 100]),
        "\n              100\n"
    );
    assert_eq!(
        printa_one(&AggKind::Sum, vec![12345678]),
        "\n         12345678\n"
    );
    assert_eq!(
        printa_one(&AggKind::Count, vec![10]),
        "\n               10\n"
    );
    assert_eq!(
        printa_one(&AggKind::Avg, vec![4, -10]),
        "\n               -2\n"
    );
    assert_eq!(
        printa_one(&AggKind::Avg, vec![0, 0]),
        "\n                0\n"
    );
}

/// test/unittest/aggs/tst.signedkeys.r (with `aggsortkey`): integer keys
/// print by their size, 1- and 2-byte ones unsigned, and sort as unsigned
/// numbers; the aggregations follow one newline, with none between them.
#[test]
fn signed_keys() {
    let sort = PrintOptions {
        sort: SortOrder {
            by_key: true,
            reverse: false,
        },
        ..Default::default()
    };
    let mut out = vec![b'\n'];
    for size in [1u8, 2, 4, 8] {
        let mut entries: Vec<Entry<'_>> = (-2..=2)
            .map(|v| entry(vec![key_int(v, size)], vec![v]))
            .collect();
        print_entries(&mut out, &AggKind::Sum, &mut entries, &sort);
    }
    let want = "\n   0                0\n   1                1\n   2                2\n 254               -2\n 255               -1\n     0                0\n     1                1\n     2                2\n 65534               -2\n 65535               -1\n        0                0\n        1                1\n        2                2\n       -2               -2\n       -1               -1\n                0                0\n                1                1\n                2                2\n               -2               -2\n               -1               -1\n";
    assert_eq!(text(&out), want);
}

/// test/unittest/aggs/tst.chararray-key.r: a string key, `  %-50s`.
#[test]
fn string_key() {
    let got = printa_default(
        &AggKind::Count,
        &mut [entry(vec![KeyPart::Str(b"dtrace\0\0\0\0")], vec![1])],
    );
    assert_eq!(
        got,
        "\n  dtrace                                                            1\n"
    );
    // Without the NUL padding: the same.
    let got = printa_default(
        &AggKind::Count,
        &mut [entry(vec![KeyPart::Str(b"dtrace")], vec![1])],
    );
    assert_eq!(
        got,
        "\n  dtrace                                                            1\n"
    );
}

/// Bytes that are not text print as DTrace's hex dump.
#[test]
fn binary_key() {
    let got = printa_default(
        &AggKind::Count,
        &mut [entry(vec![KeyPart::Str(b"a\x01b")], vec![3])],
    );
    let want = "\n\n             0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f  0123456789abcdef\n         0: 61 01 62                                         a.b\n                3\n";
    assert_eq!(got, want);
}

/// test/unittest/aggs/tst.ustack.r: keys of every kind, a stack among
/// them (its frames indented 14 columns, one a line). The suite rewrites
/// `+0x…` offsets to `+{ptr}`; so does this test.
#[test]
fn stack_key() {
    let frames: Vec<String> = ["z", "y", "x", "w", "v"]
        .iter()
        .map(|f| format!("ustack-tst-basic`myfunc_{f}+0x7"))
        .collect();
    let mut entries = vec![entry(
        vec![
            key_int(97, 4),
            KeyPart::Str(b"ustack-tst-basic`myfunc_y+0x7"),
            KeyPart::Str(b"ustack-tst-basic`myfunc_y"),
            KeyPart::Str(b"ustack-tst-basic"),
            KeyPart::Str(b"ustack-tst-basic`myfunc_y"),
            KeyPart::Lines(frames),
            key_int(4, 4),
        ],
        vec![1234],
    )];
    let got = printa_default(&AggKind::Sum, &mut entries).replace("+0x7", "+{ptr}");
    let sp = |n: usize| " ".repeat(n);
    let mut want = format!(
        "\n{}97  ustack-tst-basic`myfunc_y+{{ptr}}{}ustack-tst-basic`myfunc_y{}ustack-tst-basic{}ustack-tst-basic`myfunc_y{}\n",
        sp(7),
        sp(23),
        sp(27),
        sp(36),
        sp(25)
    );
    for f in ["z", "y", "x", "w", "v"] {
        want += &format!("{}ustack-tst-basic`myfunc_{f}+{{ptr}}\n", sp(14));
    }
    want += "        4             1234\n";
    assert_eq!(got, want);
}

/// test/unittest/aggs/tst.llquantize_sort.r: histograms sort by their
/// weighted sum, then their count at zero, then key.
#[test]
fn histograms_sort_by_weight() {
    let calls: [(&str, i64, i64); 11] = [
        ("r", 2, 1),
        ("z", -4, 1),
        ("v", 0, 1),
        ("x", -2, 1),
        ("q", 3, 1),
        ("u", 0, 2),
        ("y", -3, 1),
        ("t", 0, 2),
        ("p", 4, 1),
        ("w", -1, 1),
        ("s", 1, 1),
    ];
    let order = |nsteps: i64| -> String {
        let kind = llquantize(2, 0, 1, nsteps).unwrap();
        let mut entries: Vec<Entry<'_>> = calls
            .iter()
            .map(|&(k, v, incr)| entry(vec![KeyPart::Str(k.as_bytes())], fill(&kind, &[(v, incr)])))
            .collect();
        sort_entries(&kind, &mut entries, SortOrder::default());
        entries
            .iter()
            .map(|e| match &e.key[0] {
                KeyPart::Str(s) => text(s),
                _ => String::new(),
            })
            .collect()
    };
    assert_eq!(order(2), "zxywvtusqrp");
    assert_eq!(order(4), "zyxwvtusrqp");

    // The first three entries of "tricky", whole.
    let kind = llquantize(2, 0, 1, 4).unwrap();
    let mut entries: Vec<Entry<'_>> = calls[..]
        .iter()
        .filter(|c| ["z", "y", "x"].contains(&c.0))
        .map(|&(k, v, incr)| entry(vec![KeyPart::Str(k.as_bytes())], fill(&kind, &[(v, incr)])))
        .collect();
    let row = |l: &str, ats: usize, c: i64| format!("{l:>16} |{:<40} {c:<9}\n", "@".repeat(ats));
    let key = |k: &str| format!("  {k}{}", " ".repeat(49));
    let want = [
        "\n".to_string(),
        key("z"),
        HEADER.to_string(),
        row("<= -4", 40, 1),
        row("-3", 0, 0),
        "\n".to_string(),
        key("y"),
        HEADER.to_string(),
        row("<= -4", 0, 0),
        row("-3", 40, 1),
        row("-2", 0, 0),
        "\n".to_string(),
        key("x"),
        HEADER.to_string(),
        row("-3", 0, 0),
        row("-2", 40, 1),
        row("-1", 0, 0),
        "\n".to_string(),
    ]
    .concat();
    assert_eq!(printa_default(&kind, &mut entries), want);
}

/// test/unittest/aggs/tst.trunc-lquantize-neg5.r: integer keys with
/// lquantize() values, sorted by their weighted sums.
#[test]
fn keyed_lquantize() {
    let kind = lquantize(0, 150, 1).unwrap();
    let mut entries = Vec::new();
    for i in [101i64, 3, 0, 4, 1, 2] {
        let (key, incr) = if i == 101 {
            (301, 20101)
        } else {
            (100 + i, 10000 + i)
        };
        let adds: Vec<(i64, i64)> = (1..=4).map(|d| (i + d, incr)).collect();
        entries.push(entry(vec![key_int(key, 4)], fill(&kind, &adds)));
    }
    let row = |l: i64, ats: usize, c: i64| format!("{l:>16} |{:<40} {c:<9}\n", "@".repeat(ats));
    let mut want = String::from("\n");
    for i in [0i64, 1, 2, 3, 4, 101] {
        let (key, incr) = if i == 101 {
            (301, 20101)
        } else {
            (100 + i, 10000 + i)
        };
        want += &format!("{key:>9}{HEADER}");
        want += &row(i, 0, 0);
        for d in 1..=4 {
            want += &row(i + d, 10, incr);
        }
        want += &row(i + 5, 0, 0);
        want += "\n";
    }
    assert_eq!(printa_default(&kind, &mut entries), want);
}

/// Values sort ascending, ties by key; `aggsortrev` reverses.
#[test]
fn order_of_entries() {
    let make = || {
        vec![
            entry(vec![KeyPart::Str(b"b")], vec![5]),
            entry(vec![KeyPart::Str(b"a")], vec![5]),
            entry(vec![KeyPart::Str(b"c")], vec![-1]),
            entry(vec![KeyPart::Str(b"ab")], vec![100]),
        ]
    };
    let keys = |e: &[Entry<'_>]| -> Vec<String> {
        e.iter()
            .map(|e| match &e.key[0] {
                KeyPart::Str(s) => text(s),
                _ => String::new(),
            })
            .collect()
    };
    let mut e = make();
    sort_entries(&AggKind::Sum, &mut e, SortOrder::default());
    assert_eq!(keys(&e), ["c", "a", "b", "ab"]);
    let mut e = make();
    sort_entries(
        &AggKind::Sum,
        &mut e,
        SortOrder {
            by_key: false,
            reverse: true,
        },
    );
    assert_eq!(keys(&e), ["ab", "b", "a", "c"]);
    let mut e = make();
    sort_entries(
        &AggKind::Sum,
        &mut e,
        SortOrder {
            by_key: true,
            reverse: false,
        },
    );
    assert_eq!(keys(&e), ["a", "ab", "b", "c"]);
    // avg sorts by the average, not the sum.
    let mut e = vec![
        entry(vec![key_int(1, 8)], vec![1, 10]),
        entry(vec![key_int(2, 8)], vec![10, 20]),
    ];
    sort_entries(&AggKind::Avg, &mut e, SortOrder::default());
    assert_eq!(e[0].key[0], key_int(2, 8));
    assert_eq!(agg::sort_value(&AggKind::Avg, &[10, 20]), (2, 0));
}

/// printa() formats: keys feed the conversions in order; count()'s `%@d`
/// is unsigned; a format without `%@` prints the keys alone.
#[test]
fn printa_keys_and_value() {
    let mut entries = vec![
        entry(vec![KeyPart::Str(b"sshd"), key_int(-3, 4)], vec![2]),
        entry(vec![KeyPart::Str(b"bash"), key_int(7, 4)], vec![1]),
    ];
    let got = printa_fmt("%-8s %4d %@d\n", &AggKind::Count, &mut entries);
    assert_eq!(got, "bash        7 1\nsshd       -3 2\n");
    assert_eq!(
        printa_fmt("%s,", &AggKind::Count, &mut entries),
        "bash,sshd,"
    );
    assert_eq!(
        printa_fmt("%@d\n", &AggKind::Count, &mut [entry(vec![], vec![-1])]),
        "18446744073709551615\n"
    );
    assert_eq!(
        printa_fmt("%@d\n", &AggKind::Sum, &mut [entry(vec![], vec![-1])]),
        "-1\n"
    );
    let f = Format::parse(b"%@d %@x\n").unwrap();
    let mut out = Vec::new();
    let opts = PrintOptions {
        normal: 2,
        ..Default::default()
    };
    printa_with(
        &mut out,
        &f,
        &AggKind::Sum,
        &mut [entry(vec![], vec![-31])],
        &opts,
        &walltime::Utc,
    );
    assert_eq!(text(&out), "-15 fffffffffffffff1\n");
}

/// print_entries prints no leading newline (the end of a run prints one
/// for all aggregations).
#[test]
fn entries_without_leading_newline() {
    let mut out = Vec::new();
    let mut e = vec![entry(vec![key_int(1, 8)], vec![9])];
    print_entries(&mut out, &AggKind::Count, &mut e, &PrintOptions::default());
    assert_eq!(text(&out), "                1                9\n");
}
