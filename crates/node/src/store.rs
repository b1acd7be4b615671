//! The instance store: one JSON file per instance under `/etc/zones`,
//! written atomically, with a lock per instance so that two vmadm processes
//! cannot interleave changes to one instance. A file that cannot be read or
//! parsed is reported by name while the other instances still list.
//!
//! The file holds the instance's configuration as vmadm's object (readable
//! by operators) plus the node's own record of its runtime: `zone_state`.

use std::fs;
use std::path::{Path, PathBuf};

use basalt_model::ids::is_uuid;
use basalt_model::{VmObject, VmUuid};
use serde_json::{Map, Value};

use crate::fsutil::{FileLock, wait_lock, write_atomic};
use crate::paths::Paths;

/// A failure of the instance store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file could not be read.
    #[error("failed to read instance configuration {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not a JSON object with a matching uuid.
    #[error("instance configuration {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// The file could not be written or removed.
    #[error("failed to write instance configuration {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The lock could not be taken.
    #[error("failed to lock instance {uuid}")]
    Lock {
        uuid: VmUuid,
        #[source]
        source: std::io::Error,
    },
    /// The store's directory could not be listed.
    #[error("failed to list instance configurations in {path}")]
    List {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The exclusive lock on one instance; released when dropped.
#[derive(Debug)]
pub struct InstanceLock {
    _lock: FileLock,
}

/// The node-wide lock; released when dropped.
#[derive(Debug)]
pub struct NodeLock {
    _lock: FileLock,
}

/// The instance store under a node's paths.
#[derive(Debug, Clone)]
pub struct Store {
    paths: Paths,
}

impl Store {
    /// The store under `paths`.
    pub fn new(paths: Paths) -> Self {
        Self { paths }
    }

    /// Takes the lock on instance `uuid`, waiting for another process that
    /// holds it.
    pub fn lock(&self, uuid: &VmUuid) -> Result<InstanceLock, StoreError> {
        let lock = wait_lock(&self.paths.zone_lock(uuid)).map_err(|source| StoreError::Lock {
            uuid: uuid.clone(),
            source,
        })?;
        Ok(InstanceLock { _lock: lock })
    }

    /// Takes the lock on instance `uuid` if no other process holds it.
    pub fn try_lock(&self, uuid: &VmUuid) -> Result<Option<InstanceLock>, StoreError> {
        let lock =
            crate::fsutil::lock_file(&self.paths.zone_lock(uuid), false).map_err(|source| {
                StoreError::Lock {
                    uuid: uuid.clone(),
                    source,
                }
            })?;
        Ok(lock.map(|l| InstanceLock { _lock: l }))
    }

    /// Takes the node-wide lock that serialises creates and updates while
    /// they check the node's other instances (MAC, IP and VRRP conflicts)
    /// and write. Taken before any instance's lock.
    pub fn lock_node(&self) -> Result<NodeLock, StoreError> {
        let path = self.paths.zone_configs().join(".lock");
        let lock = wait_lock(&path).map_err(|source| StoreError::List { path, source })?;
        Ok(NodeLock { _lock: lock })
    }

    /// Whether instance `uuid` exists.
    pub fn exists(&self, uuid: &VmUuid) -> bool {
        self.paths.zone_config(uuid).exists()
    }

    /// Reads instance `uuid`; `None` if it does not exist.
    pub fn read(&self, uuid: &VmUuid) -> Result<Option<Map<String, Value>>, StoreError> {
        let path = self.paths.zone_config(uuid);
        match fs::read(&path) {
            Ok(bytes) => parse(&path, &bytes, uuid.as_str()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Read { path, source }),
        }
    }

    /// Writes instance `uuid` atomically. The caller holds its lock.
    pub fn write(
        &self,
        uuid: &VmUuid,
        vm: &Map<String, Value>,
        _lock: &InstanceLock,
    ) -> Result<(), StoreError> {
        let path = self.paths.zone_config(uuid);
        let mut text = serde_json::to_string_pretty(vm).unwrap_or_default();
        text.push('\n');
        write_atomic(&path, text.as_bytes(), 0o644)
            .map_err(|source| StoreError::Write { path, source })
    }

    /// Removes instance `uuid`'s configuration. The caller holds its lock.
    /// The lock file stays: a process waiting on it must not end up holding
    /// a lock on a file another process has replaced.
    pub fn remove(&self, uuid: &VmUuid, _lock: &InstanceLock) -> Result<(), StoreError> {
        let path = self.paths.zone_config(uuid);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StoreError::Write { path, source }),
        }
        Ok(())
    }

    /// Every instance, sorted by uuid; each unreadable one is an error in
    /// the list, the others are still there.
    pub fn list(&self) -> Result<Vec<Result<VmObject, StoreError>>, StoreError> {
        let dir = self.paths.zone_configs();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::List { path: dir, source }),
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.strip_suffix(".json").is_some_and(is_uuid))
            .collect();
        names.sort();
        Ok(names
            .into_iter()
            .map(|name| {
                let path = dir.join(&name);
                let uuid = name.trim_end_matches(".json");
                fs::read(&path)
                    .map_err(|source| StoreError::Read {
                        path: path.clone(),
                        source,
                    })
                    .and_then(|bytes| parse(&path, &bytes, uuid))
            })
            .collect())
    }
}

fn parse(path: &Path, bytes: &[u8], uuid: &str) -> Result<Map<String, Value>, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let value: Value = serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))?;
    let Value::Object(vm) = value else {
        return Err(corrupt("not a JSON object".into()));
    };
    match vm.get("uuid").and_then(Value::as_str) {
        Some(u) if u == uuid => {}
        Some(u) => return Err(corrupt(format!("it names uuid {u}"))),
        None => return Err(corrupt("it has no uuid".into())),
    }
    match vm.get("brand").and_then(Value::as_str) {
        Some(b) if b.parse::<basalt_model::Brand>().is_ok() => Ok(vm),
        _ => Err(corrupt("it has no valid brand".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::fcntl::{Flock, FlockArg};
    use serde_json::json;
    use std::fs::File;

    const U1: &str = "11111111-1111-4111-8111-111111111111";
    const U2: &str = "22222222-2222-4222-8222-222222222222";

    fn vm(uuid: &str) -> Map<String, Value> {
        json!({"uuid": uuid, "brand": "joyent"})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn write_read_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Paths::new(dir.path()));
        let u1: VmUuid = U1.parse().unwrap();
        assert!(store.read(&u1).unwrap().is_none());
        let lock = store.lock(&u1).unwrap();
        store.write(&u1, &vm(U1), &lock).unwrap();
        assert_eq!(store.read(&u1).unwrap().unwrap(), vm(U1));
        assert!(store.exists(&u1));
        assert_eq!(store.list().unwrap().len(), 1);
        store.remove(&u1, &lock).unwrap();
        assert!(!store.exists(&u1));
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn a_corrupt_file_is_named_and_the_others_still_list() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        let store = Store::new(paths.clone());
        let u1: VmUuid = U1.parse().unwrap();
        let lock = store.lock(&u1).unwrap();
        store.write(&u1, &vm(U1), &lock).unwrap();
        let u2: VmUuid = U2.parse().unwrap();
        fs::write(paths.zone_config(&u2), b"{\"uuid\": ").unwrap();
        fs::write(paths.zone_configs().join("notes.txt"), b"ignored").unwrap();
        let all = store.list().unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[0].is_ok());
        let err = all[1].as_ref().unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "instance configuration {} is corrupt",
                paths.zone_config(&u2).display()
            )),
            "{err}"
        );
        fs::write(
            paths.zone_config(&u2),
            json!({"uuid": U1, "brand": "joyent"}).to_string(),
        )
        .unwrap();
        assert!(
            store
                .read(&u2)
                .unwrap_err()
                .to_string()
                .ends_with("it names uuid 11111111-1111-4111-8111-111111111111")
        );
    }

    #[test]
    fn the_lock_excludes_a_second_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(Paths::new(dir.path()));
        let u1: VmUuid = U1.parse().unwrap();
        let held = store.lock(&u1).unwrap();
        let path = Paths::new(dir.path()).zone_lock(&u1);
        let other = File::open(&path).unwrap();
        let second = Flock::lock(other, FlockArg::LockExclusiveNonblock);
        assert!(
            second.is_err(),
            "a second exclusive lock must fail while the first is held"
        );
        drop(held);
        let other = File::open(&path).unwrap();
        assert!(Flock::lock(other, FlockArg::LockExclusiveNonblock).is_ok());
    }
}
