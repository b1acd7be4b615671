//! The pure plan of cgroup settings for an instance.

use basalt_model::VmObject;
use serde_json::Value;

const MIB: u64 = 1 << 20;
/// The CFS period basalt uses, microseconds.
pub const CFS_PERIOD_US: u64 = 100_000;

/// Which cgroup layout the host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One hierarchy per controller (`/sys/fs/cgroup/<controller>`).
    V1,
    /// The unified hierarchy.
    V2,
}

/// An instance's resource limits, in vmadm's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `max_physical_memory`, MiB.
    pub memory_mib: u64,
    /// `max_swap`, MiB (memory and swap together).
    pub swap_mib: u64,
    /// `cpu_cap`, percent of one CPU; `None` for no cap.
    pub cpu_cap: Option<u64>,
    /// `cpu_shares`.
    pub cpu_shares: u64,
    /// `max_lwps`.
    pub max_lwps: u64,
    /// `zfs_io_priority`.
    pub io_priority: u64,
}

/// A configuration that lacks a limit or holds one that is not a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("instance configuration has no usable {0}")]
pub struct LimitsError(pub &'static str);

impl Limits {
    /// The limits of a stored instance configuration.
    pub fn from_vm(vm: &VmObject) -> Result<Limits, LimitsError> {
        let get = |k: &'static str| vm.get(k).and_then(Value::as_u64).ok_or(LimitsError(k));
        Ok(Limits {
            memory_mib: get("max_physical_memory")?,
            swap_mib: get("max_swap")?,
            cpu_cap: vm.get("cpu_cap").and_then(Value::as_u64).filter(|c| *c > 0),
            cpu_shares: get("cpu_shares")?,
            max_lwps: get("max_lwps")?,
            io_priority: get("zfs_io_priority")?,
        })
    }
}

/// One write of a cgroup file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The v1 hierarchy (`memory`, `cpu`, `pids`, `blkio`); empty on v2.
    pub hierarchy: &'static str,
    /// The file in the instance's cgroup.
    pub file: &'static str,
    /// What is written.
    pub value: String,
    /// Whether a kernel without the file may skip it (logged as not
    /// enforced) rather than fail.
    pub optional: bool,
}

fn set(hierarchy: &'static str, file: &'static str, value: impl ToString) -> Setting {
    Setting {
        hierarchy,
        file,
        value: value.to_string(),
        optional: false,
    }
}

/// `cpu_shares` as v1 `cpu.shares`: the default 100 is the host's default
/// 1024; kept within the kernel's 2..=262144.
pub fn v1_shares(shares: u64) -> u64 {
    (shares.saturating_mul(1024) / 100).clamp(2, 262_144)
}

/// `cpu_shares` as v2 `cpu.weight` (1..=10000): FSS's default 100 is v2's
/// default weight 100, so a zone weighs what a host service weighs.
pub fn v2_weight(shares: u64) -> u64 {
    shares.clamp(1, 10_000)
}

fn cpu(limits: &Limits, backend: Backend) -> Vec<Setting> {
    let quota = limits.cpu_cap.map(|cap| cap * CFS_PERIOD_US / 100);
    match backend {
        Backend::V1 => vec![
            set("cpu", "cpu.cfs_period_us", CFS_PERIOD_US),
            set("cpu", "cpu.cfs_quota_us", quota.map_or(-1, |q| q as i64)),
            set("cpu", "cpu.shares", v1_shares(limits.cpu_shares)),
        ],
        Backend::V2 => vec![
            set(
                "",
                "cpu.max",
                format!(
                    "{} {CFS_PERIOD_US}",
                    quota.map_or("max".to_owned(), |q| q.to_string())
                ),
            ),
            set("", "cpu.weight", v2_weight(limits.cpu_shares)),
        ],
    }
}

fn memory(limits: &Limits, backend: Backend, raising: bool) -> Vec<Setting> {
    let mem = limits.memory_mib * MIB;
    let total = limits.swap_mib.max(limits.memory_mib) * MIB;
    match backend {
        // v1 keeps memsw ≥ limit at every moment: raising sets memsw
        // first, lowering sets the limit first.
        Backend::V1 if raising => vec![
            set("memory", "memory.memsw.limit_in_bytes", total),
            set("memory", "memory.limit_in_bytes", mem),
        ],
        Backend::V1 => vec![
            set("memory", "memory.limit_in_bytes", mem),
            set("memory", "memory.memsw.limit_in_bytes", total),
        ],
        Backend::V2 => vec![
            set("", "memory.max", mem),
            set("", "memory.swap.max", total - mem),
        ],
    }
}

fn io(limits: &Limits, backend: Backend) -> Setting {
    let (hierarchy, file, value) = match backend {
        Backend::V1 => (
            "blkio",
            "blkio.bfq.weight",
            limits.io_priority.clamp(1, 1000).to_string(),
        ),
        Backend::V2 => (
            "",
            "io.weight",
            format!("default {}", limits.io_priority.clamp(1, 10_000)),
        ),
    };
    Setting {
        hierarchy,
        file,
        value,
        optional: true,
    }
}

/// Every setting for `limits`; memory in the order a v1 kernel accepts
/// when `raising` (or lowering) the memory limit.
fn settings(limits: &Limits, backend: Backend, raising: bool) -> Vec<Setting> {
    let mut out = memory(limits, backend, raising);
    out.extend(cpu(limits, backend));
    let pids = if backend == Backend::V1 { "pids" } else { "" };
    out.push(set(pids, "pids.max", limits.max_lwps));
    out.push(io(limits, backend));
    out
}

/// The settings of a new instance cgroup (its limits start unlimited).
pub fn plan(limits: &Limits, backend: Backend) -> Vec<Setting> {
    settings(limits, backend, false)
}

/// The settings that change `old` to `new` on a running instance, in an
/// order the kernel accepts.
pub fn plan_update(old: &Limits, new: &Limits, backend: Backend) -> Vec<Setting> {
    let before = plan(old, backend);
    let mut out = settings(new, backend, new.memory_mib > old.memory_mib);
    out.retain(|s| !before.contains(s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> Limits {
        Limits {
            memory_mib: 256,
            swap_mib: 512,
            cpu_cap: Some(50),
            cpu_shares: 100,
            max_lwps: 2000,
            io_priority: 100,
        }
    }

    fn files(s: &[Setting]) -> Vec<String> {
        s.iter()
            .map(|x| format!("{}/{}={}", x.hierarchy, x.file, x.value))
            .collect()
    }

    #[test]
    fn from_a_stored_configuration() {
        let vm = json!({"max_physical_memory": 256, "max_swap": 512, "cpu_cap": 0,
            "cpu_shares": 100, "max_lwps": 2000, "zfs_io_priority": 100});
        let l = Limits::from_vm(vm.as_object().unwrap()).unwrap();
        assert_eq!(l.cpu_cap, None, "cpu_cap 0 is no cap");
        let e = Limits::from_vm(json!({}).as_object().unwrap()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "instance configuration has no usable max_physical_memory"
        );
    }

    #[test]
    fn v1_plan() {
        assert_eq!(
            files(&plan(&limits(), Backend::V1)),
            [
                "memory/memory.limit_in_bytes=268435456",
                "memory/memory.memsw.limit_in_bytes=536870912",
                "cpu/cpu.cfs_period_us=100000",
                "cpu/cpu.cfs_quota_us=50000",
                "cpu/cpu.shares=1024",
                "pids/pids.max=2000",
                "blkio/blkio.bfq.weight=100",
            ]
        );
        let uncapped = Limits {
            cpu_cap: None,
            ..limits()
        };
        assert!(
            files(&plan(&uncapped, Backend::V1)).contains(&"cpu/cpu.cfs_quota_us=-1".to_owned())
        );
    }

    #[test]
    fn v2_plan() {
        assert_eq!(
            files(&plan(&limits(), Backend::V2)),
            [
                "/memory.max=268435456",
                "/memory.swap.max=268435456",
                "/cpu.max=50000 100000",
                "/cpu.weight=100",
                "/pids.max=2000",
                "/io.weight=default 100",
            ]
        );
        let uncapped = Limits {
            cpu_cap: None,
            swap_mib: 128,
            ..limits()
        };
        let f = files(&plan(&uncapped, Backend::V2));
        assert!(f.contains(&"/cpu.max=max 100000".to_owned()));
        assert!(
            f.contains(&"/memory.swap.max=0".to_owned()),
            "swap below memory means none"
        );
    }

    #[test]
    fn conversions() {
        assert_eq!(v1_shares(100), 1024);
        assert_eq!(v1_shares(0), 2);
        assert_eq!(v1_shares(65535), 262_144);
        assert_eq!(v2_weight(0), 1);
        assert_eq!(v2_weight(100), 100);
        assert_eq!(v2_weight(65535), 10_000);
    }

    #[test]
    fn updates_change_only_what_moved_in_an_order_v1_accepts() {
        let old = limits();
        let up = Limits {
            memory_mib: 1024,
            swap_mib: 2048,
            ..old
        };
        assert_eq!(
            files(&plan_update(&old, &up, Backend::V1)),
            [
                "memory/memory.memsw.limit_in_bytes=2147483648",
                "memory/memory.limit_in_bytes=1073741824"
            ]
        );
        assert_eq!(
            files(&plan_update(&up, &old, Backend::V1)),
            [
                "memory/memory.limit_in_bytes=268435456",
                "memory/memory.memsw.limit_in_bytes=536870912"
            ]
        );
        let capped = Limits {
            cpu_cap: Some(150),
            ..old
        };
        assert_eq!(
            files(&plan_update(&old, &capped, Backend::V2)),
            ["/cpu.max=150000 100000"]
        );
        assert!(plan_update(&old, &old, Backend::V1).is_empty());
        assert!(
            plan(&old, Backend::V1)
                .iter()
                .all(|s| s.optional == (s.file == "blkio.bfq.weight"))
        );
    }
}
