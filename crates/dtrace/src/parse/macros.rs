//! Macro arguments and macro variables.
//!
//! `$1`…`$N` are the arguments after a script's name (`$0` is the name
//! itself), `$$1` is an argument as a string, and `$target`, `$pid`, `$uid`
//! … are the macro variables the command defines. DTrace replaces them
//! while lexing, not as a text pass, so that a replaced token keeps its
//! place in the source; the parser does the same ([`MacroEnv`] is handed to
//! it), and positions in errors stay exact.
//!
//! In an expression, `$N` becomes an integer when the argument reads as one
//! (an optional sign and a C constant), an identifier when it reads as one,
//! and otherwise a string (surrounding double quotes removed). `$$N` is
//! always a string. Inside a probe description `pid$target` or `$1` is
//! replaced by the text (see [`expand_in_field`]).
//!
//! [`substitute`] is the same replacement as a text pass, for a caller that
//! wants the expanded source itself.

use std::collections::BTreeMap;

use super::ast::Span;
use super::error::{ParseError, ParseErrorKind};
use super::literal::{is_ident, lex_int};

/// What `$…` references resolve to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MacroEnv {
    /// `$0`, `$1`, …
    args: Vec<String>,
    /// `$target`, `$pid`, … by name without the `$`.
    vars: BTreeMap<String, u64>,
    /// DTrace's `defaultargs` option: an argument not given reads as `0`
    /// (or `""` as `$$N`) instead of failing.
    default_args: bool,
}

impl MacroEnv {
    /// `$0` is `script`, `$1`… are `args` in order.
    pub fn new<I, S>(script: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut all = vec![script.into()];
        all.extend(args.into_iter().map(Into::into));
        MacroEnv {
            args: all,
            ..MacroEnv::default()
        }
    }

    /// Defines macro variable `$name`.
    pub fn with_var(mut self, name: impl Into<String>, value: u64) -> Self {
        self.vars.insert(name.into(), value);
        self
    }

    /// Defines `$target`, the process of `-c` or `-p`.
    pub fn with_target(self, pid: u32) -> Self {
        self.with_var("target", u64::from(pid))
    }

    pub fn with_default_args(mut self, on: bool) -> Self {
        self.default_args = on;
        self
    }

    /// Argument `$n`, if given.
    pub fn arg(&self, n: usize) -> Option<&str> {
        self.args.get(n).map(String::as_str)
    }

    pub fn var(&self, name: &str) -> Option<u64> {
        self.vars.get(name).copied()
    }

    /// Argument `$n` (`name` is the reference as written, for the error),
    /// or the default when `defaultargs` is on: `"0"`, or `""` for `$$n`.
    pub(crate) fn arg_or_default(
        &self,
        n: Option<usize>,
        as_string: bool,
        name: &str,
        span: Span,
    ) -> Result<&str, ParseError> {
        match n.and_then(|n| self.arg(n)) {
            Some(v) => Ok(v),
            None if self.default_args => Ok(if as_string { "" } else { "0" }),
            None => Err(ParseError::new(
                ParseErrorKind::MacroArgUndefined {
                    name: name.to_owned(),
                },
                span,
            )),
        }
    }
}

/// How an argument's text reads in an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ArgValue<'a> {
    /// An integer constant, `negative` for a leading `-`.
    Int {
        text: &'a str,
        negative: bool,
    },
    Ident(&'a str),
    /// A string, surrounding quotes removed, escapes not yet replaced.
    Str(&'a str),
}

pub(crate) fn classify_arg(v: &str) -> ArgValue<'_> {
    let (negative, digits) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    if let Some(Ok((_, n))) = lex_int(digits)
        && n == digits.len()
    {
        return ArgValue::Int {
            text: digits,
            negative,
        };
    }
    if is_ident(v) {
        return ArgValue::Ident(v);
    }
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        return ArgValue::Str(&v[1..v.len() - 1]);
    }
    ArgValue::Str(v)
}

/// Replaces the first `$` reference in one field of a probe description,
/// as DTrace does: from the `$` to the end of the field, `$N…` (or `$$N…`)
/// is argument N followed by the rest of the field, and `$name` is the
/// decimal value of macro variable `name`.
///
/// `Err(())` means the reference is undefined; the caller words the error.
pub(crate) fn expand_in_field(field: &str, env: &MacroEnv) -> Result<String, ()> {
    let Some(dollar) = field.find('$') else {
        return Ok(field.to_owned());
    };
    let (head, mut v) = field.split_at(dollar);
    if v.len() > 2 && v.as_bytes()[1] == b'$' {
        v = &v[1..];
    }
    let rest = &v[1..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let value = if digits > 0 {
        let n: usize = rest[..digits].parse().map_err(|_| ())?;
        let arg = env.arg(n).ok_or(())?;
        format!("{arg}{}", &rest[digits..])
    } else if !rest.is_empty() {
        env.var(rest).ok_or(())?.to_string()
    } else {
        return Err(());
    };
    Ok(format!("{head}{value}"))
}

/// Characters that make up a probe description (and identifiers): a `$`
/// right after one of these is part of that word, as in `pid$1`.
fn in_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-$:_.`?*\\[]!".contains(&c)
}

/// Replaces `$1`… (`args[0]` is `$1`) and `$$1`… in `source` as text,
/// skipping comments, string and character literals.
///
/// Inside a word (`pid$1`, `syscall::$1:entry`) the argument goes in as
/// written; standing alone it goes in as the parser would read it: an
/// integer or identifier as is, anything else as a quoted string; `$$N`
/// always as a quoted string. `$0` and macro variables (`$target`) are left
/// for the parser.
pub fn substitute(source: &str, args: &[String]) -> Result<String, ParseError> {
    let b = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => i = skip_quoted(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = source[i + 2..]
                    .find("*/")
                    .map_or(b.len(), |e| i + 2 + e + 2);
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = source[i..].find('\n').map_or(b.len(), |e| i + e);
            }
            b'$' => {
                let as_string = b.get(i + 1) == Some(&b'$');
                let start = i + 1 + usize::from(as_string);
                let digits = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits == 0 || &source[start..start + digits] == "0" {
                    i = start.max(i + 1);
                    continue;
                }
                let end = start + digits;
                let span = Span::new(i, end);
                let n: Option<usize> = source[start..end].parse().ok();
                let arg = n
                    .and_then(|n| n.checked_sub(1))
                    .and_then(|n| args.get(n))
                    .ok_or_else(|| {
                        ParseError::new(
                            ParseErrorKind::MacroArgUndefined {
                                name: source[i..end].to_owned(),
                            },
                            span,
                        )
                    })?;
                out.push_str(&source[copied..i]);
                let word = i > 0 && in_word(b[i - 1]);
                let quoted = arg.len() >= 2 && arg.starts_with('"') && arg.ends_with('"');
                let reads_as_is = !matches!(classify_arg(arg), ArgValue::Str(_)) || quoted;
                if word || (!as_string && reads_as_is) {
                    out.push_str(arg);
                } else {
                    push_quoted(&mut out, arg);
                }
                i = end;
                copied = end;
            }
            _ => i += 1,
        }
    }
    out.push_str(&source[copied..]);
    Ok(out)
}

/// The index just past the literal opened by the quote at `i` (at the end
/// of its line if it is not closed).
fn skip_quoted(b: &[u8], i: usize) -> usize {
    let q = b[i];
    let mut j = i + 1;
    while j < b.len() && b[j] != b'\n' {
        if b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == q {
            return j + 1;
        }
        j += 1;
    }
    j.min(b.len())
}

fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn classifies_arguments_as_dtrace_reads_them() {
        assert_eq!(
            classify_arg("-12"),
            ArgValue::Int {
                text: "12",
                negative: true
            }
        );
        assert_eq!(
            classify_arg("0x10"),
            ArgValue::Int {
                text: "0x10",
                negative: false
            }
        );
        assert_eq!(classify_arg("bash"), ArgValue::Ident("bash"));
        assert_eq!(classify_arg("\"a b\""), ArgValue::Str("a b"));
        assert_eq!(classify_arg("/tmp/x"), ArgValue::Str("/tmp/x"));
        assert_eq!(classify_arg("09"), ArgValue::Str("09"));
    }

    #[test]
    fn expands_fields_of_descriptions() {
        let env = MacroEnv::new("s.d", ["libc.so.6", "7"]).with_target(4321);
        assert_eq!(expand_in_field("pid$target", &env).unwrap(), "pid4321");
        assert_eq!(expand_in_field("$1", &env).unwrap(), "libc.so.6");
        assert_eq!(expand_in_field("tick-$2s", &env).unwrap(), "tick-7s");
        assert_eq!(expand_in_field("$$1", &env).unwrap(), "libc.so.6");
        assert_eq!(expand_in_field("entry", &env).unwrap(), "entry");
        assert!(expand_in_field("$3", &env).is_err());
        assert!(expand_in_field("pid$nope", &env).is_err());
        assert!(expand_in_field("a$", &env).is_err());
    }

    #[test]
    fn substitutes_text() {
        let a = args(&["123", "bash", "/tmp/a b", "\"q\""]);
        let s = substitute(
            "pid$1:::entry /execname == $$2/ { x = $1; y = $3; z = $4; }",
            &a,
        )
        .unwrap();
        assert_eq!(
            s,
            "pid123:::entry /execname == \"bash\"/ { x = 123; y = \"/tmp/a b\"; z = \"q\"; }"
        );
        // Literals and comments are left alone; $0 and variables too.
        let s = substitute("/* $1 */ \"$1\" '$' $0 $target $2", &a).unwrap();
        assert_eq!(s, "/* $1 */ \"$1\" '$' $0 $target bash");
        let e = substitute("BEGIN { x = $5; }", &a).unwrap_err();
        assert_eq!(e.to_string(), "macro argument $5 is not defined");
        assert_eq!(e.span, Span::new(12, 14));
    }
}
