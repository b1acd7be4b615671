//! vmadm driven as an operator drives it: the real binary against a
//! relocated root holding the instances of `examples/`. Output, streams and
//! exit codes are checked byte for byte (timestamps and generated MACs are
//! masked).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SERVER_UUID: &str = "9d2a7c3e-1b4f-4e6a-8c0d-5f3e2a1b0c9d";

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

struct Root {
    dir: tempfile::TempDir,
}

impl Root {
    fn new() -> Root {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("usbkey")).unwrap();
        std::fs::write(
            dir.path().join("usbkey/config"),
            format!("hostname=node0\nserver_uuid={SERVER_UUID}\n"),
        )
        .unwrap();
        Root { dir }
    }

    /// A root holding every valid example instance.
    fn with_examples() -> Root {
        let root = Root::new();
        for file in examples() {
            let r = root.vmadm(&["create", "-f", file.to_str().unwrap()], None);
            assert_eq!(r.code, 0, "{}: {}", file.display(), r.stderr);
        }
        root
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn vmadm(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vmadm"))
            .args(args)
            .env("BASALT_ROOT", self.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        let out = child.wait_with_output().unwrap();
        Run {
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
            code: out.status.code().unwrap_or(-1),
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

fn masked(text: &str, root: &Root) -> String {
    let ts = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").unwrap();
    let mac = regex::Regex::new(r#""mac": "[0-9a-f:]{17}""#).unwrap();
    let text = ts.replace_all(text, "<timestamp>");
    let text = mac.replace_all(&text, r#""mac": "<mac>""#);
    text.replace(root.path().to_str().unwrap(), "<root>")
}

const WEB01: &str = "08e6e27c-f4d6-439d-b644-adab04407a8c";

#[test]
fn list_default_columns_and_sort() {
    let root = Root::with_examples();
    let r = root.vmadm(&["list"], None);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    insta::assert_snapshot!("list_default", r.stdout);
}

#[test]
fn list_parsable_header_and_columns() {
    let root = Root::with_examples();
    let r = root.vmadm(
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
    let r = root.vmadm(
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
    let root = Root::with_examples();
    let aliases = |args: &[&str]| {
        let mut a = vec!["list", "-H", "-p", "-o", "alias"];
        a.extend_from_slice(args);
        root.vmadm(&a, None).stdout
    };
    assert_eq!(aliases(&["brand=kvm"]), "kvm01\n");
    assert_eq!(aliases(&["alias=~^(WEB|db)"]), "web01\ndb01\n");
    assert_eq!(aliases(&["nics.*.ip=198.51.100.30"]), "kvm01\n");
    assert_eq!(aliases(&["type=BHYVE"]), "");
    assert_eq!(aliases(&["type=BHYV"]), "bhyve01\n");
    assert_eq!(aliases(&["ram=2048", "tags.role=legacy"]), "kvm01\n");
    let r = root.vmadm(&["list", "bogus=1"], None);
    assert_eq!(
        (r.code, r.stdout.as_str(), r.stderr.as_str()),
        (1, "", "Invalid filter key: \"bogus\"\n")
    );
    let r = root.vmadm(&["list", "-o", "nics.*.ip"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Invalid order key: \"nics.*.ip\"\n")
    );
    let r = root.vmadm(&["list", "-s", "nope"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "invalid sort field: nope\n")
    );
}

#[test]
fn lookup_forms() {
    let root = Root::with_examples();
    let r = root.vmadm(&["lookup", "brand=joyent"], None);
    assert_eq!(r.code, 0);
    insta::assert_snapshot!("lookup_uuids", r.stdout);
    let r = root.vmadm(
        &["lookup", "-j", "-o", "uuid,alias,type,ram", "alias=~01$"],
        None,
    );
    assert_eq!(r.code, 0);
    insta::assert_snapshot!("lookup_json_projected", r.stdout);
    let r = root.vmadm(&["lookup", "-j", "alias=nothing"], None);
    assert_eq!((r.code, r.stdout.as_str()), (0, "[]\n"));
    let r = root.vmadm(&["lookup", "-1", "alias=web01"], None);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, format!("{WEB01}\n").as_str())
    );
    let r = root.vmadm(&["lookup", "-1", "brand=joyent"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Requested unique lookup but found 2 results.\n")
    );
    let r = root.vmadm(&["lookup", "-o", "uuid"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("Cannot specify -o without -j\nUsage: "),
        "{}",
        r.stderr
    );
    let r = root.vmadm(&["lookup", "disks.0.bogus=1"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Invalid lookup key: \"disks.0.bogus\"\n")
    );
}

#[test]
fn get_prints_the_whole_object() {
    let root = Root::with_examples();
    for (name, uuid) in [
        ("get_joyent_minimal", WEB01),
        ("get_kvm", "c4f2e256-6842-425a-ae78-951962393fc8"),
        ("get_lx", "2bf4fba3-a3ff-43ef-8ed4-504d86e4eaba"),
    ] {
        let r = root.vmadm(&["get", uuid], None);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""));
        insta::assert_snapshot!(name, masked(&r.stdout, &root));
    }
    let missing = "00000000-1111-4222-8333-444444444444";
    let r = root.vmadm(&["get", missing], None);
    assert_eq!((r.code, r.stdout.as_str()), (1, ""));
    assert_eq!(
        r.stderr,
        format!("zoneadm: {missing}: No such zone configured\n")
    );
    let r = root.vmadm(&["get", "not-a-uuid"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("Invalid or missing UUID for get\nUsage: ")
    );
}

#[test]
fn validate_messages_and_codes() {
    let root = Root::new();
    let r = root.vmadm(
        &["validate", "create", "-f", &example("joyent-minimal.json")],
        None,
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, ""));
    assert_eq!(
        r.stderr,
        "VALID 'create' payload for joyent-minimal brand VMs.\n"
    );
    let r = root.vmadm(
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
    let r = root.vmadm(
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
    let r = root.vmadm(
        &["validate", "update", "kvm"],
        Some(r#"{"alias": "x", "tmpfs": 5}"#),
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "{\n  \"bad_values\": [],\n  \"bad_properties\": [\n    \"tmpfs\"\n  ],\n  \"missing_properties\": []\n}\n"
    );
    let r = root.vmadm(
        &["validate", "update", "lx", "-f", "-"],
        Some(r#"{"alias": "x"}"#),
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, "VALID 'update' payload for lx brand VMs.\n")
    );
    let r = root.vmadm(&["validate"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("Will not validate without a valid action.\nUsage: ")
    );
    let r = root.vmadm(&["validate", "update", "solaris"], None);
    assert!(
        r.stderr
            .starts_with("Will not validate without a valid action and brand.\n")
    );
    let r = root.vmadm(&["validate", "create", "-f", "/nonexistent.json"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "File: /nonexistent.json does not exist.\n")
    );
    let r = root.vmadm(&["validate", "create"], Some("{not json"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("Invalid JSON payload: "),
        "{}",
        r.stderr
    );
}

#[test]
fn create_update_delete_round_trip() {
    let root = Root::new();
    let r = root.vmadm(&["create", "-f", &example("ansible.json")], None);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr, "Successfully created VM b9f4a0e7-b55b-46e2-9186-85b0570d2244\n",
        "keys dropped for the brand are logged, never printed"
    );
    let uuid = "b9f4a0e7-b55b-46e2-9186-85b0570d2244";
    let logs = std::fs::read_dir(root.path().join("var/log/vm/logs")).unwrap();
    let logged: String = logs
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        logged.contains("cpu_type") && logged.contains("\"WARN\""),
        "{logged}"
    );
    let again = root.vmadm(&["create", "-f", &example("ansible.json")], None);
    assert_eq!(
        (again.code, again.stderr.as_str()),
        (1, format!("VM with UUID {uuid} already exists\n").as_str())
    );

    let r = root.vmadm(
        &["update", uuid, "alias=app02", "max_physical_memory=1024"],
        None,
    );
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, format!("Successfully updated VM {uuid}\n").as_str())
    );
    let r = root.vmadm(
        &["update", uuid],
        Some(r#"{"set_tags": {"role": "app"}, "cpu_cap": 150}"#),
    );
    assert_eq!(r.code, 0);
    let vm: serde_json::Value =
        serde_json::from_str(&root.vmadm(&["get", uuid], None).stdout).unwrap();
    assert_eq!(vm["alias"], "app02");
    assert_eq!(vm["max_physical_memory"], 1024);
    assert_eq!(vm["max_swap"], 1024);
    assert_eq!(vm["tmpfs"], 1024);
    assert_eq!(vm["tags"]["role"], "app");
    assert_eq!(vm["cpu_cap"], 150);
    let r = root.vmadm(&["update", uuid, "max_lwps=lots"], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (1, "Invalid value for max_lwps: null:number\n")
    );

    let r = root.vmadm(&["delete", uuid], None);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, format!("Successfully deleted VM {uuid}\n").as_str())
    );
    let r = root.vmadm(&["delete", uuid], None);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        format!("Failed to delete VM {uuid}: zoneadm: {uuid}: No such zone configured\n")
    );
    assert_eq!(root.vmadm(&["list", "-H"], None).stdout, "");
}

#[test]
fn a_refused_create_writes_nothing() {
    let root = Root::new();
    let r = root.vmadm(&["create", "-f", &example("invalid/bad-values.json")], None);
    assert_eq!(r.code, 1);
    let r = root.vmadm(
        &["create"],
        Some(r#"{"brand": "lx", "resolvers": ["nope"]}"#),
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "Invalid value(s) for: resolvers\nMissing required properties: image_uuid,kernel_version\n"
    );
    let zones = root.path().join("etc/zones");
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
    let root = Root::with_examples();
    let bad = root
        .path()
        .join("etc/zones/11111111-2222-4333-8444-555555555555.json");
    std::fs::write(
        &bad,
        "{\"uuid\": \"11111111-2222-4333-8444-555555555555\", ",
    )
    .unwrap();
    let r = root.vmadm(&["list", "-H", "-o", "alias"], None);
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
    let root = Root::new();
    let r = root.vmadm(&[], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("Usage: "));
    let r = root.vmadm(&["help"], None);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("Usage: "));
    let r = root.vmadm(&["frobnicate"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("Invalid command: \"frobnicate\".\nUsage: ")
    );
    let r = root.vmadm(&["list", "-d", "-v", "-H"], None);
    assert_eq!(r.code, 0, "-d and -v are accepted everywhere");
}

/// The snapshot commands' usage errors (uuid first, then the count of
/// arguments; exit 2 with the usage) and the refusals that need no pool.
#[test]
fn snapshot_commands_usage_and_refusals() {
    let root = Root::with_examples();
    let usage = |args: &[&str], first: &str| {
        let r = root.vmadm(args, None);
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
    let help = root.vmadm(&["help"], None).stdout;
    for line in [
        "\ncreate-snapshot <uuid> <snapname>\n",
        "\ndelete-snapshot <uuid> <snapname>\n",
        "\nrollback-snapshot <uuid> <snapname>\n",
    ] {
        assert!(help.contains(line), "{help}");
    }

    let failed = |args: &[&str], stderr: &str| {
        let r = root.vmadm(args, None);
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
    let root = Root::new();
    let r = root.vmadm(&["create", "-f", &example("ansible.json")], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let uuid = "b9f4a0e7-b55b-46e2-9186-85b0570d2244";
    let children: Vec<_> = (0..12)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_vmadm"))
                .args(["update", uuid, &format!("alias=a{i}")])
                .env("BASALT_ROOT", root.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .chain((0..12).map(|i| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_vmadm"))
                .args(["update", uuid])
                .env("BASALT_ROOT", root.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let payload = format!(r#"{{"set_customer_metadata": {{"k{i}": "v{i}"}}}}"#);
            child
                .stdin
                .take()
                .unwrap()
                .write_all(payload.as_bytes())
                .unwrap();
            child
        }))
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let vm: serde_json::Value =
        serde_json::from_str(&root.vmadm(&["get", uuid], None).stdout).unwrap();
    let md = vm["customer_metadata"].as_object().unwrap();
    assert_eq!(md.len(), 12, "every concurrent update survives: {md:?}");
    assert!(vm["alias"].as_str().unwrap().starts_with('a'));
}

#[test]
fn parallel_creates_with_one_mac_leave_exactly_one_instance() {
    let root = Root::new();
    let payload = r#"{"brand": "joyent", "image_uuid": "01b2c898-945f-11e1-a523-af1afbe22822",
        "nics": [{"nic_tag": "admin", "mac": "02:00:00:00:00:01", "ip": "dhcp"}]}"#;
    let children: Vec<_> = (0..16)
        .map(|_| {
            let mut child = Command::new(env!("CARGO_BIN_EXE_vmadm"))
                .arg("create")
                .env("BASALT_ROOT", root.path())
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(payload.as_bytes())
                .unwrap();
            child
        })
        .collect();
    let mut ok = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        if out.status.success() {
            ok += 1;
        } else {
            assert_eq!(
                String::from_utf8_lossy(&out.stderr),
                "Conflict detected with another vm, please check the MAC, IP, and VRID\n"
            );
        }
    }
    assert_eq!(ok, 1);
    let found = root.vmadm(&["lookup", "nics.*.mac=02:00:00:00:00:01"], None);
    assert_eq!(found.stdout.lines().count(), 1);
}
