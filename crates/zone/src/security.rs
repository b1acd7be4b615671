//! The confinement a zone's init gets just before it execs: a bounded set
//! of capabilities and a seccomp filter for what a zone must never do.
//!
//! Both are applied by the zone's setup process, which is single-threaded,
//! already inside the zone's new user namespace (where it holds every
//! capability) and past `pivot_root`; its next step is `execve` of the
//! image's init. The order there is [`bound_capabilities`], then
//! [`install_seccomp`] with the program from [`seccomp_filter`], then exec.
//!
//! # Capabilities
//!
//! [`ZONE_CAPABILITIES`] is what a zone's root may hold: the usual container
//! set plus what a full init (systemd, SMF-like supervisors) needs to run a
//! whole system. Everything else, [`DENIED_CAPABILITIES`], reaches past the
//! zone's namespaces into the host (its kernel, clock, audit log, security
//! modules, power management, tracing) and is dropped from the bounding,
//! inheritable and ambient sets, so that no exec inside the zone can get it
//! back. The kept capabilities stay permitted and effective: an init exec'd
//! as uid 0 then holds exactly the bounding set.
//!
//! Most kept capabilities are scoped by the kernel to the zone's own user
//! namespace and the namespaces it owns (mount, network, IPC, UTS, pid): a
//! check against the initial namespace still fails inside a zone whatever
//! the zone holds.
//!
//! # Seccomp
//!
//! [`seccomp_filter`] builds, with seccompiler (pure Rust, no libseccomp), a
//! deny-list for the running architecture: every call is allowed except
//! [`denied_syscalls`], which fail with `EPERM`, or with `ENOSYS` for the
//! kernel keyring calls, so that systemd and others carry on without a
//! keyring instead of failing hard. Capabilities already keep most of these
//! calls from working in a zone; the filter removes them as attack surface
//! (a bug in a call the zone cannot use is still reachable if the call is).
//!
//! What the filter cannot say, and what stops it instead:
//! - mounting block devices: `mount(2)`'s source is a pointer, which seccomp
//!   cannot read. The kernel refuses filesystems that need a block device
//!   inside a user namespace unless they are marked safe for it.
//! - rebooting the host: `reboot(2)` from a pid namespace other than the
//!   initial one only ends that namespace's init: `reboot` inside a zone
//!   ends the zone, as it does in a SmartOS zone. The call stays allowed.
//! - `stime(2)`: it does not exist on x86_64 or aarch64 (`settimeofday` and
//!   `clock_settime`, both denied, are what those use).
//!
//! Other system-call ABIs are refused too. Each program seccompiler builds
//! starts by comparing the caller's audit architecture with the target's and
//! kills the process on a mismatch: a 32-bit x86 call (`int 0x80`) from an
//! x86_64 zone, or an AArch32 call on aarch64, ends the calling process with
//! `SIGSYS` (32-bit programs do not run in a zone). The x32 ABI shares
//! x86_64's audit architecture and marks its call numbers with bit 30
//! instead, so on x86_64 every denied call is listed under its x32 number as
//! well.

use std::collections::BTreeMap;

use caps::{CapSet, Capability};
use nix::libc;
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

/// What a zone's root may hold, each for what a system inside needs.
pub const ZONE_CAPABILITIES: &[Capability] = &[
    // Files: owners and modes of the zone's own files (package managers,
    // tmpfiles), reading and searching what root reads.
    Capability::CAP_CHOWN,
    Capability::CAP_DAC_OVERRIDE,
    Capability::CAP_DAC_READ_SEARCH,
    Capability::CAP_FOWNER,
    Capability::CAP_FSETID,
    // Append-only and immutable flags (chattr +a/+i) on the zone's files.
    Capability::CAP_LINUX_IMMUTABLE,
    // Signals to any of the zone's processes; the pid namespace holds no
    // other process.
    Capability::CAP_KILL,
    // Logins, daemons dropping to their users, su and sudo.
    Capability::CAP_SETGID,
    Capability::CAP_SETUID,
    // Services confining themselves: dropping from their bounding sets.
    Capability::CAP_SETPCAP,
    // File capabilities (ping's cap_net_raw) set by package installs; in a
    // user namespace they are written for that namespace's root only.
    Capability::CAP_SETFCAP,
    // The zone's own network namespace: its links, addresses, routes,
    // firewall, low ports and raw sockets.
    Capability::CAP_NET_BIND_SERVICE,
    Capability::CAP_NET_BROADCAST,
    Capability::CAP_NET_ADMIN,
    Capability::CAP_NET_RAW,
    // Locked memory (databases, gpg) within the zone's memory limit, and
    // the zone's own IPC namespace.
    Capability::CAP_IPC_LOCK,
    Capability::CAP_IPC_OWNER,
    // chroot jails of services inside the zone.
    Capability::CAP_SYS_CHROOT,
    // Debuggers and strace, only ever on the zone's own processes.
    Capability::CAP_SYS_PTRACE,
    // systemd's mounts, hostname, namespaces of its services: needed in the
    // zone's own user namespace; the kernel scopes it to the namespaces the
    // zone owns, and checks against the initial namespace still fail.
    Capability::CAP_SYS_ADMIN,
    // reboot(2) inside a pid namespace only ends the zone's init.
    Capability::CAP_SYS_BOOT,
    // Priorities and limits of the zone's processes; the zone's cgroup
    // still caps what they get.
    Capability::CAP_SYS_NICE,
    Capability::CAP_SYS_RESOURCE,
    // vhangup(2) on the zone's consoles (systemd and getty call it).
    Capability::CAP_SYS_TTY_CONFIG,
    // mknod of fifos and sockets by root-owned tools; the kernel refuses
    // device nodes inside a user namespace anyway.
    Capability::CAP_MKNOD,
    // File leases (Samba, NFS servers in the zone).
    Capability::CAP_LEASE,
    // Login and sshd write audit records; the kernel refuses audit from a
    // user namespace other than the initial one, and they cope with that.
    Capability::CAP_AUDIT_WRITE,
];

/// What a zone's root never holds: each acts on the host as a whole.
pub const DENIED_CAPABILITIES: &[Capability] = &[
    // Loading code into the host's kernel.
    Capability::CAP_SYS_MODULE,
    // I/O ports, /dev/mem, raw device commands.
    Capability::CAP_SYS_RAWIO,
    // acct(2): the host's process accounting.
    Capability::CAP_SYS_PACCT,
    // The clock is the host's.
    Capability::CAP_SYS_TIME,
    // The host's audit rules and audit log.
    Capability::CAP_AUDIT_CONTROL,
    Capability::CAP_AUDIT_READ,
    // The host's security module policy.
    Capability::CAP_MAC_OVERRIDE,
    Capability::CAP_MAC_ADMIN,
    // The kernel log is the host's: reading it leaks other tenants' and the
    // host's messages, clearing it hides them. The kernel checks this
    // capability against the initial namespace, so a zone loses nothing.
    Capability::CAP_SYSLOG,
    // The host's power management.
    Capability::CAP_WAKE_ALARM,
    Capability::CAP_BLOCK_SUSPEND,
    // Kernel tracing and BPF observe the whole host and are a large attack
    // surface; basalt's tracing is a host service.
    Capability::CAP_PERFMON,
    Capability::CAP_BPF,
    // Choosing pids and reading other processes' mappings for
    // checkpointing, which zones do not support.
    Capability::CAP_CHECKPOINT_RESTORE,
];

/// Why confining a zone's init failed.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// Dropping one capability from one of the calling thread's sets failed.
    #[error("failed to drop {cap} from the {set:?} capability set")]
    DropCapability {
        cap: Capability,
        set: CapSet,
        #[source]
        source: caps::errors::CapsError,
    },
    /// Reading one of the calling thread's capability sets failed.
    #[error("failed to read the {set:?} capability set")]
    ReadCapabilities {
        set: CapSet,
        #[source]
        source: caps::errors::CapsError,
    },
    /// Writing one of the calling thread's capability sets failed.
    #[error("failed to set the {set:?} capability set")]
    SetCapabilities {
        set: CapSet,
        #[source]
        source: caps::errors::CapsError,
    },
    /// seccompiler has no filters for this architecture, or basalt has no
    /// list of system calls for it.
    #[error("failed to build the seccomp filter: architecture {arch} is not supported")]
    UnsupportedArch { arch: &'static str },
    /// seccompiler refused the filter or could not compile it.
    #[error("failed to compile the seccomp filter that answers {action}")]
    CompileFilter {
        action: &'static str,
        #[source]
        source: seccompiler::BackendError,
    },
    /// The kernel refused the filter.
    #[error("failed to install the seccomp filter that answers {action}")]
    InstallFilter {
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// Drops every capability not in [`ZONE_CAPABILITIES`] from the calling
/// thread's bounding, ambient, inheritable, effective and permitted sets.
///
/// The kept capabilities stay permitted and effective, so that the init the
/// caller execs as uid 0 gets them (its permitted set becomes the bounding
/// set). A capability the running kernel does not know is skipped: there is
/// nothing to drop. Capabilities newer than the `caps` crate knows (past
/// `CAP_CHECKPOINT_RESTORE`, the last one in Linux 6.18) are not dropped.
///
/// Dropping from the bounding set needs `CAP_SETPCAP`, which the zone's
/// setup holds in its user namespace. Capability sets are per thread: the
/// caller must be the thread that execs.
pub fn bound_capabilities() -> Result<(), SecurityError> {
    for &cap in DENIED_CAPABILITIES {
        // An error here means the running kernel predates `cap`.
        if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|source| {
                SecurityError::DropCapability {
                    cap,
                    set: CapSet::Bounding,
                    source,
                }
            })?;
        }
    }
    for &cap in DENIED_CAPABILITIES {
        if caps::has_cap(None, CapSet::Ambient, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Ambient, cap).map_err(|source| {
                SecurityError::DropCapability {
                    cap,
                    set: CapSet::Ambient,
                    source,
                }
            })?;
        }
    }
    // Effective before permitted: the kernel refuses an effective set that
    // is not a subset of the permitted one.
    for set in [CapSet::Inheritable, CapSet::Effective, CapSet::Permitted] {
        keep_only_zone_capabilities(set)?;
    }
    Ok(())
}

fn keep_only_zone_capabilities(set: CapSet) -> Result<(), SecurityError> {
    let held =
        caps::read(None, set).map_err(|source| SecurityError::ReadCapabilities { set, source })?;
    let kept: caps::CapsHashSet = held
        .iter()
        .copied()
        .filter(|cap| ZONE_CAPABILITIES.contains(cap))
        .collect();
    if kept != held {
        caps::set(None, set, &kept)
            .map_err(|source| SecurityError::SetCapabilities { set, source })?;
    }
    Ok(())
}

/// How a denied system call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `EPERM`: the call exists and the zone may not make it.
    NotPermitted,
    /// `ENOSYS`: the call looks absent, so callers take their fallback.
    NotImplemented,
}

impl Refusal {
    /// The errno the call returns.
    pub fn errno(self) -> i32 {
        match self {
            Refusal::NotPermitted => libc::EPERM,
            Refusal::NotImplemented => libc::ENOSYS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Refusal::NotPermitted => "EPERM",
            Refusal::NotImplemented => "ENOSYS",
        }
    }
}

/// One system call the zone's filter refuses, on this architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeniedSyscall {
    pub name: &'static str,
    /// The call's number in the native ABI.
    pub nr: i64,
    /// On x86_64, its number in the x32 ABI (bit 30 set), listed too.
    pub x32_nr: Option<i64>,
    pub refusal: Refusal,
}

/// The x32 ABI's mark on system call numbers (`__X32_SYSCALL_BIT`).
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: i64 = 0x4000_0000;

/// `kexec_load`'s x32 entry, one of the few x32 calls with a number of its
/// own instead of x86_64's (arch/x86/entry/syscalls/syscall_64.tbl).
#[cfg(target_arch = "x86_64")]
const X32_KEXEC_LOAD: i64 = X32_SYSCALL_BIT + 528;

/// Calls refused with `EPERM`: each reaches the host as a whole (its
/// kernel, swap, clock, accounting, I/O ports) or is an attack surface a
/// zone has no use for.
///
/// Allowed on purpose: `name_to_handle_at` (systemd uses it to tell mount
/// points apart; a handle is only useful to `open_by_handle_at`, denied),
/// `reboot` (ends only the zone, see the module doc).
const REFUSED: &[(&str, libc::c_long)] = &[
    ("kexec_load", libc::SYS_kexec_load),
    ("kexec_file_load", libc::SYS_kexec_file_load),
    ("init_module", libc::SYS_init_module),
    ("finit_module", libc::SYS_finit_module),
    ("delete_module", libc::SYS_delete_module),
    ("swapon", libc::SYS_swapon),
    ("swapoff", libc::SYS_swapoff),
    ("bpf", libc::SYS_bpf),
    ("perf_event_open", libc::SYS_perf_event_open),
    // Opens any file of a filesystem by handle, bypassing paths: the escape
    // behind the first container breakouts.
    ("open_by_handle_at", libc::SYS_open_by_handle_at),
    ("clock_settime", libc::SYS_clock_settime),
    ("clock_adjtime", libc::SYS_clock_adjtime),
    ("settimeofday", libc::SYS_settimeofday),
    ("adjtimex", libc::SYS_adjtimex),
    ("acct", libc::SYS_acct),
    // Gone since Linux 6.8; refused where an older kernel still has it.
    ("lookup_dcookie", libc::SYS_lookup_dcookie),
    // Quotas are the host's (btrfs qgroups, set by basalt); quotactl names a
    // block device.
    ("quotactl", libc::SYS_quotactl),
    ("quotactl_fd", libc::SYS_quotactl_fd),
    // Lets a process stall the kernel on a page fault: widens race windows
    // in kernel exploits; live migration inside a zone is not supported.
    ("userfaultfd", libc::SYS_userfaultfd),
    #[cfg(target_arch = "x86_64")]
    ("iopl", libc::SYS_iopl),
    #[cfg(target_arch = "x86_64")]
    ("ioperm", libc::SYS_ioperm),
];

/// Calls refused with `ENOSYS`: the kernel keyring is not namespaced per
/// zone; with `ENOSYS` systemd and others run without a keyring instead of
/// failing.
const ABSENT: &[(&str, libc::c_long)] = &[
    ("keyctl", libc::SYS_keyctl),
    ("add_key", libc::SYS_add_key),
    ("request_key", libc::SYS_request_key),
];

/// Every system call the zone's filter refuses on this architecture.
pub fn denied_syscalls() -> Vec<DeniedSyscall> {
    let refused = REFUSED.iter().map(|c| (c, Refusal::NotPermitted));
    let absent = ABSENT.iter().map(|c| (c, Refusal::NotImplemented));
    refused
        .chain(absent)
        .map(|(&(name, nr), refusal)| DeniedSyscall {
            name,
            nr,
            x32_nr: x32_number(name, nr),
            refusal,
        })
        .collect()
}

#[cfg(target_arch = "x86_64")]
fn x32_number(name: &str, nr: i64) -> Option<i64> {
    Some(if name == "kexec_load" {
        X32_KEXEC_LOAD
    } else {
        nr | X32_SYSCALL_BIT
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn x32_number(_name: &str, _nr: i64) -> Option<i64> {
    None
}

/// The zone's seccomp filter, compiled for the running architecture.
///
/// seccompiler gives all the calls of one filter the same action, so the
/// two answers are two programs; the kernel runs every installed program on
/// each call and the strictest answer wins (`EPERM` or `ENOSYS` over allow).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFilter {
    /// Answers `EPERM` for the calls a zone may not make.
    pub refused: BpfProgram,
    /// Answers `ENOSYS` for the keyring calls.
    pub absent: BpfProgram,
}

/// Builds the zone's seccomp filter for the architecture basalt was built
/// for (x86_64 or aarch64): the system call numbers come from that
/// target's C library definitions, so the filter's architecture must be the
/// same.
pub fn seccomp_filter() -> Result<ZoneFilter, SecurityError> {
    let arch = target_arch()?;
    let denied = denied_syscalls();
    Ok(ZoneFilter {
        refused: compile(&denied, Refusal::NotPermitted, arch)?,
        absent: compile(&denied, Refusal::NotImplemented, arch)?,
    })
}

fn target_arch() -> Result<TargetArch, SecurityError> {
    let arch = std::env::consts::ARCH;
    match arch {
        "x86_64" | "aarch64" => {
            TargetArch::try_from(arch).map_err(|_| SecurityError::UnsupportedArch { arch })
        }
        _ => Err(SecurityError::UnsupportedArch { arch }),
    }
}

/// `ioctl` requests refused with `EPERM`: making a btrfs subvolume or
/// snapshot inside the zone's root. A new subvolume has a quota group of
/// its own, outside the zone's quota, and is left out of the zone's
/// snapshots and send streams. (`_IOW(0x94, n, 4096-byte args)`.)
pub const REFUSED_IOCTLS: [(&str, u32); 4] = [
    ("BTRFS_IOC_SNAP_CREATE", 0x5000_9401),
    ("BTRFS_IOC_SUBVOL_CREATE", 0x5000_940e),
    ("BTRFS_IOC_SNAP_CREATE_V2", 0x5000_9417),
    ("BTRFS_IOC_SUBVOL_CREATE_V2", 0x5000_9418),
];

/// `ioctl`'s number in the x32 ABI, which has an entry of its own.
#[cfg(target_arch = "x86_64")]
const X32_IOCTL: i64 = X32_SYSCALL_BIT + 514;

fn ioctl_rules() -> Result<Vec<seccompiler::SeccompRule>, seccompiler::BackendError> {
    use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
    REFUSED_IOCTLS
        .iter()
        .map(|&(_, request)| {
            // The kernel reads the request as an unsigned int: compare the
            // low 32 bits only, so that high bits cannot dodge the rule.
            SeccompRule::new(vec![SeccompCondition::new(
                1,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                u64::from(request),
            )?])
        })
        .collect()
}

fn compile(
    denied: &[DeniedSyscall],
    refusal: Refusal,
    arch: TargetArch,
) -> Result<BpfProgram, SecurityError> {
    let action = refusal.name();
    let mut rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> = denied
        .iter()
        .filter(|d| d.refusal == refusal)
        .flat_map(|d| std::iter::once(d.nr).chain(d.x32_nr))
        // No rules: the call matches whatever its arguments.
        .map(|nr| (nr, Vec::new()))
        .collect();
    if refusal == Refusal::NotPermitted {
        let ioctls =
            ioctl_rules().map_err(|e| SecurityError::CompileFilter { action, source: e })?;
        rules.insert(libc::SYS_ioctl, ioctls.clone());
        #[cfg(target_arch = "x86_64")]
        rules.insert(X32_IOCTL, ioctls);
    }
    let errno = u32::try_from(refusal.errno()).expect("errno values are positive");
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(errno),
        arch,
    )
    .and_then(BpfProgram::try_from)
    .map_err(|source| SecurityError::CompileFilter { action, source })?;
    Ok(filter)
}

/// Installs the zone's filter on the calling thread; everything it execs
/// or forks from then on inherits it. The caller is single-threaded right
/// before exec, so this covers the whole zone.
///
/// It does not set `no_new_privs`, which would stop setuid programs (su,
/// sudo, passwd) and file capabilities (ping) inside the zone: without it
/// the kernel lets a thread install a filter only if it holds
/// `CAP_SYS_ADMIN` in its current user namespace, which the zone's setup
/// and zlogin do. (seccompiler's own installer always sets it, so the
/// programs are installed through `sys::install_seccomp`.)
pub fn install_seccomp(filter: &ZoneFilter) -> Result<(), SecurityError> {
    for (action, program) in [("EPERM", &filter.refused), ("ENOSYS", &filter.absent)] {
        crate::sys::install_seccomp(program)
            .map_err(|source| SecurityError::InstallFilter { action, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
