//! The operator commands of basalt: `vmadm`, `imgadm`, `pooladm`,
//! `nictagadm` and `sysinfo`. Thin by design:
//! each parses its arguments, calls the node crate, renders the result and
//! maps failures to SmartOS's messages, streams and exit codes. No decision
//! about instances is made here.

#![forbid(unsafe_code)]

pub mod basaltd;
pub mod dtrace;
pub mod getopt;
pub mod imgadm;
pub mod log;
pub mod nictagadm;
pub mod output;
pub mod pooladm;
pub mod relay;
pub mod vmadm;
pub mod zlogin;
