//! Aggregations: the kinds, the layout of their values in the kernel map
//! (the contract with the code generator), combining the CPUs' values,
//! and the parameter checks of `lquantize()` and `llquantize()`.
//!
//! # Kernel layout
//!
//! Each entry's value is a run of `i64` words per CPU ([`AggKind::words`]),
//! zeroed when the entry is created:
//!
//! | kind | words |
//! |------|-------|
//! | `count()`, `sum()` | `[total]` |
//! | `min()`, `max()` | `[set, value]`: `set` becomes 1 with the first update |
//! | `avg()` | `[count, sum]` |
//! | `stddev()` | `[count, sum, sumsq_low, sumsq_high]`: the sum of the squares as a 128-bit unsigned number, low word first |
//! | `quantize()` | 127 counts (below) |
//! | `lquantize()` | levels + 2 counts (below) |
//! | `llquantize()` | 2·(high−low+1)·(nsteps−nsteps/factor) + 3 counts (below) |
//!
//! Histogram counts are added the increment (1 by default) in the bucket
//! [`AggKind::bucket`] gives; [`AggKind::bounds`] gives each bucket's least
//! value, so that the bucket of v is the last one whose bound is ≤ v — a
//! compare chain the code generator can emit.
//!
//! - `quantize()`: bucket 63 holds 0; v > 0 goes to 64 + ⌊log2 v⌋ (126 at
//!   most); v < 0 to 62 − ⌊log2 −v⌋ (`i64::MIN` to 0). Rows are labelled
//!   by the bound nearest zero: …, −2, −1, 0, 1, 2, 4, ….
//! - `lquantize(base, limit, step)`: levels = (limit − base) / step
//!   (integer division). Bucket 0 holds v < base (row `< base`); bucket
//!   i in 1..=levels holds base + (i−1)·step ≤ v < base + i·step; bucket
//!   levels+1 holds v ≥ base + levels·step (row `>= base+levels·step`,
//!   which is `limit` only when step divides limit − base).
//! - `llquantize(factor, low, high, nsteps)`: DTrace for Linux's layout,
//!   symmetric around a middle bucket (the illumos layout has no negative
//!   side). With per = nsteps − nsteps/factor and
//!   bin0 = 1 + (high − low + 1)·per: bucket 0 holds v ≤ −factor^(high+1);
//!   buckets bin0 ± k for k in 1..bin0 hold ±v with |v| in the k-th
//!   step counting up from factor^low (magnitude m covers
//!   [factor^m, factor^(m+1)) in per steps of factor^(m+1)/nsteps); bin0
//!   holds |v| < factor^low; bucket 2·bin0 holds v ≥ factor^(high+1).
//!   When low = 0 and nsteps > factor, the steps below 1 are buckets no
//!   integer reaches ("ghosts"), kept in the layout and never printed.

use super::hist::{self, Llq, Lq};

pub use super::agg_print::{
    Entry, KeyPart, PrintOptions, SortOrder, print_aggregation, print_aggregation_with,
    print_entries, printa, printa_with, sort_entries,
};

/// An aggregating function and its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggKind {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    Stddev,
    Quantize,
    /// `lquantize(v, base, limit, step)`; build it with [`lquantize`].
    Lquantize {
        base: i64,
        limit: i64,
        step: i64,
    },
    /// `llquantize(v, factor, low, high, nsteps)`; build it with
    /// [`llquantize`].
    Llquantize {
        factor: u16,
        low: u16,
        high: u16,
        nsteps: u16,
    },
}

impl AggKind {
    fn lq(&self) -> Option<Lq> {
        match *self {
            AggKind::Lquantize { base, limit, step } => Some(Lq::new(base, limit, step)),
            _ => None,
        }
    }

    fn llq(&self) -> Option<Llq> {
        match *self {
            AggKind::Llquantize {
                factor,
                low,
                high,
                nsteps,
            } => Some(Llq::new(factor, low, high, nsteps)),
            _ => None,
        }
    }

    /// Whether the value prints as a distribution.
    pub fn is_histogram(&self) -> bool {
        matches!(
            self,
            AggKind::Quantize | AggKind::Lquantize { .. } | AggKind::Llquantize { .. }
        )
    }

    /// How many `i64` words one entry's value takes in the kernel map (per
    /// CPU).
    pub fn words(&self) -> usize {
        match self {
            AggKind::Count | AggKind::Sum => 1,
            AggKind::Min | AggKind::Max | AggKind::Avg => 2,
            AggKind::Stddev => 4,
            AggKind::Quantize => hist::QUANTIZE_BUCKETS,
            AggKind::Lquantize { .. } => self.lq().map_or(3, |l| l.buckets()),
            AggKind::Llquantize { .. } => self.llq().map_or(3, |l| l.nbins),
        }
    }

    /// The number of linear levels of an `lquantize()`.
    pub fn levels(&self) -> Option<usize> {
        self.lq().map(|l| l.levels)
    }

    /// The bucket a value falls into (histograms only; `None` for the
    /// others).
    pub fn bucket(&self, value: i64) -> Option<usize> {
        match self {
            AggKind::Quantize => Some(hist::quantize_bucket(value)),
            AggKind::Lquantize { .. } => self.lq().map(|l| l.bucket(value)),
            AggKind::Llquantize { .. } => self.llq().map(|l| l.bucket(value)),
            _ => None,
        }
    }

    /// For histograms, each bucket's least value: `bucket(v)` is the last
    /// index whose bound is ≤ v (bucket 0's bound is `i64::MIN`; an
    /// `llquantize()` whose factor^(high+1) exceeds 2^63 has buckets no
    /// `i64` reaches, clamped to `i64::MAX`). Empty for the others.
    pub fn bounds(&self) -> Vec<i64> {
        match self {
            AggKind::Quantize => hist::quantize_bounds(),
            AggKind::Lquantize { .. } => self.lq().map(|l| l.bounds()).unwrap_or_default(),
            AggKind::Llquantize { .. } => self.llq().map(|l| l.bounds()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Combines the words of several CPUs into one value of
    /// [`AggKind::words`] words (missing words count as 0).
    pub fn combine(&self, per_cpu: &[&[i64]]) -> Vec<i64> {
        let n = self.words();
        let word = |cpu: &[i64], i: usize| cpu.get(i).copied().unwrap_or(0);
        match self {
            AggKind::Min | AggKind::Max => {
                let set: Vec<i64> = per_cpu
                    .iter()
                    .filter(|c| word(c, 0) != 0)
                    .map(|c| word(c, 1))
                    .collect();
                let best = if *self == AggKind::Min {
                    set.iter().copied().min()
                } else {
                    set.iter().copied().max()
                };
                // Unset: what DTrace holds for a cleared entry.
                let empty = if *self == AggKind::Min {
                    i64::MAX
                } else {
                    i64::MIN
                };
                vec![i64::from(best.is_some()), best.unwrap_or(empty)]
            }
            AggKind::Stddev => {
                let mut v = [0i64; 4];
                let mut sq: u128 = 0;
                for c in per_cpu {
                    v[0] = v[0].wrapping_add(word(c, 0));
                    v[1] = v[1].wrapping_add(word(c, 1));
                    sq = sq.wrapping_add(sumsq(c));
                }
                v[2] = sq as u64 as i64;
                v[3] = (sq >> 64) as u64 as i64;
                v.to_vec()
            }
            _ => (0..n)
                .map(|i| per_cpu.iter().fold(0i64, |a, c| a.wrapping_add(word(c, i))))
                .collect(),
        }
    }
}

/// The 128-bit sum of squares of a `stddev()` value.
fn sumsq(v: &[i64]) -> u128 {
    let w = |i: usize| u128::from(v.get(i).copied().unwrap_or(0) as u64);
    w(2) | (w(3) << 64)
}

/// Divides a combined value by a normalization factor in place, as the
/// numbers print after `normalize(@a, factor)`: totals, extremes and
/// histogram counts; an average's sum; a standard deviation's sum and
/// sum of squares. A factor below 1 changes nothing.
///
/// Prefer [`PrintOptions::normal`]: DTrace scales histogram bars and
/// sorts by the raw counts, which dividing first loses (the bars may
/// round differently, and values that become equal sort by key).
pub fn normalize(kind: &AggKind, value: &mut [i64], factor: i64) {
    if factor <= 1 {
        return;
    }
    let div = |v: &mut i64| *v = v.wrapping_div(factor);
    match kind {
        AggKind::Count | AggKind::Sum => value.iter_mut().take(1).for_each(div),
        AggKind::Min | AggKind::Max | AggKind::Avg => {
            value.iter_mut().skip(1).take(1).for_each(div)
        }
        AggKind::Stddev => {
            value.iter_mut().skip(1).take(1).for_each(div);
            let sq = sumsq(value) / factor as u128;
            if let Some(w) = value.get_mut(2) {
                *w = sq as u64 as i64;
            }
            if let Some(w) = value.get_mut(3) {
                *w = (sq >> 64) as u64 as i64;
            }
        }
        _ => value.iter_mut().for_each(div),
    }
}

/// What an entry's value sorts by (ascending): the total, extreme,
/// average or standard deviation; for a histogram its counts times their
/// buckets' values, then its count at zero. DTrace's order for printing
/// and for `trunc()`; equal values sort by key.
pub fn sort_value(kind: &AggKind, value: &[i64]) -> (i128, i64) {
    match kind {
        AggKind::Avg => (i128::from(average(value, 1)), 0),
        AggKind::Stddev => (i128::from(stddev(value, 1)), 0),
        AggKind::Quantize => hist::quantize_weight(value),
        AggKind::Lquantize { .. } => kind.lq().map_or((0, 0), |l| l.weight(value)),
        AggKind::Llquantize { .. } => kind.llq().map_or((0, 0), |l| l.weight(value)),
        AggKind::Min | AggKind::Max => (i128::from(value.get(1).copied().unwrap_or(0)), 0),
        AggKind::Count | AggKind::Sum => (i128::from(value.first().copied().unwrap_or(0)), 0),
    }
}

/// `avg()`: the sum over the normalization factor over the count
/// (truncated; 0 without values).
pub(crate) fn average(v: &[i64], normal: i64) -> i64 {
    let count = v.first().copied().unwrap_or(0);
    let sum = v.get(1).copied().unwrap_or(0);
    if count == 0 {
        return 0;
    }
    sum.wrapping_div(normal).wrapping_div(count)
}

/// `stddev()`: the population standard deviation, truncated, computed
/// as DTrace does in 128-bit integers: √(Σx²/n − (Σx/n)²), each division
/// truncating (0 without values).
pub(crate) fn stddev(v: &[i64], normal: i64) -> u64 {
    let count = v.first().copied().unwrap_or(0);
    let sum = v.get(1).copied().unwrap_or(0);
    if count == 0 || normal == 0 {
        return 0;
    }
    let avg_of_squares = sumsq(v) / u128::from(normal as u64) / u128::from(count as u64);
    let avg = sum.wrapping_div(normal).wrapping_div(count).unsigned_abs();
    let square_of_avg = u128::from(avg) * u128::from(avg);
    avg_of_squares.wrapping_sub(square_of_avg).isqrt() as u64
}

/// Checks `lquantize()`'s parameters as DTrace does, with its messages.
pub fn lquantize(
    base: impl Into<i64>,
    limit: impl Into<i64>,
    step: impl Into<i64>,
) -> Result<AggKind, String> {
    let (base, limit, step) = (base.into(), limit.into(), step.into());
    let i32_range = i64::from(i32::MIN)..=i64::from(i32::MAX);
    if !i32_range.contains(&base) {
        return Err("lquantize( ) argument #1 must be a 32-bit quantity".into());
    }
    if !i32_range.contains(&limit) {
        return Err("lquantize( ) argument #2 must be a 32-bit quantity".into());
    }
    if limit <= base {
        return Err("lquantize( ) base (argument #1) must be less than limit (argument #2)".into());
    }
    if step <= 0 {
        return Err("lquantize( ) argument #3 must be a non-zero positive integer constant".into());
    }
    if step > i64::from(u16::MAX) {
        return Err("lquantize( ) argument #3 must be a 16-bit quantity".into());
    }
    let levels = (limit - base) / step;
    if levels == 0 {
        return Err(
            "lquantize( ) step (argument #3) too large: must have at least one quantization level"
                .into(),
        );
    }
    if levels > i64::from(u16::MAX) {
        return Err("lquantize( ) step (argument #3) too small: number of quantization levels must be a 16-bit quantity".into());
    }
    Ok(AggKind::Lquantize { base, limit, step })
}

/// Checks `llquantize()`'s parameters as DTrace for Linux does, with its
/// messages (its rules differ from illumos': low may equal high, and
/// nsteps may be below the factor when it divides it).
pub fn llquantize(
    factor: impl Into<i64>,
    low: impl Into<i64>,
    high: impl Into<i64>,
    nsteps: impl Into<i64>,
) -> Result<AggKind, String> {
    let (factor, low, high) = (factor.into(), low.into(), high.into());
    let nsteps = nsteps.into();
    let u16_max = i64::from(u16::MAX);
    if !(2..=u16_max).contains(&factor) {
        return Err("llquantize( ) argument #1 must be an unsigned 16-bit quantity greater than or equal to 2".into());
    }
    if !(0..=u16_max).contains(&low) {
        return Err("llquantize( ) argument #2 must be an unsigned 16-bit quantity".into());
    }
    if !(0..=u16_max).contains(&high) {
        return Err("llquantize( ) argument #3 must be an unsigned 16-bit quantity".into());
    }
    if high < low {
        return Err("llquantize( ) argument #3 (high magnitude) must be at least argument #2 (low magnitude)".into());
    }
    let pow = |e: i64| {
        (0..e).try_fold(1u128, |v, _| {
            let v = v * factor as u128;
            (v <= u128::from(u64::MAX)).then_some(v)
        })
    };
    if pow(high + 1).is_none() {
        return Err(
            "llquantize( ) argument #3 (high magnitude) will cause overflow of 64 bits".into(),
        );
    }
    if nsteps <= 0 {
        return Err(
            "llquantize( ) argument #4 must be a non-zero positive integer constant".into(),
        );
    }
    if nsteps > u16_max {
        return Err("llquantize( ) argument #4 must be an unsigned 16-bit quantity".into());
    }
    check_steps(factor, low, nsteps)?;
    // Each was checked to be within 0..=65535.
    Ok(AggKind::Llquantize {
        factor: factor as u16,
        low: low as u16,
        high: high as u16,
        nsteps: nsteps as u16,
    })
}

/// `llquantize()`'s rules tying the steps to the factor (DTrace for
/// Linux's): below the factor they divide it; above it they are a multiple
/// of it and divide factor^(low+1) (factor² when low is 0).
fn check_steps(factor: i64, low: i64, nsteps: i64) -> Result<(), String> {
    if nsteps < factor && factor % nsteps != 0 {
        return Err("llquantize() argument #4 (steps) must evenly divide argument #1 (factor) when steps<factor".into());
    }
    if nsteps <= factor {
        return Ok(());
    }
    if nsteps % factor != 0 {
        return Err("llquantize() argument #4 (steps) must be a multiple of argument #1 (factor) when steps>factor".into());
    }
    if low == 0 && (factor * factor) % nsteps != 0 {
        return Err("llquantize() argument #4 (steps) must evenly divide the square of argument #1 (factor) when steps>factor and lmag==0".into());
    }
    // The caller checked that factor^(high+1) fits in 64 bits, and low ≤ high.
    let lowpow = (0..=low).fold(1u128, |v, _| v.saturating_mul(factor as u128));
    if low > 0 && lowpow % nsteps as u128 != 0 {
        return Err("llquantize() argument #4 (steps) must evenly divide pow(argument #1 (factor), lmag (argument #2) + 1) when steps>factor and lmag>0".into());
    }
    Ok(())
}
