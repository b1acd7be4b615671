//! The metadata service of one zone, as its supervisor runs it: a unix
//! socket at `/var/zonecontrol/<zonename>/metadata.sock` on the host (the
//! directory is bound read-only into the zone at `/.zonecontrol`, or
//! `/native/.zonecontrol` for lx), and the node's backend behind the
//! protocol's sessions. Reads see the instance's configuration as it is at
//! that moment (an update is seen at once); PUT and DELETE are vmadm
//! updates of `customer_metadata` (or `internal_metadata`), stored
//! atomically.

use std::time::Duration;

use basalt_metadata::{Backend, Failure, Lookup, Routing};
use basalt_model::VmUuid;
use serde_json::{Map, Value, json};

use crate::instances::Node;

/// How long a write waits for the instance's lock before it fails: a
/// vmadm holding it may be waiting for this very supervisor.
const WRITE_LOCK_WAIT: Duration = Duration::from_secs(2);

/// Where the host keeps the guest tools (`mdata-get`, `mdata-put`,
/// `mdata-list`, `mdata-delete`, statically linked) that every zone gets
/// read-only; `BASALT_ZONE_TOOLS` names another directory.
pub const GUEST_TOOLS: &str = "/usr/local/lib/basalt/zone-tools";
/// The environment variable naming the guest tools' directory.
pub const GUEST_TOOLS_ENV: &str = "BASALT_ZONE_TOOLS";
/// Where a zone sees them (as in SmartOS's lx zones, for every brand; it is
/// on the init's and zlogin's PATH).
pub const GUEST_TOOLS_TARGET: &str = "/native/usr/sbin";

/// The guest tools' directory, if the host has one.
pub fn guest_tools() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os(GUEST_TOOLS_ENV)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| GUEST_TOOLS.into());
    dir.is_dir().then_some(dir)
}

/// Where the zone sees the directory of its metadata socket.
pub fn zone_target(brand: basalt_model::Brand) -> &'static str {
    if brand == basalt_model::Brand::Lx {
        "/native/.zonecontrol"
    } else {
        "/.zonecontrol"
    }
}

/// The node's keys of one instance.
pub struct NodeBackend<'a> {
    node: &'a Node,
    uuid: &'a VmUuid,
}

impl<'a> NodeBackend<'a> {
    /// The backend of instance `uuid`.
    pub fn new(node: &'a Node, uuid: &'a VmUuid) -> NodeBackend<'a> {
        NodeBackend { node, uuid }
    }

    fn vm(&self) -> Result<Map<String, Value>, Failure> {
        self.node
            .get_without_snapshots(self.uuid.as_str())
            .map_err(|e| Failure::Failed(e.to_string()))
    }

    fn update(&self, payload: Value) -> Result<(), Failure> {
        let payload = payload.as_object().cloned().unwrap_or_default();
        match self
            .node
            .update_within(self.uuid.as_str(), payload, WRITE_LOCK_WAIT)
        {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err(Failure::Failed(
                "the instance is busy; try again".to_owned(),
            )),
            Err(e) => Err(Failure::Failed(e.to_string())),
        }
    }
}

impl Backend for NodeBackend<'_> {
    fn get(&mut self, key: &str) -> Lookup {
        match self.vm() {
            Ok(vm) => Routing::new(&vm).get(key),
            Err(e) => Lookup::Failed(e),
        }
    }

    fn keys(&mut self) -> Result<Vec<String>, Failure> {
        Ok(Routing::new(&self.vm()?).keys())
    }

    fn put(&mut self, key: &str, value: &str) -> Result<(), Failure> {
        let section = Routing::new(&self.vm()?).write(key)?;
        self.update(json!({ section.set_key(): { key: value } }))
    }

    fn delete(&mut self, key: &str) -> Result<(), Failure> {
        let section = Routing::new(&self.vm()?).write(key)?;
        self.update(json!({ section.remove_key(): [key] }))
    }

    fn observe(&mut self, event: basalt_metadata::server::Event) {
        tracing::debug!(?event, "metadata");
    }
}
