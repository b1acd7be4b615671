//! nictagadm driven as an operator drives it: the built binary, as root,
//! against a relocated root, inside a network namespace of the test's own
//! (entered with nsenter) whose veth links stand for the host's NICs.
//! Output, streams, exit codes and the configuration file are checked
//! byte for byte.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Root, Run};

const MAC0: &str = "02:00:00:0b:7a:01";
const MAC1: &str = "02:00:00:0b:7a:02";
const HEADER: &str = "NAME           MACADDRESS         LINK           TYPE            \n";

/// A network namespace named after its test and this process, deleted
/// when dropped.
struct Netns(String);

impl Netns {
    /// A namespace with the links `nic0` and `nic1`, whose MACs are
    /// [`MAC0`] and [`MAC1`] (veth pairs: the kernel may lack dummy
    /// links), and their peers `nic0p` and `nic1p`.
    fn new(test: &str) -> Netns {
        common::require(&["ip", "nsenter"]);
        let ns = Netns(format!("bt-nictag-{}-{test}", std::process::id()));
        let made = Command::new("ip").args(["netns", "add", &ns.0]).status();
        assert!(made.is_ok_and(|s| s.success()), "ip netns add {}", ns.0);
        for (nic, mac) in [("nic0", MAC0), ("nic1", MAC1)] {
            let peer = format!("{nic}p");
            ns.ip(&[
                "link", "add", nic, "address", mac, "type", "veth", "peer", "name", &peer,
            ]);
        }
        ns
    }

    /// Runs `ip -n <ns> <args>`, which must succeed.
    fn ip(&self, args: &[&str]) {
        let out = Command::new("ip")
            .args(["-n", &self.0])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Whether the namespace has a link called `name`.
    fn has_link(&self, name: &str) -> bool {
        Command::new("ip")
            .args(["-n", &self.0, "link", "show", name])
            .output()
            .unwrap()
            .status
            .success()
    }

    fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.0)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// A root and a namespace to run nictagadm in.
struct Host {
    root: Root,
    ns: Netns,
}

impl Host {
    fn new(test: &str) -> Host {
        Host {
            root: Root::new(&format!("nictag-{test}")),
            ns: Netns::new(test),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        let net = format!("--net={}", self.ns.path().display());
        let mut argv = vec![net.as_str(), env!("CARGO_BIN_EXE_nictagadm")];
        argv.extend_from_slice(args);
        self.root.run("nsenter", &argv)
    }

    /// Runs nictagadm, which must succeed silently on stderr; returns its
    /// stdout.
    fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!((r.code, r.stderr.as_str()), (0, ""), "nictagadm {args:?}");
        r.stdout
    }

    /// Runs nictagadm, which must fail with `code` and exactly `stderr`.
    fn fails(&self, args: &[&str], code: i32, stderr: &str) {
        let r = self.run(args);
        assert_eq!(
            (r.code, r.stdout.as_str(), r.stderr.as_str()),
            (code, "", stderr),
            "nictagadm {args:?}"
        );
    }

    fn config(&self) -> String {
        std::fs::read_to_string(self.root.path().join("usbkey/config")).unwrap()
    }
}

fn row(name: &str, mac: &str, link: &str, kind: &str) -> String {
    format!("{name:<14} {mac:<18} {link:<14} {kind:<16}\n")
}

#[test]
fn nictag_add_list_update() {
    let h = Host::new("add");
    let admin = row("admin", "-", "-", "etherstub");
    assert_eq!(h.ok(&["list"]), format!("{HEADER}{admin}"));

    h.ok(&["add", "-l", "stub0"]);
    h.ok(&["add", "external", "2:0:0:B:7A:1"]);
    let r = h.run(&["add", "-p", &format!("mac={MAC1},mtu=9000"), "storage"]);
    assert_eq!(
        (r.code, r.stderr.as_str()),
        (0, "MTU changes will not take effect until next reboot\n")
    );
    assert_eq!(
        h.config(),
        format!(
            "pool_file_size=1G\netherstub=admin,stub0\nexternal_nic={MAC0}\n\
             storage_nic={MAC1}\nstorage_mtu=9000\n"
        )
    );
    let external = row("external", MAC0, "nic0", "normal");
    let storage = row("storage", MAC1, "nic1", "normal");
    let stub0 = row("stub0", "-", "-", "etherstub");
    assert_eq!(
        h.ok(&["list"]),
        format!("{HEADER}{external}{storage}{admin}{stub0}")
    );
    assert_eq!(h.ok(&["list", "-l"]), format!("{HEADER}{admin}{stub0}"));
    assert_eq!(
        h.ok(&["list", "-p"]),
        "external:02\\:00\\:00\\:0b\\:7a\\:01:nic0:normal\n\
         storage:02\\:00\\:00\\:0b\\:7a\\:02:nic1:normal\n\
         admin:-:-:etherstub\nstub0:-:-:etherstub\n"
    );
    assert_eq!(
        h.ok(&["list", "-L", "-p", "-d", ","]),
        format!("external,{MAC0},nic0,normal\nstorage,{MAC1},nic1,normal\n")
    );

    let r = h.run(&["update", "-p", "mtu=1500", "storage"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(h.config().ends_with("storage_mtu=1500\n"), "{}", h.config());
    h.ns.ip(&["link", "del", "nic1"]);
    let gone = row("storage", MAC1, "-", "normal");
    assert_eq!(h.ok(&["list", "-L"]), format!("{HEADER}{external}{gone}"));
}

#[test]
fn nictag_refusals_and_usage() {
    let h = Host::new("refuse");
    h.ok(&["add", "external", MAC0]);
    h.ok(&["add", "-l", "stub0"]);
    let before = h.config();
    let error = |args: &[&str], msg: &str| h.fails(args, 1, &format!("Error: {msg}\n"));
    error(
        &["add", "other", MAC0],
        &format!("MAC address '{MAC0}' is already used by nic tag 'external'"),
    );
    error(
        &["add", "other", "2:0:0:b:7a:9"],
        "No physical nic found with MAC address '02:00:00:0b:7a:09'",
    );
    error(
        &["add", "other", "2:0:0:b:7a"],
        "MAC address '2:0:0:b:7a' is invalid",
    );
    error(&["add", "-l", "stub0"], "nic tag 'stub0' already exists");
    error(&["add", "-l", "bad.name"], "nic tag name is invalid");
    error(
        &["add", "-l", "nic1"],
        "nic tag name 'nic1' is the name of an existing link",
    );
    error(
        &["add", "x"],
        "create non-local tag, but no mac address specified",
    );
    error(
        &["add", "-l", "x", MAC1],
        "create local tag, but mac address specified",
    );
    error(
        &["add", "-l", "-p", "mtu=9000", "x"],
        "Cannot specify MTU for local nic tag",
    );
    error(
        &["add", "-p", &format!("mac={MAC1}"), "x", MAC1],
        "mac address specified twice",
    );
    error(
        &["add", "-p", "mtu=12", "x", MAC1],
        "mtu must be between 1500-9000",
    );
    error(
        &["update", "external", MAC1, "-p", "mtu=big"],
        "invalid mtu: big",
    );
    error(&["update", "external"], "nothing to update");
    error(
        &["update", "stub0", "-p", "mtu=9000"],
        "cannot update a local tag",
    );
    error(&["update", "nope", MAC1], "nic tag 'nope' does not exist");
    error(&["delete", "nope"], "nic tag 'nope' does not exist");
    error(
        &["list", "-l", "-L"],
        "Cannot specify both local and non-local options",
    );
    error(
        &["list", "-d", ","],
        "Delimiter option requires parsable option to be set",
    );
    error(&["frob"], "unknown command frob");
    assert_eq!(h.config(), before, "a refused change writes nothing");

    for args in [
        &["add"][..],
        &["list", "-x"],
        &["delete"],
        &[],
        &["-x", "list"],
    ] {
        let r = h.run(args);
        assert_eq!(r.code, 2, "nictagadm {args:?}: {}", r.stderr);
        assert!(r.stderr.contains("Usage: nictagadm"), "{}", r.stderr);
    }
    let help = h.run(&["-h"]);
    assert_eq!(help.code, 0);
    assert!(
        help.stdout.starts_with("Usage: nictagadm"),
        "{}",
        help.stdout
    );
}

#[test]
fn nictag_exists_exit_codes() {
    let h = Host::new("exists");
    h.ok(&["exists", "admin"]);
    h.ok(&["add", "external", MAC0]);
    h.ok(&["exists", "admin", "external"]);
    h.fails(&["exists", "admin", "nope"], 1, "invalid tag: nope\n");
    h.fails(
        &["exists", "-l", "nope", "admin", "bad.tag"],
        1,
        "nope\nbad.tag\n",
    );
    h.fails(&["exists"], 1, "Error: tag_exists: no tag specified\n");
}

#[test]
fn nictag_delete_refuses_a_tag_in_use() {
    let h = Host::new("delete");
    h.ok(&["add", "external", MAC0]);
    let uuid = "5b2f0e8c-6a1d-4c3e-9f70-2d4b8a6c1e01";
    let zones = h.root.path().join("etc/zones");
    std::fs::create_dir_all(&zones).unwrap();
    let vm = serde_json::json!({
        "uuid": uuid,
        "brand": "joyent-minimal",
        "max_physical_memory": 128,
        "nics": [{"interface": "net0", "mac": "02:08:20:00:00:01", "nic_tag": "external"}],
    });
    std::fs::write(zones.join(format!("{uuid}.json")), vm.to_string()).unwrap();

    assert_eq!(h.ok(&["vms", "external"]), format!("{uuid}\n"));
    assert_eq!(h.ok(&["vms", "admin"]), "");
    h.fails(
        &["delete", "external"],
        1,
        "Error: nic tag 'external' is in use\n",
    );
    h.ok(&["delete", "-f", "external"]);
    h.fails(&["exists", "external"], 1, "invalid tag: external\n");

    h.ok(&["delete", "admin"]);
    assert_eq!(h.config(), "pool_file_size=1G\netherstub=\n");
    assert_eq!(h.ok(&["list"]), HEADER);
    h.fails(&["exists", "admin"], 1, "invalid tag: admin\n");
}

#[test]
fn nictag_delete_removes_an_etherstubs_idle_bridges() {
    let h = Host::new("bridges");
    h.ns.ip(&["link", "add", "stub0", "type", "bridge"]);
    h.ns.ip(&["link", "add", "stub0.5", "type", "bridge"]);
    h.ns.ip(&["link", "add", "stub0.6", "type", "bridge"]);
    h.ns.ip(&["link", "set", "nic1p", "master", "stub0.6"]);
    h.ok(&["add", "-l", "stub0"]);
    let r = h.run(&["delete", "-v", "stub0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("+ removed idle bridge stub0\n"),
        "{}",
        r.stderr
    );
    assert!(!h.ns.has_link("stub0") && !h.ns.has_link("stub0.5"));
    assert!(h.ns.has_link("stub0.6"), "a bridge with a port stays");
    assert_eq!(h.config(), "pool_file_size=1G\netherstub=admin\n");
}
