//! `sysinfo`: the node's identity and hardware as one JSON object.
//!
//! - [`procfs`] and [`sysfs`]: pure parsers of the text the kernel shows
//!   under /proc and /sys, tested on text captured from a build machine;
//! - [`facts`]: what sysinfo knows of the host, as plain data;
//! - [`assemble`]: turns the facts into SmartOS's keys, order and types;
//! - [`flat`]: the `-p` rendering, whose naming rule its module documents.

pub mod assemble;
pub mod facts;
pub mod flat;
pub mod procfs;
pub mod sysfs;

pub use assemble::assemble;
pub use facts::HostFacts;
pub use flat::to_parsable;
