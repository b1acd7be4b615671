//! Writing a manifest back: key order, extras, normalisation; and the
//! property tests.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::manifest::*;

/// The reference's example, with extras among the known keys.
const EXAMPLE: &str = r#"{"v":2,"uuid":"01b2c898-945f-11e1-a523-af1afbe22822","owner":"352971aa-31ba-496c-9ade-a379feaecd52","name":"smartos","version":"1.6.3","state":"active","x-origin-note":"kept","disabled":false,"public":true,"published_at":"2012-05-02T15:14:45.805Z","type":"zone-dataset","os":"smartos","files":[{"size":46271847,"sha1":"97f20b32c2016782257176fb58a35e5044f05840","compression":"bzip2","dataset_guid":"1234"}],"description":"Base template to build other templates on","requirements":{"networks":[{"description":"public","name":"net0"}]},"creator_name":{"nested":[1,2]}}"#;

#[test]
fn round_trip_keeps_text_exactly() {
    let m = Manifest::from_json(EXAMPLE).map_err(|e| e.to_string());
    let m = m.as_ref().map(|m| m.to_value().to_string());
    assert_eq!(m.as_deref(), Ok(EXAMPLE));
}

#[test]
fn extras_are_kept_in_place() {
    let m = ok(serde_json::from_str(EXAMPLE).unwrap_or_default());
    let keys: Vec<String> = m.extra.keys().cloned().collect();
    assert_eq!(keys, ["x-origin-note", "creator_name"]);
}

#[test]
fn changes_keep_positions_and_new_keys_follow() {
    let mut m = ok(serde_json::from_str(EXAMPLE).unwrap_or_default());
    m.version = "1.6.4".into();
    m.public = None;
    m.homepage = Some("https://example.org".into());
    m.extra.insert("zz".into(), json!(1));
    if let Some(r) = m.requirements.as_mut() {
        r.brand = Some("joyent".into());
    }
    let v = m.to_value();
    let keys: Vec<&str> = v
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "v",
            "uuid",
            "owner",
            "name",
            "version",
            "state",
            "x-origin-note",
            "disabled",
            "published_at",
            "type",
            "os",
            "files",
            "description",
            "requirements",
            "creator_name",
            "homepage",
            "zz"
        ]
    );
    assert_eq!(v["version"], json!("1.6.4"));
    assert_eq!(
        v["requirements"].to_string(),
        r#"{"networks":[{"name":"net0","description":"public"}],"brand":"joyent"}"#
    );
    assert_eq!(ok(v.clone()).to_value(), v);
}

#[test]
fn a_new_manifest_is_written_in_canonical_order() {
    let uuid: ImageUuid = match UUID.parse() {
        Ok(u) => u,
        Err(e) => panic!("{e}"),
    };
    let mut m = Manifest::new(uuid, "base", "1.0", ImageType::LxDataset, ImageOs::Linux);
    m.files = Some(vec![ImageFile {
        sha1: Sha1Digest([0xab; 20]),
        size: 10,
        compression: Compression::Zstd,
        extra: Default::default(),
    }]);
    m.state = Some(ImageState::Active);
    assert_eq!(
        m.to_value().to_string(),
        format!(
            r#"{{"v":2,"uuid":"{UUID}","name":"base","version":"1.0","state":"active","type":"lx-dataset","os":"linux","files":[{{"sha1":"{}","size":10,"compression":"zstd"}}]}}"#,
            "ab".repeat(20)
        )
    );
}

#[test]
fn numbers_and_digests_are_normalised() {
    let v = with(&[(
        "files",
        json!([{"sha1": SHA1.to_uppercase(), "size": 9.0, "compression": "gzip"}]),
    )]);
    let out = ok(v).to_value();
    assert_eq!(
        out["files"],
        json!([{"sha1": SHA1, "size": 9, "compression": "gzip"}])
    );
}

#[test]
fn serde_goes_through_validation() {
    let m: Result<Manifest, _> = serde_json::from_str(EXAMPLE);
    let text = m.ok().and_then(|m| serde_json::to_string(&m).ok());
    assert_eq!(text.as_deref(), Some(EXAMPLE));
    let bad: Result<Manifest, _> = serde_json::from_value(without(&["os"]));
    assert!(bad.is_err_and(|e| e.to_string() == "invalid manifest: os (MissingParameter)"));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z0-9 ._+/:-]{0,12}".prop_map(Value::String),
        Just(Value::String(UUID.into())),
        Just(Value::String(SHA1.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Keys the validator knows (top-level, requirements, files) and others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "v",
            "uuid",
            "name",
            "version",
            "type",
            "os",
            "files",
            "requirements",
            "sha1",
            "size",
            "compression",
            "networks",
            "min_ram",
            "max_ram",
            "min_platform",
            "state",
            "activated",
            "published_at",
            "image_size",
            "acl",
            "users",
            "tags",
            "traits",
            "nic_driver",
            "bootrom",
            "description",
            "homepage",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
    ]
}

proptest! {
    #[test]
    fn validation_never_panics(v in json_value()) {
        let _ = Manifest::from_value(v);
    }

    #[test]
    fn validation_never_panics_on_near_manifests(extra in prop::collection::vec((key(), json_value()), 0..8)) {
        let mut m = minimal();
        for (k, v) in extra {
            m[k] = v;
        }
        if let Ok(parsed) = Manifest::from_value(m.clone()) {
            // A valid manifest writes back as itself, or as its normal form,
            // which is a fixed point.
            let once = parsed.to_value();
            let twice = Manifest::from_value(once.clone()).map(|p| p.to_value());
            prop_assert_eq!(twice.ok(), Some(once));
        }
    }
}
