//! Aggregation kinds: the kernel layout, buckets and their bounds,
//! combining CPUs, and the parameter checks.

use super::*;
use proptest::prelude::*;

#[test]
fn words_per_kind() {
    let words = |k: AggKind| k.words();
    assert_eq!(words(AggKind::Count), 1);
    assert_eq!(words(AggKind::Sum), 1);
    assert_eq!(words(AggKind::Min), 2);
    assert_eq!(words(AggKind::Max), 2);
    assert_eq!(words(AggKind::Avg), 2);
    assert_eq!(words(AggKind::Stddev), 4);
    assert_eq!(words(AggKind::Quantize), 127);
    assert_eq!(words(lquantize(0, 100, 10).unwrap()), 12);
    // levels = (limit - base) / step: 7 / 2 = 3.
    assert_eq!(words(lquantize(1, 8, 2).unwrap()), 5);
    // 2·(high−low+1)·(nsteps−nsteps/factor) + 3.
    assert_eq!(words(llquantize(10, 0, 6, 20).unwrap()), 2 * 7 * 18 + 3);
    assert_eq!(words(llquantize(4, 0, 1, 2).unwrap()), 11);
    assert_eq!(words(llquantize(4, 4, 6, 32).unwrap()), 2 * 3 * 24 + 3);
}

#[test]
fn quantize_buckets() {
    let q = AggKind::Quantize;
    let b = |v| q.bucket(v).unwrap();
    assert_eq!(
        [b(0), b(1), b(2), b(3), b(4), b(7), b(8)],
        [63, 64, 65, 65, 66, 66, 67]
    );
    assert_eq!([b(-1), b(-2), b(-3), b(-4)], [62, 61, 61, 60]);
    assert_eq!([b(i64::MAX), b(1 << 62), b((1 << 62) - 1)], [126, 126, 125]);
    assert_eq!([b(i64::MIN), b(-(1 << 62)), b(1 - (1 << 62))], [0, 0, 1]);
    assert_eq!(AggKind::Sum.bucket(5), None);
    assert!(AggKind::Count.bounds().is_empty());
}

#[test]
fn lquantize_buckets() {
    let l = lquantize(0, 10, 3).unwrap();
    assert_eq!(l.levels(), Some(3));
    let b = |v| l.bucket(v).unwrap();
    assert_eq!(
        [b(-1), b(0), b(2), b(3), b(8), b(9), b(10), b(i64::MAX)],
        [0, 1, 1, 2, 3, 4, 4, 4]
    );
    assert_eq!(l.bounds(), [i64::MIN, 0, 3, 6, 9]);
    let n = lquantize(-5, 5, 5).unwrap();
    assert_eq!(n.bucket(i64::MIN), Some(0));
    assert_eq!(n.bucket(-5), Some(1));
    assert_eq!(n.bucket(4), Some(2));
    assert_eq!(n.bucket(5), Some(3));
}

/// The layout read off test/unittest/aggs/tst.llquantize_basic.r (basicA:
/// factor 4, magnitudes 0..1, 2 steps).
#[test]
fn llquantize_buckets() {
    let k = llquantize(4, 0, 1, 2).unwrap();
    let b = |v| k.bucket(v).unwrap();
    // <= -16, -8, -4, -2, -1, 0, 1, 2, 4, 8, >= 16
    let want = [
        (-20, 0),
        (-16, 0),
        (-15, 1),
        (-8, 1),
        (-7, 2),
        (-4, 2),
        (-3, 3),
        (-2, 3),
        (-1, 4),
        (0, 5),
        (1, 6),
        (2, 7),
        (3, 7),
        (4, 8),
        (8, 9),
        (15, 9),
        (16, 10),
        (i64::MAX, 10),
        (i64::MIN, 0),
    ];
    for (v, bucket) in want {
        assert_eq!(b(v), bucket, "value {v}");
    }
    assert_eq!(k.bounds(), [i64::MIN, -15, -7, -3, -1, 0, 1, 2, 4, 8, 16]);
    // Ghost buckets (low 0, nsteps > factor) take the next real bucket's
    // bound: factor 2, 4 steps: 1, (1.5), 2, 3, then >= 4.
    let g = llquantize(2, 0, 1, 4).unwrap();
    assert_eq!(g.words(), 11);
    assert_eq!(g.bounds(), [i64::MIN, -3, -2, -1, -1, 0, 1, 2, 2, 3, 4]);
    let gb = |v| g.bucket(v).unwrap();
    assert_eq!([gb(-1), gb(1), gb(2), gb(3), gb(4)], [4, 6, 8, 9, 10]);
}

fn check_bounds(kind: &AggKind, v: i64) -> Result<(), TestCaseError> {
    let bounds = kind.bounds();
    prop_assert_eq!(bounds.len(), kind.words());
    prop_assert!(
        bounds.windows(2).all(|w| w[0] <= w[1]),
        "bounds not sorted: {:?}",
        bounds
    );
    let chain = bounds.iter().rposition(|&b| b <= v).unwrap_or(0);
    prop_assert_eq!(Some(chain), kind.bucket(v));
    Ok(())
}

/// Valid llquantize parameters whose top, factor^(high+1), is below 2^63.
fn llq_params() -> impl Strategy<Value = AggKind> {
    (2i64..=12, 0i64..=4, 0i64..=4, 1i64..=200).prop_filter_map(
        "invalid",
        |(f, low, span, steps)| {
            let k = llquantize(f, low, low + span, steps).ok()?;
            let top = (0..low + span + 1).try_fold(1i64, |v, _| v.checked_mul(f))?;
            (top > 0).then_some(k)
        },
    )
}

fn interesting() -> impl Strategy<Value = i64> {
    prop_oneof![any::<i64>(), -100_000i64..100_000, -20i64..20]
}

proptest! {
    /// The bounds are a compare chain that gives the bucket.
    #[test]
    fn quantize_bounds_chain(v in interesting()) {
        check_bounds(&AggKind::Quantize, v)?;
    }

    #[test]
    fn lquantize_bounds_chain(base in -1000i64..1000, levels in 1i64..300, step in 1i64..50, v in interesting()) {
        let kind = lquantize(base, base + levels * step, step).unwrap();
        check_bounds(&kind, v)?;
    }

    #[test]
    fn llquantize_bounds_chain(kind in llq_params(), v in interesting()) {
        check_bounds(&kind, v)?;
    }

    /// Buckets never leave the layout, whatever the parameters.
    #[test]
    fn buckets_in_range(f in any::<u16>(), low in any::<u16>(), high in any::<u16>(), steps in any::<u16>(), v in any::<i64>()) {
        let k = AggKind::Llquantize { factor: f, low, high, nsteps: steps };
        prop_assert!(k.bucket(v).unwrap() < k.words());
        let l = AggKind::Lquantize { base: i64::from(low) - 100, limit: i64::from(high), step: i64::from(steps) - 5 };
        prop_assert!(l.bucket(v).unwrap() < l.words());
    }
}

#[test]
fn combining_cpus() {
    let cpus: [&[i64]; 3] = [&[3], &[4], &[]];
    assert_eq!(AggKind::Count.combine(&cpus), [7]);
    // min/max count only the CPUs that saw a value.
    let min: [&[i64]; 3] = [&[1, 5], &[0, -100], &[1, 2]];
    assert_eq!(AggKind::Min.combine(&min), [1, 2]);
    assert_eq!(AggKind::Max.combine(&min), [1, 5]);
    assert_eq!(AggKind::Max.combine(&[&[0, 9]]), [0, i64::MIN]);
    assert_eq!(AggKind::Avg.combine(&[&[2, 10], &[1, 5]]), [3, 15]);
    // The 128-bit sums of squares carry.
    let sd: [&[i64]; 2] = [&[1, 1, -1, 0], &[1, 1, 1, 0]];
    assert_eq!(AggKind::Stddev.combine(&sd), [2, 2, 0, 1]);
    let q = AggKind::Quantize;
    let mut a = vec![0i64; 127];
    a[64] = 2;
    let mut b = vec![0i64; 127];
    b[64] = 3;
    b[0] = 1;
    let c = q.combine(&[&a, &b]);
    assert_eq!((c.len(), c[64], c[0]), (127, 5, 1));
}

/// The messages of DTrace for Linux's code generator (libdtrace/dt_cg.c)
/// for lquantize() parameters.
#[test]
fn lquantize_checks() {
    let e = |b, l, s| lquantize(b, l, s).unwrap_err();
    assert_eq!(
        e(1i64 << 40, 10, 1),
        "lquantize( ) argument #1 must be a 32-bit quantity"
    );
    assert_eq!(
        e(0, 1i64 << 40, 1),
        "lquantize( ) argument #2 must be a 32-bit quantity"
    );
    assert_eq!(
        e(10, 10, 1),
        "lquantize( ) base (argument #1) must be less than limit (argument #2)"
    );
    assert_eq!(
        e(0, 10, 0),
        "lquantize( ) argument #3 must be a non-zero positive integer constant"
    );
    assert_eq!(
        e(0, 10, 70000),
        "lquantize( ) argument #3 must be a 16-bit quantity"
    );
    // test/unittest/aggs/err.D_LQUANT_STEPLARGE.d: lquantize(1, 2, 3, 4).
    assert_eq!(
        e(2, 3, 4),
        "lquantize( ) step (argument #3) too large: must have at least one quantization level"
    );
    assert_eq!(
        e(0, 1_000_000, 1),
        "lquantize( ) step (argument #3) too small: number of quantization levels must be a 16-bit quantity"
    );
    assert!(lquantize(-10, 10, 1).is_ok());
}

/// The messages of DTrace for Linux's code generator (libdtrace/dt_cg.c)
/// for llquantize() parameters; the cases are those of
/// test/unittest/aggs/err.D_LLQUANT_*.d.
#[test]
fn llquantize_checks() {
    let e = |f: i64, l: i64, h: i64, s: i64| llquantize(f, l, h, s).unwrap_err();
    let factor =
        "llquantize( ) argument #1 must be an unsigned 16-bit quantity greater than or equal to 2";
    assert_eq!(e(1, 0, 1, 1), factor);
    assert_eq!(e(70000, 0, 1, 1), factor);
    assert_eq!(
        e(10, -1, 6, 20),
        "llquantize( ) argument #2 must be an unsigned 16-bit quantity"
    );
    assert_eq!(
        e(10, 0, 70000, 20),
        "llquantize( ) argument #3 must be an unsigned 16-bit quantity"
    );
    assert_eq!(
        e(10, 4, 3, 20),
        "llquantize( ) argument #3 (high magnitude) must be at least argument #2 (low magnitude)"
    );
    assert_eq!(
        e(10, 0, 19, 20),
        "llquantize( ) argument #3 (high magnitude) will cause overflow of 64 bits"
    );
    assert!(llquantize(10, 0, 18, 10).is_ok());
    assert_eq!(
        e(10, 0, 6, 0),
        "llquantize( ) argument #4 must be a non-zero positive integer constant"
    );
    assert_eq!(
        e(10, 0, 6, 70000),
        "llquantize( ) argument #4 must be an unsigned 16-bit quantity"
    );
    assert_eq!(
        e(10, 0, 6, 3),
        "llquantize() argument #4 (steps) must evenly divide argument #1 (factor) when steps<factor"
    );
    assert_eq!(
        e(10, 0, 6, 25),
        "llquantize() argument #4 (steps) must be a multiple of argument #1 (factor) when steps>factor"
    );
    assert_eq!(
        e(4, 0, 6, 32),
        "llquantize() argument #4 (steps) must evenly divide the square of argument #1 (factor) when steps>factor and lmag==0"
    );
    assert_eq!(
        e(4, 1, 6, 128),
        "llquantize() argument #4 (steps) must evenly divide pow(argument #1 (factor), lmag (argument #2) + 1) when steps>factor and lmag>0"
    );
    // Accepted by DTrace for Linux (illumos refuses the first two).
    assert!(llquantize(4, 0, 0, 4).is_ok());
    assert!(llquantize(4, 0, 1, 2).is_ok());
    assert!(llquantize(4, 4, 6, 32).is_ok());
    assert!(llquantize(10u16, 0u16, 6u16, 20u16).is_ok());
}

/// Normalizing in place divides what prints.
#[test]
fn normalize_in_place() {
    let mut v = vec![17];
    agg::normalize(&AggKind::Sum, &mut v, 5);
    assert_eq!(v, [3]);
    let mut v = vec![1, -17];
    agg::normalize(&AggKind::Min, &mut v, 5);
    assert_eq!(v, [1, -3]);
    let mut v = vec![4, 100, 0, 1];
    agg::normalize(&AggKind::Stddev, &mut v, 2);
    assert_eq!(v, [4, 50, i64::MIN, 0]);
    let mut v = vec![10, 20, 30];
    agg::normalize(&AggKind::Sum, &mut v, 0);
    assert_eq!(v, [10, 20, 30]);
}
