//! vmadm driven as an operator drives it: the real binary against a
//! relocated root with its own pool (a 1 GiB loop file) holding the
//! instances of `examples/`, as root. Output, streams and exit codes are
//! checked byte for byte (timestamps and generated MACs are masked). Every
//! test deletes what it made, even when it fails (the `Node` guard).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::Run;
use common::images::minimal_image;
use serde_json::{Map, Value, json};

const SERVER_UUID: &str = "9d2a7c3e-1b4f-4e6a-8c0d-5f3e2a1b0c9d";
/// The minimal image (`images/build-minimal`), which the joyent examples use.
const MINIMAL: &str = "9cde6fa6-f2a5-4d83-b933-d2fa71789f38";
/// The image `examples/lx.json` names (the Debian image, `images/build-debian`).
const LX_IMAGE: &str = "d38f656a-e8da-43f6-a84e-fd0bd2447a82";

/// A relocated root with its own pool (see `common::Root`) and a fixed
/// node name and uuid. Dropped, it deletes every instance — the
/// indestructible flags cleared first — before the pool is unmounted, so
/// that no zone outlives its test.
struct Node {
    root: common::Root,
    /// The node's network namespace: the examples' NICs are plumbed there
    /// when a zone boots.
    _netns: common::netns::Netns,
}

impl Node {
    /// A root without images; its pool is made by the first command that
    /// needs one.
    fn new(test: &str) -> Node {
        let mut root = common::Root::new(&format!("vmadm-{test}"));
        let netns = common::netns::Netns::new(&format!("vmadm-{test}"));
        root.set_netns(&netns.name);
        let config = root.path().join("usbkey/config");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&config)
            .unwrap();
        writeln!(file, "hostname=node0\nserver_uuid={SERVER_UUID}").unwrap();
        Node {
            root,
            _netns: netns,
        }
    }

    /// A root with the minimal image installed.
    fn with_minimal(test: &str) -> Node {
        let node = Node::new(test);
        let (manifest, file) = minimal_image();
        node.install_image(&manifest, &file);
        node
    }

    /// A root holding every valid example instance, none of them booted
    /// (`"autoboot": false` is added to each payload), so that what the
    /// tests print does not depend on running zones.
    fn with_examples(test: &str) -> Node {
        let node = Node::with_minimal(test);
        node.install_lx_stand_in();
        for file in examples() {
            let r = node.create_example(&file, false);
            let uuid = payload_of(&file)["uuid"].as_str().unwrap().to_owned();
            assert_eq!(
                (r.code, r.stderr.as_str()),
                (0, format!("Successfully created VM {uuid}\n").as_str()),
                "{}",
                file.display()
            );
        }
        node
    }

    fn install_image(&self, manifest: &Path, file: &Path) {
        self.root.install_image(manifest, file);
    }

    /// Installs an image of type `lx-dataset` under the uuid `lx.json`
    /// names: the minimal image's file with its manifest rewritten. A
    /// stand-in — a static busybox is no Linux distribution, and these
    /// tests never boot it; the real lx image takes minutes to build.
    fn install_lx_stand_in(&self) {
        let (manifest, file) = minimal_image();
        let mut m: Value =
            serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
        m["uuid"] = json!(LX_IMAGE);
        m["name"] = json!("basalt-minimal-as-lx");
        m["type"] = json!("lx-dataset");
        m["requirements"]["brand"] = json!("lx");
        let dir = tempfile::Builder::new()
            .prefix("basalt-vmadm-lx-image-")
            .tempdir()
            .unwrap();
        let rewritten = dir.path().join("lx.imgmanifest");
        std::fs::write(&rewritten, m.to_string()).unwrap();
        self.install_image(&rewritten, &file);
    }

    /// Creates the instance of example `file`, its payload sent on stdin
    /// with `autoboot` set as given.
    fn create_example(&self, file: &Path, autoboot: bool) -> Run {
        let mut payload = payload_of(file);
        payload.insert("autoboot".into(), json!(autoboot));
        self.vmadm(&["create"], Some(&Value::Object(payload).to_string()))
    }

    fn path(&self) -> &Path {
        self.root.path()
    }

    fn vmadm(&self, args: &[&str], stdin: Option<&str>) -> Run {
        self.root
            .run_with_input(env!("CARGO_BIN_EXE_vmadm"), args, stdin.unwrap_or(""))
    }

    fn get(&self, uuid: &str) -> Value {
        let r = self.vmadm(&["get", uuid], None);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "vmadm get {uuid}");
        serde_json::from_str(&r.stdout).unwrap()
    }

    /// Every dataset and snapshot on the pool.
    fn datasets(&self) -> Vec<String> {
        let listed = self
            .root
            .pooladm_ok(&["list", "-H", "-t", "all", "-o", "name"]);
        listed.lines().map(str::to_owned).collect()
    }

    /// The instance configurations under `/etc/zones` (lock files aside).
    fn configurations(&self) -> Vec<String> {
        let mut names: Vec<String> = common::leftovers::names(&self.path().join("etc/zones"))
            .into_iter()
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        names.sort();
        names
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let r = self.vmadm(&["list", "-H", "-o", "uuid"], None);
        for uuid in r.stdout.lines() {
            let _ = self.vmadm(
                &[
                    "update",
                    uuid,
                    "indestructible_zoneroot=false",
                    "indestructible_delegated=false",
                ],
                None,
            );
            let _ = self.vmadm(&["delete", uuid], None);
        }
    }
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn examples() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn example(name: &str) -> String {
    examples_dir().join(name).to_str().unwrap().to_owned()
}

fn payload_of(file: &Path) -> Map<String, Value> {
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

fn masked(text: &str, node: &Node) -> String {
    let ts = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").unwrap();
    let mac = regex::Regex::new(r#""mac": "[0-9a-f:]{17}""#).unwrap();
    let text = ts.replace_all(text, "<timestamp>");
    let text = mac.replace_all(&text, r#""mac": "<mac>""#);
    text.replace(node.path().to_str().unwrap(), "<root>")
}

const WEB01: &str = "08e6e27c-f4d6-439d-b644-adab04407a8c";
const APP01: &str = "b9f4a0e7-b55b-46e2-9186-85b0570d2244";
const KVM01: &str = "c4f2e256-6842-425a-ae78-951962393fc8";

#[test]
fn list_default_columns_and_sort() {
    let node = Node::with_examples("list-default");
    let r = node.vmadm(&["list"], None);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    insta::assert_snapshot!("list_default", r.stdout);
}

#[test]
fn list_parsable_header_and_columns() {
    let node = Node::with_examples("list-parsable");
    let r = node.vmadm(
        &[
            "list",
            "-p",
            "-o",
            "uuid,brand,alias,quota",
            "-s",
            "-quota,alias",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    insta::assert_snapshot!("list_parsable", r.stdout);
    let r = node.vmadm(
        &[
            "list",
            "-H",
            "-o",
            "alias,max_physical_memory,nics.0.ip,tags.role",
            "type=OS",
        ],
        None,
    );
    assert_eq!(r.code, 0);
    insta::assert_snapshot!("list_no_header_filtered", r.stdout);
}

#[test]
fn list_filters() {
    let node = Node::with_examples("list-filters");
    let aliases = |args: &[&str]| {
        let mut a = vec!["list", "-H", "-p", "-o", "alias"];
        a.extend_from_slice(args);
        node.vmadm(&a, None).stdout
    };
    assert_eq!(aliases(&["brand=kvm"]), "kvm01\n");
    assert_eq!(aliases(&["alias=~^(WEB|db)"]), "web01\ndb01\n");
    assert_eq!(aliases(&["nics.*.ip=198.51.100.30"]), "kvm01\n");
    assert_eq!(aliases(&["type=BHYVE"]), "");
    assert_eq!(aliases(&["type=BHYV"]), "bhyve01\n");
    assert_eq!(aliases(&["ram=2048", "tags.role=legacy"]), "kvm01\n");
    let r = node.vmadm(&["list", "bogus=1"], None);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "", "Invalid filter key: \"bogus\"\n")
    );
    let r = node.vmadm(&["list", "-o", "nics.*.ip"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Invalid order key: \"nics.*.ip\"\n")
    );
    let r = node.vmadm(&["list", "-s", "nope"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "invalid sort field: nope\n")
    );
}

#[test]
fn lookup_forms() {
    let node = Node::with_examples("lookup");
    let r = node.vmadm(&["lookup", "brand=joyent"], None);
    assert_eq!(r.code, 0);
    insta::assert_snapshot!("lookup_uuids", r.stdout);
    let r = node.vmadm(
        &["lookup", "-j", "-o", "uuid,alias,type,ram", "alias=~01$"],
        None,
    );
    assert_eq!(r.code, 0);
    insta::assert_snapshot!("lookup_json_projected", r.stdout);
    let r = node.vmadm(&["lookup", "-j", "alias=nothing"], None);
    assert_eq!((r.code, r.stdout.as_str()), (0, "[]\n"));
    let r = node.vmadm(&["lookup", "-1", "alias=web01"], None);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, format!("{WEB01}\n").as_str())
    );
    let r = node.vmadm(&["lookup", "-1", "brand=joyent"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Requested unique lookup but found 2 results.\n")
    );
    let r = node.vmadm(&["lookup", "-o", "uuid"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("Cannot specify -o without -j\nUsage: "),
        "{}",
        r.stderr
    );
    let r = node.vmadm(&["lookup", "disks.0.bogus=1"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Invalid lookup key: \"disks.0.bogus\"\n")
    );
}

#[test]
fn get_prints_the_whole_object() {
    let node = Node::with_examples("get");
    for (name, uuid) in [
        ("get_joyent_minimal", WEB01),
        ("get_kvm", "c4f2e256-6842-425a-ae78-951962393fc8"),
        ("get_lx", "2bf4fba3-a3ff-43ef-8ed4-504d86e4eaba"),
    ] {
        let r = node.vmadm(&["get", uuid], None);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""));
        insta::assert_snapshot!(name, masked(&r.stdout, &node));
    }
    let missing = "00000000-1111-4222-8333-444444444444";
    let r = node.vmadm(&["get", missing], None);
    assert_eq!((r.code, r.stdout.as_str()), (1, ""));
    assert_eq!(
        r.stderr,
        format!("zoneadm: {missing}: No such zone configured\n")
    );
    let r = node.vmadm(&["get", "not-a-uuid"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("Invalid or missing UUID for get\nUsage: ")
    );
}

#[test]
fn validate_messages_and_codes() {
    let node = Node::new("validate");
    let r = node.vmadm(
        &["validate", "create", "-f", &example("joyent-minimal.json")],
        None,
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    assert_eq!(
        r.stderr,
        "VALID 'create' payload for joyent-minimal brand VMs.\n"
    );
    let r = node.vmadm(
        &[
            "validate",
            "create",
            "-f",
            &example("invalid/bad-values.json"),
        ],
        None,
    );
    assert_eq!(r.code, 1);
    insta::assert_snapshot!("validate_bad_values", r.stderr);
    let r = node.vmadm(
        &[
            "validate",
            "create",
            "-f",
            &example("invalid/bad-brand.json"),
        ],
        None,
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "{\n  \"bad_brand\": \"solaris10\"\n}\n")
    );
    let r = node.vmadm(
        &["validate", "update", "kvm"],
        Some(r#"{"alias": "x", "tmpfs": 5}"#),
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "{\n  \"bad_values\": [],\n  \"bad_properties\": [\n    \"tmpfs\"\n  ],\n  \"missing_properties\": []\n}\n"
    );
    let r = node.vmadm(
        &["validate", "update", "lx", "-f", "-"],
        Some(r#"{"alias": "x"}"#),
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, "VALID 'update' payload for lx brand VMs.\n")
    );
    let r = node.vmadm(&["validate"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("Will not validate without a valid action.\nUsage: ")
    );
    let r = node.vmadm(&["validate", "update", "solaris"], None);
    assert!(
        r.stderr
            .starts_with("Will not validate without a valid action and brand.\n")
    );
    let r = node.vmadm(&["validate", "create", "-f", "/nonexistent.json"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "File: /nonexistent.json does not exist.\n")
    );
    let r = node.vmadm(&["validate", "create"], Some("{not json"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("Invalid JSON payload: "),
        "{}",
        r.stderr
    );
}

/// The pool as an installed minimal image leaves it, nothing else.
fn only_the_image() -> Vec<String> {
    vec![
        "zones".to_owned(),
        format!("zones/{MINIMAL}"),
        format!("zones/{MINIMAL}@final"),
    ]
}

#[test]
fn create_update_delete_round_trip() {
    let node = Node::with_minimal("round-trip");
    let r = node.vmadm(&["create", "-f", &example("ansible.json")], None);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        format!("Successfully created VM {APP01}\n"),
        "keys dropped for the brand are logged, never printed"
    );
    let uuid = APP01;
    let logs = std::fs::read_dir(node.path().join("var/log/vm/logs")).unwrap();
    let logged: String = logs
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        logged.contains("cpu_type") && logged.contains("\"WARN\""),
        "{logged}"
    );

    // Created means cloned from the image and booted (autoboot defaults
    // to true).
    let vm = node.get(uuid);
    assert_eq!(vm["state"], "running");
    assert_eq!(vm["zone_state"], "running");
    assert_eq!(vm["server_uuid"], SERVER_UUID);
    assert_eq!(vm["image_uuid"], MINIMAL);
    let pid = vm["pid"].clone();
    assert!(pid.is_u64(), "a running zone has a pid: {pid}");
    let origin =
        node.root
            .pooladm_ok(&["list", "-H", "-o", "origin,quota", &format!("zones/{uuid}")]);
    let origin: Vec<&str> = origin.split_whitespace().collect();
    assert_eq!(origin, [format!("zones/{MINIMAL}@final").as_str(), "5G"]);

    let again = node.vmadm(&["create", "-f", &example("ansible.json")], None);
    assert_eq!(
        (again.code, again.stderr.as_str()),
        (1, format!("VM with UUID {uuid} already exists\n").as_str())
    );
    assert_eq!(node.get(uuid)["pid"], pid, "the running zone is untouched");

    let r = node.vmadm(
        &["update", uuid, "alias=app02", "max_physical_memory=1024"],
        None,
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, format!("Successfully updated VM {uuid}\n").as_str())
    );
    let r = node.vmadm(
        &["update", uuid],
        Some(r#"{"set_tags": {"role": "app"}, "cpu_cap": 150}"#),
    );
    assert_eq!(r.code, 0);
    let vm = node.get(uuid);
    assert_eq!(vm["alias"], "app02");
    assert_eq!(vm["max_physical_memory"], 1024);
    assert_eq!(vm["max_swap"], 1024);
    assert_eq!(vm["tmpfs"], 1024);
    assert_eq!(vm["tags"]["role"], "app");
    assert_eq!(vm["cpu_cap"], 150);
    let r = node.vmadm(&["update", uuid, "max_lwps=lots"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Invalid value for max_lwps: null:number\n")
    );

    let r = node.vmadm(&["delete", uuid], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, format!("Successfully deleted VM {uuid}\n").as_str())
    );
    let r = node.vmadm(&["delete", uuid], None);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        format!("Failed to delete VM {uuid}: zoneadm: {uuid}: No such zone configured\n")
    );
    assert_eq!(node.vmadm(&["list", "-H"], None).stdout, "");
    assert_eq!(
        node.datasets(),
        only_the_image(),
        "the zone's dataset is gone"
    );
    assert_eq!(node.configurations(), Vec::<String>::new());
}

#[test]
fn an_indestructible_instance_is_not_deleted_until_the_flag_is_cleared() {
    let node = Node::with_minimal("indestructible");
    let payload = format!(
        r#"{{"brand": "joyent-minimal", "image_uuid": "{MINIMAL}", "alias": "keep",
            "indestructible_zoneroot": true}}"#
    );
    let r = node.vmadm(&["create"], Some(&payload));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let uuid = r
        .stderr
        .strip_prefix("Successfully created VM ")
        .unwrap()
        .trim()
        .to_owned();

    let r = node.vmadm(&["delete", &uuid], None);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (
            1,
            "",
            format!("Failed to delete VM {uuid}: indestructible_zoneroot is set, cannot delete\n")
                .as_str()
        )
    );
    assert_eq!(node.get(&uuid)["state"], "running", "the zone still runs");
    assert!(node.datasets().contains(&format!("zones/{uuid}")));

    let r = node.vmadm(&["update", &uuid, "indestructible_zoneroot=false"], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = node.vmadm(&["delete", &uuid], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, format!("Successfully deleted VM {uuid}\n").as_str())
    );
    assert_eq!(node.datasets(), only_the_image());
    assert_eq!(node.configurations(), Vec::<String>::new());
}

#[test]
fn a_refused_create_writes_nothing() {
    let node = Node::new("refused");
    let r = node.vmadm(&["create", "-f", &example("invalid/bad-values.json")], None);
    assert_eq!(r.code, 1);
    let r = node.vmadm(
        &["create"],
        Some(r#"{"brand": "lx", "resolvers": ["nope"]}"#),
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "Invalid value(s) for: resolvers\nMissing required properties: image_uuid,kernel_version\n"
    );
    let zones = node.path().join("etc/zones");
    let left: Vec<_> = std::fs::read_dir(&zones)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.iter().all(|n| n.to_string_lossy().ends_with(".lock")),
        "only lock files may remain: {left:?}"
    );
}

#[test]
fn a_corrupt_instance_is_named_and_the_others_still_list() {
    let node = Node::with_examples("corrupt");
    let bad = node
        .path()
        .join("etc/zones/11111111-2222-4333-8444-555555555555.json");
    std::fs::write(
        &bad,
        "{\"uuid\": \"11111111-2222-4333-8444-555555555555\", ",
    )
    .unwrap();
    let r = node.vmadm(&["list", "-H", "-o", "alias"], None);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout.lines().count(), examples().len());
    let first = r.stderr.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "instance configuration {} is corrupt: ",
            bad.display()
        )),
        "{first}"
    );
}

#[test]
fn usage_and_unknown_commands() {
    let node = Node::new("usage");
    let r = node.vmadm(&[], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("Usage: "));
    let r = node.vmadm(&["help"], None);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("Usage: "));
    let r = node.vmadm(&["frobnicate"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("Invalid command: \"frobnicate\".\nUsage: ")
    );
    let r = node.vmadm(&["list", "-d", "-v", "-H"], None);
    assert_eq!(r.code, 0, "-d and -v are accepted everywhere");
}

/// The snapshot commands' usage errors (uuid first, then the count of
/// arguments; exit 2 with the usage) and the refusals that need no pool.
#[test]
fn snapshot_commands_usage_and_refusals() {
    let node = Node::with_examples("snapshot-usage");
    let usage = |args: &[&str], first: &str| {
        let r = node.vmadm(args, None);
        assert_eq!((r.code, r.stdout.as_str()), (2, ""), "{args:?}");
        let want = format!("{first}\nUsage: ");
        assert!(r.stderr.starts_with(&want), "{args:?}: {}", r.stderr);
    };
    for cmd in ["create-snapshot", "delete-snapshot", "rollback-snapshot"] {
        usage(&[cmd], &format!("Invalid or missing UUID for {cmd}"));
        usage(
            &[cmd, "web01", "s"],
            &format!("Invalid or missing UUID for {cmd}"),
        );
        let wrong = format!("Wrong number of parameters to \"{cmd}\"");
        usage(&[cmd, WEB01], &wrong);
        usage(&[cmd, WEB01, "s", "t"], &wrong);
    }
    let help = node.vmadm(&["help"], None).stdout;
    for line in [
        "\ncreate-snapshot <uuid> <snapname>\n",
        "\ndelete-snapshot <uuid> <snapname>\n",
        "\nrollback-snapshot <uuid> <snapname>\n",
    ] {
        assert!(help.contains(line), "{help}");
    }

    let failed = |args: &[&str], stderr: &str| {
        let r = node.vmadm(args, None);
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (1, "", stderr),
            "{args:?}"
        );
    };
    let kvm = "c4f2e256-6842-425a-ae78-951962393fc8";
    let delegated = "7c9bc5aa-d2e3-434c-b1df-23f99972d8e9";
    failed(
        &["create-snapshot", WEB01, "a b"],
        "Invalid snapshot name\n",
    );
    failed(&["delete-snapshot", WEB01, ""], "Invalid snapshot name\n");
    let long = "n".repeat(65);
    failed(
        &["rollback-snapshot", WEB01, &long],
        "Invalid snapshot name\n",
    );
    let unsupported = "snapshots for kvm VMs currently unsupported\n";
    failed(&["create-snapshot", kvm, "s"], unsupported);
    failed(&["delete-snapshot", kvm, "s"], unsupported);
    failed(&["rollback-snapshot", kvm, "s"], unsupported);
    failed(
        &["create-snapshot", delegated, "s"],
        "Cannot currently snapshot zones that have datasets\n",
    );
    let unknown = "0b3ec7c4-3bb9-4c0f-a2b4-3c9a1e1c6f00";
    failed(
        &["create-snapshot", unknown, "s"],
        &format!("zoneadm: {unknown}: No such zone configured\n"),
    );
}

#[test]
fn concurrent_updates_to_one_instance_all_land() {
    let node = Node::with_minimal("concurrent-updates");
    // Not booted: what is tested is the instance's lock.
    let r = node.create_example(&examples_dir().join("ansible.json"), false);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let uuid = APP01;
    let vmadm = || {
        let mut c = node.root.command(env!("CARGO_BIN_EXE_vmadm"));
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };
    let children: Vec<_> = (0..12)
        .map(|i| {
            vmadm()
                .args(["update", uuid, &format!("alias=a{i}")])
                .spawn()
                .unwrap()
        })
        .chain((0..12).map(|i| {
            let payload = format!(r#"{{"set_customer_metadata": {{"k{i}": "v{i}"}}}}"#);
            node.root.spawn_vmadm(&["update", uuid], &payload)
        }))
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let vm = node.get(uuid);
    let md = vm["customer_metadata"].as_object().unwrap();
    assert_eq!(md.len(), 12, "every concurrent update survives: {md:?}");
    assert!(vm["alias"].as_str().unwrap().starts_with('a'));
}

const CONFLICT: &str = "Conflict detected with another vm, please check the MAC, IP, and VRID\n";

fn one_mac_payload() -> String {
    format!(
        r#"{{"brand": "joyent", "image_uuid": "{MINIMAL}",
            "nics": [{{"nic_tag": "admin", "mac": "02:00:00:00:00:01", "ip": "dhcp"}}]}}"#
    )
}

#[test]
fn a_second_instance_with_the_same_mac_conflicts_and_leaves_nothing() {
    let node = Node::with_minimal("same-mac");
    let r = node.vmadm(&["create"], Some(&one_mac_payload()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = r
        .stderr
        .strip_prefix("Successfully created VM ")
        .unwrap()
        .trim()
        .to_owned();
    let datasets = node.datasets();
    let configurations = node.configurations();

    let r = node.vmadm(&["create"], Some(&one_mac_payload()));
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "", CONFLICT)
    );
    let listed = node.vmadm(&["list", "-H", "-o", "uuid"], None).stdout;
    assert_eq!(listed, format!("{first}\n"));
    assert_eq!(node.datasets(), datasets, "no dataset was made");
    assert_eq!(node.configurations(), configurations);
    assert_eq!(configurations, [format!("{first}.json")]);
}

#[test]
fn parallel_creates_with_one_mac_leave_exactly_one_instance() {
    let node = Node::with_minimal("parallel-mac");
    let payload = one_mac_payload();
    let children: Vec<_> = (0..16).map(|_| node.root.spawn_create(&payload)).collect();
    let mut ok = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        if out.status.success() {
            ok += 1;
        } else {
            assert_eq!(String::from_utf8_lossy(&out.stderr), CONFLICT);
        }
    }
    assert_eq!(ok, 1);
    let found = node.vmadm(&["lookup", "nics.*.mac=02:00:00:00:00:01"], None);
    assert_eq!(found.stdout.lines().count(), 1);
    let uuid = found.stdout.trim();
    let mut want = only_the_image();
    want.push(format!("zones/{uuid}"));
    want.sort();
    let mut got = node.datasets();
    got.sort();
    assert_eq!(got, want, "the refused creates made no dataset");
    assert_eq!(node.configurations(), [format!("{uuid}.json")]);
}

/// kvm and bhyve have no top-level image: create makes an empty dataset
/// for them. No brand runs them on this node yet, so they are created
/// stopped, whatever `autoboot` says, and refuse to start.
#[test]
fn an_hvm_instance_gets_an_empty_dataset_and_cannot_run_yet() {
    let node = Node::with_minimal("hvm");
    for (file, uuid, brand) in [
        ("kvm.json", KVM01, "kvm"),
        (
            "bhyve.json",
            "e9ae863e-2aee-40fb-8919-6cf52082f456",
            "bhyve",
        ),
    ] {
        let r = node.vmadm(&["create", "-f", &example(file)], None);
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (0, "", format!("Successfully created VM {uuid}\n").as_str())
        );
        let vm = node.get(uuid);
        assert_eq!(
            (&vm["state"], &vm["zone_state"], &vm["autoboot"]),
            (&json!("stopped"), &json!("installed"), &json!(true)),
            "{file}"
        );
        let dataset = node.root.pool().join(uuid);
        assert!(dataset.is_dir(), "{file}: no dataset");
        assert_eq!(
            common::leftovers::names(&dataset),
            Default::default(),
            "{file}: an empty dataset"
        );

        let r = node.vmadm(&["start", uuid], None);
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (
                1,
                "",
                format!(
                    "Unable to start VM {uuid}: the {brand} brand cannot run on this node yet\n"
                )
                .as_str()
            ),
            "{file}"
        );
        assert_eq!(node.get(uuid)["state"], "stopped");
    }
    let quota = node
        .root
        .pooladm_ok(&["list", "-H", "-o", "quota", &format!("zones/{KVM01}")]);
    assert_eq!(quota.trim(), "40G");
}
