//! Where a key lives in an instance's configuration (reference 4.4).
//!
//! Given the configuration as `vmadm get` prints it, [`Routing`] decides
//! what a GET answers, what KEYS lists, and where a PUT or DELETE goes or
//! why it is refused:
//!
//! | key | read from | written |
//! | --- | --- | --- |
//! | `sdc:nics`, `sdc:resolvers`, `sdc:tmpfs` | that property as JSON | refused |
//! | `sdc:routes` | `routes` as `[{linklocal, dst, gateway}]`, `nics[N]`/`macs[M]` gateways resolved | refused |
//! | `sdc:operator-script` | `internal_metadata["operator-script"]` | refused |
//! | `sdc:volumes` | `internal_metadata["sdc:volumes"]` | refused |
//! | other `sdc:<path>` | the flattened property (`sdc:uuid`, `sdc:nics.0.ip`, `sdc:tags.role`) | refused |
//! | `<ns>:<rest>`, `<ns>` in `internal_metadata_namespaces` | `internal_metadata` | refused |
//! | `*_pw` | `internal_metadata` | `internal_metadata` |
//! | `operator-script` | `customer_metadata` | `internal_metadata` |
//! | anything else (`user-script`, `user-data`, `root_authorized_keys`) | `customer_metadata` | `customer_metadata` |

use basalt_model::Mac;
use serde_json::{Map, Value, json};

use super::render::{js_json, scalar};
use super::{Failure, Lookup};

/// Arrays of objects flattened as `<array>.<N>.<key>`.
const ARRAYS_OF_OBJECTS: [&str; 3] = ["disks", "nics", "pci_devices"];

/// Objects flattened as `<object>.<key>` (the key is the rest, dots and
/// all).
const OBJECTS: [&str; 4] = ["tags", "customer_metadata", "internal_metadata", "routes"];

/// Arrays flattened as `<array>.<N>`.
const ARRAYS: [&str; 2] = ["resolvers", "internal_metadata_namespaces"];

/// Which of an instance's metadata objects a key is written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Customer,
    Internal,
}

impl Section {
    /// The property: `customer_metadata` or `internal_metadata`.
    pub fn property(self) -> &'static str {
        match self {
            Section::Customer => "customer_metadata",
            Section::Internal => "internal_metadata",
        }
    }

    /// The `vmadm update` key that sets keys of it: `set_customer_metadata`.
    pub fn set_key(self) -> &'static str {
        match self {
            Section::Customer => "set_customer_metadata",
            Section::Internal => "set_internal_metadata",
        }
    }

    /// The `vmadm update` key that removes keys of it.
    pub fn remove_key(self) -> &'static str {
        match self {
            Section::Customer => "remove_customer_metadata",
            Section::Internal => "remove_internal_metadata",
        }
    }
}

/// The keys of one instance's configuration.
#[derive(Debug, Clone, Copy)]
pub struct Routing<'a> {
    vm: &'a Map<String, Value>,
}

impl<'a> Routing<'a> {
    /// Routing over `vm`, the object `vmadm get` prints.
    pub fn new(vm: &'a Map<String, Value>) -> Routing<'a> {
        Routing { vm }
    }

    /// What GET answers for `key`.
    pub fn get(&self, key: &str) -> Lookup {
        if let Some(path) = key.strip_prefix("sdc:") {
            return self.sdc(path);
        }
        let section = self.read_section(key);
        match self.vm.get(section.property()) {
            Some(Value::Object(data)) => scalar(data.get(key)),
            _ => Lookup::Failed(Failure::Failed(format!(
                "Zone did not contain {}",
                section.property()
            ))),
        }
    }

    /// What KEYS lists: the customer keys that are neither `*_pw` nor
    /// namespaced, then the internal keys that are.
    pub fn keys(&self) -> Vec<String> {
        let customer = self.object("customer_metadata").into_iter().flatten();
        let internal = self.object("internal_metadata").into_iter().flatten();
        customer
            .filter(|(key, _)| self.read_section(key) == Section::Customer)
            .chain(internal.filter(|(key, _)| self.read_section(key) == Section::Internal))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// Where a PUT or DELETE of `key` goes, or why the guest may not make
    /// it: `sdc:` keys and namespaced keys are read-only.
    pub fn write(&self, key: &str) -> Result<Section, Failure> {
        if key.starts_with("sdc:") {
            return Err(Failure::Refused(
                r#"Cannot update the "sdc" Namespace."#.to_owned(),
            ));
        }
        if let Some(ns) = self.namespace(key) {
            return Err(Failure::Refused(format!(
                r#"Cannot update the "{ns}" Namespace."#
            )));
        }
        if key.ends_with("_pw") || key == "operator-script" {
            Ok(Section::Internal)
        } else {
            Ok(Section::Customer)
        }
    }

    /// The namespace of `key` (the part before its first `:`) when it is
    /// one of `internal_metadata_namespaces`.
    pub fn namespace<'k>(&self, key: &'k str) -> Option<&'k str> {
        let (ns, _) = key.split_once(':')?;
        let listed = match self.vm.get("internal_metadata_namespaces")? {
            Value::Array(items) => items.iter().any(|item| item.as_str() == Some(ns)),
            Value::String(list) => list.split(',').any(|item| item == ns),
            _ => false,
        };
        listed.then_some(ns)
    }

    /// Which object a non-`sdc:` key is read from.
    fn read_section(&self, key: &str) -> Section {
        if key.ends_with("_pw") || self.namespace(key).is_some() {
            Section::Internal
        } else {
            Section::Customer
        }
    }

    fn object(&self, name: &str) -> Option<&'a Map<String, Value>> {
        self.vm.get(name)?.as_object()
    }

    /// An `sdc:` key, `path` being what follows `sdc:`.
    fn sdc(&self, path: &str) -> Lookup {
        match (path, self.vm.get(path)) {
            ("nics" | "resolvers" | "tmpfs", Some(value)) => Lookup::Found(js_json(value)),
            ("routes", Some(Value::Object(routes))) => Lookup::Found(self.routes(routes)),
            ("operator-script", _) => self.internal("operator-script"),
            ("volumes", _) => self.internal("sdc:volumes"),
            _ => scalar(flatten(self.vm, path)),
        }
    }

    fn internal(&self, key: &str) -> Lookup {
        scalar(
            self.object("internal_metadata")
                .and_then(|data| data.get(key)),
        )
    }

    /// `sdc:routes`: every route as `{linklocal, dst, gateway}`; a gateway
    /// naming a NIC (`nics[N]`, `macs[M]`) is that NIC's address, and the
    /// route is left out when the NIC is missing, has no address or uses
    /// DHCP.
    fn routes(&self, routes: &Map<String, Value>) -> String {
        let mut out = Vec::new();
        for (dst, gateway) in routes {
            let Some(gateway) = gateway.as_str() else {
                continue;
            };
            match nic_reference(gateway) {
                None => out.push(json!({"linklocal": false, "dst": dst, "gateway": gateway})),
                Some(nic) => {
                    if let Some(ip) = self.nic_address(&nic) {
                        out.push(json!({"linklocal": true, "dst": dst, "gateway": ip}));
                    }
                }
            }
        }
        js_json(&Value::Array(out))
    }

    fn nic_address(&self, nic: &NicRef) -> Option<&'a Value> {
        let nics = self.vm.get("nics")?.as_array()?;
        let nic = match nic {
            NicRef::Index(i) => nics.get(*i)?,
            NicRef::Mac(mac) => nics.iter().find(|n| {
                n.get("mac").and_then(Value::as_str).and_then(Mac::parse) == Some(*mac)
            })?,
        };
        nic.get("ip").filter(|ip| ip.as_str() != Some("dhcp"))
    }
}

/// A route gateway that names one of the instance's NICs.
enum NicRef {
    Index(usize),
    Mac(Mac),
}

fn nic_reference(gateway: &str) -> Option<NicRef> {
    if let Some(index) = gateway
        .strip_prefix("nics[")
        .and_then(|s| s.strip_suffix(']'))
    {
        return parse_index(index).map(NicRef::Index);
    }
    let mac = gateway.strip_prefix("macs[")?.strip_suffix(']')?;
    Mac::parse(mac).map(NicRef::Mac)
}

/// The value at a flattened path (reference 2.3): `<array>.<N>.<key>`
/// for disks, NICs and PCI devices, `<object>.<key>` for tags, metadata
/// and routes, `<array>.<N>` for resolvers and namespaces, otherwise the
/// top-level key.
fn flatten<'v>(vm: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let Some((head, rest)) = path.split_once('.') else {
        return vm.get(path);
    };
    if ARRAYS_OF_OBJECTS.contains(&head)
        && let Some((index, key)) = rest.split_once('.')
        && !key.contains('.')
    {
        let i = parse_index(index)?;
        return vm.get(head)?.as_array()?.get(i)?.as_object()?.get(key);
    }
    if OBJECTS.contains(&head) {
        return vm.get(head)?.as_object()?.get(rest);
    }
    if ARRAYS.contains(&head) {
        return vm.get(head)?.as_array()?.get(parse_index(rest)?);
    }
    vm.get(path)
}

/// A position in decimal digits.
fn parse_index(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests;
