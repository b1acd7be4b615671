//! `requirements`: every key's rule, and unknown keys.

use serde_json::{Value, json};

use super::*;
use crate::manifest::*;

fn reqs(r: Value) -> Vec<String> {
    problems(with(&[("requirements", r)]))
}

#[test]
fn good_requirements_are_typed() {
    let m = ok(with(&[(
        "requirements",
        json!({
            "networks": [{"name": "net0", "description": "public"}],
            "brand": "lx", "ssh_key": true, "min_ram": 512, "max_ram": 512,
            "min_platform": {"7.0": "20130308T102805Z"},
            "max_platform": {"7.0": "20991231T235959Z", "6.5": "20120101T000000Z"},
            "bootrom": "uefi"
        }),
    )]));
    let r = m.requirements.unwrap_or_default();
    assert_eq!(
        r.networks.map(|n| n[0].name.clone()).as_deref(),
        Some("net0")
    );
    assert_eq!((r.brand.as_deref(), r.ssh_key), (Some("lx"), Some(true)));
    assert_eq!(
        (r.min_ram, r.max_ram),
        (Some(basalt_model::Mib(512)), Some(basalt_model::Mib(512)))
    );
    assert_eq!(r.max_platform.map(|p| p.len()), Some(2));
    assert_eq!(r.bootrom, Some(Bootrom::Uefi));
    ok(with(&[("requirements", json!({"bootrom": "bios"}))]));
    ok(with(&[("requirements", json!({}))]));
}

#[test]
fn requirements_must_be_an_object() {
    assert_eq!(
        reqs(json!([1])),
        ["requirements (invalid image \"requirements\" (not an object): [1])"]
    );
}

#[test]
fn networks() {
    assert_eq!(
        reqs(json!({"networks": "net0"})),
        [
            "requirements.networks (invalid image \"requirements.networks\" (not an array): \"net0\")"
        ]
    );
    let three = json!({"name": "a", "description": "b", "vlan": 3});
    assert_eq!(
        reqs(json!({"networks": [{"name": "a", "description": "b"}, three, {"name": "x"}]})),
        [
            "requirements.networks (invalid image \"requirements.networks\" entry: \
             {\"name\":\"a\",\"description\":\"b\",\"vlan\":3})",
            "requirements.networks (invalid image \"requirements.networks\" entry: {\"name\":\"x\"})",
        ]
    );
}

#[test]
fn brand_ssh_key_and_bootrom_types() {
    assert_eq!(
        reqs(json!({"brand": 5, "ssh_key": "yes", "bootrom": "efi"})),
        [
            "requirements.brand (invalid image \"requirements.brand\" (not a string): 5)",
            "requirements.ssh_key (invalid image \"requirements.ssh_key\" (not a boolean): \"yes\")",
            "requirements.bootrom (invalid image \"requirements.bootrom\" (not \"bios\" or \"uefi\"): \"efi\")",
        ]
    );
}

#[test]
fn ram_is_positive_and_ordered() {
    for bad in [json!(0), json!(-512), json!("512"), json!(1.5)] {
        assert_eq!(
            reqs(json!({"min_ram": bad.clone()})),
            [format!(
                "requirements.min_ram (invalid image \"requirements.min_ram\" (not a positive integer): {bad})"
            )]
        );
    }
    assert_eq!(
        reqs(json!({"min_ram": 1024, "max_ram": 512})),
        ["requirements.max_ram (min_ram must be <= max_ram, but:min_ram=1024, max_ram=512)"]
    );
    ok(with(&[(
        "requirements",
        json!({"min_ram": 256, "max_ram": 512}),
    )]));
}

#[test]
fn platforms_are_objects_of_stamps() {
    assert_eq!(
        reqs(json!({"min_platform": {}, "max_platform": "20130308T102805Z"})),
        [
            "requirements.min_platform (invalid image \"requirements.min_platform\" (not an object): {})",
            "requirements.max_platform (invalid image \"requirements.max_platform\" (not an object): \
             \"20130308T102805Z\")",
        ]
    );
    assert_eq!(
        reqs(json!({"min_platform": {"7.0": "2013-03-08"}})),
        [
            "requirements.min_platform (invalid image \"requirements.min_platform\" entry: \
          \"7.0: 2013-03-08\" not a valid platform version)"
        ]
    );
}

#[test]
fn platform_stamps() {
    for good in ["20130308T102805Z", "20120101T000000Z", "20991231T235959Z"] {
        assert!(is_platform_stamp(good), "{good}");
    }
    for bad in [
        "20110308T102805Z",
        "20131308T102805Z",
        "20130008T102805Z",
        "20130332T102805Z",
        "20130308T242805Z",
        "20130308T106005Z",
        "20130308T102860Z",
        "20130308X102805Z",
        "20130308T102805",
        "2013030éT10280Z",
        "",
        "2013-03-08T10:28:05Z",
    ] {
        assert!(!is_platform_stamp(bad), "{bad}");
    }
}

#[test]
fn unknown_requirements_are_invalid() {
    assert_eq!(
        reqs(json!({"cpu": 2, "brand": "joyent"})),
        ["cpu (unsupported requirement \"cpu\")"]
    );
}
