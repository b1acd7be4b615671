//! pooladm driven as an operator drives it, on the embedded pool of a
//! relocated root (a 1 GiB pool file, created by the first command).

use std::process::{Command, Output, Stdio};

struct Root(tempfile::TempDir);

impl Root {
    fn new() -> Root {
        assert!(
            nix::unistd::geteuid().is_root(),
            "pooladm tests need root (CI runs as root)"
        );
        let dir = tempfile::Builder::new()
            .prefix("basalt-pooladm-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("usbkey")).unwrap();
        std::fs::write(dir.path().join("usbkey/config"), "pool_file_size=1G\n").unwrap();
        Root(dir)
    }

    fn run(&self, args: &[&str], stdin: Stdio) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pooladm"))
            .args(args)
            .env("BASALT_ROOT", self.0.path())
            .stdin(stdin)
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, Stdio::null());
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg(self.0.path().join("zones"))
            .status();
    }
}

#[test]
fn verbs_flags_and_output() {
    let r = Root::new();
    r.ok(&["create", "zones/img"]);
    r.ok(&["snapshot", "zones/img@final"]);
    r.ok(&["clone", "zones/img@final", "zones/vm"]);
    r.ok(&["create", "-V", "16M", "zones/disk0"]);
    r.ok(&["set", "quota=512M", "zones/vm"]);
    let listed = r.ok(&[
        "list",
        "-H",
        "-t",
        "all",
        "-o",
        "name,type,origin,quota,volsize",
    ]);
    assert_eq!(
        listed,
        "zones\tfilesystem\t-\tnone\t-\n\
         zones/disk0\tvolume\t-\tnone\t16M\n\
         zones/img\tfilesystem\t-\tnone\t-\n\
         zones/img@final\tsnapshot\t-\t-\t-\n\
         zones/vm\tfilesystem\tzones/img@final\t512M\t-\n"
    );
    let header = r.ok(&["list"]);
    assert!(header.starts_with("NAME "), "{header}");
    assert!(
        header
            .lines()
            .next()
            .unwrap()
            .ends_with("USED  AVAIL  REFER  MOUNTPOINT")
    );
    assert_eq!(
        r.ok(&["get", "-H", "-p", "quota", "zones/vm"]),
        "zones/vm\tquota\t536870912\t-\n"
    );

    let refused = r.run(&["destroy", "zones/img@final"], Stdio::null());
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "cannot destroy 'zones/img@final': snapshot has dependent clones\nuse '-R' to destroy the following datasets:\nzones/vm\n"
    );
    let usage = r.run(&["frob"], Stdio::null());
    assert_eq!(usage.status.code(), Some(2));

    let stream = r.0.path().join("img.stream");
    let out = std::fs::File::create(&stream).unwrap();
    let sent = r.run(&["send", "zones/img@final"], Stdio::null());
    assert!(sent.status.success());
    std::io::Write::write_all(&mut &out, &sent.stdout).unwrap();
    let recv = r.run(
        &["receive", "zones/copy"],
        Stdio::from(std::fs::File::open(&stream).unwrap()),
    );
    assert!(
        recv.status.success(),
        "{}",
        String::from_utf8_lossy(&recv.stderr)
    );
    assert_eq!(
        r.ok(&[
            "list",
            "-H",
            "-o",
            "name",
            "-t",
            "snapshot",
            "-r",
            "zones/copy"
        ]),
        "zones/copy@final\n"
    );
    r.ok(&["destroy", "-R", "zones/img"]);
    assert_eq!(
        r.ok(&["list", "-H", "-o", "name"]),
        "zones\nzones/copy\nzones/disk0\n"
    );
}
