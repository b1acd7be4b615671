//! One node: paths, instance store, node configuration and nic tags,
//! sysinfo.

#![forbid(unsafe_code)]

pub mod config;
pub mod entropy;
pub mod fsutil;
pub mod images;
pub mod instances;
pub mod nictags;
pub mod paths;
pub mod snapshots;
pub mod storage;
pub mod store;
pub mod sysinfo;
pub mod zones;
