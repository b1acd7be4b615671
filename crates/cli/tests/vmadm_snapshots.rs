//! vmadm's snapshot commands driven as an operator drives them, as root,
//! each test on its own relocated root and loop-file pool with the real
//! minimal image installed. Messages, streams and exit codes are checked
//! byte for byte.
//!
//! `vmadm create` stores an instance without its dataset for now, so each
//! test makes the dataset as create will: a clone of the image's `@final`
//! at `zones/<uuid>`.

mod common;

use std::fs;

use common::Run;
use common::images::minimal_image;
use common::imgadm::{Test, expect, s};
use serde_json::Value;

/// An instance of the minimal image on a fresh root, with its dataset.
struct Instance {
    t: Test,
    image: String,
    uuid: String,
}

impl Instance {
    /// Installs the minimal image and creates instance `uuid` of it; with
    /// `clone`, also its dataset.
    fn new(test: &str, uuid: &str, clone: bool) -> Instance {
        let t = Test::new(test);
        let (manifest, file) = minimal_image();
        let r = t.imgadm(&["install", "-m", s(&manifest), "-f", s(&file)]);
        assert_eq!(r.code, 0, "imgadm install: {}", r.stderr);
        let m: Value = serde_json::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
        let image = m["uuid"].as_str().unwrap().to_owned();
        let payload = t.path("payload.json");
        let body = serde_json::json!({
            "uuid": uuid,
            "brand": "joyent-minimal",
            "image_uuid": image,
            "alias": "snapper",
        });
        fs::write(&payload, body.to_string()).unwrap();
        let vm = Instance {
            t,
            image,
            uuid: uuid.to_owned(),
        };
        let created = format!("Successfully created VM {uuid}\n");
        expect(&vm.vmadm(&["create", "-f", s(&payload)]), 0, "", &created);
        if clone {
            vm.clone_dataset();
        }
        vm
    }

    /// The instance's dataset, made as create will make it.
    fn clone_dataset(&self) {
        let origin = format!("zones/{}@final", self.image);
        let dataset = format!("zones/{}", self.uuid);
        self.t.root.pooladm_ok(&["clone", &origin, &dataset]);
    }

    fn vmadm(&self, args: &[&str]) -> Run {
        self.t.root.run(env!("CARGO_BIN_EXE_vmadm"), args)
    }

    /// `vmadm <cmd> <uuid> <name>`, expected to succeed with `done`.
    fn ok(&self, cmd: &str, name: &str, done: &str) {
        let r = self.vmadm(&[cmd, &self.uuid, name]);
        let msg = format!("{done} snapshot {name} for VM {}\n", self.uuid);
        expect(&r, 0, "", &msg);
    }

    /// `vmadm <cmd> <uuid> <name>`, expected to fail with `message`.
    fn fails(&self, cmd: &str, name: &str, message: &str) {
        let r = self.vmadm(&[cmd, &self.uuid, name]);
        expect(&r, 1, "", &format!("{message}\n"));
    }

    fn get(&self) -> Value {
        let r = self.vmadm(&["get", &self.uuid]);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "vmadm get");
        serde_json::from_str(&r.stdout).unwrap()
    }

    /// The names `vmadm get` lists under `snapshots`, in its order.
    fn snapshot_names(&self) -> Vec<String> {
        self.get()["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The instance's dataset and its snapshots on the pool.
    fn on_pool(&self) -> Vec<String> {
        let listed = self
            .t
            .root
            .pooladm_ok(&["list", "-H", "-t", "all", "-o", "name"]);
        let mine = format!("zones/{}", self.uuid);
        listed
            .lines()
            .filter(|l| l.starts_with(&mine))
            .map(str::to_owned)
            .collect()
    }
}

/// `snapshots` as vmadm printed it, with the times and sizes masked.
fn masked_snapshots(vm: &Value) -> String {
    let text = serde_json::to_string_pretty(&vm["snapshots"]).unwrap();
    let ts = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z").unwrap();
    let size = regex::Regex::new(r#""size": [0-9.e-]+"#).unwrap();
    let text = ts.replace_all(&text, "<seconds>");
    size.replace_all(&text, r#""size": "<MiB>""#).into_owned()
}

#[test]
fn snapshot_show_roll_back_and_delete() {
    let vm = Instance::new(
        "vmadm-snapshots",
        "5f0c2b9e-7d41-4c8a-9e3f-1a2b3c4d5e6f",
        false,
    );
    let uuid = vm.uuid.clone();
    let zoneroot = vm.t.root.pool().join(&uuid).join("root");

    // Stored but not installed: no dataset to snapshot yet.
    let missing =
        format!("dataset zones/{uuid} of VM {uuid} does not exist: the instance is not installed");
    vm.fails("create-snapshot", "first", &missing);
    vm.clone_dataset();
    assert_eq!(vm.snapshot_names(), Vec::<String>::new());

    let before = vm.get()["last_modified"].clone();
    vm.ok("create-snapshot", "first", "Created");
    let got = vm.get();
    assert_ne!(got["last_modified"], before, "creating bumps last_modified");
    insta::assert_snapshot!("snapshots_after_create", masked_snapshots(&got));
    let first = &got["snapshots"][0];
    assert!(first["size"].as_f64().is_some_and(|s| s >= 0.0), "{first}");
    assert_eq!(
        vm.on_pool(),
        [
            format!("zones/{uuid}"),
            format!("zones/{uuid}@vmsnap-first")
        ]
    );

    fs::write(zoneroot.join("marker"), "written after the snapshot").unwrap();
    vm.ok("create-snapshot", "second", "Created");
    assert_eq!(vm.snapshot_names(), ["second", "first"], "newest first");

    let modified = vm.get()["last_modified"].clone();
    vm.ok("rollback-snapshot", "first", "Rolled back");
    assert!(
        !zoneroot.join("marker").exists(),
        "the rollback undid the write"
    );
    assert!(
        zoneroot.join("bin/busybox").is_file(),
        "the image is still there"
    );
    assert_eq!(
        vm.snapshot_names(),
        ["first"],
        "newer snapshots are destroyed"
    );
    assert_eq!(vm.get()["last_modified"], modified);

    vm.ok("delete-snapshot", "first", "Deleted");
    let got = vm.get();
    assert_eq!(got["snapshots"], serde_json::json!([]));
    assert_ne!(
        got["last_modified"], modified,
        "deleting bumps last_modified"
    );
    assert_eq!(vm.on_pool(), [format!("zones/{uuid}")]);
    vm.fails(
        "delete-snapshot",
        "first",
        &format!("No snapshot named \"first\" for {uuid}"),
    );
}

#[test]
fn snapshot_errors_and_foreign_snapshots() {
    let vm = Instance::new(
        "vmadm-snapshot-errors",
        "8a3d6e1f-2b4c-4d5e-9f60-718293a4b5c6",
        true,
    );
    let uuid = vm.uuid.clone();
    vm.ok("create-snapshot", "keep", "Created");

    vm.fails(
        "create-snapshot",
        "keep",
        "snapshot with name \"keep\" already exists.",
    );
    let none = format!("No snapshot named \"nope\" for {uuid}");
    vm.fails("delete-snapshot", "nope", &none);
    vm.fails("rollback-snapshot", "nope", &none);
    for bad in ["a b", "", "a/b", "a@b", &"n".repeat(65)] {
        vm.fails("create-snapshot", bad, "Invalid snapshot name");
        vm.fails("rollback-snapshot", bad, "Invalid snapshot name");
    }
    // vmadm takes `%`; ZFS refuses it in a snapshot it makes.
    let percent = format!("invalid character '%' in name 'zones/{uuid}@vmsnap-a%b'");
    vm.fails("create-snapshot", "a%b", &percent);
    vm.fails(
        "delete-snapshot",
        "a%b",
        &format!("No snapshot named \"a%b\" for {uuid}"),
    );
    vm.ok("create-snapshot", &"n".repeat(64), "Created");
    vm.ok("delete-snapshot", &"n".repeat(64), "Deleted");

    // Snapshots other tools took are not the instance's: never listed, and
    // the vmadm commands do not find them.
    vm.t.root
        .pooladm_ok(&["snapshot", &format!("zones/{uuid}@manual")]);
    assert_eq!(vm.snapshot_names(), ["keep"]);
    vm.fails(
        "delete-snapshot",
        "manual",
        &format!("No snapshot named \"manual\" for {uuid}"),
    );

    // lookup -j prints the same objects as get.
    let r = vm.vmadm(&["lookup", "-j", &format!("uuid={uuid}")]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    let looked: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(looked[0]["snapshots"], vm.get()["snapshots"]);

    vm.ok("delete-snapshot", "keep", "Deleted");
    assert_eq!(
        vm.on_pool(),
        [format!("zones/{uuid}"), format!("zones/{uuid}@manual")]
    );
}
