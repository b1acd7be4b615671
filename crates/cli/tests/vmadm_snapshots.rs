//! vmadm's snapshot commands driven as an operator drives them, as root,
//! each test on its own relocated root and loop-file pool with the real
//! minimal image installed and a running zone of it. Messages, streams and
//! exit codes are checked byte for byte. Every test deletes its zone, even
//! when it fails (the `Instance` guard).

mod common;

use std::fs;

use common::Run;
use common::images::minimal_image;
use common::imgadm::{Test, expect, s};
use serde_json::Value;

/// An instance of the minimal image on a fresh root: created (its dataset
/// cloned from the image) and running. Dropped, it is deleted before the
/// root unmounts its pool.
struct Instance {
    t: Test,
    image: String,
    uuid: String,
}

impl Instance {
    /// Installs the minimal image and creates instance `uuid` of it.
    fn new(test: &str, uuid: &str) -> Instance {
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
        assert_eq!(vm.get()["state"], "running");
        vm
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

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.vmadm(&["delete", &self.uuid]);
    }
}

impl Instance {
    fn zlogin(&self, command: &str) -> Run {
        self.t
            .root
            .run(env!("CARGO_BIN_EXE_zlogin"), &[&self.uuid, command])
    }

    /// Deletes the instance, which must succeed and leave only the image
    /// on the pool.
    fn delete(&self) {
        let r = self.vmadm(&["delete", &self.uuid]);
        let msg = format!("Successfully deleted VM {}\n", self.uuid);
        expect(&r, 0, "", &msg);
        let listed = self
            .t
            .root
            .pooladm_ok(&["list", "-H", "-t", "all", "-o", "name"]);
        let image = &self.image;
        assert_eq!(
            listed,
            format!("zones\nzones/{image}\nzones/{image}@final\n"),
            "the instance's dataset and snapshots are gone"
        );
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
    let vm = Instance::new("vmadm-snapshots", "5f0c2b9e-7d41-4c8a-9e3f-1a2b3c4d5e6f");
    let uuid = vm.uuid.clone();
    let zoneroot = vm.t.root.pool().join(&uuid).join("root");
    assert_eq!(vm.snapshot_names(), Vec::<String>::new());

    // Snapshots of a running zone.
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

    let r = vm.zlogin("echo written after the snapshot > /marker");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(zoneroot.join("marker").is_file());
    vm.ok("create-snapshot", "second", "Created");
    assert_eq!(vm.snapshot_names(), ["second", "first"], "newest first");

    // A rollback halts the running zone, rolls back, and boots it again.
    let pid = vm.get()["pid"].clone();
    let modified = vm.get()["last_modified"].clone();
    vm.ok("rollback-snapshot", "first", "Rolled back");
    let got = vm.get();
    assert_eq!(got["state"], "running", "booted after the rollback");
    assert_ne!(got["pid"], pid, "a new init");
    assert!(
        !zoneroot.join("marker").exists(),
        "the rollback undid the write"
    );
    let r = vm.zlogin("test -e /marker || echo gone; test -x /bin/busybox && echo image");
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "gone\nimage\n"),
        "the zone runs on the rolled back root: {}",
        r.stderr
    );
    assert_eq!(
        vm.snapshot_names(),
        ["first"],
        "newer snapshots are destroyed"
    );
    assert_eq!(got["last_modified"], modified);

    // A stopped instance is booted after a rollback too.
    let r = vm.vmadm(&["stop", &uuid]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(vm.get()["state"], "stopped");
    vm.ok("rollback-snapshot", "first", "Rolled back");
    assert_eq!(vm.get()["state"], "running");

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
    vm.delete();
}

#[test]
fn snapshot_errors_and_foreign_snapshots() {
    let vm = Instance::new(
        "vmadm-snapshot-errors",
        "8a3d6e1f-2b4c-4d5e-9f60-718293a4b5c6",
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
    vm.delete();
}
