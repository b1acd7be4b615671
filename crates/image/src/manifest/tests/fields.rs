//! The required fields, files, dates, states and booleans.

use serde_json::{Value, json};

use super::*;
use crate::manifest::*;

#[test]
fn minimal_manifest_is_typed() {
    let m = ok(minimal());
    assert_eq!(m.v, 2);
    assert_eq!(m.uuid.as_str(), UUID);
    assert_eq!((m.name.as_str(), m.version.as_str()), ("foo", "1.2.3"));
    assert_eq!(
        (m.image_type, m.os),
        (ImageType::ZoneDataset, ImageOs::Smartos)
    );
    assert!(m.file().is_none() && m.extra.is_empty());
}

#[test]
fn required_fields_are_each_reported_missing_in_order() {
    for k in ["v", "uuid", "name", "version", "type", "os"] {
        assert_eq!(problems(without(&[k])), [format!("{k} (MissingParameter)")]);
    }
    let e = Manifest::from_value(json!({})).err();
    assert_eq!(
        e.map(|e| e.to_string()).as_deref(),
        Some(
            "invalid manifest: v (MissingParameter), uuid (MissingParameter), \
             name (MissingParameter), version (MissingParameter), type (MissingParameter), \
             os (MissingParameter)"
        )
    );
}

#[test]
fn v_is_a_positive_integer() {
    for bad in [json!("2"), json!(0), json!(-1), json!(2.5), json!(null)] {
        assert_eq!(
            problems(with(&[("v", bad)])),
            ["v (\"v\" must be a positive integer)"]
        );
    }
    assert_eq!(ok(with(&[("v", json!(2.0))])).v, 2);
}

#[test]
fn uuids_are_lowercase_8_4_4_4_12() {
    let upper = UUID.to_uppercase();
    assert_eq!(problems(with(&[("uuid", json!(upper))])), ["uuid"]);
    assert_eq!(problems(with(&[("uuid", json!(42))])), ["uuid"]);
    assert_eq!(problems(with(&[("owner", json!("nobody"))])), ["owner"]);
    assert_eq!(problems(with(&[("origin", json!("x"))])), ["origin"]);
    let m = ok(with(&[("owner", json!(UUID)), ("origin", json!(UUID))]));
    assert_eq!(m.origin.map(|o| o.to_string()).as_deref(), Some(UUID));
}

#[test]
fn name_characters_and_length() {
    let chars = "name (image name has invalid characters (only alpha-numeric characters and \
                 \" \", \".\", \"-\", \"_\" and \"/\" are allowed))";
    for bad in ["foo!", "", "naïve", "a+b"] {
        assert_eq!(problems(with(&[("name", json!(bad))])), [chars], "{bad}");
    }
    assert_eq!(
        problems(with(&[("name", json!("a".repeat(1025)))])),
        ["name (image name is too long, max 1024 characters)"]
    );
    assert_eq!(
        problems(with(&[("name", json!(7))])),
        ["name (image name must be a string)"]
    );
    ok(with(&[("name", json!("a".repeat(1024)))]));
    ok(with(&[("name", json!("base-64 lts/2024_1.x"))]));
}

#[test]
fn version_characters_and_length() {
    let chars = "version (image version has invalid characters (only alpha-numeric characters \
                 and \".\", \"-\", \"_\" and \"/\" are allowed))";
    for bad in ["1.0 beta", "", "1:0"] {
        assert_eq!(problems(with(&[("version", json!(bad))])), [chars], "{bad}");
    }
    assert_eq!(
        problems(with(&[("version", json!("1".repeat(513)))])),
        ["version (image version is too long, max 512 characters)"]
    );
    ok(with(&[("version", json!("1".repeat(512)))]));
    ok(with(&[("version", json!("20240101T000000Z+build/1_a-b"))]));
}

#[test]
fn types_and_oses() {
    for t in ["zone-dataset", "lx-dataset", "zvol", "docker", "other"] {
        let extra = if t == "zvol" {
            json!(10240)
        } else {
            Value::Null
        };
        let mut m = with(&[("type", json!(t))]);
        if !extra.is_null() {
            m["image_size"] = extra;
        }
        assert_eq!(ok(m).image_type.as_str(), t);
    }
    assert_eq!(
        problems(with(&[("type", json!("lxd"))])),
        [
            "type (invalid image type, \"lxd\", must be one of: zone-dataset, zvol, lx-dataset, \
          docker, other)"
        ]
    );
    for os in ["smartos", "linux", "windows", "bsd", "illumos", "other"] {
        assert_eq!(ok(with(&[("os", json!(os))])).os.as_str(), os);
    }
    assert_eq!(
        problems(with(&[("os", json!("plan9"))])),
        [
            "os (invalid image os, \"plan9\", must be one of: smartos, linux, windows, bsd, \
          illumos, other)"
        ]
    );
}

#[test]
fn one_file_with_sha1_size_and_compression() {
    let m = ok(with(&[(
        "files",
        file(json!(SHA1), json!(46271847), json!("bzip2")),
    )]));
    let f = m.file().cloned();
    assert_eq!(
        f.as_ref().map(|f| f.sha1.to_string()).as_deref(),
        Some(SHA1)
    );
    assert_eq!(
        f.as_ref().map(|f| (f.size, f.compression)),
        Some((46271847, Compression::Bzip2))
    );
    for c in ["gzip", "bzip2", "xz", "none", "zstd"] {
        ok(with(&[("files", file(json!(SHA1), json!(1), json!(c)))]));
    }
    assert_eq!(
        problems(with(&[("files", json!("x"))])),
        ["files (invalid image \"files\" (not an array): x)"]
    );
    assert_eq!(
        problems(with(&[("files", json!([]))])),
        ["files (invalid image \"files\": no file (exactly one is required))"]
    );
    let two = json!([{"sha1": SHA1, "size": 1, "compression": "none"}, {}]);
    assert_eq!(
        problems(with(&[("files", two)])),
        ["files (invalid image \"files\": too many files)"]
    );
    assert_eq!(
        problems(with(&[("files", json!([{}]))])),
        [
            "files (invalid image \"files\": file missing \"sha1\" field)",
            "files (invalid image \"files\": file missing \"size\" field)",
            "files (invalid image \"files\": file missing \"compression\" field)",
        ]
    );
    assert_eq!(
        problems(with(&[("files", json!([7]))])),
        ["files (invalid image \"files\": file is not an object: 7)"]
    );
}

#[test]
fn file_values_are_checked() {
    let sha1 = |s: &str| problems(with(&[("files", file(json!(s), json!(1), json!("xz")))]));
    let bad = |s: &str| {
        format!(
            "files (invalid image \"files\": invalid sha1 \"{s}\" (must be 40 hexadecimal digits))"
        )
    };
    assert_eq!(sha1(&SHA1[1..]), [bad(&SHA1[1..])]);
    let not_hex = format!("{}g", &SHA1[1..]);
    assert_eq!(sha1(&not_hex), [bad(&not_hex)]);
    assert!(sha1(&SHA1.to_uppercase()).is_empty());

    let size = |v: Value| problems(with(&[("files", file(json!(SHA1), v, json!("xz")))]));
    assert_eq!(
        size(json!(0)),
        ["files (invalid image \"files\": file missing \"size\" field)"]
    );
    assert_eq!(
        size(json!(-1)),
        ["files (invalid image \"files\": invalid size -1 (must be a positive integer))"]
    );
    assert_eq!(
        size(json!("10")),
        ["files (invalid image \"files\": invalid size \"10\" (must be a positive integer))"]
    );
    assert!(size(json!(MAX_FILE_SIZE)).is_empty());
    assert_eq!(
        size(json!(MAX_FILE_SIZE + 1)),
        [
            "files (invalid image \"files\": size 21474836481 is larger than the maximum of \
          21474836480 bytes (20 GiB))"
        ]
    );
    assert_eq!(
        problems(with(&[(
            "files",
            file(json!(SHA1), json!(1), json!("lz4"))
        )])),
        [
            "files (invalid image \"files\": invalid compression \"lz4\" (must be one of gzip, \
          bzip2, xz, none, zstd))"
        ]
    );
}

#[test]
fn file_extras_are_kept() {
    let files = json!([{"compression": "gzip", "dataset_guid": "123", "sha1": SHA1, "size": 9}]);
    let m = ok(with(&[("files", files.clone())]));
    assert_eq!(m.file().map(|f| f.extra.len()), Some(1));
    assert_eq!(m.to_value()["files"], files);
}

#[test]
fn activated_needs_published_at_and_files() {
    assert_eq!(
        problems(with(&[("activated", json!(true))])),
        [
            "published_at (if activated is \"true\" published_at must be present)",
            "files (if activated is \"true\" files must be present)",
        ]
    );
    assert_eq!(problems(with(&[("activated", json!("true"))])).len(), 2);
    assert!(problems(with(&[("activated", json!(false))])).is_empty());
}

#[test]
fn published_at_format() {
    for good in ["2012-05-02T15:14:45.805Z", "2012-05-02T15:14:45Z"] {
        assert_eq!(
            ok(with(&[("published_at", json!(good))]))
                .published_at
                .as_deref(),
            Some(good)
        );
    }
    let msg = "published_at (published_at date not in \"YYYY-MM-DDTHH:MM:SS(.SSS)Z\" format)";
    for bad in [
        json!("2012-05-02"),
        json!("2012-05-02T15:14Z"),
        json!("2012-05-02T15:14:45.8Z"),
        json!("2012-05-02 15:14:45Z"),
        json!(""),
        json!(12),
    ] {
        assert_eq!(
            problems(with(&[("published_at", bad.clone())])),
            [msg],
            "{bad}"
        );
    }
}

#[test]
fn states() {
    for st in ["active", "unactivated", "disabled", "creating", "failed"] {
        assert_eq!(
            ok(with(&[("state", json!(st))]))
                .state
                .map(ImageState::as_str),
            Some(st)
        );
    }
    assert_eq!(problems(with(&[("state", json!("gone"))])), ["state"]);
}

#[test]
fn booleans_accept_imgadms_strings() {
    let m = ok(with(&[
        ("disabled", json!("false")),
        ("public", json!(true)),
    ]));
    assert_eq!((m.disabled, m.public), (Some(false), Some(true)));
    assert_eq!(m.to_value()["disabled"], json!(false));
    assert_eq!(problems(with(&[("disabled", json!(1))])), ["disabled"]);
    assert_eq!(
        problems(with(&[("icon", json!("yes"))])),
        ["icon (invalid image \"icon\" (not an accepted boolean value): \"yes\")"]
    );
}
