//! The file system a zone sees, as a list of steps computed from its spec:
//! /proc (with its host-wide knobs read-only), a read-only /sys, a minimal
//! /dev, tmpfs on /run and /tmp, the instance's own `filesystems`, and the
//! cgroup tree for an init that manages cgroups. The zone's setup process
//! applies the steps, in order, under the new root before it pivots.

use std::path::PathBuf;

use nix::mount::MsFlags;

use crate::spec::ZoneSpec;

/// One step of building a zone's file system. Targets are relative to the
/// zone's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Mount a file system (the target directory is made if missing).
    Mount {
        /// The file system type.
        fstype: String,
        /// Its source.
        source: String,
        /// Where, relative to the root.
        target: String,
        /// Mount flags.
        flags: MsFlags,
        /// File-system-specific data.
        data: String,
    },
    /// Bind a host file or directory (an empty file or a directory is made
    /// as the mount point, after the source's kind).
    Bind {
        /// The host path.
        source: PathBuf,
        /// Where, relative to the root.
        target: String,
        /// Remount the bind read-only.
        read_only: bool,
    },
    /// Make an existing path under the root read-only (a bind onto itself,
    /// remounted); a path the kernel does not have is skipped.
    ReadOnly {
        /// Relative to the root.
        target: String,
    },
    /// A symbolic link.
    Symlink {
        /// The link, relative to the root.
        link: String,
        /// What it points to.
        to: String,
    },
}

/// The host devices every zone gets, bound from the host's /dev: the
/// harmless character devices. Block devices, /dev/mem, /dev/kmsg and the
/// like are never there.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// /proc entries that reach beyond the zone's namespaces and stay
/// read-only: kernel tunables, magic SysRq, interrupt affinity, bus
/// devices.
pub const PROC_READ_ONLY: [&str; 4] = ["proc/sys", "proc/sysrq-trigger", "proc/irq", "proc/bus"];

fn mount(fstype: &str, target: &str, flags: MsFlags, data: impl Into<String>) -> Step {
    Step::Mount {
        fstype: fstype.to_owned(),
        source: fstype.to_owned(),
        target: target.to_owned(),
        flags,
        data: data.into(),
    }
}

fn symlink(link: &str, to: &str) -> Step {
    Step::Symlink {
        link: link.to_owned(),
        to: to.to_owned(),
    }
}

/// Changes the size of the zone's `/tmp` tmpfs; the caller has joined the
/// zone (see `crate::enter`).
pub fn resize_tmp(mib: u64) -> nix::Result<()> {
    nix::mount::mount(
        None::<&str>,
        "/tmp",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some(format!("mode=1777,size={mib}m").as_str()),
    )
}

/// The steps that build a zone's file system.
pub fn plan(spec: &ZoneSpec) -> Vec<Step> {
    let hidden = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let mut steps = vec![mount("proc", "proc", hidden, "")];
    steps.extend(PROC_READ_ONLY.iter().map(|t| Step::ReadOnly {
        target: (*t).to_owned(),
    }));
    steps.push(mount("sysfs", "sys", hidden | MsFlags::MS_RDONLY, ""));
    for c in &spec.cgroup_mounts {
        let flags = if c.fstype == "tmpfs" {
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
        } else {
            hidden
        };
        steps.push(Step::Mount {
            fstype: c.fstype.clone(),
            source: if c.fstype == "tmpfs" {
                "tmpfs"
            } else {
                "cgroup"
            }
            .to_owned(),
            target: c.target.clone(),
            flags,
            data: c.data.clone(),
        });
    }

    steps.push(mount(
        "tmpfs",
        "dev",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        "mode=755,size=65536k",
    ));
    steps.extend(DEVICES.iter().map(|d| Step::Bind {
        source: PathBuf::from("/dev").join(d),
        target: format!("dev/{d}"),
        read_only: false,
    }));
    steps.push(Step::Mount {
        fstype: "devpts".into(),
        source: "devpts".into(),
        target: "dev/pts".into(),
        flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        data: "newinstance,ptmxmode=0666,mode=0620,gid=5".into(),
    });
    steps.push(symlink("dev/ptmx", "pts/ptmx"));
    steps.push(mount(
        "tmpfs",
        "dev/shm",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "mode=1777",
    ));
    steps.push(mount("mqueue", "dev/mqueue", hidden, ""));
    steps.push(symlink("dev/fd", "/proc/self/fd"));
    for (i, s) in ["stdin", "stdout", "stderr"].iter().enumerate() {
        steps.push(symlink(&format!("dev/{s}"), &format!("/proc/self/fd/{i}")));
    }
    if let Some(console) = &spec.console {
        steps.push(Step::Bind {
            source: console.clone(),
            target: "dev/console".into(),
            read_only: false,
        });
    }

    steps.push(mount(
        "tmpfs",
        "run",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        format!("mode=755,size={}m", spec.run_mib.max(1)),
    ));
    if spec.tmpfs_mib > 0 {
        steps.push(mount(
            "tmpfs",
            "tmp",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            format!("mode=1777,size={}m", spec.tmpfs_mib),
        ));
    }

    for fs in &spec.filesystems {
        let target = fs.target.trim_start_matches('/').to_owned();
        let read_only = fs.options.iter().any(|o| o == "ro");
        if fs.fstype == "lofs" {
            steps.push(Step::Bind {
                source: PathBuf::from(&fs.source),
                target,
                read_only,
            });
        } else {
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
            if read_only {
                flags |= MsFlags::MS_RDONLY;
            }
            let data: Vec<&str> = fs
                .options
                .iter()
                .map(String::as_str)
                .filter(|o| !matches!(*o, "ro" | "rw" | "nodevices" | "nosuid"))
                .collect();
            steps.push(Step::Mount {
                fstype: fs.fstype.clone(),
                source: fs.source.clone(),
                target,
                flags,
                data: data.join(","),
            });
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{CgroupMount, Filesystem, IdMap};

    fn spec() -> ZoneSpec {
        ZoneSpec {
            name: "z".into(),
            root: "/zones/z/root".into(),
            hostname: "web".into(),
            ids: IdMap::nth(0),
            init: vec!["/sbin/init".into()],
            env: vec![],
            workdir: None,
            user: None,
            tmpfs_mib: 256,
            run_mib: 64,
            filesystems: vec![],
            cgroup_mounts: vec![],
            console: Some("/dev/pts/7".into()),
        }
    }

    fn targets(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| match s {
                Step::Mount { target, .. }
                | Step::Bind { target, .. }
                | Step::ReadOnly { target } => target.clone(),
                Step::Symlink { link, .. } => link.clone(),
            })
            .collect()
    }

    #[test]
    fn proc_and_its_host_wide_knobs_come_first_then_a_read_only_sys() {
        let steps = plan(&spec());
        let t = targets(&steps);
        assert_eq!(
            t[..6],
            [
                "proc",
                "proc/sys",
                "proc/sysrq-trigger",
                "proc/irq",
                "proc/bus",
                "sys"
            ]
        );
        let Step::Mount { flags, .. } = &steps[5] else {
            panic!("sys is a mount")
        };
        assert!(flags.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn dev_holds_only_the_harmless_devices_a_private_devpts_and_the_console() {
        let t = targets(&plan(&spec()));
        let dev: Vec<&String> = t.iter().filter(|t| t.starts_with("dev/")).collect();
        for d in [
            "null", "zero", "full", "random", "urandom", "tty", "console", "ptmx",
        ] {
            assert!(dev.iter().any(|t| **t == format!("dev/{d}")), "{d}");
        }
        assert!(t.contains(&"dev/pts".to_owned()));
        assert!(t.contains(&"dev/shm".to_owned()));
        assert!(!t.iter().any(|t| t.contains("kmsg") || t.contains("mem")));
        let dev_pos = t.iter().position(|t| t == "dev").unwrap();
        let null_pos = t.iter().position(|t| t == "dev/null").unwrap();
        assert!(
            dev_pos < null_pos,
            "the tmpfs on /dev comes before its nodes"
        );
    }

    #[test]
    fn tmp_is_sized_by_the_tmpfs_property_and_absent_at_zero() {
        let steps = plan(&spec());
        assert!(steps.iter().any(|s| matches!(s,
            Step::Mount { target, data, .. } if target == "tmp" && data == "mode=1777,size=256m")));
        let mut s = spec();
        s.tmpfs_mib = 0;
        assert!(!targets(&plan(&s)).contains(&"tmp".to_owned()));
    }

    #[test]
    fn lofs_filesystems_are_binds_and_others_mounts() {
        let mut s = spec();
        s.filesystems = vec![
            Filesystem {
                fstype: "lofs".into(),
                source: "/data/shared".into(),
                target: "/shared".into(),
                options: vec!["ro".into(), "nodevices".into()],
            },
            Filesystem {
                fstype: "tmpfs".into(),
                source: "swap".into(),
                target: "/scratch".into(),
                options: vec!["size=10m".into()],
            },
        ];
        let steps = plan(&s);
        assert!(steps.contains(&Step::Bind {
            source: "/data/shared".into(),
            target: "shared".into(),
            read_only: true,
        }));
        assert!(steps.iter().any(|st| matches!(st,
            Step::Mount { fstype, target, data, .. }
                if fstype == "tmpfs" && target == "scratch" && data == "size=10m")));
    }

    #[test]
    fn cgroup_mounts_follow_sys() {
        let mut s = spec();
        s.cgroup_mounts = vec![
            CgroupMount {
                target: "sys/fs/cgroup".into(),
                fstype: "tmpfs".into(),
                data: "mode=755".into(),
            },
            CgroupMount {
                target: "sys/fs/cgroup/systemd".into(),
                fstype: "cgroup".into(),
                data: "none,name=systemd".into(),
            },
        ];
        let t = targets(&plan(&s));
        let sys = t.iter().position(|t| t == "sys").unwrap();
        assert_eq!(t[sys + 1], "sys/fs/cgroup");
        assert_eq!(t[sys + 2], "sys/fs/cgroup/systemd");
    }
}
