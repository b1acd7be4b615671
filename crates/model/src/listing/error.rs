//! The one error type of the listing engine.

use thiserror::Error;

/// Everything `vmadm list` / `vmadm lookup` can refuse.
///
/// The `Display` text of each variant is the exact message SmartOS prints
/// (reference 2.2 and 2.3), so the CLI prints it unchanged. The CLI maps
/// every variant to exit status 1, as SmartOS does.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ListError {
    /// A `-o` column with a `*` index (`nics.*.ip`): a column must name one
    /// element.
    #[error("Invalid order key: \"{key}\"")]
    InvalidOrderKey {
        /// The column as typed.
        key: String,
    },
    /// A `-s` sort key with a `*` index.
    #[error("Invalid sort key: \"{key}\"")]
    InvalidSortKey {
        /// The sort key as typed, including any `-`/`+` prefix.
        key: String,
    },
    /// A `-o` column that is not listable.
    #[error("invalid order field: {field}")]
    InvalidOrderField {
        /// The column as typed.
        field: String,
    },
    /// A `-s` sort key that is not listable.
    #[error("invalid sort field: {field}")]
    InvalidSortField {
        /// The sort key as typed, including any `-`/`+` prefix.
        field: String,
    },
    /// A `vmadm list` filter whose key may not be filtered on.
    #[error("Invalid filter key: \"{key}\"")]
    InvalidFilterKey {
        /// The filter key (the part before the first `=`).
        key: String,
    },
    /// A `vmadm lookup` filter whose key may not be filtered on.
    #[error("Invalid lookup key: \"{key}\"")]
    InvalidLookupKey {
        /// The filter key (the part before the first `=`).
        key: String,
    },
    /// A `key=~pattern` filter whose pattern does not compile. SmartOS has
    /// no message of its own here (node throws); the wording follows V8's.
    #[error("Invalid regular expression: /{pattern}/: {reason}")]
    InvalidRegex {
        /// The pattern without its leading `~`.
        pattern: String,
        /// One line saying what is wrong with it.
        reason: String,
    },
    /// `vmadm lookup -o` without `-j`.
    #[error("Cannot specify -o without -j")]
    OutputWithoutJson,
    /// `vmadm lookup -1` matched other than exactly one VM.
    #[error("Requested unique lookup but found {found} results.")]
    NotUnique {
        /// How many VMs matched.
        found: usize,
    },
}
