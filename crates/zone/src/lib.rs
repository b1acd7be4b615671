//! Zones: a SmartOS zone as a Linux system container — namespaces, an
//! idmapped root on the instance's dataset, cgroups, seccomp, bounded
//! capabilities, the image's own init as PID 1.
//!
//! | module | owns |
//! | --- | --- |
//! | `spec` | what a zone is made of, as data the node computes |
//! | `mounts` | the zone's file system as a pure list of steps |
//! | `cgroup` | resource controls: a pure plan of cgroup v1/v2 settings and its applier |
//! | `boot` | the boot sequence: the supervisor's side and the two stages in the zone |
//! | `enter` | joining a running zone's namespaces and cgroups (zlogin) |
//! | `security` | the capabilities a zone's root may hold and the seccomp filter its init runs under |
//! | `user` | who the init runs as: the zone's own passwd and group files, parsed and resolved |
//! | `sys` | the kernel interfaces without a safe wrapper; the crate's only `unsafe` |
//!
//! It never touches the pool, networks or images: the node hands it a root
//! directory and a spec.

#![deny(unsafe_code)]

pub mod boot;
pub mod cgroup;
pub mod enter;
pub mod mounts;
pub mod security;
pub mod spec;
pub mod sys;
pub mod user;
