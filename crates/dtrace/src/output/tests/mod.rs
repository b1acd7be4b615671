//! Unit tests of DTrace's output. Each expected string is taken from
//! DTrace for Linux's test suite (`test/unittest/**/*.r`, cited by file),
//! or, where that suite has no expected file, from the C library printing
//! the same format.

use super::*;

mod aggprint;
mod hist;
mod layout;
mod printf;
mod trace;

/// A signed integer argument of `size` bytes.
fn int(v: i64, size: u8) -> Arg<'static> {
    Arg::Int {
        value: v as u64,
        signed: true,
        size,
    }
}

/// An unsigned integer argument of `size` bytes.
fn uint(v: u64, size: u8) -> Arg<'static> {
    Arg::Int {
        value: v,
        signed: false,
        size,
    }
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// printf(fmt, args...) as text.
fn pf(fmt: &str, args: &[Arg<'_>]) -> String {
    let f = Format::parse(fmt.as_bytes()).unwrap_or_else(|e| panic!("{fmt}: {e}"));
    let mut out = Vec::new();
    f.render(&mut out, args);
    text(&out)
}

/// A histogram's counts after adding each `(value, increment)`.
fn fill(kind: &AggKind, adds: &[(i64, i64)]) -> Vec<i64> {
    let mut data = vec![0i64; kind.words()];
    for &(v, incr) in adds {
        let b = kind.bucket(v).expect("a histogram");
        data[b] += incr;
    }
    data
}

/// `printa(@a)` of an unkeyed aggregation holding `value`.
fn printa_one(kind: &AggKind, value: Vec<i64>) -> String {
    let mut entries = vec![Entry { key: vec![], value }];
    let mut out = Vec::new();
    print_aggregation(&mut out, kind, &mut entries);
    text(&out)
}
