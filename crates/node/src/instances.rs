//! One node's instances: create (so far: the stored configuration, state
//! `configured`), get, list, update and delete, each a whole operation under
//! the instance's lock. This is where the pure model meets the node's
//! files; later subsystems (pool, zones, networks) join the flows here.

use std::path::Path;
use std::time::SystemTime;

use basalt_model::create::{self, CreateError, Created};
use basalt_model::facts::HostFacts;
use basalt_model::schema::Action;
use basalt_model::update::{self, Current, UpdateError, Updated};
use basalt_model::validate::{self, ValidationReport};
use basalt_model::vm::{self, Runtime, ZoneState};
use basalt_model::{Brand, VmObject, VmUuid};
use serde_json::{Map, Value, json};

use crate::config::{ConfigError, NodeConfig, node_uuid};
use crate::entropy::OsEntropy;
use crate::paths::Paths;
use crate::store::{Store, StoreError};
use crate::sysinfo::LIVE_IMAGE;

/// A failure of an operation on the node's instances.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node's configuration is unreadable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The instance store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The create payload was refused.
    #[error(transparent)]
    Create(#[from] CreateError),
    /// The update payload was refused.
    #[error(transparent)]
    Update(#[from] UpdateError),
    /// The pool is not available.
    #[error(transparent)]
    Storage(#[from] crate::storage::StorageError),
    /// An indestructible flag is set.
    #[error("{0} is set, cannot delete")]
    Indestructible(&'static str),
    /// No instance has this uuid (zoneadm's wording, which tools grep).
    #[error("zoneadm: {0}: No such zone configured")]
    NotFound(String),
    /// A snapshot name outside vmadm's grammar.
    #[error("Invalid snapshot name")]
    InvalidSnapshotName,
    /// Instances of this brand cannot be snapshotted.
    #[error("snapshots for {0} VMs currently unsupported")]
    SnapshotsUnsupported(String),
    /// The instance has delegated datasets.
    #[error("Cannot currently snapshot zones that have datasets")]
    SnapshotWithDatasets,
    /// The instance already has a snapshot of this name.
    #[error("snapshot with name \"{0}\" already exists.")]
    SnapshotExists(String),
    /// The instance has no snapshot of this name.
    #[error("No snapshot named \"{name}\" for {uuid}")]
    NoSnapshot { name: String, uuid: String },
    /// The instance's dataset is not on the pool (it is not installed).
    #[error("dataset {dataset} of VM {uuid} does not exist: the instance is not installed")]
    NoDataset { uuid: String, dataset: String },
    /// A pool operation failed (ZFS's words).
    #[error(transparent)]
    Pool(#[from] basalt_pool::PoolError),
}

/// Every instance of a node.
#[derive(Debug, Default)]
pub struct Listing {
    /// The readable instances, as `vmadm get` prints them.
    pub vms: Vec<VmObject>,
    /// The instances whose configuration cannot be read.
    pub broken: Vec<StoreError>,
}

/// A node: its paths, configuration and instance store.
#[derive(Debug, Clone)]
pub struct Node {
    paths: Paths,
    config: NodeConfig,
    pub(crate) store: Store,
}

/// The current time as vmadm writes it: ISO-8601 with milliseconds, UTC.
pub fn now_iso() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

impl Node {
    /// Opens the node under `paths`, reading its configuration.
    pub fn open(paths: Paths) -> Result<Self, NodeError> {
        let config = NodeConfig::load(&paths.node_config())?;
        let store = Store::new(paths.clone());
        Ok(Self {
            paths,
            config,
            store,
        })
    }

    /// The node's paths.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The node's configuration.
    pub fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The node's pool, made available (created on first use).
    pub fn pool(&self) -> Result<basalt_pool::Pool, NodeError> {
        Ok(crate::storage::pool(&self.paths, &self.config)?)
    }

    /// The node's installed images.
    pub fn images(&self) -> Result<crate::images::ImageStore, NodeError> {
        Ok(crate::images::ImageStore::new(
            self.paths.clone(),
            self.pool()?,
        ))
    }

    /// What the model needs to know of this node, without its instances.
    pub fn host_facts(&self) -> Result<HostFacts, NodeError> {
        Ok(HostFacts {
            zpools: vec![self.config.pool_name().to_owned()],
            nic_tags: self.config.nic_tags(),
            bhyve_capable: Path::new("/dev/kvm").exists(),
            existing_sources: Vec::new(),
            server_uuid: node_uuid(&self.paths)?,
            platform_buildstamp: LIVE_IMAGE.to_owned(),
            datacenter_name: self.config.datacenter_name().map(str::to_owned),
            instances: Vec::new(),
        })
    }

    /// Validates a create payload (`vmadm validate create`).
    pub fn validate_create(
        &self,
        payload: &Map<String, Value>,
    ) -> Result<ValidationReport, NodeError> {
        Ok(validate::validate_create(payload, &self.host_facts()?))
    }

    /// Validates an update payload for `brand` (`vmadm validate update`).
    pub fn validate_update(
        &self,
        brand: Brand,
        payload: &Map<String, Value>,
    ) -> Result<ValidationReport, NodeError> {
        Ok(validate::validate(
            payload,
            brand,
            Action::Update,
            &self.host_facts()?,
        ))
    }

    fn runtime(&self, stored: &Map<String, Value>) -> Runtime {
        let uuid = stored.get("uuid").and_then(Value::as_str).unwrap_or("");
        let zone_state = stored
            .get("zone_state")
            .and_then(Value::as_str)
            .and_then(ZoneState::parse)
            .unwrap_or(ZoneState::Configured);
        Runtime {
            zone_state,
            failed: stored.get("failed").is_some(),
            provisioning: false,
            receiving: false,
            zonepath: self.paths.zones().join(uuid).display().to_string(),
            pid: None,
            boot_timestamp: None,
            last_exit: None,
        }
    }

    fn object(&self, stored: &Map<String, Value>, facts: &HostFacts) -> Map<String, Value> {
        vm::get_object(stored, &self.runtime(stored), facts)
    }

    /// Every instance as `vmadm get` prints it, sorted by uuid; instances
    /// whose configuration cannot be read are listed apart, the others are
    /// all there.
    pub fn list(&self) -> Result<Listing, NodeError> {
        let facts = self.host_facts()?;
        let mut listing = Listing::default();
        for entry in self.store.list()? {
            match entry {
                Ok(stored) => listing.vms.push(self.object(&stored, &facts)),
                Err(e) => listing.broken.push(e),
            }
        }
        Ok(listing)
    }

    /// One instance as `vmadm get` prints it.
    pub fn get(&self, uuid: &str) -> Result<Map<String, Value>, NodeError> {
        let id = parse_uuid(uuid)?;
        let stored = self
            .store
            .read(&id)?
            .ok_or_else(|| NodeError::NotFound(uuid.to_owned()))?;
        let mut vm = self.object(&stored, &self.host_facts()?);
        self.show_snapshots(&mut vm)?;
        Ok(vm)
    }

    fn facts_with_instances(&self) -> Result<HostFacts, NodeError> {
        let mut facts = self.host_facts()?;
        facts.instances = self.list()?.vms;
        Ok(facts)
    }

    /// Creates an instance from a payload: normalised, validated, checked
    /// against the node's other instances and stored. Installation (the
    /// dataset, the zone) is not built yet, so the instance stays
    /// `configured`.
    pub fn create(&self, payload: Map<String, Value>) -> Result<Created, NodeError> {
        let _node = self.store.lock_node()?;
        let facts = self.facts_with_instances()?;
        let mut facts = facts;
        facts.existing_sources = filesystem_sources(&payload);
        let mut created = create::create(payload, &facts, &now_iso(), &mut OsEntropy)?;
        let uuid = uuid_of(&created.vm)?;
        let lock = self.store.lock(&uuid)?;
        if self.store.exists(&uuid) {
            return Err(CreateError::Exists(uuid.to_string()).into());
        }
        created
            .vm
            .insert("zone_state".into(), json!(ZoneState::Configured.as_str()));
        self.store.write(&uuid, &created.vm, &lock)?;
        Ok(created)
    }

    /// Applies an update payload to an instance.
    pub fn update(&self, uuid: &str, payload: Map<String, Value>) -> Result<Updated, NodeError> {
        let id = parse_uuid(uuid)?;
        let _node = self.store.lock_node()?;
        let lock = self.store.lock(&id)?;
        let stored = self
            .store
            .read(&id)?
            .ok_or_else(|| NodeError::NotFound(uuid.to_owned()))?;
        let facts = self.facts_with_instances()?;
        let object = self.object(&stored, &facts);
        let brand = stored
            .get("brand")
            .and_then(Value::as_str)
            .and_then(|b| b.parse().ok())
            .unwrap_or(Brand::Joyent);
        let current = Current {
            vm: &stored,
            brand,
            uuid: &id,
            state: object
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("configured"),
            zone_state: object
                .get("zone_state")
                .and_then(Value::as_str)
                .unwrap_or("configured"),
        };
        let updated = update::update(&current, payload, &facts, &now_iso(), &mut OsEntropy)?;
        if !updated.changes.is_empty() {
            self.store.write(&id, &updated.vm, &lock)?;
        }
        Ok(updated)
    }

    /// Deletes an instance.
    pub fn delete(&self, uuid: &str) -> Result<(), NodeError> {
        let id = parse_uuid(uuid)?;
        let lock = self.store.lock(&id)?;
        let stored = self
            .store
            .read(&id)?
            .ok_or_else(|| NodeError::NotFound(uuid.to_owned()))?;
        for flag in ["indestructible_zoneroot", "indestructible_delegated"] {
            if stored.get(flag) == Some(&Value::Bool(true)) {
                return Err(NodeError::Indestructible(flag));
            }
        }
        self.store.remove(&id, &lock)?;
        Ok(())
    }
}

/// The `filesystems[].source` paths of a payload that exist on the host.
fn filesystem_sources(payload: &Map<String, Value>) -> Vec<String> {
    ["filesystems", "add_filesystems"]
        .iter()
        .filter_map(|k| payload.get(*k).and_then(Value::as_array))
        .flatten()
        .filter_map(|fs| fs.get("source").and_then(Value::as_str))
        .filter(|s| Path::new(s).exists())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn parse_uuid(uuid: &str) -> Result<VmUuid, NodeError> {
    uuid.parse()
        .map_err(|_| NodeError::NotFound(uuid.to_owned()))
}

fn uuid_of(vm: &Map<String, Value>) -> Result<VmUuid, NodeError> {
    let u = vm.get("uuid").and_then(Value::as_str).unwrap_or("");
    parse_uuid(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> (tempfile::TempDir, Node) {
        let dir = tempfile::tempdir().unwrap();
        let node = Node::open(Paths::new(dir.path())).unwrap();
        (dir, node)
    }

    fn payload(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    const IMG: &str = "01b2c898-945f-11e1-a523-af1afbe22822";

    #[test]
    fn create_get_update_delete() {
        let (_dir, node) = node();
        let c = node
            .create(payload(json!({"image_uuid": IMG, "alias": "web"})))
            .unwrap();
        let uuid = c.vm["uuid"].as_str().unwrap().to_owned();
        let vm = node.get(&uuid).unwrap();
        assert_eq!(vm["state"], "configured");
        assert_eq!(vm["alias"], "web");
        assert_eq!(vm["server_uuid"], node.host_facts().unwrap().server_uuid);
        let u = node.update(&uuid, payload(json!({"alias": "db"}))).unwrap();
        assert_eq!(u.changes.len(), 1);
        assert_eq!(node.get(&uuid).unwrap()["alias"], "db");
        node.delete(&uuid).unwrap();
        assert!(matches!(node.get(&uuid), Err(NodeError::NotFound(_))));
        assert_eq!(
            node.delete(&uuid).unwrap_err().to_string(),
            format!("zoneadm: {uuid}: No such zone configured")
        );
    }

    #[test]
    fn indestructible_instances_are_not_deleted() {
        let (_dir, node) = node();
        let c = node
            .create(payload(
                json!({"image_uuid": IMG, "indestructible_zoneroot": true}),
            ))
            .unwrap();
        let uuid = c.vm["uuid"].as_str().unwrap().to_owned();
        assert_eq!(
            node.delete(&uuid).unwrap_err().to_string(),
            "indestructible_zoneroot is set, cannot delete"
        );
        node.update(&uuid, payload(json!({"indestructible_zoneroot": false})))
            .unwrap();
        node.delete(&uuid).unwrap();
    }

    #[test]
    fn a_second_instance_with_the_same_mac_conflicts() {
        let (_dir, node) = node();
        let nic = json!([{"nic_tag": "admin", "mac": "02:00:00:00:00:01", "ips": ["dhcp"]}]);
        node.create(payload(json!({"image_uuid": IMG, "nics": nic})))
            .unwrap();
        let e = node
            .create(payload(json!({"image_uuid": IMG, "nics": nic})))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Conflict detected with another vm, please check the MAC, IP, and VRID"
        );
        assert_eq!(
            node.list().unwrap().vms.len(),
            1,
            "a failed create leaves nothing behind"
        );
    }
}
