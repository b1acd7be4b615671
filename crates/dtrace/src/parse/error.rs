//! The one error of the front end: what went wrong and where.
//!
//! Messages use DTrace's wording where DTrace has one (`syntax error near
//! "X"`, `macro argument $2 is not defined`, `constant 09 contains invalid
//! digit 9` …). The renderers add the position DTrace gives and a column,
//! which DTrace does not:
//!
//! - a script (`-s F`):
//!   `dtrace: failed to compile script F: line 3, column 14: syntax error near "X"`
//! - a `-n` description: DTrace gives no position for these; basalt adds
//!   `column C: ` (and `line L, ` when the text spans lines):
//!   `dtrace: invalid probe specifier BEGIN { x = ; }: column 13: syntax error near ";"`
//!
//! Lines and columns count from 1; a column counts characters (not bytes)
//! from the start of the line, a tab being one.

use super::ast::Span;

/// A D program that cannot be parsed, with the span of the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    pub kind: ParseErrorKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    /// The token at the span cannot continue the program.
    #[error("syntax error near \"{near}\"")]
    SyntaxNear { near: String },
    /// The program ends where more is needed.
    #[error("syntax error near end of input")]
    SyntaxAtEnd,
    #[error("newline encountered in string literal")]
    NewlineInString,
    #[error("newline encountered in character constant")]
    NewlineInChar,
    #[error("empty character constant")]
    EmptyChar,
    #[error("character constant is too long")]
    CharTooLong,
    #[error("end-of-file encountered before matching */")]
    UnterminatedComment,
    #[error("/* encountered inside a comment")]
    NestedComment,
    #[error("end-of-file encountered before end of control line")]
    UnterminatedControl,
    #[error("constant {text} results in integer overflow")]
    IntOverflow { text: String },
    #[error("constant {text} contains invalid digit {digit}")]
    InvalidDigit { text: String, digit: char },
    #[error("floating-point constants are not permitted")]
    FloatConstant,
    /// `$N` or `$$N` beyond the arguments given.
    #[error("macro argument {name} is not defined")]
    MacroArgUndefined { name: String },
    /// `$name` that is not a macro variable (`$target`, `$pid` …).
    #[error("macro variable {name} is not defined")]
    MacroVarUndefined { name: String },
    /// A probe description that cannot be split into its four fields.
    #[error("invalid probe description \"{desc}\": {reason}")]
    ProbeDescription { desc: String, reason: String },
    /// A probe description in a script with neither predicate nor actions.
    #[error("expected predicate and/or actions following probe description")]
    BareDescription,
    #[error("closing ) expected in predicate before /")]
    PredicateParen,
    #[error("closing ] expected in predicate before /")]
    PredicateBracket,
    /// A `#` line other than `#pragma`, `#line`, `#ident` or a leading `#!`.
    #[error("invalid control directive: #{directive}")]
    InvalidControl { directive: String },
    #[error("#pragma D option requires an option name")]
    PragmaOptionName,
    /// Nesting beyond [`super::MAX_DEPTH`]: basalt's own limit, so that no
    /// input can exhaust the stack.
    #[error("expression or statement nesting exceeds {limit} levels")]
    TooDeep { limit: usize },
    /// A D construct the front end recognises but does not implement.
    #[error("{what} is not supported")]
    Unsupported { what: String },
}

impl ParseError {
    pub fn new(kind: ParseErrorKind, span: Span) -> Self {
        ParseError { kind, span }
    }

    /// Line and column (both from 1) of the error's start in `source`.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        line_col(source, self.span.start)
    }

    /// The message for a script: `dtrace: failed to compile script F: line
    /// N, column C: MESSAGE`.
    pub fn render(&self, file: &str, source: &str) -> String {
        render_at(self.span, &self.to_string(), file, source)
    }

    /// The message for a `-n` description: `dtrace: invalid probe specifier
    /// TEXT: [line N, ]column C: MESSAGE`.
    pub fn render_n(&self, source: &str) -> String {
        render_n_at(self.span, &self.to_string(), source)
    }
}

/// `message` about the text at `span` of script `file`, as DTrace says it:
/// `dtrace: failed to compile script F: line N, column C: MESSAGE`. Later
/// stages' errors render the same way.
pub fn render_at(span: Span, message: &str, file: &str, source: &str) -> String {
    let (line, col) = line_col(source, span.start);
    format!("dtrace: failed to compile script {file}: line {line}, column {col}: {message}")
}

/// `message` about the text at `span` of a `-n` description: `dtrace:
/// invalid probe specifier TEXT: [line N, ]column C: MESSAGE`.
pub fn render_n_at(span: Span, message: &str, source: &str) -> String {
    let (line, col) = line_col(source, span.start);
    if source.contains('\n') {
        format!("dtrace: invalid probe specifier {source}: line {line}, column {col}: {message}")
    } else {
        format!("dtrace: invalid probe specifier {source}: column {col}: {message}")
    }
}

/// Line and column (from 1) of byte offset `at`, clamped to the source and
/// to a character boundary.
pub fn line_col(source: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(source.len());
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    let before = &source[..at];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let src = "BEGIN\n{\n\tx = é + ;\n}";
        let at = src.find(';').unwrap();
        assert_eq!(line_col(src, at), (3, 10));
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, src.len() + 10), (4, 2));
        // Inside the two bytes of é: clamped back to its start.
        let e = src.find('é').unwrap();
        assert_eq!(line_col(src, e + 1), (3, 6));
    }

    #[test]
    fn renders_as_dtrace_with_a_column() {
        let src = "BEGIN\n{\n  x = ;\n}\n";
        let at = src.find(';').unwrap();
        let e = ParseError::new(
            ParseErrorKind::SyntaxNear { near: ";".into() },
            Span::new(at, at + 1),
        );
        assert_eq!(
            e.render("t.d", src),
            "dtrace: failed to compile script t.d: line 3, column 7: syntax error near \";\""
        );
        let n = "BEGIN { x = ; }";
        let at = n.find(';').unwrap();
        let e = ParseError::new(
            ParseErrorKind::SyntaxNear { near: ";".into() },
            Span::new(at, at + 1),
        );
        assert_eq!(
            e.render_n(n),
            "dtrace: invalid probe specifier BEGIN { x = ; }: column 13: syntax error near \";\""
        );
    }
}
