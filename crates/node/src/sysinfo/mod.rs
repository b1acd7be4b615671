//! `sysinfo`: the node's identity and hardware as one JSON object.
//!
//! [`procfs`] and [`sysfs`] are pure parsers of the text the kernel shows
//! under /proc and /sys, tested on text captured from a build machine;
//! [`facts`] is what sysinfo knows of the host, as plain data.

pub mod facts;
pub mod procfs;
pub mod sysfs;
