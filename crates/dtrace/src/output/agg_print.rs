//! Printing aggregations: the default layout (`printa(@a)`, and what is
//! left at the end of a run) and `printa("format", @a)`.
//!
//! Entries print sorted by value, ascending, ties by key (DTrace's
//! `aggsortkey` sorts by key, `aggsortrev` reverses: [`SortOrder`]).
//! Values sort by what they print: the total, minimum, maximum, average or
//! standard deviation; a histogram by the sum of its counts times their
//! buckets' values, then by its count at zero. Keys compare part by part:
//! integers by size, then as unsigned numbers; strings bytewise.
//!
//! Default layout, one line per entry, each key then the value:
//!
//! - integer keys as DTrace prints records of their size: 8 bytes
//!   ` %16lld`, 4 bytes ` %8d` (signed), 2 bytes ` %5d` and 1 byte ` %3d`
//!   (both unsigned: `(char)-2` prints 254);
//! - string keys `  %-50s` (bytes that are not text print as a hex dump);
//! - stack keys: a newline, then each frame indented 14 columns on its own
//!   line;
//! - `count()`, `sum()`, `min()`, `max()`, `avg()` as ` %16lld`,
//!   `stddev()` as ` %16llu`; a histogram as its distribution.
//!
//! `printa(@a)` prints a newline first. At the end of a run DTrace prints
//! a newline, then every aggregation not printed yet (in the order the
//! program declares them) through [`print_entries`], with no blank line
//! between aggregations.
//!
//! Normalization (`normalize()`): give the factor in [`PrintOptions`];
//! do not divide the values beforehand. DTrace divides the printed
//! numbers, histogram counts included, but sorts and scales the bars by
//! the raw counts. (DTrace divides some of these as unsigned numbers,
//! which garbles negative values; basalt divides them signed.)

use std::cmp::Ordering;

use super::agg::{self, AggKind};
use super::hist;
use super::printf::{AggArg, Arg, Format};
use super::walltime::{LocalTime, Utc};

/// One part of an aggregation key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart<'a> {
    /// An integer: its bits, whether its type is signed, its size in bytes.
    Int { value: u64, signed: bool, size: u8 },
    /// A string: its record, the bytes up to the first NUL being the
    /// string. Pass the whole record with its NUL padding: DTrace prints an
    /// empty string (a record of NULs) as a hex dump, and so does this.
    Str(&'a [u8]),
    /// A stack (`stack()`, `ustack()`): its frames formatted as DTrace
    /// writes them (module, a backquote, function, `+0x` offset), one per
    /// element.
    Lines(Vec<String>),
}

/// One entry of an aggregation: its key and its value, combined over the
/// CPUs ([`AggKind::combine`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub key: Vec<KeyPart<'a>>,
    pub value: Vec<i64>,
}

/// The order entries print in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SortOrder {
    /// By key rather than by value (`aggsortkey`).
    pub by_key: bool,
    /// Descending (`aggsortrev`).
    pub reverse: bool,
}

/// How an aggregation prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrintOptions {
    /// The normalization factor (`normalize()`; 1 when none, 0 taken as 1).
    pub normal: u64,
    pub sort: SortOrder,
}

impl Default for PrintOptions {
    fn default() -> Self {
        PrintOptions {
            normal: 1,
            sort: SortOrder::default(),
        }
    }
}

impl PrintOptions {
    fn divisor(&self) -> i64 {
        i64::try_from(self.normal.max(1)).unwrap_or(i64::MAX)
    }
}

/// Prints one aggregation as `printa(@x)` does: a newline, then its
/// entries sorted (see [`print_entries`]).
pub fn print_aggregation(out: &mut Vec<u8>, kind: &AggKind, entries: &mut [Entry<'_>]) {
    print_aggregation_with(out, kind, entries, &PrintOptions::default());
}

/// [`print_aggregation`] with a normalization factor and a sort order.
pub fn print_aggregation_with(
    out: &mut Vec<u8>,
    kind: &AggKind,
    entries: &mut [Entry<'_>],
    opts: &PrintOptions,
) {
    out.push(b'\n');
    print_entries(out, kind, entries, opts);
}

/// Prints an aggregation's entries, sorted, in the default layout, with no
/// newline before them (what the end of a run prints per aggregation,
/// after one newline for all).
pub fn print_entries(
    out: &mut Vec<u8>,
    kind: &AggKind,
    entries: &mut [Entry<'_>],
    opts: &PrintOptions,
) {
    sort_entries(kind, entries, opts.sort);
    for e in entries.iter() {
        for part in &e.key {
            print_key(out, part);
        }
        print_value(out, kind, &e.value, opts.divisor());
        out.push(b'\n');
    }
}

/// `printa("fmt", @x)`: each entry (sorted) through the format, the keys
/// feeding its conversions in order and `%@` the value (a histogram prints
/// whole where `%@` is). Times in UTC.
pub fn printa(out: &mut Vec<u8>, fmt: &Format, kind: &AggKind, entries: &mut [Entry<'_>]) {
    printa_with(out, fmt, kind, entries, &PrintOptions::default(), &Utc);
}

/// [`printa`] with a normalization factor, a sort order and a time zone.
pub fn printa_with(
    out: &mut Vec<u8>,
    fmt: &Format,
    kind: &AggKind,
    entries: &mut [Entry<'_>],
    opts: &PrintOptions,
    tz: &dyn LocalTime,
) {
    sort_entries(kind, entries, opts.sort);
    let normal = opts.divisor();
    for e in entries.iter() {
        let args: Vec<Arg<'_>> = e
            .key
            .iter()
            .map(|p| match p {
                KeyPart::Int {
                    value,
                    signed,
                    size,
                } => Arg::Int {
                    value: *value,
                    signed: *signed,
                    size: *size,
                },
                KeyPart::Str(s) => Arg::Str(s),
                KeyPart::Lines(l) => Arg::Stack(l),
            })
            .collect();
        let block;
        let agg = if kind.is_histogram() {
            let mut b = Vec::new();
            print_value(&mut b, kind, &e.value, normal);
            block = b;
            AggArg::Block(&block)
        } else {
            AggArg::Scalar(scalar(kind, &e.value, normal))
        };
        fmt.render_impl(out, &args, Some(agg), tz);
    }
}

/// The value `%@` converts: count() is unsigned, the others signed.
fn scalar(kind: &AggKind, v: &[i64], normal: i64) -> Arg<'static> {
    let value = match kind {
        AggKind::Avg => agg::average(v, normal),
        AggKind::Stddev => agg::stddev(v, normal) as i64,
        _ => scalar_word(kind, v).wrapping_div(normal),
    };
    Arg::Int {
        value: value as u64,
        signed: *kind != AggKind::Count,
        size: 8,
    }
}

/// The word holding a count, sum, minimum or maximum.
fn scalar_word(kind: &AggKind, v: &[i64]) -> i64 {
    let i = usize::from(matches!(kind, AggKind::Min | AggKind::Max));
    v.get(i).copied().unwrap_or(0)
}

/// Prints a value in the default layout.
fn print_value(out: &mut Vec<u8>, kind: &AggKind, v: &[i64], normal: i64) {
    // Histogram counts missing from a short value are zeros.
    let mut padded;
    let v = if kind.is_histogram() && v.len() != kind.words() {
        padded = v.to_vec();
        padded.resize(kind.words(), 0);
        &padded[..]
    } else {
        v
    };
    let line = match kind {
        AggKind::Quantize => return hist::print_quantize(out, v, normal),
        AggKind::Lquantize { base, limit, step } => {
            return hist::print_lquantize(out, &hist::Lq::new(*base, *limit, *step), v, normal);
        }
        AggKind::Llquantize {
            factor,
            low,
            high,
            nsteps,
        } => {
            let llq = hist::Llq::new(*factor, *low, *high, *nsteps);
            return hist::print_llquantize(out, &llq, v, normal);
        }
        AggKind::Avg => format!(" {:>16}", agg::average(v, normal)),
        AggKind::Stddev => format!(" {:>16}", agg::stddev(v, normal)),
        _ => format!(" {:>16}", scalar_word(kind, v).wrapping_div(normal)),
    };
    out.extend_from_slice(line.as_bytes());
}

/// Prints one key part in the default layout.
fn print_key(out: &mut Vec<u8>, part: &KeyPart<'_>) {
    match part {
        KeyPart::Int { value, size, .. } => {
            let text = match size {
                1 => format!(" {:>3}", *value as u8),
                2 => format!(" {:>5}", *value as u16),
                4 => format!(" {:>8}", *value as u32 as i32),
                _ => format!(" {:>16}", *value as i64),
            };
            out.extend_from_slice(text.as_bytes());
        }
        KeyPart::Str(s) => print_bytes(out, s),
        KeyPart::Lines(frames) => {
            out.push(b'\n');
            for f in frames {
                out.extend_from_slice(format!("{:14}{f}\n", "").as_bytes());
            }
        }
    }
}

/// Whether C's isprint or isspace holds, or the byte is a backspace or a
/// bell: what DTrace accepts as text.
fn texty(c: u8) -> bool {
    (0x20..=0x7e).contains(&c) || matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x08 | 0x07)
}

/// A byte record as DTrace prints it: text (printable bytes, then only
/// NULs, or no NUL at all) as `  %-50s`, anything else as a hex dump.
pub(crate) fn print_bytes(out: &mut Vec<u8>, s: &[u8]) {
    if s.is_empty() {
        return;
    }
    let text_len = s.iter().position(|&c| !texty(c)).unwrap_or(s.len());
    let is_text = text_len == s.len() || (text_len > 0 && s[text_len..].iter().all(|&c| c == 0));
    if !is_text {
        return print_rawbytes(out, s);
    }
    let text = &s[..text_len];
    out.extend_from_slice(b"  ");
    out.extend_from_slice(text);
    out.resize(out.len() + 50usize.saturating_sub(text.len()), b' ');
}

/// DTrace's hex dump: a header of column offsets, then 16 bytes a line in
/// hex and as characters.
pub(crate) fn print_rawbytes(out: &mut Vec<u8>, s: &[u8]) {
    if s.is_empty() {
        return;
    }
    let mut head = format!("\n{:5}      ", "");
    for c in "0123456789abcdef".chars() {
        head.push_str(&format!("  {c}"));
    }
    head.push_str("  0123456789abcdef\n");
    out.extend_from_slice(head.as_bytes());
    for (n, chunk) in s.chunks(16).enumerate() {
        let mut line = format!("{:5}{:5x}:", "", n * 16);
        for b in chunk {
            line.push_str(&format!(" {b:02x}"));
        }
        line.push_str(&"   ".repeat(16 - chunk.len()));
        line.push_str("  ");
        out.extend_from_slice(line.as_bytes());
        out.extend(
            chunk
                .iter()
                .map(|&b| if (b' '..=b'~').contains(&b) { b } else { b'.' }),
        );
        out.push(b'\n');
    }
}

/// A key part's rank, size and bits for comparing.
fn key_cmp(a: &KeyPart<'_>, b: &KeyPart<'_>) -> Ordering {
    use super::printf::{cstr, zext};
    match (a, b) {
        (
            KeyPart::Int {
                value: va,
                size: sa,
                ..
            },
            KeyPart::Int {
                value: vb,
                size: sb,
                ..
            },
        ) => sa.cmp(sb).then(zext(*va, *sa).cmp(&zext(*vb, *sb))),
        (KeyPart::Str(x), KeyPart::Str(y)) => cstr(x).cmp(cstr(y)),
        (KeyPart::Lines(x), KeyPart::Lines(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn rank(p: &KeyPart<'_>) -> u8 {
    match p {
        KeyPart::Int { .. } => 0,
        KeyPart::Str(_) => 1,
        KeyPart::Lines(_) => 2,
    }
}

fn keys_cmp(a: &Entry<'_>, b: &Entry<'_>) -> Ordering {
    a.key.len().cmp(&b.key.len()).then_with(|| {
        a.key
            .iter()
            .zip(&b.key)
            .map(|(x, y)| key_cmp(x, y))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    })
}

/// Sorts entries in the order DTrace prints them.
pub fn sort_entries(kind: &AggKind, entries: &mut [Entry<'_>], order: SortOrder) {
    entries.sort_by(|a, b| {
        let o = if order.by_key {
            keys_cmp(a, b)
        } else {
            a.key
                .len()
                .cmp(&b.key.len())
                .then_with(|| agg::sort_value(kind, &a.value).cmp(&agg::sort_value(kind, &b.value)))
                .then_with(|| keys_cmp(a, b))
        };
        if order.reverse { o.reverse() } else { o }
    });
}
