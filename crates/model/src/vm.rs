//! The instance object `vmadm get` prints: the stored configuration plus
//! what is computed from the host and the instance's runtime (state,
//! zonepath, server uuid...), with NICs and disks in their output shape and
//! every key in vmadm's order.

use serde_json::{Map, Value, json};

use crate::brand::Brand;
use crate::facts::HostFacts;
use crate::{disk, nic, order};

/// The raw zone state (reference 2.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    /// Configuration exists, no data.
    Configured,
    /// Install or uninstall in progress.
    Incomplete,
    /// Installed, not running.
    Installed,
    /// Transient before running.
    Ready,
    /// Running.
    Running,
    /// Transient while stopping.
    ShuttingDown,
    /// Stuck teardown.
    Down,
}

impl ZoneState {
    /// The name vmadm prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneState::Configured => "configured",
            ZoneState::Incomplete => "incomplete",
            ZoneState::Installed => "installed",
            ZoneState::Ready => "ready",
            ZoneState::Running => "running",
            ZoneState::ShuttingDown => "shutting_down",
            ZoneState::Down => "down",
        }
    }

    /// Parses a stored zone state.
    pub fn parse(s: &str) -> Option<ZoneState> {
        [
            ZoneState::Configured,
            ZoneState::Incomplete,
            ZoneState::Installed,
            ZoneState::Ready,
            ZoneState::Running,
            ZoneState::ShuttingDown,
            ZoneState::Down,
        ]
        .into_iter()
        .find(|z| z.as_str() == s)
    }
}

/// What the node knows of an instance beyond its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// The raw zone state.
    pub zone_state: ZoneState,
    /// A provision or reprovision failed (sticky until deleted).
    pub failed: bool,
    /// Provisioning has not finished.
    pub provisioning: bool,
    /// `vmadm receive` is in progress.
    pub receiving: bool,
    /// Where the instance's dataset is mounted.
    pub zonepath: String,
    /// PID of the instance's init, while running.
    pub pid: Option<u32>,
    /// ISO-8601 time of the last boot, while running.
    pub boot_timestamp: Option<String>,
    /// Exit code and ISO time of the last init exit, when not running.
    pub last_exit: Option<(i32, String)>,
}

/// The `state` vmadm derives from the zone state and flags.
pub fn state(rt: &Runtime) -> &'static str {
    if rt.receiving {
        return "receiving";
    }
    if rt.failed {
        return "failed";
    }
    match rt.zone_state {
        ZoneState::Installed | ZoneState::Running if rt.provisioning => "provisioning",
        ZoneState::Configured if rt.provisioning => "provisioning",
        ZoneState::Installed => "stopped",
        other => other.as_str(),
    }
}

/// The object `vmadm get` prints for a stored instance.
pub fn get_object(
    stored: &Map<String, Value>,
    rt: &Runtime,
    facts: &HostFacts,
) -> Map<String, Value> {
    let mut vm = stored.clone();
    let brand = vm
        .get("brand")
        .and_then(Value::as_str)
        .and_then(|b| b.parse::<Brand>().ok());
    let uuid = vm
        .get("uuid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let zpool = vm
        .get("zpool")
        .and_then(Value::as_str)
        .unwrap_or("zones")
        .to_owned();
    vm.insert("zfs_filesystem".into(), json!(format!("{zpool}/{uuid}")));
    vm.insert("zonepath".into(), json!(rt.zonepath));
    vm.insert("hvm".into(), json!(brand.is_some_and(Brand::is_hvm)));
    vm.insert("zone_state".into(), json!(rt.zone_state.as_str()));
    vm.insert("state".into(), json!(state(rt)));
    vm.insert("server_uuid".into(), json!(facts.server_uuid));
    vm.insert(
        "platform_buildstamp".into(),
        json!(facts.platform_buildstamp),
    );
    if let Some(dc) = &facts.datacenter_name {
        vm.insert("datacenter_name".into(), json!(dc));
    }
    vm.entry("firewall_enabled").or_insert(json!(false));
    vm.entry("resolvers").or_insert(json!([]));
    vm.entry("snapshots").or_insert(json!([]));
    if rt.zone_state == ZoneState::Running {
        if let Some(pid) = rt.pid {
            vm.insert("pid".into(), json!(pid));
        }
        if let Some(t) = &rt.boot_timestamp {
            vm.insert("boot_timestamp".into(), json!(t));
        }
    } else if let Some((status, at)) = &rt.last_exit {
        vm.insert("exit_status".into(), json!(status));
        vm.insert("exit_timestamp".into(), json!(at));
    }
    shape_elements(&mut vm, "nics", nic::output);
    shape_elements(&mut vm, "disks", disk::output);
    order::ordered(vm, order::VM_ORDER)
}

fn shape_elements(
    vm: &mut Map<String, Value>,
    key: &str,
    shape: fn(&Map<String, Value>) -> Map<String, Value>,
) {
    if let Some(Value::Array(items)) = vm.get_mut(key) {
        for item in items.iter_mut() {
            if let Value::Object(o) = item {
                *o = shape(o);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(zone_state: ZoneState) -> Runtime {
        Runtime {
            zone_state,
            failed: false,
            provisioning: false,
            receiving: false,
            zonepath: "/zones/u".into(),
            pid: Some(42),
            boot_timestamp: Some("2026-11-27T08:00:00.000Z".into()),
            last_exit: Some((0, "2026-11-27T07:00:00.000Z".into())),
        }
    }

    #[test]
    fn states_of_2_10() {
        assert_eq!(state(&rt(ZoneState::Installed)), "stopped");
        assert_eq!(state(&rt(ZoneState::Configured)), "configured");
        assert_eq!(state(&rt(ZoneState::Running)), "running");
        assert_eq!(
            state(&Runtime {
                provisioning: true,
                ..rt(ZoneState::Installed)
            }),
            "provisioning"
        );
        assert_eq!(
            state(&Runtime {
                failed: true,
                ..rt(ZoneState::Running)
            }),
            "failed"
        );
        assert_eq!(
            state(&Runtime {
                receiving: true,
                ..rt(ZoneState::Installed)
            }),
            "receiving"
        );
        assert_eq!(
            ZoneState::parse("shutting_down"),
            Some(ZoneState::ShuttingDown)
        );
        assert_eq!(ZoneState::parse("bogus"), None);
    }

    #[test]
    fn the_get_object_adds_computed_keys_in_order() {
        let stored = json!({"uuid": "u", "brand": "joyent", "zonename": "u", "zpool": "zones",
            "nics": [{"interface": "net0", "mac": "02:00:00:00:00:01", "ips": ["192.0.2.1/24"], "nic_tag": "admin"}]});
        let facts = HostFacts {
            server_uuid: "s".into(),
            platform_buildstamp: "p".into(),
            ..HostFacts::default()
        };
        let running = get_object(stored.as_object().unwrap(), &rt(ZoneState::Running), &facts);
        assert_eq!(running["zfs_filesystem"], "zones/u");
        assert_eq!(running["hvm"], false);
        assert_eq!(running["pid"], 42);
        assert_eq!(running["firewall_enabled"], false);
        assert_eq!(running["nics"][0]["ip"], "192.0.2.1");
        assert!(!running.contains_key("exit_status"));
        let keys: Vec<_> = running.keys().map(String::as_str).collect();
        assert_eq!(&keys[..3], ["zonename", "brand", "resolvers"]);
        let stopped = get_object(
            stored.as_object().unwrap(),
            &rt(ZoneState::Installed),
            &facts,
        );
        assert_eq!(stopped["state"], "stopped");
        assert_eq!(stopped["exit_status"], 0);
        assert!(!stopped.contains_key("pid"));
    }
}
