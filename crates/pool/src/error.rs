//! The pool's errors. Where ZFS has a wording that operators know, the
//! message is ZFS's.

use std::path::PathBuf;

use crate::exec::ExecError;
use crate::name::NameError;

/// A failure of a pool operation.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// A malformed dataset or snapshot name.
    #[error("{0}")]
    Name(#[from] NameError),
    /// The dataset or snapshot does not exist.
    #[error("cannot open '{0}': dataset does not exist")]
    NotFound(String),
    /// Creating something that exists.
    #[error("cannot create '{0}': dataset already exists")]
    Exists(String),
    /// Creating a dataset whose parent does not exist.
    #[error("cannot create '{0}': parent does not exist")]
    NoParent(String),
    /// A name basalt keeps for itself.
    #[error("cannot create '{0}': the name is reserved")]
    Reserved(String),
    /// Destroying something that has children or snapshots, without -r.
    #[error("cannot destroy '{name}': {what} has children\nuse '-r' to destroy the following datasets:\n{}", list.join("\n"))]
    HasChildren {
        name: String,
        what: &'static str,
        list: Vec<String>,
    },
    /// Destroying something that clones depend on, without -R.
    #[error("cannot destroy '{name}': {what} has dependent clones\nuse '-R' to destroy the following datasets:\n{}", list.join("\n"))]
    HasClones {
        name: String,
        what: &'static str,
        list: Vec<String>,
    },
    /// Rolling back past newer snapshots without -r.
    #[error("cannot rollback to '{name}': more recent snapshots or bookmarks exist\nuse '-r' to force deletion of the following snapshots and bookmarks:\n{}", list.join("\n"))]
    NewerSnapshots { name: String, list: Vec<String> },
    /// A full stream onto an existing dataset, without -F.
    #[error(
        "cannot receive new filesystem stream: destination '{0}' exists\nmust specify -F to overwrite it"
    )]
    MustForce(String),
    /// An incremental stream for a dataset that does not exist.
    #[error("cannot receive incremental stream: destination '{0}' does not exist")]
    NoDestination(String),
    /// An incremental stream whose source snapshot the dataset lacks.
    #[error(
        "cannot receive incremental stream: most recent snapshot of {0} does not\nmatch incremental source"
    )]
    NoIncrementalSource(String),
    /// Receiving onto a dataset changed since its latest snapshot.
    #[error(
        "cannot receive incremental stream: destination {0} has been modified\nsince most recent snapshot"
    )]
    Modified(String),
    /// An operation that does not apply to this kind of dataset.
    #[error("cannot {verb} '{name}': operation not applicable to datasets of this type")]
    WrongType { verb: &'static str, name: String },
    /// A host tool failed.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A file operation in the pool failed.
    #[error("failed to {what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The output of a host tool could not be understood.
    #[error("unexpected output from btrfs: {0:?}")]
    Parse(String),
    /// The pool could not be made ready (missing, damaged, full).
    #[error("pool '{name}' is not available: {reason}")]
    Unavailable { name: String, reason: String },
}

impl PoolError {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> PoolError {
        let path = path.into();
        move |source| PoolError::Io { what, path, source }
    }
}
