//! Every validation rule, the error's wording, and the round trip.

mod fields;
mod other;
mod requirements;
mod roundtrip;

use serde_json::{Value, json};

use super::*;

pub(super) const UUID: &str = "1f9b7958-289e-4ea3-8f88-5486a40d6823";
pub(super) const SHA1: &str = "97f20b32c2016782257176fb58a35e5044f05840";

pub(super) fn minimal() -> Value {
    json!({
        "v": 2, "uuid": UUID, "name": "foo", "version": "1.2.3",
        "type": "zone-dataset", "os": "smartos"
    })
}

pub(super) fn with(pairs: &[(&str, Value)]) -> Value {
    let mut m = minimal();
    for (k, v) in pairs {
        m[*k] = v.clone();
    }
    m
}

pub(super) fn without(keys: &[&str]) -> Value {
    let mut m = minimal();
    for k in keys {
        m.as_object_mut().map(|o| o.shift_remove(*k));
    }
    m
}

/// The problems of an invalid manifest, as imgadm renders each.
pub(super) fn problems(v: Value) -> Vec<String> {
    match Manifest::from_value(v) {
        Ok(_) => vec![],
        Err(e) => {
            assert_eq!(e.code(), "ManifestValidation");
            e.problems().iter().map(ToString::to_string).collect()
        }
    }
}

pub(super) fn ok(v: Value) -> Manifest {
    match Manifest::from_value(v) {
        Ok(m) => m,
        Err(e) => panic!("expected a valid manifest: {e}"),
    }
}

pub(super) fn file(sha1: Value, size: Value, compression: Value) -> Value {
    json!([{"sha1": sha1, "size": size, "compression": compression}])
}
