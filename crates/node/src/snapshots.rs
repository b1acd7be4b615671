//! Instance snapshots: `vmadm create-snapshot`, `delete-snapshot` and
//! `rollback-snapshot`, and the `snapshots` member of `vmadm get`.
//!
//! An instance snapshot named `n` is the pool snapshot
//! `<zfs_filesystem>@vmsnap-n` of the instance's dataset, and of every
//! dataset below it (none for an OS instance today: delegated datasets are
//! refused, as in SmartOS). Only `vmsnap-` snapshots are the instance's;
//! snapshots taken by other tools are left alone and never listed.
//!
//! The checks come in SmartOS's order (VM.js): the name first, then the
//! instance, its brand, delegated datasets (create only), then whether the
//! snapshot exists. Each operation holds the instance's lock; creating and
//! deleting a snapshot bump `last_modified`, as SmartOS does.

use std::time::{Duration, UNIX_EPOCH};

use basalt_model::VmUuid;
use basalt_pool::{Dataset, DatasetName, Kind, Pool, PoolError, SnapshotName};
use serde_json::{Map, Value, json};

use crate::instances::{Node, NodeError, now_iso};
use crate::store::InstanceLock;

/// The prefix that marks a pool snapshot as an instance snapshot.
pub const PREFIX: &str = "vmsnap-";

/// The longest snapshot name vmadm accepts.
pub const MAX_NAME: usize = 64;

/// Whether `name` is a snapshot name vmadm accepts: 1 to 64 characters of
/// `[A-Za-z0-9_.:%-]`. (ZFS itself refuses `%` when a snapshot is made, so
/// such a name gets as far as the pool, which refuses it in ZFS's words.)
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'%'))
}

/// What the decisions below need of one entry of the pool's listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed<'a> {
    /// `pool/a/b` or `pool/a/b@s`.
    pub name: &'a str,
    /// Whether it is a snapshot.
    pub snapshot: bool,
    /// Bytes it holds exclusively.
    pub used: u64,
    /// Creation time, seconds since the epoch.
    pub creation: u64,
}

impl<'a> From<&'a Dataset> for Listed<'a> {
    fn from(d: &'a Dataset) -> Self {
        Listed {
            name: &d.name,
            snapshot: d.kind == Kind::Snapshot,
            used: d.used,
            creation: d.creation,
        }
    }
}

/// The pool's listing as [`Listed`] entries.
fn view(all: &[Dataset]) -> Vec<Listed<'_>> {
    all.iter().map(Listed::from).collect()
}

/// The instance's dataset and those below it (filesystems and volumes),
/// parents first: what an instance snapshot covers.
pub fn covered<'a>(root: &str, all: &[Listed<'a>]) -> Vec<&'a str> {
    let below = format!("{root}/");
    let mut tree: Vec<&str> = all
        .iter()
        .filter(|d| !d.snapshot)
        .map(|d| d.name)
        .filter(|n| *n == root || n.starts_with(&below))
        .collect();
    tree.sort_unstable();
    tree
}

/// `snapshots` as `vmadm get` prints it: the `vmsnap-` snapshots of the
/// instance's dataset `root`, newest first, each
/// `{"name", "size", "created_at"}`.
///
/// The members are those of the reference's property table (name, size in
/// MiB, creation time), in that order. `created_at` has ZFS's resolution
/// (seconds) in vmadm's ISO form. `size` is the bytes only the snapshot
/// holds (what deleting it frees: ZFS's `used` of a snapshot), in MiB and
/// fractional as JavaScript prints a division; ZFS's `written`, which
/// SmartOS reads, has no btrfs counterpart.
pub fn listing(root: &str, all: &[Listed<'_>]) -> Vec<Value> {
    let prefix = format!("{root}@{PREFIX}");
    // The pool lists a dataset's snapshots in the order they were taken;
    // reversed, snapshots taken within one second stay newest first.
    let mut snaps: Vec<(&str, &Listed<'_>)> = all
        .iter()
        .filter(|d| d.snapshot)
        .filter_map(|d| Some((d.name.strip_prefix(&prefix)?, d)))
        .filter(|(name, _)| !name.is_empty())
        .collect();
    snaps.reverse();
    snaps.sort_by_key(|(_, d)| std::cmp::Reverse(d.creation));
    snaps
        .into_iter()
        .map(|(name, d)| {
            json!({
                "name": name,
                "size": mib(d.used),
                "created_at": iso_seconds(d.creation),
            })
        })
        .collect()
}

/// Bytes in MiB as a JSON number: whole numbers as integers, others as
/// JavaScript prints the quotient.
fn mib(bytes: u64) -> Value {
    if bytes.is_multiple_of(1 << 20) {
        json!(bytes >> 20)
    } else {
        json!(bytes as f64 / f64::from(1u32 << 20))
    }
}

fn iso_seconds(secs: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// What the three operations work on, found and checked under the
/// instance's lock.
struct Target {
    id: VmUuid,
    lock: InstanceLock,
    stored: Map<String, Value>,
    pool: Pool,
    /// The instance's dataset (`zfs_filesystem`).
    root: String,
    /// Every dataset and snapshot of the pool.
    all: Vec<Dataset>,
}

impl Target {
    /// `<dataset>@vmsnap-<name>` for each dataset that has it, parents
    /// first.
    fn existing(&self, name: &str) -> Result<Vec<SnapshotName>, NodeError> {
        let snap = format!("{PREFIX}{name}");
        covered(&self.root, &view(&self.all))
            .into_iter()
            .map(|ds| format!("{ds}@{snap}"))
            .filter(|s| self.all.iter().any(|d| &d.name == s))
            .map(|s| SnapshotName::parse(&s).map_err(|e| PoolError::from(e).into()))
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        let full = format!("{}@{PREFIX}{name}", self.root);
        self.all.iter().any(|d| d.name == full)
    }

    fn missing(&self, name: &str) -> NodeError {
        NodeError::NoSnapshot {
            name: name.to_owned(),
            uuid: self.id.to_string(),
        }
    }
}

/// Which operation a target is opened for (create alone refuses delegated
/// datasets, as in SmartOS).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Delete,
    Rollback,
}

impl Node {
    /// `vmadm create-snapshot`: snapshots the instance's dataset (and any
    /// below it) as `@vmsnap-<name>`. A failure part way destroys what it
    /// made.
    pub fn create_snapshot(&self, uuid: &str, name: &str) -> Result<(), NodeError> {
        let t = self.open_target(uuid, name, Op::Create)?;
        if t.has(name) {
            return Err(NodeError::SnapshotExists(name.to_owned()));
        }
        let snaps = covered(&t.root, &view(&t.all))
            .into_iter()
            .map(|ds| DatasetName::parse(ds)?.snapshot(&format!("{PREFIX}{name}")))
            .collect::<Result<Vec<_>, _>>()
            .map_err(PoolError::from)?;
        for (i, snap) in snaps.iter().enumerate() {
            if let Err(e) = t.pool.snapshot(snap) {
                for made in snaps[..i].iter().rev() {
                    let _ = t.pool.destroy(&made.to_string(), false, false);
                }
                return Err(e.into());
            }
        }
        tracing::info!(vm_uuid = %t.id, snapshot = name, "created snapshot");
        self.touch(t)
    }

    /// `vmadm delete-snapshot`: destroys `@vmsnap-<name>` of the instance's
    /// datasets.
    pub fn delete_snapshot(&self, uuid: &str, name: &str) -> Result<(), NodeError> {
        let t = self.open_target(uuid, name, Op::Delete)?;
        if !t.has(name) {
            return Err(t.missing(name));
        }
        // Below first, so that the instance's own snapshot, the one
        // `snapshots` shows, goes last.
        for snap in t.existing(name)?.iter().rev() {
            t.pool.destroy(&snap.to_string(), false, false)?;
        }
        tracing::info!(vm_uuid = %t.id, snapshot = name, "deleted snapshot");
        self.touch(t)
    }

    /// `vmadm rollback-snapshot`: rolls the instance's datasets back to
    /// `@vmsnap-<name>`, destroying newer snapshots (ZFS's `rollback -r`),
    /// with the instance stopped.
    pub fn rollback_snapshot(&self, uuid: &str, name: &str) -> Result<(), NodeError> {
        let t = self.open_target(uuid, name, Op::Rollback)?;
        if !t.has(name) {
            return Err(t.missing(name));
        }
        let snaps = t.existing(name)?;
        self.with_instance_stopped(&t.id, || {
            for snap in &snaps {
                t.pool.rollback(snap, true)?;
            }
            Ok(())
        })?;
        tracing::info!(vm_uuid = %t.id, snapshot = name, "rolled back to snapshot");
        Ok(())
    }

    /// Runs `f` with the instance stopped, then boots it, as SmartOS's
    /// rollback does: a running zone is halted at once first, and the
    /// instance boots afterwards whatever its state was before. The caller
    /// holds the instance's lock.
    fn with_instance_stopped<T>(
        &self,
        id: &VmUuid,
        f: impl FnOnce() -> Result<T, NodeError>,
    ) -> Result<T, NodeError> {
        if let Some(record) = self.live_record(id)
            && record.phase != crate::zones::runtime::Phase::Stopped
        {
            self.halt(&record, true)?;
        }
        let out = f()?;
        self.spawn_supervisor(id)?;
        Ok(out)
    }

    /// Finds and checks what `op` works on, in SmartOS's order, holding
    /// the instance's lock.
    fn open_target(&self, uuid: &str, name: &str, op: Op) -> Result<Target, NodeError> {
        if !valid_name(name) {
            return Err(NodeError::InvalidSnapshotName);
        }
        let (id, lock, stored) = self.locked(uuid)?;
        let brand = stored
            .get("brand")
            .and_then(Value::as_str)
            .unwrap_or("joyent");
        if brand == "kvm" {
            return Err(NodeError::SnapshotsUnsupported(brand.to_owned()));
        }
        if op == Op::Create && has_delegated_datasets(&stored) {
            return Err(NodeError::SnapshotWithDatasets);
        }
        let pool = self.pool()?;
        let root = zfs_filesystem(&stored, pool.name(), &id);
        let all = pool.list()?;
        if !all
            .iter()
            .any(|d| d.name == root && d.kind != Kind::Snapshot)
        {
            return Err(NodeError::NoDataset {
                uuid: id.to_string(),
                dataset: root,
            });
        }
        Ok(Target {
            id,
            lock,
            stored,
            pool,
            root,
            all,
        })
    }

    /// Records the change in `last_modified`.
    fn touch(&self, t: Target) -> Result<(), NodeError> {
        let mut vm = t.stored;
        vm.insert("last_modified".into(), json!(now_iso()));
        self.store.write(&t.id, &vm, &t.lock)?;
        Ok(())
    }

    /// The pool, if it is mounted (a read never makes it available).
    fn mounted_pool(&self) -> Option<Pool> {
        let mountpoint = self.paths().zones();
        basalt_pool::embedded::is_mounted(&mountpoint)
            .then(|| Pool::at(self.config().pool_name(), mountpoint))
    }

    /// Puts the instance's snapshots into `vm`, an object as `vmadm get`
    /// prints it (without a mounted pool there are none to show).
    pub(crate) fn show_snapshots(&self, vm: &mut Map<String, Value>) -> Result<(), NodeError> {
        let Some(pool) = self.mounted_pool() else {
            return Ok(());
        };
        show_in(vm, &view(&pool.list()?));
        Ok(())
    }

    /// Puts each instance's snapshots into its object (as `vmadm lookup -j`
    /// prints them), from one listing of the pool. A listing that fails
    /// leaves them out, with a warning: the instances still print.
    /// [`Node::list`] leaves them out, as creates and updates use it.
    pub fn show_all_snapshots(&self, vms: &mut [Map<String, Value>]) {
        let Some(pool) = self.mounted_pool() else {
            return;
        };
        match pool.list() {
            Ok(all) => {
                let all = view(&all);
                vms.iter_mut().for_each(|vm| show_in(vm, &all));
            }
            Err(e) => tracing::warn!(error = %e, "cannot list the pool's snapshots"),
        }
    }
}

/// Replaces `snapshots` of an object `vmadm get` prints (in place, so the
/// key keeps its position) with what `all` holds for it.
fn show_in(vm: &mut Map<String, Value>, all: &[Listed<'_>]) {
    let Some(root) = vm.get("zfs_filesystem").and_then(Value::as_str) else {
        return;
    };
    let snaps = listing(root, all);
    vm.insert("snapshots".into(), Value::Array(snaps));
}

/// Whether the instance has delegated datasets: `delegate_dataset` set, or
/// a `datasets` list that is not empty.
fn has_delegated_datasets(vm: &Map<String, Value>) -> bool {
    vm.get("delegate_dataset") == Some(&Value::Bool(true))
        || vm
            .get("datasets")
            .and_then(Value::as_array)
            .is_some_and(|d| !d.is_empty())
}

/// `<zpool>/<uuid>`, the instance's dataset (its `zpool`, else the node's
/// pool).
fn zfs_filesystem(vm: &Map<String, Value>, pool: &str, id: &VmUuid) -> String {
    let zpool = vm.get("zpool").and_then(Value::as_str).unwrap_or(pool);
    format!("{zpool}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(name: &str, used: u64, creation: u64) -> Listed<'_> {
        Listed {
            name,
            snapshot: name.contains('@'),
            used,
            creation,
        }
    }

    #[test]
    fn names_as_vmadm_takes_them() {
        for ok in ["a", "before-upgrade", "x_1.2:3%4", &"n".repeat(64)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a b", "a/b", "a@b", "ü", &"n".repeat(65), "a\n"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn a_snapshot_covers_the_dataset_and_those_below_it() {
        let all = [
            ds("zones", 0, 0),
            ds("zones/u", 0, 0),
            ds("zones/u@vmsnap-a", 0, 0),
            ds("zones/u/disk0", 0, 0),
            ds("zones/u2", 0, 0),
            ds("zones/img", 0, 0),
        ];
        assert_eq!(covered("zones/u", &all), ["zones/u", "zones/u/disk0"]);
        assert_eq!(covered("zones/none", &all), Vec::<&str>::new());
    }

    #[test]
    fn only_vmsnap_snapshots_are_listed_newest_first() {
        let all = [
            ds("zones/u", 0, 0),
            ds("zones/u@final", 0, 100),
            ds("zones/u@vmsnap-old", 3 << 20, 1_750_000_000),
            ds("zones/u@vmsnap-", 0, 1_750_000_001),
            ds("zones/u@vmsnap-tie1", 16384, 1_750_000_002),
            ds("zones/u@vmsnap-tie2", 16384, 1_750_000_002),
            ds("zones/u/disk0@vmsnap-old", 0, 1_750_000_000),
            ds("zones/u2@vmsnap-other", 0, 1_750_000_003),
        ];
        let got = serde_json::to_string(&listing("zones/u", &all)).unwrap();
        assert_eq!(
            got,
            concat!(
                r#"[{"name":"tie2","size":0.015625,"created_at":"2025-06-15T15:06:42.000Z"},"#,
                r#"{"name":"tie1","size":0.015625,"created_at":"2025-06-15T15:06:42.000Z"},"#,
                r#"{"name":"old","size":3,"created_at":"2025-06-15T15:06:40.000Z"}]"#
            )
        );
        assert_eq!(listing("zones/none", &all), Vec::<Value>::new());
    }

    /// The checks that come before the pool, in SmartOS's order: the name,
    /// the instance, its brand, delegated datasets (create only).
    #[test]
    fn refusals_before_the_pool_is_needed() {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::open(crate::paths::Paths::new(dir.path())).unwrap();
        // Stored as a create would store them; no pool is made.
        let create = |uuid: &str, v: Value| {
            let id: VmUuid = uuid.parse().unwrap();
            let mut vm = v.as_object().cloned().unwrap();
            vm.insert("uuid".into(), json!(uuid));
            let lock = node.store().lock(&id).unwrap();
            node.store().write(&id, &vm, &lock).unwrap();
            uuid.to_owned()
        };
        let kvm = create(
            "6c1f3a52-8a3e-4c55-9d0e-7f2b1c4d5e60",
            json!({"brand": "kvm"}),
        );
        let delegated = create(
            "6c1f3a52-8a3e-4c55-9d0e-7f2b1c4d5e61",
            json!({
                "brand": "joyent",
                "image_uuid": "01b2c898-945f-11e1-a523-af1afbe22822",
                "delegate_dataset": true,
            }),
        );
        let unknown = "0b3ec7c4-3bb9-4c0f-a2b4-3c9a1e1c6f00";
        let msg = |r: Result<(), NodeError>| r.unwrap_err().to_string();

        assert_eq!(
            msg(node.create_snapshot(unknown, "a/b")),
            "Invalid snapshot name"
        );
        assert_eq!(
            msg(node.rollback_snapshot(&kvm, "")),
            "Invalid snapshot name"
        );
        assert_eq!(
            msg(node.delete_snapshot(unknown, "a")),
            format!("zoneadm: {unknown}: No such zone configured")
        );
        for op in [
            Node::create_snapshot,
            Node::delete_snapshot,
            Node::rollback_snapshot,
        ] {
            assert_eq!(
                msg(op(&node, &kvm, "a")),
                "snapshots for kvm VMs currently unsupported"
            );
        }
        assert_eq!(
            msg(node.create_snapshot(&delegated, "a")),
            "Cannot currently snapshot zones that have datasets"
        );
    }

    #[test]
    fn delegated_datasets_are_seen_either_way() {
        let vm = |v: Value| v.as_object().cloned().unwrap();
        assert!(has_delegated_datasets(&vm(
            json!({"delegate_dataset": true})
        )));
        assert!(has_delegated_datasets(&vm(
            json!({"datasets": ["zones/u/data"]})
        )));
        assert!(!has_delegated_datasets(&vm(
            json!({"delegate_dataset": false, "datasets": []})
        )));
        assert!(!has_delegated_datasets(&vm(json!({}))));
    }
}
