//! Probe descriptions: `provider:module:function:name` from one lexed unit.
//!
//! Fields fill from the right, as in DTrace: `BEGIN` is the name alone,
//! `read:entry` is function and name, `syscall::read:entry` is all four.
//! `dtrace -P/-m/-f` give a description whose rightmost field is the
//! provider, module or function instead ([`FieldLevel`]). More fields than
//! the level allows is DTrace's `Overspecified probe description`; a `$`
//! reference that does not resolve is its `Undefined macro variable in
//! probe description`. Wildcards (`*`, `?`, `[…]`, `\`) stay in the fields
//! for the matcher.

use super::ast::{ProbeSpec, Span};
use super::error::{ParseError, ParseErrorKind};
use super::macros::{MacroEnv, expand_in_field};

/// The rightmost field a description gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldLevel {
    /// `dtrace -P`
    Provider,
    /// `dtrace -m`
    Module,
    /// `dtrace -f`
    Function,
    /// `dtrace -n` and scripts.
    Name,
}

impl FieldLevel {
    fn count(self) -> usize {
        match self {
            FieldLevel::Provider => 1,
            FieldLevel::Module => 2,
            FieldLevel::Function => 3,
            FieldLevel::Name => 4,
        }
    }
}

/// Splits `text` (the description as written, at `span`) into its fields,
/// replacing macro references.
pub fn split_description(
    text: &str,
    span: Span,
    level: FieldLevel,
    env: &MacroEnv,
) -> Result<ProbeSpec, ParseError> {
    let invalid = |reason: &str| {
        ParseError::new(
            ParseErrorKind::ProbeDescription {
                desc: text.to_owned(),
                reason: reason.to_owned(),
            },
            span,
        )
    };
    let given: Vec<&str> = text.split(':').collect();
    if given.len() > level.count() {
        return Err(invalid("Overspecified probe description"));
    }
    let mut fields: [String; 4] = Default::default();
    let first = level.count() - given.len();
    for (slot, field) in fields[first..level.count()].iter_mut().zip(&given) {
        *slot = expand_in_field(field, env)
            .map_err(|()| invalid("Undefined macro variable in probe description"))?;
    }
    let [provider, module, function, name] = fields;
    Ok(ProbeSpec {
        raw: text.to_owned(),
        provider,
        module,
        function,
        name,
        span,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(text: &str, level: FieldLevel) -> [String; 4] {
        let env = MacroEnv::new("x", ["libc.so.6"]).with_target(77);
        let p = split_description(text, Span::new(0, text.len()), level, &env).unwrap();
        assert_eq!(p.raw, text);
        [p.provider, p.module, p.function, p.name]
    }

    fn s(a: [&str; 4]) -> [String; 4] {
        a.map(str::to_owned)
    }

    #[test]
    fn fields_fill_from_the_right() {
        use FieldLevel::*;
        assert_eq!(parts("BEGIN", Name), s(["", "", "", "BEGIN"]));
        assert_eq!(parts("profile-997", Name), s(["", "", "", "profile-997"]));
        assert_eq!(parts("read:entry", Name), s(["", "", "read", "entry"]));
        assert_eq!(parts("a:b:c", Name), s(["", "a", "b", "c"]));
        assert_eq!(
            parts("syscall::open*:entry", Name),
            s(["syscall", "", "open*", "entry"])
        );
        assert_eq!(parts("fbt::foo:", Name), s(["fbt", "", "foo", ""]));
        assert_eq!(parts(":::", Name), s(["", "", "", ""]));
        assert_eq!(parts("syscall", Provider), s(["syscall", "", "", ""]));
        assert_eq!(parts("libc.so.6", Module), s(["", "libc.so.6", "", ""]));
        assert_eq!(
            parts("pid1:libc.so.6", Module),
            s(["pid1", "libc.so.6", "", ""])
        );
        assert_eq!(parts("malloc", Function), s(["", "", "malloc", ""]));
    }

    #[test]
    fn macros_in_fields() {
        assert_eq!(
            parts("pid$target:$1:malloc:entry", FieldLevel::Name),
            s(["pid77", "libc.so.6", "malloc", "entry"])
        );
    }

    #[test]
    fn errors_in_dtrace_words() {
        let env = MacroEnv::default();
        let e =
            split_description("a:b:c:d:e", Span::new(0, 9), FieldLevel::Name, &env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid probe description \"a:b:c:d:e\": Overspecified probe description"
        );
        let e = split_description("a:b", Span::new(0, 3), FieldLevel::Provider, &env).unwrap_err();
        assert!(e.to_string().ends_with("Overspecified probe description"));
        let e = split_description(
            "pid$target:::entry",
            Span::new(3, 21),
            FieldLevel::Name,
            &env,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid probe description \"pid$target:::entry\": \
             Undefined macro variable in probe description"
        );
        assert_eq!(e.span, Span::new(3, 21));
    }
}
