//! Applying a plan: an instance's cgroup is `<parent>/<name>` in every
//! hierarchy the plan touches (v1) or in the unified one (v2), created
//! before the instance starts, written with the plan's settings, and
//! removed once it holds no process.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::plan::{Backend, Setting};

/// The v1 hierarchies an instance's cgroup lives in.
pub const V1_HIERARCHIES: [&str; 4] = ["memory", "cpu", "pids", "blkio"];

/// A failure to create, write or remove an instance's cgroup.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// Neither a v1 nor a v2 layout is mounted where cgroups live.
    #[error("no cgroup hierarchy found under {0}")]
    NoHierarchy(PathBuf),
    /// A cgroup directory or file could not be made, written or removed.
    #[error("failed to {what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> CgroupError {
    let path = path.to_owned();
    move |source| CgroupError::Io { what, path, source }
}

/// Where instance cgroups go: a parent group under the cgroup mount.
#[derive(Debug, Clone)]
pub struct Cgroups {
    backend: Backend,
    mount: PathBuf,
    parent: String,
}

impl Cgroups {
    /// The layout mounted at `mount` (`/sys/fs/cgroup`): v2 when its top is
    /// the unified hierarchy, v1 when it holds per-controller hierarchies.
    /// Instance cgroups go under `parent` (`basalt`).
    pub fn detect(mount: &Path, parent: &str) -> Result<Cgroups, CgroupError> {
        let backend = if mount.join("cgroup.controllers").exists() {
            Backend::V2
        } else if mount.join("memory").is_dir() {
            Backend::V1
        } else {
            return Err(CgroupError::NoHierarchy(mount.to_owned()));
        };
        Ok(Cgroups {
            backend,
            mount: mount.to_owned(),
            parent: parent.to_owned(),
        })
    }

    /// The host's layout.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// An instance's cgroup directory in `hierarchy` (ignored on v2).
    pub fn dir(&self, hierarchy: &str, name: &str) -> PathBuf {
        match self.backend {
            Backend::V1 => self.mount.join(hierarchy).join(&self.parent).join(name),
            Backend::V2 => self.mount.join(&self.parent).join(name),
        }
    }

    fn hierarchies(&self) -> Vec<&'static str> {
        match self.backend {
            Backend::V1 => V1_HIERARCHIES.to_vec(),
            Backend::V2 => vec![""],
        }
    }

    /// Creates an instance's cgroup (and the parent, with the controllers
    /// it needs enabled on v2).
    pub fn create(&self, name: &str) -> Result<(), CgroupError> {
        if self.backend == Backend::V2 {
            self.enable_v2_controllers()?;
        }
        for h in self.hierarchies() {
            let dir = self.dir(h, name);
            fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
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

    /// Removes the parent group where it holds no instance any more (tests
    /// and hosts that stop using basalt).
    pub fn remove_parent(&self) -> Result<(), CgroupError> {
        let dirs: Vec<PathBuf> = match self.backend {
            Backend::V1 => V1_HIERARCHIES
                .iter()
                .map(|h| self.mount.join(h).join(&self.parent))
                .collect(),
            Backend::V2 => vec![self.mount.join(&self.parent)],
        };
        for dir in dirs {
            match fs::remove_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &dir)(e)),
            }
        }
        Ok(())
    }

    /// Reads back a setting's file (for checks and for `vmadm get`).
    pub fn read(&self, name: &str, hierarchy: &str, file: &str) -> Result<String, CgroupError> {
        let path = self.dir(hierarchy, name).join(file);
        fs::read_to_string(&path)
            .map(|s| s.trim().to_owned())
            .map_err(io_err("read", &path))
    }

    /// Removes an instance's cgroup; it must hold no process. A cgroup
    /// already gone is not an error.
    pub fn remove(&self, name: &str) -> Result<(), CgroupError> {
        for h in self.hierarchies() {
            let dir = self.dir(h, name);
            match fs::remove_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &dir)(e)),
            }
        }
        Ok(())
    }
}
