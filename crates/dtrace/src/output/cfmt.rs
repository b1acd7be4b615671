//! One printf(3) field, formatted as the C library of a Linux DTrace does
//! in the C locale: integers in a radix, floating point in `e`/`f`/`g`
//! style, strings and characters, each padded to a width.
//!
//! DTrace hands every conversion to the C library after building a format
//! such as `%-#12.5llx`; this module is that last step, written out so that
//! the output is the same bytes without calling into C.

/// The flags, width and precision of one conversion.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Field {
    /// `-`: pad on the right.
    pub left: bool,
    /// `0`: pad numbers with zeros (ignored with `-`, and for integers when a
    /// precision is given).
    pub zero: bool,
    /// `+`: a sign on non-negative signed numbers.
    pub plus: bool,
    /// ` `: a space before non-negative signed numbers (when no `+`).
    pub space: bool,
    /// `#`: `0x` before hex, a leading `0` on octal, a decimal point always.
    pub alt: bool,
    /// Minimum width in bytes.
    pub width: usize,
    /// Precision, if any.
    pub prec: Option<usize>,
}

/// Writes `len` bytes' worth of `byte`.
fn fill(out: &mut Vec<u8>, byte: u8, len: usize) {
    out.resize(out.len() + len, byte);
}

/// A string (`%s`): at most `prec` bytes of it, padded with spaces.
pub(crate) fn put_str(out: &mut Vec<u8>, f: &Field, s: &[u8]) {
    let s = match f.prec {
        Some(p) if p < s.len() => &s[..p],
        _ => s,
    };
    let pad = f.width.saturating_sub(s.len());
    if !f.left {
        fill(out, b' ', pad);
    }
    out.extend_from_slice(s);
    if f.left {
        fill(out, b' ', pad);
    }
}

/// A character (`%c`): the byte, padded with spaces.
pub(crate) fn put_char(out: &mut Vec<u8>, f: &Field, c: u8) {
    let plain = Field { prec: None, ..*f };
    put_str(out, &plain, &[c]);
}

/// Sign, prefix and digits laid out in a field: zeros go between the
/// prefix and the digits when `zero` applies, spaces outside otherwise.
fn put_number(out: &mut Vec<u8>, f: &Field, zero: bool, sign: &[u8], prefix: &[u8], body: &[u8]) {
    let len = sign.len() + prefix.len() + body.len();
    let pad = f.width.saturating_sub(len);
    if f.left {
        out.extend_from_slice(sign);
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
        fill(out, b' ', pad);
    } else if zero {
        out.extend_from_slice(sign);
        out.extend_from_slice(prefix);
        fill(out, b'0', pad);
        out.extend_from_slice(body);
    } else {
        fill(out, b' ', pad);
        out.extend_from_slice(sign);
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
    }
}

/// The digits of `v` in `radix` (8, 10 or 16), lower or upper case.
fn digits(mut v: u64, radix: u64, upper: bool) -> Vec<u8> {
    let set: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut d = Vec::with_capacity(22);
    loop {
        // The remainder is below 16: the index is in range.
        d.push(set[(v % radix) as usize]);
        v /= radix;
        if v == 0 {
            break;
        }
    }
    d.reverse();
    d
}

/// Zero-extends `d` on the left to `prec` digits.
fn with_precision(d: Vec<u8>, prec: Option<usize>) -> Vec<u8> {
    match prec {
        Some(p) if p > d.len() => {
            let mut v = vec![b'0'; p - d.len()];
            v.extend_from_slice(&d);
            v
        }
        Some(0) if d == b"0" => Vec::new(),
        _ => d,
    }
}

/// A signed decimal (`%d`, `%i`).
pub(crate) fn put_signed(out: &mut Vec<u8>, f: &Field, v: i64) {
    let sign: &[u8] = if v < 0 {
        b"-"
    } else if f.plus {
        b"+"
    } else if f.space {
        b" "
    } else {
        b""
    };
    let body = with_precision(digits(v.unsigned_abs(), 10, false), f.prec);
    put_number(out, f, f.zero && f.prec.is_none(), sign, b"", &body);
}

/// An unsigned number: `conv` is `u`, `o`, `x` or `X`.
pub(crate) fn put_unsigned(out: &mut Vec<u8>, f: &Field, v: u64, conv: u8) {
    let (radix, upper) = match conv {
        b'o' => (8, false),
        b'x' => (16, false),
        b'X' => (16, true),
        _ => (10, false),
    };
    let mut body = with_precision(digits(v, radix, upper), f.prec);
    let mut prefix: &[u8] = b"";
    if f.alt {
        match conv {
            b'o' if body.first() != Some(&b'0') => body.insert(0, b'0'),
            b'x' if v != 0 => prefix = b"0x",
            b'X' if v != 0 => prefix = b"0X",
            _ => {}
        }
    }
    put_number(out, f, f.zero && f.prec.is_none(), b"", prefix, &body);
}

/// A floating-point number: `conv` is one of `e E f F g G`.
pub(crate) fn put_float(out: &mut Vec<u8>, f: &Field, v: f64, conv: u8) {
    let upper = conv.is_ascii_uppercase();
    let sign: &[u8] = if v.is_sign_negative() && !v.is_nan() {
        b"-"
    } else if f.plus {
        b"+"
    } else if f.space {
        b" "
    } else {
        b""
    };
    if !v.is_finite() {
        let word: &[u8] = match (v.is_nan(), upper) {
            (true, false) => b"nan",
            (true, true) => b"NAN",
            (false, false) => b"inf",
            (false, true) => b"INF",
        };
        put_number(out, f, false, sign, b"", word);
        return;
    }
    let a = v.abs();
    let prec = f.prec.unwrap_or(6);
    let mut body = match conv.to_ascii_lowercase() {
        b'e' => exp_style(a, prec, f.alt),
        b'g' => general_style(a, prec, f.alt),
        _ => fixed_style(a, prec, f.alt),
    };
    if upper {
        body.make_ascii_uppercase();
    }
    put_number(out, f, f.zero, sign, b"", &body);
}

/// The most digits a double's exact decimal expansion has after the
/// point (1074) or in all (767), rounded up: digits past it are zeros,
/// which saves asking the formatter for more than it takes.
const EXACT_DIGITS: usize = 1100;

/// `%f`: `prec` digits after the point.
fn fixed_style(a: f64, prec: usize, alt: bool) -> Vec<u8> {
    let p = prec.min(EXACT_DIGITS);
    let mut s = format!("{a:.p$}").into_bytes();
    s.resize(s.len() + (prec - p), b'0');
    if alt && prec == 0 {
        s.push(b'.');
    }
    s
}

/// `%e`: one digit, the point, `prec` digits, `e`, a sign and at least two
/// exponent digits.
fn exp_style(a: f64, prec: usize, alt: bool) -> Vec<u8> {
    let p = prec.min(EXACT_DIGITS);
    let s = format!("{a:.p$e}");
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut out = mant.as_bytes().to_vec();
    out.resize(out.len() + (prec - p), b'0');
    if alt && prec == 0 {
        out.push(b'.');
    }
    out.push(b'e');
    out.push(if exp < 0 { b'-' } else { b'+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push(b'0');
    }
    out.extend_from_slice(e.to_string().as_bytes());
    out
}

/// `%g`: `%e` or `%f` style, whichever C picks for the exponent, with
/// trailing zeros removed unless `#`.
fn general_style(a: f64, prec: usize, alt: bool) -> Vec<u8> {
    let p = prec.max(1);
    let probe = format!("{a:.prec$e}", prec = (p - 1).min(EXACT_DIGITS));
    let x: i64 = probe
        .split_once('e')
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let mut s = if (p as i64) > x && x >= -4 {
        // The exponent is below the precision: the difference fits.
        fixed_style(a, (p as i64 - 1 - x) as usize, alt)
    } else {
        exp_style(a, p - 1, alt)
    };
    if !alt {
        strip_zeros(&mut s);
    }
    s
}

/// Removes the trailing zeros of the fraction, and the point if nothing is
/// left after it.
fn strip_zeros(s: &mut Vec<u8>) {
    let exp_at = s.iter().position(|&c| c == b'e').unwrap_or(s.len());
    let (mant, exp) = s.split_at(exp_at);
    if !mant.contains(&b'.') {
        return;
    }
    let mut end = mant.len();
    while end > 0 && mant[end - 1] == b'0' {
        end -= 1;
    }
    if end > 0 && mant[end - 1] == b'.' {
        end -= 1;
    }
    let mut v = mant[..end].to_vec();
    v.extend_from_slice(exp);
    *s = v;
}

/// A copy of `s` with unprintable and special characters written as C
/// escapes (`\n`, `\"`, `\\`, `\033` …), up to and including the first NUL,
/// which is written `\0`; DTrace's `%S` and `%C`.
pub(crate) fn escape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        let esc = match c {
            0 => Some(b'0'),
            0x07 => Some(b'a'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            0x0b => Some(b'v'),
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            _ => None,
        };
        match esc {
            Some(e) => out.extend_from_slice(&[b'\\', e]),
            None if c == b' ' || (b'!'..=b'~').contains(&c) => out.push(c),
            None => out.extend_from_slice(&[
                b'\\',
                b'0' + ((c >> 6) & 3),
                b'0' + ((c >> 3) & 7),
                b'0' + (c & 7),
            ]),
        }
        if c == 0 {
            break;
        }
    }
    out
}
