//! Network namespaces of a test's own: the node under test keeps its
//! bridges, ports and rules in one, so nothing it does reaches the host's
//! links, and everything goes when the namespace is deleted.

use std::process::{Command, Stdio};

/// A named network namespace (`ip netns`), deleted when dropped.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A fresh namespace for `test`, its loopback up.
    pub fn new(test: &str) -> Netns {
        super::require(&["ip", "nsenter", "nft", "tc"]);
        let name = format!("bt-{test}-{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        run("ip", &["netns", "add", &name]);
        run("ip", &["-n", &name, "link", "set", "lo", "up"]);
        Netns { name }
    }

    /// Runs `argv` in the namespace; returns its status and output.
    pub fn exec(&self, argv: &[&str]) -> (bool, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(argv)
            .stdin(Stdio::null())
            .output()
            .expect("ip runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Runs `argv` in the network namespace of process `pid` (a zone's init):
/// the zone's own links and addresses, with the host's programs.
pub fn in_zone_net(pid: u64, argv: &[&str]) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/proc/{pid}/ns/net"))
        .arg("--")
        .args(argv)
        .stdin(Stdio::null());
    c
}

fn run(bin: &str, args: &[&str]) {
    let ok = Command::new(bin)
        .args(args)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{bin} {args:?} failed");
}
