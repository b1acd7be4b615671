//! The instance model of basalt: every vmadm property with its type, unit,
//! default and the brands that accept it; create-time normalisation and
//! validation; update semantics; the grammar of `vmadm list` and `lookup`.
//!
//! This crate is pure. It never touches files, processes, clocks or the
//! network: what it needs to know of the host (pools, nic tags, other
//! instances, the time, randomness) is handed to it as data.

#![forbid(unsafe_code)]

pub mod brand;
pub mod checks;
pub mod create;
pub mod disk;
pub mod facts;
pub mod ids;
pub mod ip;
pub mod listing;
pub mod memory;
pub mod nic;
pub mod order;
pub mod pci;
pub mod schema;
pub mod update;
pub mod validate;
pub mod value;
pub mod vm;

pub use brand::{Brand, BrandSet};
pub use ids::{Gib, Mac, Mib, VmUuid};

/// An instance as a JSON object: stored configuration, or what `vmadm get`
/// prints.
pub type VmObject = serde_json::Map<String, serde_json::Value>;
