//! Resource controls: vmadm's properties as cgroup settings, with one
//! interface and two backends — v1/hybrid (one hierarchy per controller,
//! what the build machines have) and v2 (one unified hierarchy).
//!
//! | property | v1 | v2 |
//! | --- | --- | --- |
//! | `max_physical_memory` (MiB) | `memory.limit_in_bytes` | `memory.max` |
//! | `max_swap` (MiB, memory + swap) | `memory.memsw.limit_in_bytes` | `memory.swap.max` = max_swap − max_physical_memory |
//! | `cpu_cap` (% of one CPU) | `cpu.cfs_quota_us` over a 100 ms `cpu.cfs_period_us` | `cpu.max` |
//! | `cpu_shares` (FSS shares, 100 = one host default) | `cpu.shares` = shares × 1024 / 100 | `cpu.weight` = shares (1..10000; 100 is the default weight) |
//! | `max_lwps` | `pids.max` | `pids.max` |
//! | `zfs_io_priority` | `blkio.bfq.weight` (BFQ only; else not enforced) | `io.weight` |
//!
//! The plan is data; an applier writes it and may skip a setting whose
//! file the kernel lacks when the setting says so (I/O weight).
//!
//! A zone's group exists in every hierarchy the host mounts (the named
//! `systemd` one and a hybrid host's unified one included), is delegated
//! to the zone's root without its limit files, and is what the zone sees
//! as its whole cgroup tree through its cgroup namespace and the mounts of
//! [`Cgroups::zone_mounts`]. That is what lets an unprivileged systemd boot
//! as a zone's init.

mod apply;
mod delegate;
mod hierarchy;
mod plan;

pub use apply::{CgroupError, Cgroups, V1_HIERARCHIES};
pub use delegate::delegated_files;
pub use hierarchy::{Hierarchy, Layout, ZoneMount, parse_layout, zone_mounts};
pub use plan::{Backend, Limits, LimitsError, Setting, plan, plan_update};
