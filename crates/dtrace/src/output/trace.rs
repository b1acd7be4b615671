//! The default output of a run without `-q`, `trace()`, and the notices
//! DTrace prints on stderr.
//!
//! Without `-q`, the first record prints the header
//! `CPU     ID                    FUNCTION:NAME`; each record starts with
//! `%3d %6d %32s ` (CPU, probe id, `function:name`), its actions print
//! after it, and it ends with a newline ([`record_end`]). `trace()` of an
//! integer prints a space and the value right-aligned in the width of its
//! type (` %3d`, ` %5d`, ` %10d`, ` %19d` signed, ` %3u`, ` %5u`, ` %10u`,
//! ` %20u` unsigned, for 1, 2, 4 and 8 bytes); of a string, two spaces and
//! the string left-aligned in 33 columns. With `-q` both print bare.

use super::agg_print::print_rawbytes;
use super::printf::{Arg, cstr, sext, zext};

/// The header line of the default output.
pub fn header(out: &mut Vec<u8>) {
    out.extend_from_slice(format!("{:>3} {:>6} {:>32}\n", "CPU", "ID", "FUNCTION:NAME").as_bytes());
}

/// The start of a record in the default output: CPU, probe id and
/// `function:name`, then a space; the record's output follows.
pub fn probe_line(out: &mut Vec<u8>, cpu: u32, id: u32, func: &str, name: &str) {
    let probe = format!("{func}:{name}");
    out.extend_from_slice(format!("{cpu:>3} {id:>6} {probe:>32} ").as_bytes());
}

/// The end of a record in the default output.
pub fn record_end(out: &mut Vec<u8>) {
    out.push(b'\n');
}

/// `trace()` of a value without `-q`.
pub fn trace_value(out: &mut Vec<u8>, arg: &Arg<'_>) {
    trace(out, arg, false);
}

/// `trace()` of a value with `-q`.
pub fn trace_value_quiet(out: &mut Vec<u8>, arg: &Arg<'_>) {
    trace(out, arg, true);
}

fn trace(out: &mut Vec<u8>, arg: &Arg<'_>, quiet: bool) {
    match *arg {
        Arg::Str(s) => {
            let s = cstr(s);
            if !quiet {
                out.extend_from_slice(b"  ");
            }
            out.extend_from_slice(s);
            if !quiet {
                out.resize(out.len() + 33usize.saturating_sub(s.len()), b' ');
            }
        }
        Arg::Int {
            value,
            signed,
            size,
        } => {
            let width = match size {
                1 => 3,
                2 => 5,
                4 => 10,
                8 if signed => 19,
                8 => 20,
                _ => return print_rawbytes(out, &value.to_le_bytes()[..usize::from(size.min(8))]),
            };
            let text = if signed {
                sext(value, size).to_string()
            } else {
                zext(value, size).to_string()
            };
            let line = if quiet {
                text
            } else {
                format!(" {text:>width$}")
            };
            out.extend_from_slice(line.as_bytes());
        }
        Arg::Stack(frames) => stack(out, frames),
    }
}

/// `stack()` and `ustack()`: a newline, then each frame indented 14
/// columns on its own line.
pub fn stack(out: &mut Vec<u8>, frames: &[String]) {
    out.push(b'\n');
    for f in frames {
        out.extend_from_slice(format!("{:14}{f}\n", "").as_bytes());
    }
}

/// Data DTrace lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropKind {
    /// Trace records a CPU's buffer had no room for.
    Principal,
    /// Aggregation entries a CPU had no room for.
    Aggregation,
    /// Dynamic variables (associative arrays, thread-locals) not stored.
    Dynamic,
    DynamicRinsing,
    DynamicDirty,
    /// Speculative records not stored.
    Speculative,
    SpeculationBusy,
    SpeculationUnavailable,
    /// ustack() strings that did not fit.
    StackStringOverflow,
    /// Errors in the ERROR probe's own clauses.
    DoubleError,
}

/// The line DTrace prints on stderr when data is lost, without the
/// newline: `dtrace: 3 drops on CPU 1`, `dtrace: 1 aggregation drop on
/// CPU 0`, `dtrace: 12 dynamic variable drops` (`cpu` only counts for the
/// first two).
pub fn drops_message(kind: DropKind, n: u64, cpu: u32) -> String {
    let s = if n > 1 { "s" } else { "" };
    let (what, tail) = match kind {
        DropKind::Principal => return format!("dtrace: {n} drop{s} on CPU {cpu}"),
        DropKind::Aggregation => return format!("dtrace: {n} aggregation drop{s} on CPU {cpu}"),
        DropKind::Dynamic => ("dynamic variable drop", ""),
        DropKind::DynamicRinsing => ("dynamic variable drop", " with non-empty rinsing list"),
        DropKind::DynamicDirty => ("dynamic variable drop", " with non-empty dirty list"),
        DropKind::Speculative => ("speculative drop", ""),
        DropKind::SpeculationBusy => ("failed speculation", " (available buffer(s) still busy)"),
        DropKind::SpeculationUnavailable => {
            ("failed speculation", " (no speculative buffer available)")
        }
        DropKind::StackStringOverflow => ("jstack()/ustack() string table overflow", ""),
        DropKind::DoubleError => ("error", " in ERROR probe enabling"),
    };
    format!("dtrace: {n} {what}{s}{tail}")
}

/// The notice on stderr once a program is enabled, without the newline:
/// `dtrace: script 'x.d' matched 2 probes` (`what` is `script` for `-s`,
/// `description` for `-n`/`-P`/`-m`/`-f`/`-i`).
pub fn matched_message(what: &str, name: &str, probes: u32) -> String {
    let s = if probes == 1 { "" } else { "s" };
    format!("dtrace: {what} '{name}' matched {probes} probe{s}")
}

/// The line DTrace prints on stderr when a clause faults, without the
/// newline: `dtrace: error on enabled probe ID 2 (ID 1: dtrace:::BEGIN):
/// divide-by-zero in action #1`. `probe` is `provider:module:function:name`,
/// `fault` DTrace's wording (`divide-by-zero`, `invalid address (0x0)` …),
/// `action` the faulting action's number in its clause (0 for the
/// predicate), `offset` the DIF offset where DTrace gives one.
pub fn error_message(
    epid: u32,
    probe_id: u32,
    probe: &str,
    fault: &str,
    action: u32,
    offset: Option<u32>,
) -> String {
    let place = if action == 0 {
        "predicate".to_string()
    } else {
        format!("action #{action}")
    };
    let at = offset
        .map(|o| format!(" at DIF offset {o}"))
        .unwrap_or_default();
    format!(
        "dtrace: error on enabled probe ID {epid} (ID {probe_id}: {probe}): {fault} in {place}{at}"
    )
}
