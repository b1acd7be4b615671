//! The manifest's one error type, worded as imgadm words it.

use std::fmt;

/// What is wrong with one field, as imgmanifest reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemCode {
    /// A required field is absent.
    MissingParameter,
    /// A field is present but its value is not acceptable.
    Invalid,
}

impl ProblemCode {
    /// The code's name as imgmanifest spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::MissingParameter => "MissingParameter",
            ProblemCode::Invalid => "Invalid",
        }
    }
}

/// One problem with one field of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field (`name`, `files`, `requirements.min_ram`, ...).
    pub field: String,
    /// Missing or invalid.
    pub code: ProblemCode,
    /// imgadm's explanation, where it gives one.
    pub message: Option<String>,
}

impl Problem {
    pub(crate) fn missing(field: &str) -> Problem {
        Problem {
            field: field.to_owned(),
            code: ProblemCode::MissingParameter,
            message: None,
        }
    }

    pub(crate) fn invalid(field: &str, message: Option<String>) -> Problem {
        Problem {
            field: field.to_owned(),
            code: ProblemCode::Invalid,
            message,
        }
    }
}

/// imgadm's rendering of one problem: `field (message)`, a bare `field` for
/// an invalid value without a message, `field (MissingParameter)` otherwise.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.message, self.code) {
            (Some(m), _) => write!(f, "{} ({m})", self.field),
            (None, ProblemCode::Invalid) => f.write_str(&self.field),
            (None, code) => write!(f, "{} ({})", self.field, code.as_str()),
        }
    }
}

/// A manifest that cannot be used. [`ManifestError::code`] is the name imgadm
/// gives the error (`ManifestValidation`, `InvalidManifest`); `Display` is its
/// message. The CLI adds `imgadm <command>: error (<code>): ` in front.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// The manifest is not a JSON object. imgadm's `InvalidManifest`.
    #[error("manifest is invalid: {reason}")]
    Invalid {
        /// Why the text is not a manifest (the JSON parser's words).
        reason: String,
    },
    /// Fields are missing or invalid; every problem found is listed, in
    /// imgmanifest's order (required fields first). imgadm's
    /// `ManifestValidation`.
    #[error("invalid manifest: {}", join(.problems))]
    Validation {
        /// All problems, never empty.
        problems: Vec<Problem>,
    },
}

fn join(problems: &[Problem]) -> String {
    let parts: Vec<String> = problems.iter().map(Problem::to_string).collect();
    parts.join(", ")
}

impl ManifestError {
    /// imgadm's error code: what `-E` prints as `code`.
    pub fn code(&self) -> &'static str {
        match self {
            ManifestError::Invalid { .. } => "InvalidManifest",
            ManifestError::Validation { .. } => "ManifestValidation",
        }
    }

    /// The problems found by validation (empty for `InvalidManifest`).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ManifestError::Invalid { .. } => &[],
            ManifestError::Validation { problems } => problems,
        }
    }
}
