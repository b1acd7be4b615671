//! The pool: ZFS's model — datasets named `pool/a/b`, read-only snapshots
//! `pool/a/b@s`, constant-time clones, rollback, quotas, send and receive,
//! volumes for VM disks — over btrfs, which every Linux kernel carries.
//!
//! It owns the pool's filesystem and nothing else: it knows no instances,
//! images or zones, and it never decides what a dataset is for. btrfs is
//! driven through btrfs-progs with pure command builders and text parsers
//! (`btrfs`), run by one small executor (`exec`).

#![forbid(unsafe_code)]

pub mod btrfs;
pub mod embedded;
pub mod error;
pub mod exec;
pub mod layout;
pub mod name;
pub mod pool;
pub mod size;

pub use error::PoolError;
pub use name::{DatasetName, SnapshotName};
pub use pool::{Dataset, Kind, Pool};
