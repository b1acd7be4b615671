//! Runs the built `sysinfo` against this machine, with basalt's state in a
//! temporary root.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use basalt_model::ids::is_uuid;
use serde_json::{Map, Value};

fn sysinfo(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sysinfo"))
        .env("BASALT_ROOT", root)
        .args(args)
        .output()
        .expect("sysinfo runs")
}

fn json(out: &Output) -> Map<String, Value> {
    assert!(out.status.success(), "{out:?}");
    match serde_json::from_slice(&out.stdout) {
        Ok(Value::Object(m)) => m,
        other => panic!("not a JSON object: {other:?}\n{out:?}"),
    }
}

fn uuid(info: &Map<String, Value>) -> String {
    let uuid = info["UUID"].as_str().expect("UUID is a string").to_owned();
    assert!(is_uuid(&uuid), "{uuid}");
    uuid
}

#[test]
fn prints_json_with_a_uuid_that_persists() {
    let root = tempfile::tempdir().unwrap();
    let first = json(&sysinfo(root.path(), &[]));
    let id = uuid(&first);
    assert_eq!(first["System Type"], "Linux");
    assert!(first["CPU Count"].as_u64().unwrap() >= 1);
    assert!(first["MiB of Memory"].is_string());
    assert!(first["Network Interfaces"].is_object());

    let config = std::fs::read_to_string(root.path().join("usbkey/config")).unwrap();
    assert!(config.contains(&format!("server_uuid={id}\n")), "{config}");
    assert!(root.path().join("tmp/.sysinfo.json").is_file());

    // From the cache, then regathered: the same node either way.
    assert_eq!(uuid(&json(&sysinfo(root.path(), &[]))), id);
    std::fs::remove_file(root.path().join("tmp/.sysinfo.json")).unwrap();
    assert_eq!(uuid(&json(&sysinfo(root.path(), &["-f"]))), id);
}

#[test]
fn output_is_pretty_json_with_a_trailing_newline() {
    let root = tempfile::tempdir().unwrap();
    let out = sysinfo(root.path(), &[]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("{\n  \"Live Image\": "), "{text}");
    assert!(text.ends_with("}\n"), "{text}");
}

#[test]
fn parsable_prints_key_value_lines() {
    let root = tempfile::tempdir().unwrap();
    let id = uuid(&json(&sysinfo(root.path(), &[])));
    let out = sysinfo(root.path(), &["-p"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("Live_Image='"), "{text}");
    assert!(text.lines().any(|l| l == format!("UUID='{id}'")), "{text}");
    assert!(text.lines().any(|l| l == "System_Type='Linux'"), "{text}");
}

#[test]
fn update_writes_the_cache_and_prints_nothing() {
    let root = tempfile::tempdir().unwrap();
    let out = sysinfo(root.path(), &["-u"]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let cached = std::fs::read(root.path().join("tmp/.sysinfo.json")).unwrap();
    let cached = match serde_json::from_slice(&cached).unwrap() {
        Value::Object(m) => m,
        other => panic!("cache is not an object: {other}"),
    };
    assert_eq!(json(&sysinfo(root.path(), &[])), cached);
}

#[test]
fn the_cache_answers_until_refreshed() {
    let root = tempfile::tempdir().unwrap();
    let cache = root.path().join("tmp/.sysinfo.json");
    std::fs::create_dir_all(cache.parent().unwrap()).unwrap();
    std::fs::write(&cache, "{\"Hostname\": \"from-cache\"}\n").unwrap();
    assert_eq!(json(&sysinfo(root.path(), &[]))["Hostname"], "from-cache");
    assert_ne!(
        json(&sysinfo(root.path(), &["-f"]))["Hostname"],
        "from-cache"
    );
}

#[test]
fn usage() {
    let root = tempfile::tempdir().unwrap();
    let bad = sysinfo(root.path(), &["-x"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(bad.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.starts_with("sysinfo: unknown option -x\nUsage: sysinfo"),
        "{stderr}"
    );
    assert_eq!(sysinfo(root.path(), &["extra"]).status.code(), Some(2));

    let help = sysinfo(root.path(), &["-?"]);
    assert_eq!(help.status.code(), Some(0), "{help:?}");
    assert!(
        String::from_utf8_lossy(&help.stdout).starts_with("Usage: sysinfo [-f] [-p] [-u] [-?]")
    );
    assert!(!root.path().join("tmp").exists(), "help gathers nothing");
}

#[test]
fn failure_is_one_line_and_status_1() {
    let root = tempfile::tempdir().unwrap();
    // The node configuration's directory is a file: it cannot be written.
    std::fs::write(root.path().join("usbkey"), "").unwrap();
    let out = sysinfo(root.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("sysinfo: failed to "), "{stderr}");
}
