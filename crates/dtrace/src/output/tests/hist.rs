//! Histograms, printed: quantize(), lquantize() and llquantize() as
//! `printa(@a)` shows them.

use super::*;

const HEADER: &str = "\n           value  ------------- Distribution ------------- count    \n";

/// A row with a bar of `ats` for a positive count (or none).
fn row(label: &str, ats: usize, count: i64) -> String {
    format!("{label:>16} |{:<40} {count:<9}\n", "@".repeat(ats))
}

/// A row when every count shown is negative or zero.
fn neg_row(label: &str, ats: usize, count: i64) -> String {
    format!("{label:>16} {:>40}| {count:<9}\n", "@".repeat(ats))
}

/// A row when counts of both signs are shown: two half bars.
fn mixed_row(label: &str, neg: usize, pos: usize, count: i64) -> String {
    format!(
        "{label:>16} {:>20}|{:<20} {count:<9}\n",
        "@".repeat(neg),
        "@".repeat(pos)
    )
}

/// `printa(@a)` of an unkeyed histogram: a newline, the distribution, and
/// the entry's closing newline.
fn block(rows: &[String]) -> String {
    format!("\n{HEADER}{}\n", rows.concat())
}

fn rows(spec: &[(&str, usize, i64)]) -> Vec<String> {
    spec.iter().map(|&(l, a, c)| row(l, a, c)).collect()
}

fn printed(kind: AggKind, adds: &[(i64, i64)]) -> String {
    let data = fill(&kind, adds);
    printa_one(&kind, data)
}

/// The row helpers against lines copied whole from
/// test/unittest/aggs/tst.llquantize_basic.r.
#[test]
fn row_formats() {
    assert_eq!(
        row("<= -16", 3, 164),
        "          <= -16 |@@@                                      164      \n"
    );
    assert_eq!(
        neg_row("2", 40, -1),
        "               2 @@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@| -1       \n"
    );
    assert_eq!(
        mixed_row("1", 0, 10, 1),
        "               1                     |@@@@@@@@@@           1        \n"
    );
    assert_eq!(
        mixed_row("2", 10, 0, -1),
        "               2           @@@@@@@@@@|                     -1       \n"
    );
}

/// The (value, increment) pairs of basicA, basicB and basicC in
/// test/unittest/aggs/tst.llquantize_basic.d.
fn basic_values() -> Vec<(i64, i64)> {
    [
        -20, -16, -12, -8, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 8, 12, 16, 20,
    ]
    .iter()
    .map(|&v| (v, 100 + v))
    .collect()
}

/// test/unittest/aggs/tst.llquantize_basic.r: basicA (steps < factor).
#[test]
fn llquantize_steps_below_factor() {
    let got = printed(llquantize(4, 0, 1, 2).unwrap(), &basic_values());
    let want = block(&rows(&[
        ("<= -16", 3, 164),
        ("-8", 3, 180),
        ("-4", 5, 285),
        ("-2", 4, 195),
        ("-1", 2, 99),
        ("0", 2, 100),
        ("1", 2, 101),
        ("2", 4, 205),
        ("4", 6, 315),
        ("8", 4, 220),
        (">= 16", 4, 236),
    ]));
    assert_eq!(got, want);
}

/// test/unittest/aggs/tst.llquantize_basic.r: basicB (steps == factor).
#[test]
fn llquantize_steps_equal_factor() {
    let got = printed(llquantize(4, 0, 1, 4).unwrap(), &basic_values());
    let want = block(&rows(&[
        ("<= -16", 3, 164),
        ("-12", 2, 88),
        ("-8", 2, 92),
        ("-4", 5, 285),
        ("-3", 2, 97),
        ("-2", 2, 98),
        ("-1", 2, 99),
        ("0", 2, 100),
        ("1", 2, 101),
        ("2", 2, 102),
        ("3", 2, 103),
        ("4", 6, 315),
        ("8", 2, 108),
        ("12", 2, 112),
        (">= 16", 4, 236),
    ]));
    assert_eq!(got, want);
}

/// test/unittest/aggs/tst.llquantize_basic.r: basicC (steps > factor,
/// with ghost buckets below 4).
#[test]
fn llquantize_steps_above_factor() {
    let got = printed(llquantize(4, 0, 1, 8).unwrap(), &basic_values());
    let want = block(&rows(&[
        ("<= -16", 3, 164),
        ("-14", 0, 0),
        ("-12", 2, 88),
        ("-10", 0, 0),
        ("-8", 2, 92),
        ("-6", 2, 94),
        ("-4", 4, 191),
        ("-3", 2, 97),
        ("-2", 2, 98),
        ("-1", 2, 99),
        ("0", 2, 100),
        ("1", 2, 101),
        ("2", 2, 102),
        ("3", 2, 103),
        ("4", 4, 209),
        ("6", 2, 106),
        ("8", 2, 108),
        ("10", 0, 0),
        ("12", 2, 112),
        ("14", 0, 0),
        (">= 16", 4, 236),
    ]));
    assert_eq!(got, want);
}

/// test/unittest/aggs/tst.llquantize_basic.r: basicD (magnitudes 4 to 6,
/// 32 steps). The rows are the .r's: three magnitudes of 24 buckets each
/// side of `abs() < 256`, counts where the .r has them.
#[test]
fn llquantize_higher_magnitudes() {
    let adds: Vec<(i64, i64)> = vec![
        (-65536, 2),
        (-16384, 4),
        (-16384 + 1, 8),
        (-4096 - 11 * 512, 16),
        (-4096 - 11 * 512 + 1, 32),
        (-4096 - 10 * 512, 64),
        (-4096 - 10 * 512 + 1, 128),
        (-4096 - 9 * 512, 256),
        (-4096 - 9 * 512 + 1, 512),
        (-4096 - 8 * 512, 1024),
        (-4096 - 8 * 512 + 1, 1024),
        (-4096 - 512 - 2, 2048),
        (-4096 - 512 - 1, 4096),
        (-1024 - 12 * 128, 2048),
        (-1024 - 12 * 128 + 1, 4096),
        (-1024, 2048),
        (-256 - 3 * 32, 1024),
        (-256 - 3 * 32 + 1, 512),
        (-256, 256),
        (-256 + 1, 128),
        (256 - 1, 2),
        (256, 256),
        (256 + 3 * 32 - 1, 512),
        (256 + 3 * 32, 1024),
        (1024, 2048),
        (1024 + 12 * 128 - 1, 4096),
        (1024 + 12 * 128, 2048),
        (4096 + 512 + 1, 4096),
        (4096 + 512 + 2, 2048),
        (4096 + 8 * 512 - 1, 1024),
        (4096 + 8 * 512, 1024),
        (4096 + 9 * 512 - 1, 512),
        (4096 + 9 * 512, 256),
        (4096 + 10 * 512 - 1, 128),
        (4096 + 10 * 512, 64),
        (4096 + 11 * 512 - 1, 32),
        (4096 + 11 * 512, 16),
        (16384 - 1, 8),
        (16384, 4),
        (65536, 2),
    ];
    // The .r's rows with data (label, bar, count); every other row is 0.
    let nonzero: &[(i64, usize, i64)] = &[
        (256, 0, 256),
        (320, 1, 512),
        (352, 1, 1024),
        (1024, 2, 2048),
        (2432, 4, 4096),
        (2560, 2, 2048),
        (4608, 6, 6144),
        (7680, 1, 1024),
        (8192, 2, 1536),
        (8704, 0, 384),
        (9216, 0, 96),
        (9728, 0, 16),
        (15872, 0, 8),
    ];
    let mut labels = Vec::new();
    for (start, width) in [(256, 32), (1024, 128), (4096, 512)] {
        labels.extend((0..24).map(|i| start + i * width));
    }
    let at = |l: i64| {
        nonzero
            .iter()
            .find(|n| n.0 == l)
            .map_or((0, 0), |n| (n.1, n.2))
    };
    let mut want = vec![row("<= -16384", 0, 6)];
    for &l in labels.iter().rev() {
        let (a, c) = at(l);
        want.push(row(&format!("-{l}"), a, c));
    }
    want.push(row("abs() < 256", 0, 130));
    for &l in &labels {
        let (a, c) = at(l);
        want.push(row(&l.to_string(), a, c));
    }
    want.push(row(">= 16384", 0, 6));
    let got = printed(llquantize(4, 4, 6, 32).unwrap(), &adds);
    assert_eq!(got, block(&want));
}

/// test/unittest/aggs/tst.llquantize_basic.r: zero, zeroB, posvals,
/// negvals, allvals.
#[test]
fn llquantize_empty_and_signed() {
    let zero = rows(&[("0", 0, 0), ("1", 0, 0), ("2", 0, 0)]);
    assert_eq!(
        printed(llquantize(2, 0, 1, 2).unwrap(), &[(0, 1), (0, -1)]),
        block(&zero)
    );
    // The last row lands on a ghost and borrows the next label.
    assert_eq!(
        printed(llquantize(2, 0, 1, 4).unwrap(), &[(0, 1), (0, -1)]),
        block(&zero)
    );
    let pos = rows(&[("0", 0, 0), ("1", 40, 1), ("2", 0, 0)]);
    assert_eq!(
        printed(llquantize(2, 0, 1, 2).unwrap(), &[(1, 1)]),
        block(&pos)
    );
    let neg = [
        neg_row("1", 0, 0),
        neg_row("2", 40, -1),
        neg_row(">= 4", 0, 0),
    ];
    assert_eq!(
        printed(llquantize(2, 0, 1, 2).unwrap(), &[(2, -1)]),
        block(&neg)
    );
    let all = [
        mixed_row("0", 0, 0, 0),
        mixed_row("1", 0, 10, 1),
        mixed_row("2", 10, 0, -1),
        mixed_row(">= 4", 0, 0, 0),
    ];
    assert_eq!(
        printed(llquantize(2, 0, 1, 2).unwrap(), &[(1, 1), (2, -1)]),
        block(&all)
    );
}

/// test/unittest/aggs/tst.llquantize_basic.r: singlerangeA, singlerangeB
/// (low == high), straightlog (one step), shift, ghostbin.
#[test]
fn llquantize_edge_layouts() {
    let single: Vec<(i64, i64)> = (-4..=4).map(|v| (v, 100 + v)).collect();
    let want = block(&rows(&[
        ("<= -4", 4, 96),
        ("-3", 4, 97),
        ("-2", 4, 98),
        ("-1", 4, 99),
        ("0", 4, 100),
        ("1", 4, 101),
        ("2", 5, 102),
        ("3", 5, 103),
        (">= 4", 5, 104),
    ]));
    assert_eq!(printed(llquantize(4, 0, 0, 4).unwrap(), &single), want);
    assert_eq!(printed(llquantize(4, 0, 0, 8).unwrap(), &single), want);

    let log = [
        (-100000, 100108),
        (-10000, 100208),
        (-1000, 100308),
        (-100, 100408),
        (-10, 100508),
        (-1, 100608),
        (0, 100708),
        (1, 100808),
        (10, 100908),
        (100, 101008),
        (1000, 101108),
        (10000, 101208),
        (100000, 101308),
    ];
    let want = block(&rows(&[
        ("<= -10000", 6, 200316),
        ("-1000", 3, 100308),
        ("-100", 3, 100408),
        ("-10", 3, 100508),
        ("-1", 3, 100608),
        ("0", 3, 100708),
        ("1", 3, 100808),
        ("10", 3, 100908),
        ("100", 3, 101008),
        ("1000", 3, 101108),
        (">= 10000", 6, 202516),
    ]));
    assert_eq!(printed(llquantize(10, 0, 3, 1).unwrap(), &log), want);

    let want = block(&rows(&[
        ("<= -4", 0, 0),
        ("-2", 20, 1),
        ("-1", 0, 0),
        ("0", 0, 0),
        ("1", 0, 0),
        ("2", 20, 1),
        (">= 4", 0, 0),
    ]));
    assert_eq!(
        printed(llquantize(2, 0, 1, 2).unwrap(), &[(-3, 1), (3, 1)]),
        want
    );

    let want = block(&rows(&[
        ("-2", 0, 0),
        ("-1", 20, 1),
        ("0", 0, 0),
        ("1", 20, 1),
        ("2", 0, 0),
    ]));
    assert_eq!(
        printed(llquantize(2, 0, 1, 4).unwrap(), &[(-1, 1), (1, 1)]),
        want
    );
}

/// test/unittest/aggs/tst.llquantize.r: llquantize(i, 10, 0, 6, 20) for
/// i in 0..1500 (exit-time output: a newline, then the entry).
#[test]
fn llquantize_decades() {
    let adds: Vec<(i64, i64)> = (0..1500).map(|i| (i, 1)).collect();
    let mut want = vec![row("-1", 0, 0)];
    want.extend((0..10).map(|v| row(&v.to_string(), 0, 1)));
    want.extend((10..100).step_by(5).map(|v| row(&v.to_string(), 0, 5)));
    want.extend((100..1000).step_by(50).map(|v| row(&v.to_string(), 1, 50)));
    want.push(row("1000", 13, 500));
    want.push(row("1500", 0, 0));
    assert_eq!(
        printed(llquantize(10, 0, 6, 20).unwrap(), &adds),
        block(&want)
    );
}

/// test/unittest/aggs/tst.llquantneg.r: alternating increments of 1 and
/// -1 draw half bars on both sides of the centre line.
#[test]
fn llquantize_negative_increments() {
    let adds: Vec<(i64, i64)> = (0..1500)
        .map(|i| (i, if i % 2 == 0 { 1 } else { -1 }))
        .collect();
    let mut labels: Vec<i64> = (0..10).collect();
    labels.extend((10..100).step_by(5));
    let mut want = vec![mixed_row("-1", 0, 0, 0)];
    for (n, l) in labels.iter().enumerate() {
        want.push(if n % 2 == 0 {
            mixed_row(&l.to_string(), 0, 1, 1)
        } else {
            mixed_row(&l.to_string(), 1, 0, -1)
        });
    }
    want.push(mixed_row("100", 0, 0, 0));
    assert_eq!(
        printed(llquantize(10, 0, 6, 20).unwrap(), &adds),
        block(&want)
    );
}

/// test/unittest/aggs/tst.quantlast.r: data only in the last bucket.
#[test]
fn quantize_last_bucket() {
    let got = printed(AggKind::Quantize, &[(0x4000000000000000, 1234)]);
    let want = block(&rows(&[
        ("2305843009213693952", 0, 0),
        ("4611686018427387904", 40, 1234),
    ]));
    assert_eq!(got, want);
    assert!(got.contains("\n2305843009213693952 |"));
}

#[test]
fn quantize_rows() {
    let got = printed(
        AggKind::Quantize,
        &[(0, 1), (1, 2), (5, 1), (7, 4), (-3, 2)],
    );
    let want = block(&rows(&[
        ("-4", 0, 0),
        ("-2", 8, 2),
        ("-1", 0, 0),
        ("0", 4, 1),
        ("1", 8, 2),
        ("2", 0, 0),
        ("4", 20, 5),
        ("8", 0, 0),
    ]));
    assert_eq!(got, want);
    // Nothing counted (a negative increment undid it): the rows around 0.
    let none = printed(AggKind::Quantize, &[(5, 1), (5, -1)]);
    assert_eq!(
        none,
        block(&rows(&[("-1", 0, 0), ("0", 0, 0), ("1", 0, 0)]))
    );
}

/// test/unittest/printa/tst.basics.r: lquantize(1, 1, 10) through `%@d`,
/// the underflow row labelled `< 1`.
#[test]
fn lquantize_rows() {
    let got = printed(lquantize(1, 10, 1).unwrap(), &[(1, 1)]);
    assert_eq!(
        got,
        block(&rows(&[("< 1", 0, 0), ("1", 40, 1), ("2", 0, 0)]))
    );
    let top = printed(lquantize(0, 10, 3).unwrap(), &[(100, 3), (4, 1)]);
    assert_eq!(
        top,
        block(&rows(&[
            ("0", 0, 0),
            ("3", 10, 1),
            ("6", 0, 0),
            (">= 9", 30, 3)
        ]))
    );
    let empty = printed(lquantize(0, 10, 1).unwrap(), &[]);
    assert_eq!(
        empty,
        block(&rows(&[("< 0", 0, 0), ("0", 0, 0), ("1", 0, 0)]))
    );
}

/// Counts print divided by the normalization factor; the bars keep the
/// raw proportions.
#[test]
fn normalized_histogram() {
    let kind = AggKind::Quantize;
    let data = fill(&kind, &[(1, 10), (2, 30)]);
    let mut entries = vec![Entry {
        key: vec![],
        value: data,
    }];
    let mut out = Vec::new();
    print_aggregation_with(
        &mut out,
        &kind,
        &mut entries,
        &PrintOptions {
            normal: 4,
            ..Default::default()
        },
    );
    let want = block(&rows(&[
        ("0", 0, 0),
        ("1", 10, 2),
        ("2", 30, 7),
        ("4", 0, 0),
    ]));
    assert_eq!(text(&out), want);
}

/// Whatever the data, printing never panics, and short or long data is
/// read as zeros or cut.
#[test]
fn odd_data_lengths() {
    for kind in [
        AggKind::Quantize,
        lquantize(0, 5, 1).unwrap(),
        llquantize(10, 0, 2, 10).unwrap(),
    ] {
        for len in [0, 1, 5, kind.words() + 3] {
            let value: Vec<i64> = (0..len as i64).map(|i| i * 7 - 3).collect();
            let s = printa_one(&kind, value);
            assert!(s.starts_with('\n') && s.ends_with('\n'));
        }
        let extreme = vec![i64::MIN, i64::MAX, i64::MIN, -1, 1];
        let _ = printa_one(&kind, extreme);
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any counts print, in any layout.
        #[test]
        fn print_any_counts(
            data in proptest::collection::vec(prop_oneof![any::<i64>(), -3i64..3], 0..200),
            normal in 0u64..5,
            which in 0usize..3,
        ) {
            let kind = [AggKind::Quantize, lquantize(-10, 100, 7).unwrap(), llquantize(3, 1, 3, 9).unwrap()][which];
            let mut entries = vec![Entry { key: vec![], value: data }];
            let mut out = Vec::new();
            print_aggregation_with(&mut out, &kind, &mut entries, &PrintOptions { normal, ..Default::default() });
            prop_assert!(out.starts_with(b"\n"));
        }
    }
}
