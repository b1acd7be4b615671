//! The host's cgroup hierarchies, read from `/proc/self/mountinfo`, and the
//! cgroup tree a zone with its own cgroup namespace should see inside.
//!
//! A hierarchy is a `cgroup` or `cgroup2` mount directly under the cgroup
//! mount (`/sys/fs/cgroup/memory`, `/sys/fs/cgroup/systemd`,
//! `/sys/fs/cgroup/unified` on a hybrid host), or the `cgroup2` mount at
//! the cgroup mount itself on a v2 host. Its superblock options say which
//! controllers it carries, so a host that co-mounts `cpu,cpuacct` is
//! reproduced as such inside a zone.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::plan::Backend;

/// v1 mount options that are flags or keywords, not controllers.
const V1_FLAGS: [&str; 7] = [
    "none",
    "all",
    "noprefix",
    "xattr",
    "clone_children",
    "cpuset_v2_mode",
    "favordynmods",
];

/// One cgroup hierarchy the host has mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// Its directory under the cgroup mount (`memory`, `cpu,cpuacct`,
    /// `systemd`, `unified`); empty for the unified hierarchy of a v2 host,
    /// mounted at the cgroup mount itself.
    pub dir: String,
    /// A `cgroup2` (unified) hierarchy rather than a v1 one.
    pub unified: bool,
    /// Its superblock options, less `rw`/`ro`: controllers, `name=…` and
    /// flags on v1 (`cpu`, `cpuacct`; `name=systemd`), flags on v2.
    pub options: Vec<String>,
}

impl Hierarchy {
    /// The v1 controllers it carries (none for a named or unified one).
    pub fn controllers(&self) -> impl Iterator<Item = &str> {
        self.options
            .iter()
            .map(String::as_str)
            .filter(|o| !self.unified && !o.contains('=') && !V1_FLAGS.contains(o))
    }

    /// Whether it carries the v1 `controller`.
    pub fn has(&self, controller: &str) -> bool {
        self.controllers().any(|c| c == controller)
    }

    /// The prefix of cpuset's files (`cpuset.`, or none under `noprefix`)
    /// when it carries cpuset.
    pub(super) fn cpuset_prefix(&self) -> Option<&'static str> {
        let noprefix = self.options.iter().any(|o| o == "noprefix");
        self.has("cpuset")
            .then_some(if noprefix { "" } else { "cpuset." })
    }

    /// The data options that mount this hierarchy again inside a cgroup
    /// namespace. A v1 hierarchy is named by its controllers (and `name=`),
    /// with `none` when it has no controller, as the kernel would otherwise
    /// read a bare `name=` as "all controllers". `release_agent=` is left
    /// out: a cgroup namespace may not set it. cgroup2 gets no options: its
    /// root flags are the host's and only the host's namespace sets them.
    fn mount_data(&self) -> String {
        if self.unified {
            return String::new();
        }
        let mut opts: Vec<&str> = self
            .options
            .iter()
            .map(String::as_str)
            .filter(|o| !o.starts_with("release_agent="))
            .collect();
        if self.controllers().next().is_none() && !opts.contains(&"none") {
            opts.insert(0, "none");
        }
        opts.join(",")
    }
}

/// The host's cgroup layout: which backend, and its hierarchies (on v1,
/// every one under the mount, the unified one of a hybrid host included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// v1/hybrid or v2.
    pub backend: Backend,
    /// Every hierarchy, in the order the host mounted them.
    pub hierarchies: Vec<Hierarchy>,
}

/// The fields of a mountinfo line this module needs.
struct MountLine<'a> {
    mount_point: PathBuf,
    fstype: &'a str,
    super_options: &'a str,
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for `\`).
fn unescape(field: &str) -> PathBuf {
    let b = field.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) if b[i] == b'\\' => {
                let v = d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(out))
}

/// One line: `id parent maj:min root mount-point options [optional…] -
/// fstype source super-options`.
fn parse_line(line: &str) -> Option<MountLine<'_>> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let dash = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    Some(MountLine {
        mount_point: unescape(fields.get(4)?),
        fstype: fields.get(dash + 1)?,
        super_options: fields.get(dash + 3)?,
    })
}

fn hierarchy(dir: String, line: &MountLine<'_>) -> Hierarchy {
    Hierarchy {
        dir,
        unified: line.fstype == "cgroup2",
        options: line
            .super_options
            .split(',')
            .filter(|o| !matches!(*o, "rw" | "ro" | ""))
            .map(str::to_owned)
            .collect(),
    }
}

/// The cgroup layout under `mount` that `mountinfo` describes, or `None`
/// when no hierarchy is mounted there. Lines are taken in order, so a
/// later mount over the cgroup mount (or over one hierarchy) hides what
/// was mounted there before, as it does on the host.
pub fn parse_layout(mountinfo: &str, mount: &Path) -> Option<Layout> {
    let mut root: Option<Hierarchy> = None;
    let mut under: Vec<Hierarchy> = Vec::new();
    for line in mountinfo.lines().filter_map(parse_line) {
        let cgroup = matches!(line.fstype, "cgroup" | "cgroup2");
        if line.mount_point == mount {
            under.clear();
            root = (line.fstype == "cgroup2").then(|| hierarchy(String::new(), &line));
        } else if line.mount_point.parent() == Some(mount) {
            let Some(dir) = line.mount_point.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            under.retain(|h| h.dir != dir);
            if cgroup {
                under.push(hierarchy(dir.to_owned(), &line));
            }
        }
    }
    match root {
        Some(h) => Some(Layout {
            backend: Backend::V2,
            hierarchies: vec![h],
        }),
        None if under.iter().any(|h| !h.unified) => Some(Layout {
            backend: Backend::V1,
            hierarchies: under,
        }),
        None => None,
    }
}

/// One mount of the cgroup tree inside a zone.
///
/// The zone runtime mounts these in order, after it has entered the
/// zone's user, mount and cgroup namespaces, with `nosuid,nodev,noexec`;
/// each cgroup mount then shows the zone's own group as its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneMount {
    /// Where, relative to the zone's root (`sys/fs/cgroup/memory`).
    pub target: PathBuf,
    /// `tmpfs`, `cgroup` or `cgroup2`.
    pub fstype: &'static str,
    /// The data options (`mode=755`, `cpu,cpuacct`, `none,name=systemd`).
    pub data: String,
}

/// Where a zone's cgroup tree goes, relative to its root.
const ZONE_CGROUP: &str = "sys/fs/cgroup";

/// The cgroup tree a zone with a cgroup namespace sees: on v1 a tmpfs with
/// every host hierarchy (named and unified ones included, co-mounts kept
/// together) in the directory the host uses for it; on v2 the unified
/// hierarchy alone. A host's symlinks to co-mounted hierarchies (`cpu` →
/// `cpu,cpuacct`) are not mounts, and are not listed.
pub fn zone_mounts(layout: &Layout) -> Vec<ZoneMount> {
    let base = PathBuf::from(ZONE_CGROUP);
    if layout.backend == Backend::V2 {
        return vec![ZoneMount {
            target: base,
            fstype: "cgroup2",
            data: String::new(),
        }];
    }
    let mut out = vec![ZoneMount {
        target: base.clone(),
        fstype: "tmpfs",
        data: "mode=755".to_owned(),
    }];
    out.extend(layout.hierarchies.iter().map(|h| ZoneMount {
        target: base.join(&h.dir),
        fstype: if h.unified { "cgroup2" } else { "cgroup" },
        data: h.mount_data(),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This build machine's cgroup lines (and their neighbours), as read.
    const HYBRID: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
23 27 0:22 / /sys rw,relatime - sysfs sysfs rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    /// A Debian 10 host as systemd mounts it: co-mounts, optional fields,
    /// a release agent on the named hierarchy.
    const COMOUNTED: &str = "\
25 18 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:5 - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:6 - cgroup cgroup rw,xattr,name=systemd,release_agent=/lib/systemd/systemd-cgroups-agent
31 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
32 25 0:29 / /sys/fs/cgroup/net_cls,net_prio rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,net_cls,net_prio
33 25 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:12 - cgroup cgroup rw,memory
";

    const V2: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    fn cg() -> &'static Path {
        Path::new("/sys/fs/cgroup")
    }

    fn mounts(text: &str) -> Vec<String> {
        zone_mounts(&parse_layout(text, cg()).unwrap())
            .iter()
            .map(|m| format!("{} {} {}", m.target.display(), m.fstype, m.data))
            .collect()
    }

    #[test]
    fn this_hybrid_host() {
        let l = parse_layout(HYBRID, cg()).unwrap();
        assert_eq!(l.backend, Backend::V1);
        let dirs: Vec<&str> = l.hierarchies.iter().map(|h| h.dir.as_str()).collect();
        assert_eq!(
            dirs,
            [
                "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                "systemd", "unified"
            ]
        );
        let systemd = &l.hierarchies[8];
        assert_eq!(systemd.options, ["name=systemd"]);
        assert_eq!(systemd.controllers().count(), 0);
        assert!(l.hierarchies[9].unified);
        assert_eq!(l.hierarchies[2].cpuset_prefix(), Some("cpuset."));
        assert_eq!(
            mounts(HYBRID),
            [
                "sys/fs/cgroup tmpfs mode=755",
                "sys/fs/cgroup/cpu cgroup cpu",
                "sys/fs/cgroup/cpuacct cgroup cpuacct",
                "sys/fs/cgroup/cpuset cgroup cpuset",
                "sys/fs/cgroup/memory cgroup memory",
                "sys/fs/cgroup/devices cgroup devices",
                "sys/fs/cgroup/freezer cgroup freezer",
                "sys/fs/cgroup/blkio cgroup blkio",
                "sys/fs/cgroup/pids cgroup pids",
                "sys/fs/cgroup/systemd cgroup none,name=systemd",
                "sys/fs/cgroup/unified cgroup2 ",
            ]
        );
    }

    #[test]
    fn co_mounts_are_kept_and_the_release_agent_dropped() {
        let l = parse_layout(COMOUNTED, cg()).unwrap();
        let cpu = l.hierarchies.iter().find(|h| h.has("cpuacct")).unwrap();
        assert_eq!(cpu.dir, "cpu,cpuacct");
        assert!(cpu.has("cpu"));
        assert_eq!(
            mounts(COMOUNTED),
            [
                "sys/fs/cgroup tmpfs mode=755",
                "sys/fs/cgroup/unified cgroup2 ",
                "sys/fs/cgroup/systemd cgroup none,xattr,name=systemd",
                "sys/fs/cgroup/cpu,cpuacct cgroup cpu,cpuacct",
                "sys/fs/cgroup/net_cls,net_prio cgroup net_cls,net_prio",
                "sys/fs/cgroup/memory cgroup memory",
            ]
        );
    }

    #[test]
    fn a_v2_host() {
        let l = parse_layout(V2, cg()).unwrap();
        assert_eq!(l.backend, Backend::V2);
        assert_eq!(l.hierarchies.len(), 1);
        assert_eq!(l.hierarchies[0].dir, "");
        assert_eq!(mounts(V2), ["sys/fs/cgroup cgroup2 "]);
    }

    #[test]
    fn later_mounts_hide_earlier_ones() {
        // A cgroup2 mounted over a hybrid tree hides the v1 hierarchies.
        let over = format!("{HYBRID}50 31 0:40 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
        assert_eq!(parse_layout(&over, cg()).unwrap().backend, Backend::V2);
        // A tmpfs over it hides everything.
        let hidden = format!("{HYBRID}50 31 0:40 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n");
        assert_eq!(parse_layout(&hidden, cg()), None);
        // Memory mounted twice is one hierarchy.
        let twice =
            format!("{HYBRID}51 35 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
        let l = parse_layout(&twice, cg()).unwrap();
        assert_eq!(l.hierarchies.iter().filter(|h| h.has("memory")).count(), 1);
        // Something else over one hierarchy hides it alone.
        let covered = format!("{HYBRID}52 39 0:41 / /sys/fs/cgroup/pids rw - tmpfs tmpfs rw\n");
        let l = parse_layout(&covered, cg()).unwrap();
        assert!(!l.hierarchies.iter().any(|h| h.dir == "pids"));
        assert_eq!(l.hierarchies.len(), 9);
    }

    #[test]
    fn nothing_mounted_or_unusable_lines() {
        assert_eq!(parse_layout("", cg()), None);
        assert_eq!(parse_layout("garbage\n1 2 3\n", cg()), None);
        // Only the unified one under a tmpfs: no v1 hierarchy to use.
        let only = "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                    41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert_eq!(parse_layout(only, cg()), None);
        // Elsewhere is not here.
        assert_eq!(parse_layout(HYBRID, Path::new("/cgroup")), None);
    }

    #[test]
    fn escaped_mount_points() {
        let text = "1 0 0:1 / /a\\040b rw - tmpfs tmpfs rw\n\
                    2 1 0:2 / /a\\040b/x\\134y rw - cgroup cgroup rw,pids\n";
        let l = parse_layout(text, Path::new("/a b")).unwrap();
        assert_eq!(l.hierarchies[0].dir, "x\\y");
        assert_eq!(unescape("\\04"), PathBuf::from("\\04"));
    }

    #[test]
    fn noprefix_cpuset() {
        let text = "1 0 0:1 / /cg rw - tmpfs tmpfs rw\n\
                    2 1 0:2 / /cg/cpuset rw - cgroup cgroup rw,cpuset,noprefix\n";
        let l = parse_layout(text, Path::new("/cg")).unwrap();
        assert_eq!(l.hierarchies[0].cpuset_prefix(), Some(""));
        assert_eq!(l.hierarchies[0].mount_data(), "cpuset,noprefix");
    }
}
