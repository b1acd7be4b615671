//! The zvol fields, the remaining optional fields, and errors as a whole.

use serde_json::json;

use super::*;
use crate::manifest::*;

#[test]
fn zvol_needs_image_size() {
    assert_eq!(
        problems(with(&[("type", json!("zvol"))])),
        ["image_size (MissingParameter)"]
    );
    let m = ok(with(&[
        ("type", json!("zvol")),
        ("image_size", json!(10240)),
        ("nic_driver", json!("virtio")),
        ("disk_driver", json!("virtio")),
        ("cpu_type", json!("host")),
    ]));
    assert_eq!(m.image_size, Some(basalt_model::Mib(10240)));
    assert_eq!(
        problems(with(&[("type", json!("zvol")), ("image_size", json!(0))])),
        ["image_size (invalid image image_size: \"0\" (must be a positive integer))"]
    );
    assert_eq!(
        problems(with(&[
            ("type", json!("zvol")),
            ("image_size", json!(10240)),
            ("cpu_type", json!(1))
        ])),
        ["cpu_type (invalid image cpu_type: \"1\" (must be a string))"]
    );
}

#[test]
fn hvm_fields_only_on_a_zvol() {
    assert_eq!(
        problems(with(&[
            ("image_size", json!(10240)),
            ("nic_driver", json!("virtio"))
        ])),
        [
            "nic_driver (invalid image nic_driver: \"virtio\" (cannot have a value when image type is not zvol))",
            "image_size (invalid image image_size: \"10240\" (cannot have a value when image type is not zvol))",
        ]
    );
}

#[test]
fn strings_and_urls() {
    assert_eq!(problems(with(&[("urn", json!(1))])), ["urn"]);
    assert_eq!(
        problems(with(&[("description", json!("d".repeat(10 * 1024 + 1)))])),
        ["description (image description is too long, max 10240 characters)"]
    );
    assert_eq!(
        problems(with(&[
            ("homepage", json!("ftp://x")),
            ("eula", json!(format!("https://{}", "e".repeat(1024))))
        ])),
        [
            "homepage (invalid image homepage URL protocol)",
            "eula (image EULA URL is too long (max 1024 characters))",
        ]
    );
    let m = ok(with(&[
        ("homepage", json!("HTTPS://example.org")),
        ("description", json!("x")),
    ]));
    assert_eq!(m.homepage.as_deref(), Some("HTTPS://example.org"));
}

#[test]
fn lists_of_the_optional_fields() {
    assert_eq!(
        problems(with(&[("acl", json!([super::UUID, "x", "y"]))])),
        ["acl (invalid image \"acl\" (item 1 is not a UUID): x)"]
    );
    assert_eq!(
        problems(with(&[(
            "users",
            json!([{"name": "root"}, {"name": "a", "uid": 1}])
        )])),
        ["users (invalid image \"users\" entry: {\"name\":\"a\",\"uid\":1})"]
    );
    assert_eq!(
        problems(with(&[("billing_tags", json!(["ok", "b".repeat(129)]))])),
        [format!(
            "billing_tags (invalid image \"billing_tags\" entry: {})",
            "b".repeat(129)
        )]
    );
    assert_eq!(
        problems(with(&[("channels", json!({"a": 1}))])),
        ["channels (invalid image \"channels\" (not an array): {\"a\":1})"]
    );
    assert_eq!(
        problems(with(&[
            ("type", json!("lx-dataset")),
            ("inherited_directories", json!(["/usr"]))
        ])),
        [
            "inherited_directories (invalid image \"inherited_directories\" (only valid for a \
          type:zone-dataset image): [\"/usr\"])"
        ]
    );
    let m = ok(with(&[
        ("users", json!([{"name": "root"}])),
        ("inherited_directories", json!(["/usr"])),
    ]));
    assert_eq!(m.users, Some(vec!["root".to_owned()]));
}

#[test]
fn objects_of_the_optional_fields() {
    assert_eq!(
        problems(with(&[("traits", json!({"ssd": true, "n": 3}))])),
        ["traits (invalid image \"traits\" entry: (n, 3))"]
    );
    assert_eq!(
        problems(with(&[("tags", json!(["a"])), ("error", json!("boom"))])),
        [
            "error (invalid image \"error\" (not an object): \"boom\")",
            "tags (invalid image \"tags\" (not an object): [\"a\"])",
        ]
    );
    let big = json!({"k": "v".repeat(100 * 1024)});
    assert_eq!(
        problems(with(&[("tags", big)])),
        ["tags (image \"tags\" object is too big: 102408 characters (max 102400))"]
    );
    let m = ok(with(&[(
        "tags",
        json!({"role": "os", "docker:config": {"Cmd": ["sh"]}}),
    )]));
    assert_eq!(m.tags.map(|t| t.len()), Some(2));
}

#[test]
fn every_problem_is_reported_at_once() {
    let v = json!({
        "v": 2, "uuid": "nope", "name": "bad!", "type": "zone-dataset", "os": "beos",
        "files": [{"sha1": "x", "size": 1, "compression": "none"}],
        "requirements": {"min_ram": -1, "colour": "red"},
        "state": "odd"
    });
    let e = Manifest::from_value(v).err();
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some(
            "invalid manifest: uuid, name (image name has invalid characters (only \
             alpha-numeric characters and \" \", \".\", \"-\", \"_\" and \"/\" are allowed)), \
             version (MissingParameter), os (invalid image os, \"beos\", must be one of: \
             smartos, linux, windows, bsd, illumos, other), state, files (invalid image \
             \"files\": invalid sha1 \"x\" (must be 40 hexadecimal digits)), \
             requirements.min_ram (invalid image \"requirements.min_ram\" (not a positive \
             integer): -1), colour (unsupported requirement \"colour\")"
        )
    );
}

#[test]
fn text_that_is_not_a_manifest() {
    let e = Manifest::from_json("{\"v\": 2,").err();
    assert_eq!(e.as_ref().map(ManifestError::code), Some("InvalidManifest"));
    assert!(e.is_some_and(|e| e.to_string().starts_with("manifest is invalid: EOF")));
    let e = Manifest::from_value(json!([minimal()])).err();
    assert_eq!(
        e.map(|e| (e.code(), e.to_string())),
        Some((
            "InvalidManifest",
            "manifest is invalid: not a JSON object".to_owned()
        ))
    );
    assert!(without(&["v"]).get("v").is_none());
}
