//! Zones: a SmartOS zone as a Linux system container — namespaces, an
//! idmapped root on the instance's dataset, cgroups, seccomp, bounded
//! capabilities, the image's own init as PID 1, and the per-zone supervisor
//! that owns it.
//!
//! So far this crate holds the resource controls as a pure plan: which
//! cgroup files, in which hierarchy, get which values for an instance's
//! vmadm properties, on a v1/hybrid host and on a v2 host, and the applier
//! of that plan; and, in `security`, the capabilities a zone's root may hold
//! and the seccomp filter its init execs under. The rest of the runtime
//! comes next. It never touches the pool, networks or images: the node
//! hands it a mounted root and a configuration.

#![forbid(unsafe_code)]

pub mod cgroup;
pub mod security;
