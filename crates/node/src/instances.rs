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
use crate::store::{InstanceLock, Store, StoreError};
use crate::sysinfo::LIVE_IMAGE;
use crate::zones;
use crate::zones::runtime::Phase;

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
    /// The pool refused an operation on the instance's dataset.
    #[error(transparent)]
    Pool(#[from] basalt_pool::PoolError),
    /// A lifecycle operation failed; the message is vmadm's.
    #[error("{0}")]
    Lifecycle(String),
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

    /// The node's instance store.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// An existing instance, under its lock: its uuid, the lock and its
    /// stored configuration.
    pub(crate) fn locked(
        &self,
        uuid: &str,
    ) -> Result<(VmUuid, InstanceLock, Map<String, Value>), NodeError> {
        let id = parse_uuid(uuid)?;
        let lock = self.store.lock(&id)?;
        let stored = self.read_existing(&id)?;
        Ok((id, lock, stored))
    }

    fn read_existing(&self, id: &VmUuid) -> Result<Map<String, Value>, NodeError> {
        self.store
            .read(id)?
            .ok_or_else(|| NodeError::NotFound(id.to_string()))
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
        let mut rt = Runtime {
            zone_state,
            failed: stored.get("failed").is_some(),
            provisioning: false,
            receiving: false,
            zonepath: self.paths.zones().join(uuid).display().to_string(),
            pid: None,
            boot_timestamp: None,
            last_exit: None,
        };
        let Ok(id) = uuid.parse::<VmUuid>() else {
            return rt;
        };
        let Some(record) = self.last_record(&id) else {
            return rt;
        };
        if let (Some(code), Some(at)) = (record.exit_status, &record.exit_timestamp) {
            rt.last_exit = Some((code, at.clone()));
        }
        if record.live() {
            rt.zone_state = match record.phase {
                Phase::Ready => ZoneState::Ready,
                Phase::Running => ZoneState::Running,
                Phase::ShuttingDown => ZoneState::ShuttingDown,
                Phase::Stopped => zone_state,
            };
            if record.phase != Phase::Stopped {
                rt.pid = record.init.map(|p| p.pid as u32);
                rt.boot_timestamp = record.boot_timestamp.clone();
                rt.last_exit = None;
            }
        }
        rt
    }

    /// The `state` vmadm shows for a stored instance.
    pub(crate) fn state_of(&self, stored: &Map<String, Value>) -> String {
        vm::state(&self.runtime(stored)).to_owned()
    }

    fn object(&self, stored: &Map<String, Value>, facts: &HostFacts) -> Map<String, Value> {
        let mut vm = vm::get_object(stored, &self.runtime(stored), facts);
        vm.remove(zones::ID_KEY);
        vm
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
        let mut vm = self.get_without_snapshots(uuid)?;
        self.show_snapshots(&mut vm)?;
        Ok(vm)
    }

    /// One instance as `vmadm get` prints it, without its snapshots (which
    /// ask the pool): what the metadata service reads on every request.
    pub fn get_without_snapshots(&self, uuid: &str) -> Result<Map<String, Value>, NodeError> {
        let id = parse_uuid(uuid)?;
        let stored = self
            .store
            .read(&id)?
            .ok_or_else(|| NodeError::NotFound(uuid.to_owned()))?;
        Ok(self.object(&stored, &self.host_facts()?))
    }

    fn facts_with_instances(&self) -> Result<HostFacts, NodeError> {
        let mut facts = self.host_facts()?;
        facts.instances = self.list()?.vms;
        Ok(facts)
    }

    /// Creates an instance from a payload: normalised, validated, checked
    /// against the node's other instances and its images, stored, its
    /// dataset cloned from the image's `@final`, and booted when
    /// `autoboot`. A failure removes everything it made.
    pub fn create(&self, mut payload: Map<String, Value>) -> Result<Created, NodeError> {
        self.apply_docker_image(&mut payload)?;
        let node_lock = self.store.lock_node()?;
        let mut facts = self.facts_with_instances()?;
        facts.existing_sources = filesystem_sources(&payload);
        let mut created = create::create(payload, &facts, &now_iso(), &mut OsEntropy)?;
        let uuid = uuid_of(&created.vm)?;
        let lock = self.store.lock(&uuid)?;
        if self.store.exists(&uuid) {
            return Err(CreateError::Exists(uuid.to_string()).into());
        }
        let image = self.checked_image(&created.vm, created.brand)?;
        // Every configuration must be read to know which id ranges are
        // taken: a zone whose file is corrupt may be running on its range.
        let others: Vec<Map<String, Value>> = self
            .store
            .list()?
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| {
                NodeError::Lifecycle(format!("cannot give the instance an id range: {e}"))
            })?;
        created.vm.insert(
            zones::ID_KEY.into(),
            json!(zones::free_id_map(&others).base),
        );
        created
            .vm
            .insert("zone_state".into(), json!(ZoneState::Configured.as_str()));
        self.store.write(&uuid, &created.vm, &lock)?;
        // From here on the instance has its range: other creates may go on.
        drop(node_lock);
        let made = self.install(&uuid, &mut created.vm, image.as_deref(), &lock);
        // Hardware VMs are stored and get their dataset, but no brand runs
        // them on this node yet: they stay stopped.
        let booted = made.and_then(|()| {
            if created.brand.is_os() && created.vm.get("autoboot") == Some(&Value::Bool(true)) {
                self.spawn_supervisor(&uuid)
            } else {
                Ok(())
            }
        });
        if let Err(e) = booted {
            self.remove_everything(&uuid, &lock);
            return Err(e);
        }
        Ok(created)
    }

    /// The image an OS instance is made from, installed and of a type its
    /// brand takes (`image_uuid` is a bad value otherwise).
    fn checked_image(
        &self,
        vm: &Map<String, Value>,
        brand: Brand,
    ) -> Result<Option<String>, NodeError> {
        use basalt_image::manifest::ImageType;
        let Some(image) = vm.get("image_uuid").and_then(Value::as_str) else {
            return Ok(None);
        };
        let bad = || {
            NodeError::Create(CreateError::Invalid {
                bad_values: vec!["image_uuid".into()],
                missing_properties: Vec::new(),
            })
        };
        // No record, no image: said without making the pool.
        let record = self
            .paths
            .image_records()
            .join(format!("{}-{image}.json", self.config.pool_name()));
        if !record.exists() {
            return Err(bad());
        }
        let installed = self.images()?.get(image).map_err(|_| bad())?;
        let ty = installed.record.manifest.image_type;
        let fits = match brand {
            Brand::Lx => matches!(ty, ImageType::LxDataset | ImageType::Docker),
            b if b.is_os() => ty == ImageType::ZoneDataset,
            _ => true,
        };
        if !fits {
            return Err(bad());
        }
        Ok(Some(image.to_owned()))
    }

    /// Makes an instance's dataset: a clone of its image's `@final` (or an
    /// empty dataset), its quota, then the state `installed`.
    fn install(
        &self,
        uuid: &VmUuid,
        vm: &mut Map<String, Value>,
        image: Option<&str>,
        lock: &InstanceLock,
    ) -> Result<(), NodeError> {
        use basalt_pool::name::DatasetName;
        let pool = self.pool()?;
        let dataset = DatasetName::parse(&format!("{}/{uuid}", pool.name()))
            .map_err(|e| NodeError::Lifecycle(e.to_string()))?;
        match image {
            Some(image) => {
                let snap = DatasetName::parse(&format!("{}/{image}", pool.name()))
                    .and_then(|d| d.snapshot("final"))
                    .map_err(|e| NodeError::Lifecycle(e.to_string()))?;
                pool.clone_snapshot(&snap, &dataset)?;
            }
            None => pool.create(&dataset, None)?,
        }
        if let Some(gib) = vm.get("quota").and_then(Value::as_u64).filter(|q| *q > 0) {
            pool.set_quota(&dataset, Some(gib << 30))?;
        }
        // The guest's name for itself, as vmadm writes /etc/nodename: the
        // hostname, else the zonename.
        let root = pool.path_of(&dataset).join("root");
        if image.is_some() && root.join("etc").is_dir() {
            let name = ["hostname", "zonename"]
                .iter()
                .find_map(|k| vm.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
                .unwrap_or(uuid.as_str());
            zones::write_guest_file(&root, "etc/hostname", &format!("{name}\n")).map_err(|e| {
                NodeError::Lifecycle(format!("cannot write the zone's /etc/hostname: {e}"))
            })?;
            write_resolvers(&root, vm)?;
        }
        vm.insert("zone_state".into(), json!(ZoneState::Installed.as_str()));
        self.store.write(uuid, vm, lock)?;
        Ok(())
    }

    /// Removes whatever an instance has on the node: a running zone, its
    /// dataset, cgroups, runtime files and configuration. Best effort: used
    /// to undo a failed create.
    fn remove_everything(&self, uuid: &VmUuid, lock: &InstanceLock) {
        if let Err(e) = self.remove_runtime(uuid) {
            tracing::error!(error = %e, "cannot stop the zone");
        }
        if let Err(e) = self.remove_dataset(uuid) {
            tracing::error!(error = %e, "cannot destroy the dataset");
        }
        if let Err(e) = self.store.remove(uuid, lock) {
            tracing::error!(error = %e, "cannot remove the configuration");
        }
    }

    /// Stops the zone at once if it runs and removes its runtime files and
    /// any cgroup a crash left.
    fn remove_runtime(&self, uuid: &VmUuid) -> Result<(), NodeError> {
        if let Some(record) = self.live_record(uuid)
            && record.phase != Phase::Stopped
        {
            self.halt(&record, true)?;
        }
        if let Ok(cg) = zones::supervisor::cgroups() {
            let _ = cg.remove(uuid.as_str());
        }
        let zonename = self
            .store
            .read(uuid)
            .ok()
            .flatten()
            .and_then(|vm| {
                vm.get("zonename")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| uuid.to_string());
        let zonecontrol = self.paths.zonecontrol(&zonename);
        for path in [
            self.paths.zone_runtime(uuid),
            self.paths.zone_console(uuid),
            self.paths.zone_console_log(uuid),
            self.paths.zone_supervisor_log(uuid),
            zonecontrol.join(zones::supervisor::METADATA_SOCKET),
        ] {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(NodeError::Lifecycle(format!("{}: {e}", path.display())));
                }
                _ => {}
            }
        }
        let _ = std::fs::remove_dir(&zonecontrol);
        Ok(())
    }

    /// Rewrites a zone's `/etc/resolv.conf` (`maintain_resolvers`).
    fn write_zone_resolvers(
        &self,
        uuid: &VmUuid,
        vm: &Map<String, Value>,
    ) -> Result<(), NodeError> {
        let pool = self.pool()?;
        let name = format!("{}/{uuid}", pool.name());
        let dataset = basalt_pool::DatasetName::parse(&name)
            .map_err(|e| NodeError::Lifecycle(e.to_string()))?;
        let root = pool.path_of(&dataset).join("root");
        if root.join("etc").is_dir() {
            write_resolvers(&root, vm)?;
        }
        Ok(())
    }

    fn remove_dataset(&self, uuid: &VmUuid) -> Result<(), NodeError> {
        let pool = self.pool()?;
        let name = format!("{}/{uuid}", pool.name());
        if pool.exists(&name) {
            pool.destroy(&name, true, false)?;
        }
        Ok(())
    }

    /// Applies an update payload to an instance.
    pub fn update(&self, uuid: &str, payload: Map<String, Value>) -> Result<Updated, NodeError> {
        let _node = self.store.lock_node()?;
        let (id, lock, stored) = self.locked(uuid)?;
        self.update_locked(&id, lock, stored, payload)
    }

    /// Applies a metadata update (`set_`/`remove_` of `customer_metadata`
    /// or `internal_metadata`, nothing else) if the instance's lock is free
    /// at once; `None` when another process holds it. For the metadata
    /// server, which must never wait behind a vmadm that waits for the
    /// zone's supervisor.
    pub fn try_update_metadata(
        &self,
        uuid: &str,
        payload: Map<String, Value>,
    ) -> Result<Option<Updated>, NodeError> {
        const KEYS: [&str; 4] = [
            "set_customer_metadata",
            "remove_customer_metadata",
            "set_internal_metadata",
            "remove_internal_metadata",
        ];
        if let Some(key) = payload.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(NodeError::Lifecycle(format!(
                "{key} is not metadata: a metadata update cannot change it"
            )));
        }
        let id = parse_uuid(uuid)?;
        let Some(lock) = self.store.try_lock(&id)? else {
            return Ok(None);
        };
        let stored = self.read_existing(&id)?;
        // Metadata only: the record changes, nothing runs differently —
        // and the supervisor, the one caller, carries none of the code
        // that applies changes to a running zone.
        self.store_update(&id, &lock, &stored, payload).map(Some)
    }

    fn update_locked(
        &self,
        id: &VmUuid,
        lock: InstanceLock,
        stored: Map<String, Value>,
        payload: Map<String, Value>,
    ) -> Result<Updated, NodeError> {
        let updated = self.store_update(id, &lock, &stored, payload)?;
        if !updated.changes.is_empty() {
            if updated.vm.get("maintain_resolvers") == Some(&Value::Bool(true))
                && (stored.get("resolvers"), stored.get("dns_domain"))
                    != (updated.vm.get("resolvers"), updated.vm.get("dns_domain"))
            {
                self.write_zone_resolvers(id, &updated.vm)?;
            }
            self.apply_live(id, &stored, &updated.vm).map_err(|e| {
                NodeError::Lifecycle(format!(
                    "{e} (the configuration is updated; it applies at the next boot)"
                ))
            })?;
        }
        Ok(updated)
    }

    /// Computes an update and stores it (what cannot be applied live
    /// applies at the next boot, and the configuration says what the zone
    /// should be).
    fn store_update(
        &self,
        id: &VmUuid,
        lock: &InstanceLock,
        stored: &Map<String, Value>,
        payload: Map<String, Value>,
    ) -> Result<Updated, NodeError> {
        let facts = self.facts_with_instances()?;
        let object = self.object(stored, &facts);
        let brand = stored
            .get("brand")
            .and_then(Value::as_str)
            .and_then(|b| b.parse().ok())
            .unwrap_or(Brand::Joyent);
        let current = Current {
            vm: stored,
            brand,
            uuid: id,
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
            self.store.write(id, &updated.vm, lock)?;
        }
        Ok(updated)
    }

    /// Deletes an instance.
    pub fn delete(&self, uuid: &str) -> Result<(), NodeError> {
        let (id, lock, stored) = self.locked(uuid)?;
        for flag in ["indestructible_zoneroot", "indestructible_delegated"] {
            if stored.get(flag) == Some(&Value::Bool(true)) {
                return Err(NodeError::Indestructible(flag));
            }
        }
        self.remove_runtime(&id)?;
        self.remove_dataset(&id)?;
        self.store.remove(&id, &lock)?;
        Ok(())
    }
}

/// Writes the zone's `/etc/resolv.conf` from `resolvers` (and
/// `dns_domain` as its search domain), as SmartOS does when it provisions
/// a zone and, with `maintain_resolvers`, when they change. Nothing is
/// written for an instance without resolvers.
fn write_resolvers(root: &Path, vm: &Map<String, Value>) -> Result<(), NodeError> {
    let resolvers: Vec<&str> = vm
        .get("resolvers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if resolvers.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    if let Some(domain) = vm.get("dns_domain").and_then(Value::as_str) {
        text.push_str(&format!("search {domain}\n"));
    }
    for r in resolvers {
        text.push_str(&format!("nameserver {r}\n"));
    }
    zones::write_guest_file(root, "etc/resolv.conf", &text)
        .map_err(|e| NodeError::Lifecycle(format!("cannot write the zone's /etc/resolv.conf: {e}")))
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
