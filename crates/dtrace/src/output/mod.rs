//! DTrace's text output, rendered byte for byte as DTrace for Linux (and,
//! where the two agree, illumos) prints it: `printf()` formats, the
//! default output of `trace()` and probe firings, aggregations with their
//! histograms, and the drop notices.
//!
//! Pure: every function writes into a `Vec<u8>` (or returns a `String`);
//! nothing here reads the kernel, a file or the clock. The authority for
//! each byte is DTrace for Linux's test suite (`test/unittest/**/*.r`),
//! which the tests beside this module quote.
//!
//! - [`printf`]: format strings: parsing, argument checks, rendering.
//! - [`agg`]: aggregation kinds, their kernel layout, combining CPUs,
//!   `lquantize()`/`llquantize()` parameter checks, and printing
//!   (`printa()` and the end of a run).
//! - [`trace`]: the header and per-firing prefix without `-q`, `trace()`,
//!   `stack()`, and the stderr notices (drops, matched probes).
//! - [`walltime`]: `%Y` and `%T`, and the time zone they print in.

pub mod agg;
mod agg_print;
mod cfmt;
mod hist;
pub mod printf;
pub mod trace;
pub mod walltime;

#[cfg(test)]
mod tests;

pub use agg::{AggKind, llquantize, lquantize};
pub use agg_print::{
    Entry, KeyPart, PrintOptions, SortOrder, print_aggregation, print_aggregation_with,
    print_entries, printa, printa_with, sort_entries,
};
pub use printf::{Arg, ArgKind, ArgRole, Conversion, Format, FormatError, MAX_FIELD};
