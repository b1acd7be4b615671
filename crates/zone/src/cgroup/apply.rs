//! An instance's cgroup: `<parent>/<name>` in every hierarchy the host has
//! mounted (v1: each controller's, the named `systemd` one and, on a hybrid
//! host, the unified one) or in the unified one (v2). Created before the
//! instance starts, written with the plan's settings, and removed with
//! every group the instance made under it once it holds no process.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::hierarchy::{Hierarchy, Layout, ZoneMount, parse_layout, zone_mounts};
use super::plan::{Backend, Setting};

/// The v1 controllers an instance's limits are written in. The instance's
/// group exists in every mounted hierarchy, not only these.
pub const V1_HIERARCHIES: [&str; 4] = ["memory", "cpu", "pids", "blkio"];

const MOUNTINFO: &str = "/proc/self/mountinfo";

/// A failure to create, hand over, write or remove an instance's cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Neither a v1 nor a v2 layout is mounted where cgroups live.
    #[error("no cgroup hierarchy found under {0}")]
    NoHierarchy(PathBuf),
    /// An instance or parent name that is not one path component.
    #[error("invalid cgroup name {0:?}")]
    BadName(String),
    /// A cgroup directory or file could not be made, written or removed.
    #[error("failed to {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A process could not be moved into the instance's group.
    #[error("failed to move process {pid} into {}", path.display())]
    Attach {
        pid: u32,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The instance's group (or a group under it) still holds processes.
    #[error("failed to remove {}: processes {pids:?} are still in it", path.display())]
    Occupied { path: PathBuf, pids: Vec<u32> },
}

pub(super) fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CgroupError {
    let path = path.to_owned();
    move |source| CgroupError::Io { what, path, source }
}

/// Where instance cgroups go: a parent group under the cgroup mount.
#[derive(Debug, Clone)]
pub struct Cgroups {
    backend: Backend,
    mount: PathBuf,
    parent: String,
    hierarchies: Vec<Hierarchy>,
}

impl Cgroups {
    /// The layout mounted at `mount` (`/sys/fs/cgroup`), as this process's
    /// mountinfo shows it. Instance cgroups go under `parent` (`basalt`).
    pub fn detect(mount: &Path, parent: &str) -> Result<Cgroups, CgroupError> {
        let text = fs::read_to_string(MOUNTINFO).map_err(io_err("read", Path::new(MOUNTINFO)))?;
        Cgroups::from_mountinfo(&text, mount, parent)
    }

    /// The layout under `mount` that `mountinfo` describes: v2 when the
    /// unified hierarchy is mounted there, v1 when per-controller
    /// hierarchies are mounted under it.
    pub fn from_mountinfo(
        mountinfo: &str,
        mount: &Path,
        parent: &str,
    ) -> Result<Cgroups, CgroupError> {
        check_name(parent)?;
        let Layout {
            backend,
            hierarchies,
        } = parse_layout(mountinfo, mount).ok_or_else(|| CgroupError::NoHierarchy(mount.into()))?;
        Ok(Cgroups {
            backend,
            mount: mount.to_owned(),
            parent: parent.to_owned(),
            hierarchies,
        })
    }

    /// The host's layout.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Every hierarchy an instance's group is made in.
    pub fn hierarchies(&self) -> &[Hierarchy] {
        &self.hierarchies
    }

    /// The mounts that show a zone its own cgroup tree from inside its
    /// cgroup namespace (see [`ZoneMount`]).
    pub fn zone_mounts(&self) -> Vec<ZoneMount> {
        zone_mounts(&Layout {
            backend: self.backend,
            hierarchies: self.hierarchies.clone(),
        })
    }

    fn root(&self, h: &Hierarchy) -> PathBuf {
        if h.dir.is_empty() {
            self.mount.clone()
        } else {
            self.mount.join(&h.dir)
        }
    }

    /// An instance's cgroup directory in the v1 hierarchy named by its
    /// directory or by a controller it carries (`cpu` finds `cpu,cpuacct`);
    /// `hierarchy` is ignored on v2.
    pub fn dir(&self, hierarchy: &str, name: &str) -> PathBuf {
        let root = match self.backend {
            Backend::V2 => self.mount.clone(),
            Backend::V1 => self
                .hierarchies
                .iter()
                .find(|h| h.dir == hierarchy)
                .or_else(|| self.hierarchies.iter().find(|h| h.has(hierarchy)))
                .map_or_else(|| self.mount.join(hierarchy), |h| self.root(h)),
        };
        root.join(&self.parent).join(name)
    }

    /// An instance's cgroup directory in every hierarchy.
    pub fn dirs(&self, name: &str) -> Vec<PathBuf> {
        self.zone_dirs(name).map(|(_, d)| d).collect()
    }

    pub(super) fn zone_dirs<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a Hierarchy, PathBuf)> + 'a {
        self.hierarchies
            .iter()
            .map(move |h| (h, self.root(h).join(&self.parent).join(name)))
    }

    /// Creates an instance's cgroup in every hierarchy (and the parent,
    /// with the controllers it needs enabled on v2). Under cpuset, each new
    /// group gets its parent's CPUs and memory nodes, without which no task
    /// may join it, and the instance's group clones them into the groups
    /// its own init makes (`cgroup.clone_children`).
    pub fn create(&self, name: &str) -> Result<(), CgroupError> {
        check_name(name)?;
        if self.backend == Backend::V2 {
            self.enable_v2_controllers()?;
        }
        for h in &self.hierarchies {
            let root = self.root(h);
            let parent = root.join(&self.parent);
            let zone = parent.join(name);
            fs::create_dir_all(&zone).map_err(io_err("create", &zone))?;
            if let Some(prefix) = h.cpuset_prefix() {
                inherit_cpuset(&root, &parent, prefix)?;
                inherit_cpuset(&parent, &zone, prefix)?;
                let file = zone.join("cgroup.clone_children");
                fs::write(&file, "1").map_err(io_err("write", &file))?;
            }
        }
        Ok(())
    }

    fn enable_v2_controllers(&self) -> Result<(), CgroupError> {
        let parent = self.mount.join(&self.parent);
        fs::create_dir_all(&parent).map_err(io_err("create", &parent))?;
        for dir in [&self.mount, &parent] {
            let file = dir.join("cgroup.subtree_control");
            for c in ["+memory", "+cpu", "+pids", "+io"] {
                // A controller the kernel lacks is left off; the settings
                // that need it say whether they may be skipped.
                let _ = fs::write(&file, c);
            }
        }
        Ok(())
    }

    /// Writes settings into an instance's cgroup. Returns the optional
    /// settings the kernel could not take (not enforced on this host).
    pub fn apply<'a>(
        &self,
        name: &str,
        settings: &'a [Setting],
    ) -> Result<Vec<&'a Setting>, CgroupError> {
        let mut skipped = Vec::new();
        for s in settings {
            let file = self.dir(s.hierarchy, name).join(s.file);
            match fs::write(&file, &s.value) {
                Ok(()) => {}
                Err(e) if s.optional && e.kind() == io::ErrorKind::NotFound => skipped.push(s),
                Err(e) => return Err(io_err("write", &file)(e)),
            }
        }
        Ok(skipped)
    }

    /// Reads back a setting's file (for checks and for `vmadm get`).
    pub fn read(&self, name: &str, hierarchy: &str, file: &str) -> Result<String, CgroupError> {
        let path = self.dir(hierarchy, name).join(file);
        fs::read_to_string(&path)
            .map(|s| s.trim().to_owned())
            .map_err(io_err("read", &path))
    }

    /// Moves process `pid` into an instance's group in every hierarchy: the
    /// supervisor places the process it spawned before that process
    /// unshares its cgroup namespace, whose root is then the instance's
    /// group.
    pub fn attach(&self, name: &str, pid: u32) -> Result<(), CgroupError> {
        check_name(name)?;
        for (_, dir) in self.zone_dirs(name) {
            let path = dir.join("cgroup.procs");
            fs::write(&path, pid.to_string()).map_err(|source| CgroupError::Attach {
                pid,
                path,
                source,
            })?;
        }
        Ok(())
    }

    /// Every process in an instance's group and in the groups under it (its
    /// init makes its own), read from the pids hierarchy on v1 (any would
    /// do: the instance cannot move a process out of its subtree). A group
    /// already gone holds none.
    pub fn pids(&self, name: &str) -> Result<Vec<u32>, CgroupError> {
        check_name(name)?;
        let dirs: Vec<(&Hierarchy, PathBuf)> = self.zone_dirs(name).collect();
        let Some((_, dir)) = dirs.iter().find(|(h, _)| h.has("pids")).or(dirs.first()) else {
            return Ok(Vec::new());
        };
        procs_under(&subtree(dir)?)
    }

    /// Removes an instance's group and every group under it, deepest first,
    /// in every hierarchy; groups already gone are skipped. Fails, removing
    /// nothing, while any of them holds a process.
    pub fn remove(&self, name: &str) -> Result<(), CgroupError> {
        check_name(name)?;
        let mut trees = Vec::new();
        for (_, dir) in self.zone_dirs(name) {
            let groups = subtree(&dir)?;
            let pids = procs_under(&groups)?;
            if !pids.is_empty() {
                return Err(CgroupError::Occupied { path: dir, pids });
            }
            trees.push(groups);
        }
        for group in trees.iter().flatten() {
            remove_dir(group)?;
        }
        Ok(())
    }

    /// Removes an instance's cgroup once its last processes are gone (after
    /// a zone's init died, the kernel ends the rest of its pid namespace
    /// asynchronously), waiting up to `limit`.
    pub fn remove_when_empty(
        &self,
        name: &str,
        limit: std::time::Duration,
    ) -> Result<(), CgroupError> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            match self.remove(name) {
                Err(CgroupError::Occupied { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => return r,
            }
        }
    }

    /// Removes the parent group where it holds no instance any more (tests
    /// and hosts that stop using basalt).
    pub fn remove_parent(&self) -> Result<(), CgroupError> {
        for h in &self.hierarchies {
            remove_dir(&self.root(h).join(&self.parent))?;
        }
        Ok(())
    }
}

/// Instance and parent names are one path component, so that no name
/// reaches outside the parent group (or is the parent group itself).
pub(super) fn check_name(name: &str) -> Result<(), CgroupError> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(CgroupError::BadName(name.to_owned()));
    }
    Ok(())
}

/// Gives a new cpuset group its parent's CPUs and memory nodes, if it has
/// none yet.
fn inherit_cpuset(parent: &Path, child: &Path, prefix: &str) -> Result<(), CgroupError> {
    for what in ["cpus", "mems"] {
        let file = child.join(format!("{prefix}{what}"));
        let own = fs::read_to_string(&file).map_err(io_err("read", &file))?;
        if own.trim().is_empty() {
            let from = parent.join(format!("{prefix}{what}"));
            let value = fs::read_to_string(&from).map_err(io_err("read", &from))?;
            fs::write(&file, value.trim()).map_err(io_err("write", &file))?;
        }
    }
    Ok(())
}

fn remove_dir(dir: &Path) -> Result<(), CgroupError> {
    match fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", dir)(e)),
    }
}

/// The group at `dir` and every group under it, each after all the groups
/// under it (the order `rmdir` needs). Groups that vanish while it looks
/// (or were never made) are left out.
fn subtree(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(group) = todo.pop() {
        let entries = match fs::read_dir(&group) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("list", &group)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err("list", &group))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                todo.push(entry.path());
            }
        }
        found.push(group);
    }
    // Every group was found before the groups under it.
    found.reverse();
    Ok(found)
}

/// The processes in `groups`, sorted, each once.
fn procs_under(groups: &[PathBuf]) -> Result<Vec<u32>, CgroupError> {
    let mut pids = Vec::new();
    for group in groups {
        let file = group.join("cgroup.procs");
        let text = match fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("read", &file)(e)),
        };
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMOUNTED: &str = "\
25 18 0:22 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd
31 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
33 25 0:30 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";

    fn cgroups(text: &str) -> Cgroups {
        Cgroups::from_mountinfo(text, Path::new("/sys/fs/cgroup"), "basalt").unwrap()
    }

    #[test]
    fn a_controller_finds_its_hierarchy() {
        let c = cgroups(COMOUNTED);
        let z = |h| c.dir(h, "z").display().to_string();
        assert_eq!(z("cpu"), "/sys/fs/cgroup/cpu,cpuacct/basalt/z");
        assert_eq!(z("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct/basalt/z");
        assert_eq!(z("systemd"), "/sys/fs/cgroup/systemd/basalt/z");
        assert_eq!(z("pids"), "/sys/fs/cgroup/pids/basalt/z", "not mounted");
        let dirs: Vec<String> = c
            .dirs("z")
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        assert_eq!(
            dirs,
            [
                "/sys/fs/cgroup/unified/basalt/z",
                "/sys/fs/cgroup/systemd/basalt/z",
                "/sys/fs/cgroup/cpu,cpuacct/basalt/z",
                "/sys/fs/cgroup/memory/basalt/z",
            ]
        );
    }

    #[test]
    fn on_v2_one_directory() {
        let c = cgroups("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert_eq!(c.backend(), Backend::V2);
        assert_eq!(c.dir("memory", "z"), Path::new("/sys/fs/cgroup/basalt/z"));
        assert_eq!(c.dirs("z"), [PathBuf::from("/sys/fs/cgroup/basalt/z")]);
    }

    #[test]
    fn names_are_one_component() {
        let c = cgroups(COMOUNTED);
        for bad in ["", ".", "..", "a/b", "../x"] {
            assert!(
                matches!(c.remove(bad), Err(CgroupError::BadName(_))),
                "{bad:?}"
            );
            assert!(
                matches!(c.pids(bad), Err(CgroupError::BadName(_))),
                "{bad:?}"
            );
        }
        let e = Cgroups::from_mountinfo(COMOUNTED, Path::new("/sys/fs/cgroup"), "a/b");
        assert!(matches!(e, Err(CgroupError::BadName(_))));
        let e = Cgroups::from_mountinfo("", Path::new("/sys/fs/cgroup"), "basalt").unwrap_err();
        assert_eq!(
            e.to_string(),
            "no cgroup hierarchy found under /sys/fs/cgroup"
        );
    }

    #[test]
    fn a_subtree_lists_children_before_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join("z");
        for d in ["a/b/c", "a/d", "e"] {
            fs::create_dir_all(top.join(d)).unwrap();
        }
        fs::write(top.join("a/b/cgroup.procs"), "7\n3\n").unwrap();
        fs::write(top.join("e/cgroup.procs"), "3\n").unwrap();
        let groups = subtree(&top).unwrap();
        assert_eq!(groups.len(), 6);
        for (i, g) in groups.iter().enumerate() {
            for later in &groups[i + 1..] {
                assert!(
                    !later.starts_with(g),
                    "{} before {}",
                    g.display(),
                    later.display()
                );
            }
        }
        assert_eq!(groups.last().unwrap(), &top);
        assert_eq!(procs_under(&groups).unwrap(), [3, 7]);
        assert!(subtree(&tmp.path().join("gone")).unwrap().is_empty());
    }
}
