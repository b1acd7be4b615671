//! Zones: a SmartOS zone as a Linux system container — namespaces, an
//! idmapped root on the instance's dataset, cgroups, seccomp, bounded
//! capabilities, the image's own init as PID 1, and the per-zone supervisor
//! that owns it.
//!
//! So far this crate holds the cgroups: the resource controls as a pure
//! plan (which cgroup files, in which hierarchy, get which values for an
//! instance's vmadm properties, on a v1/hybrid host and on a v2 host), and
//! the instance's group in every host hierarchy — created, limited,
//! delegated to the zone's root, joined by its first process, listed,
//! removed — with the cgroup mounts the zone sees inside. The rest of the
//! runtime comes next. It never touches the pool, networks or images: the
//! node hands it a mounted root and a configuration.

#![forbid(unsafe_code)]

pub mod cgroup;
