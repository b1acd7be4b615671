//! The D language: lexer, parser, AST.
//!
//! Owns turning D source into a [`Program`] and reporting where it is wrong,
//! in DTrace's words with a line and column. It never looks at the host: a
//! probe description is split into its fields here, matched against the
//! probes that exist elsewhere; a name is not checked to be a variable,
//! builtin, action or subroutine.
//!
//! - [`parse_script`]: a `-s` script (a clause needs a predicate or
//!   actions).
//! - [`parse_probe_arg`]: the text of `-n` (a bare description such as
//!   `BEGIN` is a clause without actions).
//! - [`parse_description`]: the text of `-P`, `-m`, `-f` or `-n` as one
//!   description, fields filled from the given level.
//! - [`substitute`]: `$1`… replaced as text, for a caller that needs the
//!   expanded source; the parsers replace them themselves (through
//!   [`MacroEnv`]) so that positions stay those of the source as written.
//!
//! Modules: `lexer` (two modes: probe descriptions where a clause starts,
//! D tokens elsewhere), `parser` (clauses, statements, declarations),
//! `expr` (expressions and types), `probe` (description fields), `macros`,
//! `literal` (constants and escapes), `error`, `ast`, `print` (the tree as
//! D text).
//!
//! Bounded: no input drives the parser deeper than [`MAX_DEPTH`] levels of
//! recursion or produces an expression tree deeper than that; past it the
//! result is [`ParseErrorKind::TooDeep`]. The parser does not panic on any
//! input (a property test and a fuzz target check it).

pub mod ast;
pub mod error;
mod expr;
mod lexer;
mod literal;
mod macros;
mod parser;
mod print;
mod probe;
mod token;

#[cfg(test)]
mod tests;

pub use ast::*;
pub use error::{ParseError, ParseErrorKind, line_col, render_at, render_n_at};
pub use macros::{MacroEnv, substitute};
pub use print::bin_str;
pub use probe::FieldLevel;

/// The deepest nesting of expressions and statements the parser accepts.
pub const MAX_DEPTH: usize = 256;

/// The stack the parser runs on. [`MAX_DEPTH`] levels of the costliest
/// nesting (parentheses, call arguments) take about 1 MiB in a release
/// build and 6 MiB in a debug build; the parser runs on a thread of its own
/// with this much, so the limit holds whatever thread calls it.
const PARSER_STACK: usize = 16 << 20;

/// Parses a script (`dtrace -s`).
pub fn parse_script(source: &str, env: &MacroEnv) -> Result<Program, ParseError> {
    on_parser_stack(|| parser::Parser::new(source, env).program(false))
}

/// Parses the program of `dtrace -n`: like a script, but a description may
/// stand alone (`dtrace -n BEGIN`, `dtrace -n 'syscall::read:entry'`).
pub fn parse_probe_arg(source: &str, env: &MacroEnv) -> Result<Program, ParseError> {
    on_parser_stack(|| parser::Parser::new(source, env).program(true))
}

/// Runs `f` on a scoped thread with [`PARSER_STACK`] bytes of stack; on
/// the calling thread if no thread can be made.
fn on_parser_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let job = std::sync::Mutex::new(Some(f));
    let run = || {
        let f = job.lock().ok().and_then(|mut j| j.take());
        f.map(|f| f())
    };
    let spawned = std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("d-parser".into())
            .stack_size(PARSER_STACK)
            .spawn_scoped(s, run)
            .ok()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    });
    match spawned.flatten() {
        Some(v) => v,
        None => match job.into_inner().ok().flatten() {
            Some(f) => f(),
            None => unreachable!("the job runs either on the thread or here"),
        },
    }
}

/// Parses one probe description with nothing around it (`dtrace -P
/// syscall`, `-m libc.so.6`, `-f read`, `-n syscall::read:entry` listed
/// with `-l`), its rightmost field at `level`.
pub fn parse_description(
    text: &str,
    level: FieldLevel,
    env: &MacroEnv,
) -> Result<ProbeSpec, ParseError> {
    let trimmed = text.trim();
    let start = text.len() - text.trim_start().len();
    let span = ast::Span::new(start, start + trimmed.len());
    probe::split_description(trimmed, span, level, env)
}
