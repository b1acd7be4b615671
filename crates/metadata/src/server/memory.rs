//! An instance's metadata held in memory: the fake beside the node's
//! backend, for tests and fuzzing.

use serde_json::{Map, Value};

use super::{Backend, Event, Failure, Lookup, Routing};

/// A backend over a configuration as `vmadm get` prints it, read through
/// [`Routing`] and changed as `vmadm update`'s `set_`/`remove_` metadata
/// keys would change it.
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    /// The configuration.
    pub vm: Map<String, Value>,
    /// The events the session reported, oldest first.
    pub events: Vec<Event>,
}

impl MemoryBackend {
    pub fn new(vm: Map<String, Value>) -> MemoryBackend {
        MemoryBackend {
            vm,
            events: Vec::new(),
        }
    }

    /// The metadata object `key` is written to, made if missing.
    fn section_for(&mut self, key: &str) -> Result<&mut Map<String, Value>, Failure> {
        let section = Routing::new(&self.vm).write(key)?;
        let entry = self
            .vm
            .entry(section.property())
            .or_insert_with(|| Value::Object(Map::new()));
        entry
            .as_object_mut()
            .ok_or_else(|| Failure::Failed(format!("{} is not an object", section.property())))
    }
}

impl Backend for MemoryBackend {
    fn get(&mut self, key: &str) -> Lookup {
        Routing::new(&self.vm).get(key)
    }

    fn keys(&mut self) -> Result<Vec<String>, Failure> {
        Ok(Routing::new(&self.vm).keys())
    }

    fn put(&mut self, key: &str, value: &str) -> Result<(), Failure> {
        self.section_for(key)?
            .insert(key.to_owned(), Value::String(value.to_owned()));
        Ok(())
    }

    fn delete(&mut self, key: &str) -> Result<(), Failure> {
        self.section_for(key)?.shift_remove(key);
        Ok(())
    }

    fn observe(&mut self, event: Event) {
        self.events.push(event);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_land_where_routing_says() {
        let vm = json!({"customer_metadata": {"a": "1"}, "internal_metadata_namespaces": ["ns"]});
        let mut b = MemoryBackend::new(vm.as_object().cloned().unwrap());
        b.put("user-script", "#!/bin/sh").unwrap();
        b.put("root_pw", "secret").unwrap();
        b.put("operator-script", "op").unwrap();
        assert_eq!(b.get("user-script"), Lookup::Found("#!/bin/sh".into()));
        assert_eq!(b.get("root_pw"), Lookup::Found("secret".into()));
        assert_eq!(b.get("sdc:operator-script"), Lookup::Found("op".into()));
        assert_eq!(b.keys().unwrap(), ["a", "user-script", "root_pw"]);
        assert!(matches!(b.put("sdc:uuid", "x"), Err(Failure::Refused(_))));
        assert!(matches!(b.delete("ns:x"), Err(Failure::Refused(_))));
        b.delete("a").unwrap();
        b.delete("never-there").unwrap();
        assert_eq!(b.get("a"), Lookup::NotFound);
        assert_eq!(
            Value::Object(b.vm),
            json!({
                "customer_metadata": {"user-script": "#!/bin/sh"},
                "internal_metadata_namespaces": ["ns"],
                "internal_metadata": {"root_pw": "secret", "operator-script": "op"}
            })
        );
    }

    #[test]
    fn a_metadata_property_that_is_not_an_object_fails_writes() {
        let vm = json!({"customer_metadata": "broken"});
        let mut b = MemoryBackend::new(vm.as_object().cloned().unwrap());
        assert_eq!(
            b.put("k", "v"),
            Err(Failure::Failed("customer_metadata is not an object".into()))
        );
    }
}
