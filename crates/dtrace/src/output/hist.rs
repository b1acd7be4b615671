//! The three histograms: which bucket a value falls in, the buckets' labels
//! and bounds, their sort weight, and the distribution DTrace draws.
//!
//! The bucket rules are those of DTrace for Linux (the BPF code it
//! generates), the drawing that of its consumer; see [`super::agg`] for
//! the layouts.

/// Buckets of `quantize()`.
pub(crate) const QUANTIZE_BUCKETS: usize = 127;
/// The bucket of 0 in `quantize()`.
pub(crate) const QUANTIZE_ZERO: usize = 63;

/// The `quantize()` bucket of `v`: 63 for 0, 64 + ⌊log2 v⌋ above, and
/// 62 − ⌊log2 −v⌋ below (`i64::MIN` in bucket 0).
pub(crate) fn quantize_bucket(v: i64) -> usize {
    if v == 0 {
        return QUANTIZE_ZERO;
    }
    // |v| has at most 63 significant bits for every v but i64::MIN.
    let bits = (64 - v.unsigned_abs().leading_zeros()).min(63) as usize;
    if v > 0 {
        QUANTIZE_ZERO + bits
    } else {
        QUANTIZE_ZERO - bits
    }
}

/// The value a `quantize()` bucket is labelled with (its bound nearest
/// zero): …, −2, −1, 0, 1, 2, 4, ….
pub(crate) fn quantize_value(i: usize) -> i64 {
    let z = QUANTIZE_ZERO;
    match i.cmp(&z) {
        std::cmp::Ordering::Less => -(1i64 << (z - 1 - i).min(62)),
        std::cmp::Ordering::Equal => 0,
        std::cmp::Ordering::Greater => 1i64 << (i - z - 1).min(62),
    }
}

/// The least value of each `quantize()` bucket (bucket(v) is the last
/// bucket whose bound is ≤ v).
pub(crate) fn quantize_bounds() -> Vec<i64> {
    (0..QUANTIZE_BUCKETS)
        .map(|i| match i.cmp(&QUANTIZE_ZERO) {
            std::cmp::Ordering::Less if i == 0 => i64::MIN,
            // Negative buckets hold (-2^(k+1), -2^k]: the least is -2^(k+1)+1.
            std::cmp::Ordering::Less => 1 - (1i64 << (QUANTIZE_ZERO - i).min(62)),
            _ => quantize_value(i),
        })
        .collect()
}

/// DTrace's sort weight of a `quantize()`: the counts times their
/// buckets' values, then the count at zero.
pub(crate) fn quantize_weight(data: &[i64]) -> (i128, i64) {
    let mut sum: i128 = 0;
    for (i, &c) in data.iter().enumerate().take(QUANTIZE_BUCKETS) {
        let w = i128::from(quantize_value(i)).saturating_mul(i128::from(c));
        sum = sum.saturating_add(w);
    }
    (sum, data.get(QUANTIZE_ZERO).copied().unwrap_or(0))
}

/// `lquantize()` with its parameters made safe to compute with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lq {
    pub base: i64,
    pub step: u64,
    pub levels: usize,
}

impl Lq {
    /// The layout of `lquantize(base, limit, step)`. Parameters that
    /// [`super::agg::lquantize`] would reject are clamped (step at least 1,
    /// at least one level, at most 65535).
    pub fn new(base: i64, limit: i64, step: i64) -> Lq {
        let step = step.clamp(1, i64::from(u16::MAX)) as u64;
        let span = (limit as i128 - base as i128).max(0) as u128;
        let levels = (span / u128::from(step)).clamp(1, u128::from(u16::MAX)) as usize;
        Lq { base, step, levels }
    }

    pub fn buckets(&self) -> usize {
        self.levels + 2
    }

    /// 0 below `base`, then one bucket per step, the last one open-ended.
    pub fn bucket(&self, v: i64) -> usize {
        if v < self.base {
            return 0;
        }
        let level = v.wrapping_sub(self.base) as u64 / self.step;
        level.min(self.levels as u64) as usize + 1
    }

    /// The bound of bucket `i` (1..=levels+1).
    fn value(&self, i: usize) -> i64 {
        (self.base as i128 + (i as i128 - 1) * self.step as i128) as i64
    }

    pub fn bounds(&self) -> Vec<i64> {
        (0..self.buckets())
            .map(|i| if i == 0 { i64::MIN } else { self.value(i) })
            .collect()
    }

    fn label(&self, i: usize) -> String {
        if i == 0 {
            format!("< {}", self.base)
        } else if i == self.levels + 1 {
            format!(">= {}", self.value(i))
        } else {
            self.value(i).to_string()
        }
    }

    /// DTrace's sort weight: the counts times their buckets' values (one
    /// below the base for the underflow, one above the top for the
    /// overflow), then the count at zero.
    pub fn weight(&self, data: &[i64]) -> (i128, i64) {
        let c = |i: usize| i128::from(data.get(i).copied().unwrap_or(0));
        let top = self.levels + 1;
        let mut sum = c(0).saturating_mul(self.base as i128 - 1);
        for i in 1..top {
            sum = sum.saturating_add(c(i).saturating_mul(self.value(i) as i128));
        }
        sum = sum.saturating_add(c(top).saturating_mul(self.value(top) as i128 + 1));
        let zero_at = if self.base == 1 {
            Some(0)
        } else {
            (1..top)
                .find(|&i| self.value(i) == 0)
                .or((self.value(top) == -1).then_some(top))
        };
        let zero = zero_at.and_then(|i| data.get(i).copied()).unwrap_or(0);
        (sum, zero)
    }
}

/// `factor^e`, saturating.
fn pow(factor: u64, e: u32) -> u128 {
    let mut v: u128 = 1;
    for _ in 0..e {
        v = v.saturating_mul(u128::from(factor));
    }
    v
}

/// `llquantize()` with its parameters made safe to compute with.
///
/// Buckets, in order: values ≤ −factor^(high+1); then the magnitudes from
/// `high` down to `low` for negative values; the middle bucket `bin0` for
/// |v| < factor^low; the magnitudes `low` to `high` for positive values;
/// values ≥ factor^(high+1). Each magnitude m covers
/// [factor^m, factor^(m+1)) in `nsteps − nsteps/factor` buckets of width
/// factor^(m+1)/nsteps (the first nsteps/factor widths lie below
/// factor^m). When low is 0 and nsteps > factor the widths below 1 make
/// buckets no integer reaches: DTrace keeps them in the layout ("ghost"
/// buckets) and skips them when printing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Llq {
    factor: u64,
    lmag: u32,
    hmag: u32,
    steps: u64,
    /// nsteps / factor.
    sf: u64,
    /// Buckets per magnitude.
    per: u64,
    /// The bucket of |v| < factor^low.
    pub bin0: usize,
    pub nbins: usize,
}

impl Llq {
    /// The layout of `llquantize(factor, low, high, nsteps)`. Parameters
    /// that [`super::agg::llquantize`] would reject are clamped (factor at
    /// least 2, nsteps at least 1, high at least low, factor^(high+1)
    /// within 64 bits).
    pub fn new(factor: u16, low: u16, high: u16, nsteps: u16) -> Llq {
        let factor = u64::from(factor.max(2));
        let steps = u64::from(nsteps.max(1));
        // The highest magnitude whose top, factor^(high+1), fits in 64 bits.
        let fits = (0..64u32)
            .take_while(|&e| pow(factor, e + 1) <= u128::from(u64::MAX))
            .last()
            .unwrap_or(0);
        let hmag = u32::from(high.max(low)).min(fits);
        let lmag = u32::from(low).min(hmag);
        let sf = steps / factor;
        let per = steps - sf;
        let ranges = u64::from(hmag - lmag + 1);
        let bin0 = (1 + ranges * per) as usize;
        Llq {
            factor,
            lmag,
            hmag,
            steps,
            sf,
            per,
            bin0,
            nbins: 2 * bin0 + 1,
        }
    }

    fn special(&self) -> bool {
        self.lmag == 0 && self.steps > self.factor
    }

    /// factor^(high+1): the overflow bound.
    fn top(&self) -> u128 {
        pow(self.factor, self.hmag + 1)
    }

    /// The bucket of `v`, as the generated BPF code computes it.
    pub fn bucket(&self, v: i64) -> usize {
        let tmp = u128::from(v.unsigned_abs());
        let mut max = pow(self.factor, self.lmag);
        if tmp < max {
            return self.bin0;
        }
        let mut mag = self.lmag;
        let off = loop {
            max = max.saturating_mul(u128::from(self.factor));
            if tmp < max {
                let steps = u128::from(self.steps);
                let width = max / steps;
                let ind = if mag != 0 && width > 0 {
                    tmp / width
                } else {
                    tmp * steps / max
                };
                let ind = (ind as u64).saturating_sub(self.sf).min(self.per - 1);
                break u64::from(mag - self.lmag) * self.per + ind + 1;
            }
            mag += 1;
            if mag > self.hmag {
                break u64::from(mag - self.lmag) * self.per + 1;
            }
        };
        let off = (off as usize).min(self.bin0);
        if v >= 0 {
            self.bin0 + off
        } else {
            self.bin0 - off
        }
    }

    /// The label magnitude of the bucket `k` places above the middle
    /// (1..=bin0): its least |v|; `None` for a ghost bucket.
    fn label_abs(&self, k: usize) -> Option<u128> {
        let k = k as u64;
        if k == 0 {
            return None;
        }
        if k == 1 {
            return Some(pow(self.factor, self.lmag));
        }
        let (rest, scale) = if self.special() {
            let head = 1 + (self.factor - 1) * self.sf;
            if k <= head {
                return (k - 1)
                    .is_multiple_of(self.sf)
                    .then(|| u128::from((k - 1) / self.sf + 1));
            }
            (k - head, pow(self.factor, 2) / u128::from(self.steps))
        } else {
            (
                k - 1,
                pow(self.factor, self.lmag + 1) / u128::from(self.steps),
            )
        };
        let m = ((rest - 1) / self.per) as u32;
        let step = self.sf + 1 + (rest - 1) % self.per;
        Some(u128::from(step) * scale * pow(self.factor, m))
    }

    /// The least |v| of the bucket `k` places above the middle or of the
    /// first real bucket after it (for a ghost).
    fn lower(&self, k: usize) -> u128 {
        if k >= self.bin0 {
            return self.top();
        }
        (k..self.bin0)
            .find_map(|j| self.label_abs(j))
            .unwrap_or_else(|| self.top())
    }

    /// The least value of each bucket (bucket(v) is the last bucket whose
    /// bound is ≤ v); exact while factor^(high+1) ≤ 2^63.
    pub fn bounds(&self) -> Vec<i64> {
        let clamp = |v: i128| v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        (0..self.nbins)
            .map(|i| {
                if i == 0 {
                    i64::MIN
                } else if i <= self.bin0 {
                    let k = self.bin0 - i;
                    clamp(1 - self.lower(k + 1) as i128)
                } else {
                    clamp(self.lower(i - self.bin0) as i128)
                }
            })
            .collect()
    }

    /// The label of bucket `i`, given the first bucket printed; `None` for
    /// a ghost.
    fn label(&self, i: usize, first: usize) -> Option<String> {
        if i >= self.nbins {
            return None;
        }
        if i == 0 {
            return Some(format!("<= -{}", self.top()));
        }
        if i == self.nbins - 1 {
            return Some(format!(">= {}", self.top()));
        }
        if i == self.bin0 {
            let low = pow(self.factor, self.lmag);
            return Some(if low == 1 {
                "0".to_string()
            } else if first >= self.bin0 {
                format!("< {low}")
            } else {
                format!("abs() < {low}")
            });
        }
        if i > self.bin0 {
            self.label_abs(i - self.bin0).map(|v| v.to_string())
        } else {
            self.label_abs(self.bin0 - i).map(|v| format!("-{v}"))
        }
    }

    /// DTrace's sort weight: each bucket's count times its label (negative
    /// buckets subtracting), then the count of the middle bucket.
    pub fn weight(&self, data: &[i64]) -> (i128, i64) {
        let c = |i: usize| i128::from(data.get(i).copied().unwrap_or(0));
        let mut sum: i128 = 0;
        for k in 1..=self.bin0 {
            let label = if k == self.bin0 {
                Some(self.top())
            } else {
                self.label_abs(k)
            };
            if let Some(v) = label {
                let v = i128::try_from(v).unwrap_or(i128::MAX);
                let net = c(self.bin0 + k) - c(self.bin0 - k);
                sum = sum.saturating_add(net.saturating_mul(v));
            }
        }
        (sum, data.get(self.bin0).copied().unwrap_or(0))
    }
}

/// One row's bar and count: `|@@@@      ` for positive counts, mirrored
/// for negative ones, and two half-width bars around a centre line when
/// both occur.
fn quantline(out: &mut Vec<u8>, val: i64, normal: i64, total: u128, pos: bool, neg: bool) {
    let depth = |len: u128| -> usize {
        if total == 0 {
            return 0;
        }
        // round(|val| * len / total), exactly.
        let d = (2 * u128::from(val.unsigned_abs()) * len + total) / (2 * total);
        d.min(len) as usize
    };
    let count = val.wrapping_div(normal);
    let bar = |n: usize| "@".repeat(n);
    let blank = |n: usize| " ".repeat(n);
    let line = if !neg {
        let d = if pos { depth(40) } else { 0 };
        format!("|{}{} {count:<9}\n", bar(d), blank(40 - d))
    } else if !pos {
        let d = depth(40);
        format!("{}{}| {count:<9}\n", blank(40 - d), bar(d))
    } else {
        let d = depth(20);
        if val <= 0 {
            format!("{}{}|{} {count:<9}\n", blank(20 - d), bar(d), blank(20))
        } else {
            format!("{}|{}{} {count:<9}\n", blank(20), bar(d), blank(20 - d))
        }
    };
    out.extend_from_slice(line.as_bytes());
}

/// The first and last buckets holding data, if any.
fn data_range(data: &[i64]) -> Option<(usize, usize)> {
    let first = data.iter().position(|&c| c != 0)?;
    let last = data.iter().rposition(|&c| c != 0)?;
    Some((first, last))
}

/// Prints rows `first..=last`, with the header, the bars scaled to the
/// counts in that range; rows without a label are skipped.
fn rows(
    out: &mut Vec<u8>,
    data: &[i64],
    range: (usize, usize),
    normal: i64,
    label: impl Fn(usize) -> Option<String>,
) {
    let (first, last) = range;
    let shown = data.get(first..=last).unwrap_or(&[]);
    let total: u128 = shown.iter().map(|&c| u128::from(c.unsigned_abs())).sum();
    let pos = shown.iter().any(|&c| c > 0);
    let neg = shown.iter().any(|&c| c < 0);
    out.extend_from_slice(
        format!(
            "\n{:>16} {:>41} {:<9}\n",
            "value", "------------- Distribution -------------", "count"
        )
        .as_bytes(),
    );
    for (i, &c) in shown.iter().enumerate() {
        if let Some(l) = label(first + i) {
            out.extend_from_slice(format!("{l:>16} ").as_bytes());
            quantline(out, c, normal, total, pos, neg);
        }
    }
}

/// The rows shown: those with data and one on either side.
fn widen(range: Option<(usize, usize)>, n: usize, empty: (usize, usize)) -> (usize, usize) {
    match range {
        None => empty,
        Some((f, l)) => (f.saturating_sub(1), (l + 1).min(n - 1)),
    }
}

/// `quantize()`'s distribution.
pub(crate) fn print_quantize(out: &mut Vec<u8>, data: &[i64], normal: i64) {
    let range = widen(
        data_range(data),
        QUANTIZE_BUCKETS,
        (QUANTIZE_ZERO - 1, QUANTIZE_ZERO + 1),
    );
    rows(out, data, range, normal, |i| {
        Some(quantize_value(i).to_string())
    });
}

/// `lquantize()`'s distribution.
pub(crate) fn print_lquantize(out: &mut Vec<u8>, lq: &Lq, data: &[i64], normal: i64) {
    let range = widen(data_range(data), lq.buckets(), (0, 2));
    rows(out, data, range, normal, |i| Some(lq.label(i)));
}

/// `llquantize()`'s distribution.
pub(crate) fn print_llquantize(out: &mut Vec<u8>, llq: &Llq, data: &[i64], normal: i64) {
    let empty = (llq.bin0, llq.bin0 + 2);
    let (first, last) = widen(data_range(data), llq.nbins, empty);
    // A row at either end may land on a ghost bucket: it borrows the
    // label of the nearest real one outward (within nsteps/factor).
    let pad = if llq.special() { llq.sf as usize } else { 0 };
    let label = |i: usize| -> Option<String> {
        let own = llq.label(i, first);
        if own.is_some() || pad == 0 || (i != first && i != last) {
            return own;
        }
        (1..pad).find_map(|j| {
            let near = if i == first { i.checked_sub(j)? } else { i + j };
            llq.label(near, first)
        })
    };
    rows(out, data, (first, last), normal, label);
}
