//! DTrace's `printf()`: a format string parsed once, then rendered for
//! each firing from the traced values.
//!
//! The conversions are DTrace's table, length modifiers included in the
//! name (`%hd`, `%lx`, `%llu`, `%Le` …); a name not in it is an error.
//! What each prints:
//!
//! - `%d %i`: a signed value prints signed, an unsigned one as `%u` does
//!   (DTrace turns the conversion into `u` for unsigned arguments).
//! - `%u %o %x %X %p` (and the `h`/`l`/`ll` forms): the value zero-extended
//!   from its own size; `%p` is `%x` (lowercase hex, no `0x`).
//! - `%hd %ld %lld` …: the value sign-extended from its own size. The
//!   modifier never narrows: the argument's size decides.
//! - `%c %lc %wc`: the low byte. `%C`: the same, escaped as `%S` does.
//! - `%s`: the bytes up to the first NUL. `%S`: the same with C escapes
//!   (`\n`, `\"`, `\ooo` …), and `\0` for the terminating NUL when the
//!   argument carries it (DTrace escapes the whole string record).
//! - `%e %E %f %g %G`: DTrace accepts only floating-point arguments there;
//!   D has none, so basalt converts the integer.
//! - `%a %A`: the address as `0x…` (symbol lookup is the caller's).
//! - `%Y`, `%T`: a nanosecond wall-clock time ([`super::walltime`]).
//! - `%k`: a stack, one frame per line (printa keys).
//! - `%@` (printa only): the aggregation's value; a histogram prints
//!   there whole.
//!
//! Flags `-+ #0'` and `?` (width 16), a width and a precision, either
//! given as `*` (an integer argument, taken before the value). As in
//! DTrace a precision of 0 is dropped, a negative `*` width means `-`, the
//! `'` grouping flag does nothing (the C locale) and `%-05d` keeps the
//! later `0`. Widths and precisions are capped at [`MAX_FIELD`] bytes.

use super::cfmt::{self, Field};
use super::walltime::{self, LocalTime, Utc};
use ArgKind::{Int, Stack as StackArg, Str as StrArg};
use Render as R;

/// The widest field (and largest precision) rendered; larger ones are
/// capped. DTrace's own tests print 10,000,000-byte fields.
pub const MAX_FIELD: usize = 1 << 24;

/// A format string DTrace would reject, with DTrace's message
/// (`format conversion #1 is undefined: %q`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

/// What an argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// An integer (or pointer) of any size.
    Int,
    /// A string or char array.
    Str,
    /// A stack (`stack()`, `ustack()`), for `%k`.
    Stack,
}

/// Which part of a conversion an argument feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgRole {
    /// A `*` width.
    Width,
    /// A `.*` precision.
    Precision,
    /// The value converted.
    Value,
}

/// One argument a format takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// The conversion's position among the format's conversions, from 0
    /// (`%%` counts); DTrace's messages say `conversion #N` with N one more.
    pub index_in_format: usize,
    /// DTrace's name of the conversion, modifiers included: `d`, `hd`,
    /// `llx`, `s`, `Y` …
    pub name: &'static str,
    /// The conversion character (the last one of `name`).
    pub conv: char,
    /// What the argument must be.
    pub kind: ArgKind,
    /// What the argument is for.
    pub role: ArgRole,
}

/// A traced value handed to [`Format::render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg<'a> {
    /// An integer: its bits (only the low `size` bytes count), whether its
    /// D type is signed, and its size in bytes (1, 2, 4 or 8).
    Int { value: u64, signed: bool, size: u8 },
    /// A string: the bytes up to the first NUL are the string.
    Str(&'a [u8]),
    /// A stack: one formatted frame per element.
    Stack(&'a [String]),
}

/// How a conversion turns its argument into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Render {
    Signed,
    Unsigned,
    /// `%d`/`%i`: signed or unsigned as the argument is.
    ByArgSign,
    Char,
    EscChar,
    Float,
    Str,
    EscStr,
    Addr,
    Stack,
    Time,
    Time822,
    Percent,
}

/// One entry of DTrace's conversion table.
#[derive(PartialEq, Eq)]
struct Def {
    name: &'static str,
    /// The C conversion it becomes (`p` prints as `x`).
    out: u8,
    kind: ArgKind,
    render: Render,
}

const fn def(name: &'static str, out: u8, kind: ArgKind, render: Render) -> Def {
    Def {
        name,
        out,
        kind,
        render,
    }
}

static DEFS: &[Def] = &[
    def("a", b's', Int, R::Addr),
    def("A", b's', Int, R::Addr),
    def("c", b'c', Int, R::Char),
    def("C", b's', Int, R::EscChar),
    def("d", b'd', Int, R::ByArgSign),
    def("e", b'e', Int, R::Float),
    def("E", b'E', Int, R::Float),
    def("f", b'f', Int, R::Float),
    def("g", b'g', Int, R::Float),
    def("G", b'G', Int, R::Float),
    def("hd", b'd', Int, R::Signed),
    def("hi", b'd', Int, R::Signed),
    def("ho", b'o', Int, R::Unsigned),
    def("hu", b'u', Int, R::Unsigned),
    def("hx", b'x', Int, R::Unsigned),
    def("hX", b'X', Int, R::Unsigned),
    def("i", b'd', Int, R::ByArgSign),
    def("k", b's', StackArg, R::Stack),
    def("lc", b'c', Int, R::Char),
    def("ld", b'd', Int, R::Signed),
    def("li", b'd', Int, R::Signed),
    def("lo", b'o', Int, R::Unsigned),
    def("lu", b'u', Int, R::Unsigned),
    def("ls", b's', StrArg, R::Str),
    def("lx", b'x', Int, R::Unsigned),
    def("lX", b'X', Int, R::Unsigned),
    def("lld", b'd', Int, R::Signed),
    def("lli", b'd', Int, R::Signed),
    def("llo", b'o', Int, R::Unsigned),
    def("llu", b'u', Int, R::Unsigned),
    def("llx", b'x', Int, R::Unsigned),
    def("llX", b'X', Int, R::Unsigned),
    def("Le", b'e', Int, R::Float),
    def("LE", b'E', Int, R::Float),
    def("Lf", b'f', Int, R::Float),
    def("Lg", b'g', Int, R::Float),
    def("LG", b'G', Int, R::Float),
    def("o", b'o', Int, R::Unsigned),
    def("p", b'x', Int, R::Unsigned),
    def("s", b's', StrArg, R::Str),
    def("S", b's', StrArg, R::EscStr),
    def("T", b's', Int, R::Time822),
    def("u", b'u', Int, R::Unsigned),
    def("wc", b'c', Int, R::Char),
    def("ws", b's', StrArg, R::Str),
    def("x", b'x', Int, R::Unsigned),
    def("X", b'X', Int, R::Unsigned),
    def("Y", b's', Int, R::Time),
    def("%", b'%', Int, R::Percent),
];

/// One parsed conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Spec {
    /// Position among the conversions, from 0.
    index: usize,
    def: &'static Def,
    alt: bool,
    zpad: bool,
    left: bool,
    plus: bool,
    space: bool,
    agg: bool,
    width: usize,
    prec: usize,
    dyn_width: bool,
    dyn_prec: bool,
}

impl std::fmt::Debug for Def {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "%{}", self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Lit(Vec<u8>),
    Conv(Spec),
}

/// A parsed `printf()`/`printa()` format string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
}

/// The value printa's `%@` prints: a scalar converted like any argument,
/// or a histogram already rendered.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AggArg<'a> {
    Scalar(Arg<'a>),
    Block(&'a [u8]),
}

fn err(msg: String) -> FormatError {
    FormatError(msg)
}

impl Format {
    /// Parses a format string (its bytes after escape processing; a NUL
    /// ends it, as in C).
    pub fn parse(fmt: &[u8]) -> Result<Format, FormatError> {
        let fmt = match fmt.iter().position(|&b| b == 0) {
            Some(n) => &fmt[..n],
            None => fmt,
        };
        let mut pieces = Vec::new();
        let mut lit = Vec::new();
        let mut i = 0;
        let mut index = 0;
        while i < fmt.len() {
            if fmt[i] != b'%' {
                lit.push(fmt[i]);
                i += 1;
                continue;
            }
            if !lit.is_empty() {
                pieces.push(Piece::Lit(std::mem::take(&mut lit)));
            }
            let (spec, next) = parse_spec(fmt, i, index)?;
            pieces.push(Piece::Conv(spec));
            index += 1;
            i = next;
        }
        if !lit.is_empty() {
            pieces.push(Piece::Lit(lit));
        }
        Ok(Format { pieces })
    }

    fn specs(&self) -> impl Iterator<Item = &Spec> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Conv(s) => Some(s),
            Piece::Lit(_) => None,
        })
    }

    /// Whether the format is empty (DTrace rejects an empty format).
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// The arguments the format takes, in order: for each conversion a `*`
    /// width, then a `.*` precision, then the value (none for `%%`, and
    /// none for `%@`, whose value is the aggregation's). For `printa()`
    /// these are the conversions the keys feed, in key order.
    pub fn args(&self) -> Vec<Conversion> {
        let mut v = Vec::new();
        for s in self.specs() {
            if s.def.render == R::Percent {
                continue;
            }
            let conv = |kind, role| Conversion {
                index_in_format: s.index,
                name: s.def.name,
                conv: s.def.name.chars().last().unwrap_or('%'),
                kind,
                role,
            };
            if s.dyn_width {
                v.push(conv(ArgKind::Int, ArgRole::Width));
            }
            if s.dyn_prec {
                v.push(conv(ArgKind::Int, ArgRole::Precision));
            }
            if !s.agg {
                v.push(conv(s.def.kind, ArgRole::Value));
            }
        }
        v
    }

    /// Whether the format has a `%@` conversion (printa's value).
    pub fn has_agg_value(&self) -> bool {
        self.specs().any(|s| s.agg)
    }

    /// Checks the number of arguments of a call against the format, with
    /// DTrace's messages: `func` is the action (`printf`, `printa` …),
    /// `nargs` the arguments after the format (for printa, the keys), and
    /// `aggregation` whether the call is printa (which allows `%@`, and
    /// ignores keys the format does not use). Types are the caller's to
    /// check against [`Format::args`].
    pub fn check_args(
        &self,
        func: &str,
        nargs: usize,
        aggregation: bool,
    ) -> Result<(), FormatError> {
        if self.is_empty() {
            return Err(err(format!("{func}( ) format string is empty")));
        }
        let mut used = 0;
        for s in self.specs() {
            if s.def.render == R::Percent {
                continue;
            }
            let n = s.index + 1;
            let name = s.def.name;
            for (dynamic, what) in [(s.dyn_width, "*"), (s.dyn_prec, ".*")] {
                if !dynamic {
                    continue;
                }
                if used >= nargs {
                    return Err(err(format!(
                        "{func}( ) prototype mismatch: conversion #{n} (%{name}) is missing a corresponding \"{what}\" argument"
                    )));
                }
                used += 1;
            }
            if s.agg {
                if !aggregation {
                    return Err(err(format!(
                        "%@ conversion requires an aggregation and is not for use with {func}( )"
                    )));
                }
            } else {
                if used >= nargs {
                    return Err(err(format!(
                        "{func}( ) prototype mismatch: conversion #{n} (%{name}) is missing a corresponding value argument"
                    )));
                }
                used += 1;
            }
        }
        if !aggregation && nargs > used {
            return Err(err(format!(
                "{func}( ) prototype mismatch: only {used} arguments required by this format string"
            )));
        }
        Ok(())
    }

    /// Renders the format with `args` (in the order of [`Format::args`]),
    /// times in UTC. A missing argument prints nothing; an argument of the
    /// wrong kind prints as best it can.
    pub fn render(&self, out: &mut Vec<u8>, args: &[Arg<'_>]) {
        self.render_impl(out, args, None, &Utc);
    }

    /// [`Format::render`] with `%Y` and `%T` in the given time zone.
    pub fn render_local(&self, out: &mut Vec<u8>, args: &[Arg<'_>], tz: &dyn LocalTime) {
        self.render_impl(out, args, None, tz);
    }

    pub(crate) fn render_impl(
        &self,
        out: &mut Vec<u8>,
        args: &[Arg<'_>],
        agg: Option<AggArg<'_>>,
        tz: &dyn LocalTime,
    ) {
        let mut next = args.iter();
        for piece in &self.pieces {
            let s = match piece {
                Piece::Lit(l) => {
                    out.extend_from_slice(l);
                    continue;
                }
                Piece::Conv(s) => s,
            };
            if s.def.render == R::Percent {
                out.push(b'%');
                continue;
            }
            let width = if s.dyn_width {
                dyn_int(next.next())
            } else {
                s.width as i64
            };
            let prec = if s.dyn_prec {
                dyn_int(next.next())
            } else {
                s.prec as i64
            };
            let value = if s.agg {
                match agg {
                    Some(AggArg::Scalar(a)) => Some(a),
                    Some(AggArg::Block(b)) => {
                        out.extend_from_slice(b);
                        continue;
                    }
                    None => None,
                }
            } else {
                next.next().copied()
            };
            let Some(value) = value else { continue };
            render_one(out, s, width, prec, &value, tz);
        }
    }
}

/// One conversion being read, flag by flag.
struct SpecReader<'f> {
    fmt: &'f [u8],
    /// The index of the character being read.
    p: usize,
    spec: Spec,
    /// The conversion's name so far: length modifiers, then its letter.
    name: Vec<u8>,
    /// Whether a `.` was read (digits are then the precision).
    dot: bool,
    /// Numbers read since the start or the `.`.
    digits: u32,
}

/// Parses the conversion whose `%` is at `at`; returns it and the index
/// after it.
fn parse_spec(fmt: &[u8], at: usize, index: usize) -> Result<(Spec, usize), FormatError> {
    let mut r = SpecReader {
        fmt,
        p: at,
        spec: Spec {
            index,
            def: &DEFS[0],
            alt: false,
            zpad: false,
            left: false,
            plus: false,
            space: false,
            agg: false,
            width: 0,
            prec: 0,
            dyn_width: false,
            dyn_prec: false,
        },
        name: Vec::new(),
        dot: false,
        digits: 0,
    };
    loop {
        r.p += 1;
        let Some(&c) = fmt.get(r.p) else {
            return Err(r.error("name expected before end of format string"));
        };
        if r.read(c)? {
            break;
        }
    }
    match DEFS.iter().find(|d| d.name.as_bytes() == r.name.as_slice()) {
        Some(d) => r.spec.def = d,
        None => {
            let msg = format!("is undefined: %{}", String::from_utf8_lossy(&r.name));
            return Err(r.error(&msg));
        }
    }
    Ok((r.spec, r.p + 1))
}

impl SpecReader<'_> {
    fn error(&self, what: &str) -> FormatError {
        err(format!("format conversion #{} {what}", self.spec.index + 1))
    }

    /// Reads one character; true when it ends the conversion.
    fn read(&mut self, c: u8) -> Result<bool, FormatError> {
        let s = &mut self.spec;
        match c {
            b'0' if !self.dot && self.digits == 0 => {
                s.zpad = true;
                s.left = false;
            }
            b'0'..=b'9' => self.number(),
            b'#' => s.alt = true,
            b'*' => self.star()?,
            b'+' => s.plus = true,
            b'-' => {
                s.left = true;
                s.zpad = false;
            }
            b'.' if self.dot => return Err(self.error("has more than one '.' specified")),
            b'.' => {
                self.dot = true;
                self.digits = 0;
            }
            b'?' => s.width = 16,
            b'@' => s.agg = true,
            b'\'' => {}
            b' ' => s.space = true,
            b'$' => return Err(self.error("uses unsupported positional format (%n$)")),
            b'%' if self.fmt[self.p - 1] == b'%' => {
                self.name.push(c);
                return Ok(true);
            }
            b'%' => {
                return Err(self.error("cannot be combined with other format flags: %%"));
            }
            b'h' | b'l' | b'L' | b'w' => {
                if self.name.len() < 6 {
                    self.name.push(c);
                }
            }
            _ => {
                self.name.push(c);
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A width, or a precision after the `.`.
    fn number(&mut self) {
        let mut v: usize = 0;
        while let Some(&d @ b'0'..=b'9') = self.fmt.get(self.p) {
            v = (v * 10 + usize::from(d - b'0')).min(MAX_FIELD);
            self.p += 1;
        }
        self.p -= 1;
        if self.dot {
            self.spec.prec = v;
        } else {
            self.spec.width = v;
        }
        self.digits += 1;
    }

    /// A `*`: the width, or the precision after the `.`, is an argument.
    fn star(&mut self) -> Result<(), FormatError> {
        let (taken, what) = if self.dot {
            (self.spec.dyn_prec, "precision")
        } else {
            (self.spec.dyn_width, "width")
        };
        if taken {
            let msg = format!("has more than one '*' specified for the output {what}");
            return Err(self.error(&msg));
        }
        if self.dot {
            self.spec.dyn_prec = true;
        } else {
            self.spec.dyn_width = true;
        }
        Ok(())
    }
}

/// A `*` argument as DTrace reads it: sign-extended from its size, then
/// truncated to a C int.
fn dyn_int(a: Option<&Arg<'_>>) -> i64 {
    match a {
        Some(&Arg::Int { value, size, .. }) => i64::from(sext(value, size) as i32),
        _ => 0,
    }
}

/// The value sign-extended from its size.
pub(crate) fn sext(value: u64, size: u8) -> i64 {
    match size {
        1 => i64::from(value as u8 as i8),
        2 => i64::from(value as u16 as i16),
        4 => i64::from(value as u32 as i32),
        _ => value as i64,
    }
}

/// The value zero-extended from its size.
pub(crate) fn zext(value: u64, size: u8) -> u64 {
    match size {
        1 => u64::from(value as u8),
        2 => u64::from(value as u16),
        4 => u64::from(value as u32),
        _ => value,
    }
}

/// The bytes of a string argument up to its first NUL.
pub(crate) fn cstr(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

/// Renders one conversion's value.
fn render_one(
    out: &mut Vec<u8>,
    s: &Spec,
    width: i64,
    prec: i64,
    value: &Arg<'_>,
    tz: &dyn LocalTime,
) {
    let f = Field {
        left: s.left || width < 0,
        zero: s.zpad,
        plus: s.plus,
        space: s.space,
        alt: s.alt,
        width: (width.unsigned_abs() as usize).min(MAX_FIELD),
        prec: (prec > 0).then(|| (prec as usize).min(MAX_FIELD)),
    };
    match *value {
        Arg::Stack(frames) if s.def.render == R::Stack => stack(out, s, width, &f, frames),
        Arg::Stack(frames) => cfmt::put_str(out, &f, frames.join("\n").as_bytes()),
        Arg::Str(b) if s.def.render == R::EscStr => cfmt::put_str(out, &f, &cfmt::escape(b)),
        Arg::Str(b) => cfmt::put_str(out, &f, cstr(b)),
        Arg::Int {
            value,
            signed,
            size,
        } => render_int(out, s.def, &f, value, size, signed, tz),
    }
}

/// Renders an integer argument through a conversion.
fn render_int(
    out: &mut Vec<u8>,
    def: &Def,
    f: &Field,
    v: u64,
    size: u8,
    signed: bool,
    tz: &dyn LocalTime,
) {
    let conv = def.out;
    match def.render {
        R::Signed => cfmt::put_signed(out, f, sext(v, size)),
        R::ByArgSign if signed => cfmt::put_signed(out, f, sext(v, size)),
        R::ByArgSign => cfmt::put_unsigned(out, f, zext(v, size), b'u'),
        R::Unsigned => cfmt::put_unsigned(out, f, zext(v, size), conv),
        R::Char => cfmt::put_char(out, f, v as u8),
        R::EscChar => cfmt::put_str(out, f, &cfmt::escape(&[v as u8])),
        R::Float => {
            let x = if signed {
                sext(v, size) as f64
            } else {
                zext(v, size) as f64
            };
            cfmt::put_float(out, f, x, conv);
        }
        R::Addr => cfmt::put_str(out, f, format!("0x{:x}", zext(v, size)).as_bytes()),
        R::Time => cfmt::put_str(out, f, walltime::ctime_y(zext(v, size), tz).as_bytes()),
        R::Time822 => cfmt::put_str(out, f, walltime::rfc822(zext(v, size), tz).as_bytes()),
        R::Str | R::EscStr | R::Stack => {
            let text = if signed {
                sext(v, size).to_string()
            } else {
                zext(v, size).to_string()
            };
            cfmt::put_str(out, f, text.as_bytes());
        }
        R::Percent => out.push(b'%'),
    }
}

/// `%k`: a newline, then each frame on its own line. With `-` the width
/// is the frames' indentation (and not their field width); a negative `*`
/// width is both.
fn stack(out: &mut Vec<u8>, s: &Spec, width: i64, f: &Field, frames: &[String]) {
    let indent = if width < 0 || s.left { f.width } else { 0 };
    let field = Field {
        width: if s.left { 0 } else { f.width },
        ..*f
    };
    out.push(b'\n');
    for frame in frames {
        out.resize(out.len() + indent, b' ');
        cfmt::put_str(out, &field, frame.as_bytes());
        out.push(b'\n');
    }
}
