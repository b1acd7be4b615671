//! A root with the minimal image installed, for tests that run zones; it
//! deletes every instance when dropped (before the root unmounts its
//! pool), so a failing test leaves no zone behind.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::images::minimal_image;
use super::{Root, Run};

pub struct Zones {
    pub root: Root,
    /// The network namespace the node runs in, for network tests; it is
    /// deleted after the instances (fields drop after `Drop::drop`).
    pub netns: Option<super::netns::Netns>,
    /// The minimal image's uuid, read from the manifest it was built with
    /// (each new version of the image has a new uuid).
    pub image: String,
}

impl Zones {
    pub fn new(test: &str) -> Zones {
        Zones::with_pool(test, "1G")
    }

    /// A root whose pool file is `size` (sparse) rather than 1 GiB.
    pub fn with_pool(test: &str, size: &str) -> Zones {
        let z = Zones::without_image(test, size);
        z.install(minimal_image());
        z
    }

    /// A root like [`Zones::with_pool`]'s where no image is installed yet
    /// (`image` still names the minimal image, for a node that will
    /// import it).
    pub fn without_image(test: &str, size: &str) -> Zones {
        let (manifest, _) = minimal_image();
        let image =
            serde_json::from_slice::<Value>(&std::fs::read(&manifest).unwrap()).unwrap()["uuid"]
                .as_str()
                .expect("the manifest has a uuid")
                .to_owned();
        let z = Zones {
            root: Root::new(test),
            netns: None,
            image,
        };
        std::fs::write(
            z.path().join("usbkey/config"),
            format!("pool_file_size={size}\n"),
        )
        .unwrap();
        z
    }

    /// A root like [`Zones::new`]'s whose node runs in a network
    /// namespace of its own.
    pub fn in_netns(test: &str) -> Zones {
        let netns = super::netns::Netns::new(test);
        let mut z = Zones::new(test);
        z.root.set_netns(&netns.name);
        z.netns = Some(netns);
        z
    }

    pub fn install(&self, (manifest, file): (PathBuf, PathBuf)) {
        self.root.install_image(&manifest, &file);
    }

    pub fn vmadm(&self, args: &[&str]) -> Run {
        self.root.run(env!("CARGO_BIN_EXE_vmadm"), args)
    }

    pub fn vmadm_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.root
            .run_with_input(env!("CARGO_BIN_EXE_vmadm"), args, stdin)
    }

    pub fn imgadm(&self, args: &[&str]) -> Run {
        self.root.run(env!("CARGO_BIN_EXE_imgadm"), args)
    }

    pub fn zlogin(&self, uuid: &str, command: &str) -> Run {
        self.root
            .run(env!("CARGO_BIN_EXE_zlogin"), &[uuid, command])
    }

    /// Creates a joyent-minimal zone of the minimal image, 128 MiB, with
    /// the properties `extra` adds to the payload (JSON members, each after
    /// a comma: `, "alias": "web"`); returns its uuid.
    pub fn create(&self, extra: &str) -> String {
        let members = extra.trim_start().strip_prefix(',').unwrap_or(extra);
        let extra: Value = serde_json::from_str(&format!("{{{members}}}"))
            .unwrap_or_else(|e| panic!("not JSON members: {extra:?}: {e}"));
        self.create_json(extra)
    }

    /// Creates a joyent-minimal zone of the minimal image, 128 MiB, with
    /// the properties of `extra` (an object); returns its uuid.
    pub fn create_json(&self, extra: Value) -> String {
        let mut payload = serde_json::json!({
            "brand": "joyent-minimal",
            "image_uuid": self.image,
            "max_physical_memory": 128,
        });
        payload
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().expect("an object").clone());
        let r = self.vmadm_stdin(&["create"], &payload.to_string());
        assert_eq!(r.code, 0, "create: {}", r.stderr);
        r.stderr
            .strip_prefix("Successfully created VM ")
            .unwrap_or_else(|| panic!("create said {:?}", r.stderr))
            .trim()
            .to_owned()
    }

    pub fn get(&self, uuid: &str) -> Value {
        let r = self.vmadm(&["get", uuid]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str(&r.stdout).unwrap()
    }

    pub fn state(&self, uuid: &str) -> String {
        self.get(uuid)["state"].as_str().unwrap().to_owned()
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// basaltd, started in the root; returns it and its ready line.
    pub fn basaltd(&self) -> (std::process::Child, String) {
        use std::io::BufRead;
        let mut child = self
            .root
            .command(env!("CARGO_BIN_EXE_basaltd"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        (child, line)
    }
}

impl Drop for Zones {
    fn drop(&mut self) {
        let r = self.vmadm(&["list", "-H", "-o", "uuid"]);
        for uuid in r.stdout.lines() {
            let _ = self.vmadm(&["delete", uuid]);
        }
    }
}
