//! One node: paths, instance store, node configuration, sysinfo.

#![forbid(unsafe_code)]

pub mod config;
pub mod fsutil;
pub mod paths;
pub mod store;
pub mod sysinfo;
